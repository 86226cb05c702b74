package tiles

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// A release is the immutable snapshot of every published value (PRIVACY.md
// rule 12): each layer, each category plus all categories plus the
// extra-familial figure, each period of its window, resolutions 6 to 8. The
// map, the cells JSON, trends and exports read only releases, so a user who
// writes records and re-reads the map learns nothing until the next release.

// DefaultWindowMonths is how many complete months a release covers when the
// configuration does not say: three years, enough for trends and hot spots.
const DefaultWindowMonths = 36

// MaxWindowMonths bounds a configured window: every extra month adds a set
// per layer and filter, and PRIVACY.md's periods never need more.
const MaxWindowMonths = 120

// SetKey names one published set of a release: a layer, a filter ("" for
// all categories, a category code or ctxmap.ExtraFamilial) and the concrete
// months covered. Rolling periods ("last-3m") resolve to concrete months
// against the release's data time, so they share sets with explicit ranges.
type SetKey struct {
	Layer       ctxmap.Layer
	Category    string
	First, Last Month
}

func (k SetKey) String() string {
	c := k.Category
	if c == "" {
		c = "all"
	}
	return fmt.Sprintf("%s/%s/%s..%s", k.Layer, c, k.First, k.Last)
}

// Window is the months a release covers: the WindowMonths complete months
// before the month of its data time.
type Window struct {
	First, Last Month
}

// WindowAt returns the window of a release made at dataTime.
func WindowAt(dataTime time.Time, months int) Window {
	last := MonthOf(dataTime).Add(-1)
	return Window{First: last.Add(1 - months), Last: last}
}

// Months is the number of months in the window.
func (w Window) Months() int { return w.Last.index() - w.First.index() + 1 }

// Contains reports whether [first, last] lies inside the window.
func (w Window) Contains(first, last Month) bool {
	return !first.Before(w.First) && !w.Last.Before(last)
}

// ReleasePeriods lists the periods a release made at dataTime publishes:
// every month of the window, every quarter and year that starts inside it
// (the current one clamped to its complete months, as ParsePeriod clamps),
// and the rolling last 3, 6 and 12 months. Periods covering the same months
// appear once (the first spelling wins), so each is one set.
func ReleasePeriods(dataTime time.Time, months int) []Period {
	w := WindowAt(dataTime, months)
	specs := []string{"last-3m", "last-6m", "last-12m"}
	for m := w.First; !w.Last.Before(m); m = m.Add(1) {
		specs = append(specs, m.String())
		if (int(m.Month)-1)%3 == 0 {
			specs = append(specs, fmt.Sprintf("%04d-Q%d", m.Year, (int(m.Month)-1)/3+1))
		}
		if m.Month == time.January {
			specs = append(specs, fmt.Sprintf("%04d", m.Year))
		}
	}
	seen := map[[2]Month]bool{}
	var out []Period
	for _, s := range specs {
		p, err := ParsePeriod(s, dataTime)
		if err != nil || !w.Contains(p.First, p.Last) || seen[[2]Month{p.First, p.Last}] {
			continue
		}
		seen[[2]Month{p.First, p.Last}] = true
		out = append(out, p)
	}
	return out
}

// ReleaseRecord is one active harm location as a release reads it: its
// layer, occurrence month, one of its categories (a record with several
// categories comes once per category; Publish counts distinct young people,
// so the duplicates cost nothing in the all-categories sets), and the
// observation. CategoryIndex indexes ReleaseInput.Categories; NoCategory
// marks a record without a harm category (a safety-map place), which counts
// in its layer's all-categories sets only.
type ReleaseRecord struct {
	Layer         ctxmap.Layer
	Month         Month
	CategoryIndex int
	Observation
}

// NoCategory is the CategoryIndex of a record that has no harm category.
const NoCategory = -1

// ReleaseInput is everything a release is computed from, read in one
// database snapshot at DataTime.
type ReleaseInput struct {
	DataTime     time.Time
	WindowMonths int
	// Categories are the taxonomy's codes; ExtraFamilial[i] says whether
	// Categories[i] counts towards the extra-familial figure.
	Categories    []string
	ExtraFamilial []bool
	Records       []ReleaseRecord
	// Facts are the young people's record entries the record measures
	// count (measures.go), with dates in the window; RelocationKinds are
	// the kinds of relocation RecordFact.Relocation indexes.
	Facts           []RecordFact
	RelocationKinds []string
}

// ReleaseSet is one computed set of a release: its cells and its
// partnership total (rates.go).
type ReleaseSet struct {
	Key       SetKey
	Published *Published
	Total     Total
}

