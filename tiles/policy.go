package tiles

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// DefaultK is the threshold used when the configuration does not set one,
// and MinK the lowest a deployment may configure (PRIVACY.md rule 6).
const (
	DefaultK = 10
	MinK     = 5
)

// Rounding is the base published values are rounded to (PRIVACY.md rule 7).
const Rounding = 5

// PerturbationSeed names the fixed perturbation table. The table is public
// by design, like the ONS's: the secret is each subject's random cell key,
// not the table. Changing the seed changes every published value, so it is
// versioned rather than configured.
const PerturbationSeed = "ctxmap-ptable-v1"

// ptableRows is the number of count rows in the perturbation table; larger
// counts reuse rows cyclically (count-1 mod ptableRows), as the ONS tables do.
const ptableRows = 512

// ptableSlots is the distribution every row of the perturbation table is a
// permutation of: 256 slots, one per cell key, with 16 x -2, 48 x -1,
// 128 x 0, 48 x +1, 16 x +2. Each row therefore sums to exactly zero (the
// noise is unbiased for every count) and the variance is 0.875.
var ptableSlots = func() (d [256]int8) {
	i := 0
	for _, run := range []struct {
		adj int8
		n   int
	}{{-2, 16}, {-1, 48}, {0, 128}, {1, 48}, {2, 16}} {
		for j := 0; j < run.n; j++ {
			d[i] = run.adj
			i++
		}
	}
	return d
}()

// Policy is the disclosure-control policy of PRIVACY.md, as pure code: the
// threshold k and the fixed perturbation table. It holds no data and no
// secret, so one value serves every request.
type Policy struct {
	k     int
	table *[ptableRows][256]int8
}

// NewPolicy returns the policy with threshold k, refusing a k below MinK:
// a deployment must not be able to weaken the floor by configuration.
func NewPolicy(k int) (Policy, error) {
	if k < MinK {
		return Policy{}, ctxmap.Errorf(ctxmap.KindInvalid, "k_too_small",
			"the disclosure threshold k is %d; it must be at least %d", k, MinK)
	}
	return Policy{k: k, table: newPerturbationTable()}, nil
}

// K is the threshold: the fewest distinct young people a published cell has.
func (p Policy) K() int { return p.k }

// newPerturbationTable builds the table from PerturbationSeed: row c (for
// counts c = 1..ptableRows) is a Fisher-Yates shuffle of ptableSlots driven
// by SplitMix64 seeded with FNV-1a-64(PerturbationSeed) XOR c*0x9E3779B97F4A7C15.
// A shuffle (not an independent draw per slot) keeps each row exactly
// zero-mean.
func newPerturbationTable() *[ptableRows][256]int8 {
	h := fnv.New64a()
	h.Write([]byte(PerturbationSeed))
	seed := h.Sum64()
	t := new([ptableRows][256]int8)
	for row := range t {
		t[row] = ptableSlots
		s := seed ^ (uint64(row+1) * 0x9E3779B97F4A7C15)
		for i := 255; i > 0; i-- {
			var r uint64
			s, r = splitmix64(s)
			j := int(r % uint64(i+1))
			t[row][i], t[row][j] = t[row][j], t[row][i]
		}
	}
	return t
}

// splitmix64 advances the SplitMix64 state and returns the next output.
func splitmix64(s uint64) (uint64, uint64) {
	s += 0x9E3779B97F4A7C15
	z := s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return s, z ^ (z >> 31)
}

// Adjustment is the perturbation table's entry for a cell with count
// distinct subjects whose keys sum to cellKey (mod 256). It is exported so
// tests and the written policy can show the table is fixed and zero-mean.
func (p Policy) Adjustment(count int, cellKey uint8) int {
	if count <= 0 {
		return 0
	}
	return int(p.table[(count-1)%ptableRows][cellKey])
}

// Value is what a cell with count distinct subjects and cell key cellKey
// would show: perturbed, then rounded to the nearest Rounding. Whether it is
// shown at all is decided by Publish (threshold and hierarchy).
func (p Policy) Value(count int, cellKey uint8) int {
	v := count + p.Adjustment(count, cellKey)
	if v < 0 {
		v = 0
	}
	return (v + Rounding/2) / Rounding * Rounding
}