// BuildRelease computes every set of a release under the policy. It is pure:
// the same input gives the same sets, in the same order, on any machine, so
// every replica that loads a release serves the same bytes. The work is
// spread over the machine's cores, one set at a time per core.
func (p Policy) BuildRelease(in ReleaseInput) ([]ReleaseSet, error) {
	if in.WindowMonths < 1 || in.WindowMonths > MaxWindowMonths {
		return nil, fmt.Errorf("tiles: release window of %d months; it must be 1 to %d", in.WindowMonths, MaxWindowMonths)
	}
	if len(in.ExtraFamilial) != len(in.Categories) {
		return nil, errors.New("tiles: release input: one extra-familial flag per category")
	}
	w := WindowAt(in.DataTime, in.WindowMonths)
	periods := ReleasePeriods(in.DataTime, in.WindowMonths)

	// Bucket observations by layer, category and month: every set is then
	// the concatenation of a few buckets. Bucket nc of each layer and month
	// holds the records without a category.
	nl, nc, nm := len(ctxmap.Layers()), len(in.Categories), w.Months()
	buckets := make([][]Observation, nl*(nc+1)*nm)
	bucket := func(l, c, m int) *[]Observation { return &buckets[(l*(nc+1)+c)*nm+m] }
	for _, r := range in.Records {
		l := layerIndex(r.Layer)
		m := r.Month.index() - w.First.index()
		c := r.CategoryIndex
		if c == NoCategory {
			c = nc
		}
		if l < 0 || m < 0 || m >= nm || c < 0 || c > nc {
			continue
		}
		b := bucket(l, c, m)
		*b = append(*b, r.Observation)
	}

	type filter struct {
		code string
		cats []int
	}
	all := filter{code: ""}
	ef := filter{code: ctxmap.ExtraFamilial}
	filters := []filter{}
	for i, c := range in.Categories {
		all.cats = append(all.cats, i)
		if in.ExtraFamilial[i] {
			ef.cats = append(ef.cats, i)
		}
		filters = append(filters, filter{code: c, cats: []int{i}})
	}
	all.cats = append(all.cats, nc)
	filters = append([]filter{all, ef}, filters...)

	type job struct {
		key  SetKey
		l    int
		cats []int
	}
	var jobs []job
	for li, l := range ctxmap.Layers() {
		for _, f := range filters {
			if f.code != "" && !l.Categorised() {
				continue
			}
			for _, per := range periods {
				k := SetKey{Layer: l, Category: f.code, First: per.First, Last: per.Last}
				jobs = append(jobs, job{k, li, f.cats})
			}
		}
	}
	out := make([]ReleaseSet, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var obs []Observation
			for i := range next {
				j := jobs[i]
				obs = obs[:0]
				for m := j.key.First.index() - w.First.index(); m <= j.key.Last.index()-w.First.index(); m++ {
					for _, c := range j.cats {
						obs = append(obs, *bucket(j.l, c, m)...)
					}
				}
				pub := p.Publish(obs)
				pub.Layer, pub.Category = string(j.key.Layer), j.key.Category
				pub.Period = Period{Spec: periodSpec(j.key.First, j.key.Last), First: j.key.First, Last: j.key.Last}
				pub.DataTime = in.DataTime
				out[i] = ReleaseSet{Key: j.key, Published: pub, Total: p.PublishTotal(obs, pub)}
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, nil
}

func layerIndex(l ctxmap.Layer) int {
	return slices.Index(ctxmap.Layers(), l)
}

// periodSpec names a concrete month range the way a canonical request would.
func periodSpec(first, last Month) string {
	if first == last {
		return first.String()
	}
	return first.String() + ".." + last.String()
}

// TotalCells is the number of published cells of a set at every resolution.
func (p *Published) TotalCells() int {
	n := 0
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		n += p.Len(r)
	}
	return n
}

// ChangedCells counts the cells whose published value differs between two
// sets of the same key, appearing or disappearing included: how much a
// release revised what an earlier one said about the same months.
func ChangedCells(a, b *Published) int {
	n := 0
	for i := range a.levels {
		x, y := &a.levels[i], &b.levels[i]
		ia, ib := 0, 0
		for ia < len(x.cells) || ib < len(y.cells) {
			switch {
			case ib == len(y.cells) || ia < len(x.cells) && x.cells[ia] < y.cells[ib]:
				n++
				ia++
			case ia == len(x.cells) || y.cells[ib] < x.cells[ia]:
				n++
				ib++
			default:
				if x.values[ia] != y.values[ib] {
					n++
				}
				ia++
				ib++
			}
		}
	}
	return n
}

// setEncodingVersion is the first byte of an encoded set; a new layout gets
// a new number so stored releases stay readable.
const setEncodingVersion = 1

// EncodeSet packs a published set into the compact form a release stores:
// a version byte, then per resolution 6 to 8 the number of cells, the cells
// as ascending id deltas and the values divided by Rounding, all uvarints.
// It holds published values only, never a true count.
func EncodeSet(p *Published) []byte {
	b := []byte{setEncodingVersion}
	for i := range p.levels {
		l := &p.levels[i]
		b = binary.AppendUvarint(b, uint64(len(l.cells)))
		var prev uint64
		for j, c := range l.cells {
			b = binary.AppendUvarint(b, uint64(c)-prev)
			prev = uint64(c)
			b = binary.AppendUvarint(b, uint64(l.values[j])/Rounding)
		}
	}
	return b
}

// DecodeSet reverses EncodeSet, checking that what it reads is a set this
// code could have written: valid cells of the right resolution, in order,
// each inside a published parent.
func DecodeSet(b []byte, k int) (*Published, error) {
	bad := func(what string) (*Published, error) {
		return nil, fmt.Errorf("tiles: decoding a release set: %s", what)
	}
	if len(b) == 0 || b[0] != setEncodingVersion {
		return bad("unknown encoding")
	}
	b = b[1:]
	p := &Published{K: k}
	read := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	for i := range p.levels {
		n, ok := read()
		if !ok || n > uint64(len(b)) {
			return bad("truncated")
		}
		l := level{cells: make([]h3.Cell, 0, n), values: make([]int32, 0, n)}
		var prev uint64
		for range n {
			d, ok1 := read()
			v, ok2 := read()
			if !ok1 || !ok2 || (len(l.cells) > 0 && d == 0) || v > 1<<20 {
				return bad("corrupt cell")
			}
			prev += d
			c := h3.Cell(prev)
			if !geo.ValidCell(c) || geo.CellRes(c) != geo.MinRes+i {
				return bad("invalid cell")
			}
			l.cells = append(l.cells, c)
			l.values = append(l.values, int32(v*Rounding))
		}
		p.levels[i] = l
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return p, nil
}