// Describe is the one-line statement of the policy that exports and
// descriptors carry, so a published figure never travels without its rules.
func (p Policy) Describe() string {
	return fmt.Sprintf("unit: distinct young people per H3 cell (res %d-%d); cells with fewer than %d are suppressed "+
		"(suppressed and empty cells are both absent); values perturbed by cell key (fixed zero-mean table %s, "+
		"adjustments -2..+2) then rounded to the nearest %d; published only if the value is at least %d; "+
		"a finer cell is published only inside a published parent, and child cells are suppressed so that "+
		"a parent minus its published children is never 1 to %d",
		geo.MinRes, geo.MaxRes, p.k, PerturbationSeed, Rounding, p.k, p.k-1)
}

// Published is one whole published area for one filter and period: every
// cell that passed the policy with its published value, at resolutions 6
// to 8. It holds no true counts, so nothing computed from it (tiles, JSON,
// trends, CSV, statistics) can reveal more than the tiles do. It is
// immutable once built and safe to share.
type Published struct {
	// Layer, Category and Period say what was aggregated; DataTime is when
	// the observations were read. Publish leaves them zero; the Service
	// sets them.
	Layer, Category string
	Period          Period
	DataTime        time.Time
	// K is the threshold the values were published under.
	K int
	// Release is the release the set belongs to; zero for a set Publish
	// made directly.
	Release ReleaseInfo
	levels  [geo.MaxRes - geo.MinRes + 1]level
}

// level holds one resolution's published cells, sorted by id, with their values.
type level struct {
	cells  []h3.Cell
	values []int32
}

// CellValue is one published cell and its value.
type CellValue struct {
	Cell  h3.Cell
	Value int
}

// Value returns c's published value, and false when c is not published
// (suppressed or empty: the two are deliberately indistinguishable).
func (p *Published) Value(c h3.Cell) (int, bool) {
	r := geo.CellRes(c)
	if r < geo.MinRes || r > geo.MaxRes {
		return 0, false
	}
	l := &p.levels[r-geo.MinRes]
	i, ok := slices.BinarySearch(l.cells, c)
	if !ok {
		return 0, false
	}
	return int(l.values[i]), true
}

// Len is the number of published cells at resolution res.
func (p *Published) Len(res int) int {
	if res < geo.MinRes || res > geo.MaxRes {
		return 0
	}
	return len(p.levels[res-geo.MinRes].cells)
}

// Cells lists the published cells at resolution res in id order.
func (p *Published) Cells(res int) []CellValue {
	if res < geo.MinRes || res > geo.MaxRes {
		return nil
	}
	l := &p.levels[res-geo.MinRes]
	out := make([]CellValue, len(l.cells))
	for i, c := range l.cells {
		out[i] = CellValue{c, int(l.values[i])}
	}
	return out
}

// subjCell is one observation reduced to what aggregation needs: the
// subject and the cell with the subject's key packed into its low byte.
// For resolutions <= 12 the low 9 bits of a cell id are digit 7s (all
// ones), so they carry no information and can hold the key while sorting.
type subjCell struct {
	subject int64
	packed  uint64
}

func pack(c h3.Cell, key uint8) uint64 { return uint64(c)&^0xFF | uint64(key) }
func unpackCell(p uint64) h3.Cell      { return h3.Cell(p | 0xFF) }

// Publish applies the policy to a set of observations (one per distinct
// subject and finest cell), returning the published cells:
//
//  1. count distinct subjects per cell at resolutions 6, 7 and 8 (an
//     observation at resolution 7 counts at 7 and 6 only); the cell key is
//     the sum of the distinct subjects' keys mod 256;
//  2. a cell is a candidate when its true count is at least k and its
//     perturbed, rounded value is at least k;
//  3. resolution 6 candidates are published; a resolution 7 or 8
//     candidate only if its parent is published;
//  4. for each published parent, if its value minus the sum of its
//     published children is between 1 and k-1, the smallest child
//     (lowest id on ties) is suppressed, with its descendants. One removal
//     always suffices: every child is at least k, so the difference becomes
//     at least k+1.
//
// The result depends only on the set of observations, never on their order
// or on map iteration. Cells with a resolution finer than 8 are coarsened
// to 8; invalid cells and cells coarser than 6 are ignored. A subject's key
// is taken from its observations (the lowest cell's, should they disagree).
func (p Policy) Publish(obs []Observation) *Published {
	// 1. normalise and group by subject.
	sc := make([]subjCell, 0, len(obs))
	for _, o := range obs {
		if !geo.ValidCell(o.Cell) {
			continue
		}
		r := geo.CellRes(o.Cell)
		if r < geo.MinRes {
			continue
		}
		c := o.Cell
		if r > geo.MaxRes {
			c = geo.Parent(c, geo.MaxRes)
		}
		sc = append(sc, subjCell{o.Subject, pack(c, o.Key)})
	}
	sc = radixSortBySubject(sc, make([]subjCell, len(sc)))

	// 2. per subject, the distinct ancestors at each resolution, each
	// emitted once as (cell, subject key).
	var perRes [geo.MaxRes - geo.MinRes + 1][]uint64
	for i := range perRes {
		perRes[i] = make([]uint64, 0, len(sc)/2+1)
	}
	var scratch []uint64
	for i := 0; i < len(sc); {
		j := i
		lowest := sc[i].packed
		for j < len(sc) && sc[j].subject == sc[i].subject {
			lowest = min(lowest, sc[j].packed)
			j++
		}
		key := uint8(lowest)
		for r := geo.MinRes; r <= geo.MaxRes; r++ {
			scratch = scratch[:0]
			for _, s := range sc[i:j] {
				c := unpackCell(s.packed)
				if geo.CellRes(c) >= r {
					scratch = append(scratch, pack(geo.Parent(c, r), key))
				}
			}
			slices.Sort(scratch)
			scratch = slices.Compact(scratch)
			perRes[r-geo.MinRes] = append(perRes[r-geo.MinRes], scratch...)
		}
		i = j
	}

	// 3. counts and cell keys per cell, then the candidates.
	out := &Published{K: p.k}
	var parent *level
	buf := make([]uint64, len(perRes[geo.MaxRes-geo.MinRes]))
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		entries := perRes[r-geo.MinRes]
		if len(buf) < len(entries) {
			buf = make([]uint64, len(entries))
		}
		entries = radixSortUint64(entries, buf)
		var cand level
		for i := 0; i < len(entries); {
			c := unpackCell(entries[i])
			var sum uint8
			j := i
			for j < len(entries) && unpackCell(entries[j]) == c {
				sum += uint8(entries[j])
				j++
			}
			count := j - i
			i = j
			if count < p.k {
				continue
			}
			v := p.Value(count, sum)
			if v < p.k {
				continue
			}
			cand.cells = append(cand.cells, c)
			cand.values = append(cand.values, int32(v))
		}
		perRes[r-geo.MinRes] = nil
		if parent != nil {
			cand = p.underParents(parent, cand)
		}
		out.levels[r-geo.MinRes] = cand
		parent = &out.levels[r-geo.MinRes]
	}
	return out
}

// underParents keeps the candidates whose parent is published and applies
// secondary suppression per parent. Children of one parent are contiguous
// in id order, and parents are in id order too, so one merge pass suffices.
func (p Policy) underParents(parents *level, cand level) level {
	var out level
	pi := 0
	for i := 0; i < len(cand.cells); {
		par := geo.Parent(cand.cells[i], geo.CellRes(cand.cells[i])-1)
		j := i
		for j < len(cand.cells) && geo.Parent(cand.cells[j], geo.CellRes(cand.cells[j])-1) == par {
			j++
		}
		group := level{cand.cells[i:j], cand.values[i:j]}
		i = j
		for pi < len(parents.cells) && parents.cells[pi] < par {
			pi++
		}
		if pi == len(parents.cells) || parents.cells[pi] != par {
			continue // parent not published: neither are its children
		}
		drop := p.secondary(int(parents.values[pi]), group.values)
		for g := range group.cells {
			if g == drop {
				continue
			}
			out.cells = append(out.cells, group.cells[g])
			out.values = append(out.values, group.values[g])
		}
	}
	return out
}

// secondary returns the index of the child to suppress so that parent minus
// the sum of the published children is not in 1..k-1, or -1 if none need
// be. Each child is at least k, so removing one always moves the
// difference to at least k+1: a single removal suffices.
func (p Policy) secondary(parent int, children []int32) int {
	d := parent
	for _, v := range children {
		d -= int(v)
	}
	if d < 1 || d > p.k-1 {
		return -1
	}
	drop := 0
	for i, v := range children {
		if v < children[drop] {
			drop = i
		}
	}
	return drop
}
