package tiles_test

import (
	"bufio"
	"bytes"
	"context"
	"github.com/ctxmap/ctxmap/geo"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/tiles"
)

// The tests in this file drive tiles.Service through its exported API
// only, against an in-memory Source, and check every output against the
// independent reference of policy_reference_test.go applied to exactly the
// records the filter selects.

// filterNow is the pinned clock: periods resolve against April 2026.
var filterNow = time.Date(2026, 4, 15, 10, 0, 0, 0, time.UTC)

// harmRecord is one harm location of the in-memory store.
type harmRecord struct {
	obs      tiles.Observation
	layer    ctxmap.Layer
	category string
	month    time.Time // first day of the month it happened in
}

// memSource is an in-memory Source with the store's contract (active
// records of the query's layer and category, or of every category when it
// is empty, in [From, To)). It counts its reads and returns the
// observations in a different order on every read, so a recomputation
// really starts from scratch.
type memSource struct {
	mu    sync.Mutex
	recs  []harmRecord
	calls atomic.Int64
}

func (m *memSource) Observations(_ context.Context, q tiles.Query) ([]tiles.Observation, error) {
	n := m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []tiles.Observation
	for _, r := range m.recs {
		if r.layer == q.Layer && (q.Category == "" || r.category == q.Category) &&
			!r.month.Before(q.From) && r.month.Before(q.To) {
			out = append(out, r.obs)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// selected is what a filter asks for: the observations of one layer and
// category ("" for all) in the first quarter of 2026.
func (m *memSource) selected(layer ctxmap.Layer, category string) []tiles.Observation {
	var out []tiles.Observation
	q1, q2 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range m.recs {
		if r.layer == layer && (category == "" || r.category == category) && !r.month.Before(q1) && r.month.Before(q2) {
			out = append(out, r.obs)
		}
	}
	return out
}

// filterRecords builds a store where the two categories have their own hot
// spots and share others, some young people have records of both, the
// unsafe layer is elsewhere, and some records fall outside the period.
func filterRecords() *memSource {
	src := &memSource{}
	rng := rand.New(rand.NewPCG(42, 42))
	months := []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	}
	put := func(obs []tiles.Observation, layer ctxmap.Layer, cat string, subjectBase int64) {
		for _, o := range obs {
			o.Subject += subjectBase
			m := months[rng.IntN(len(months))]
			if rng.IntN(10) == 0 {
				m = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC) // outside 2026-Q1
			}
			src.recs = append(src.recs, harmRecord{o, layer, cat, m})
		}
	}
	cse := clusteredObservations(rand.New(rand.NewPCG(1, 10)), 2500)
	cce := clusteredObservations(rand.New(rand.NewPCG(2, 10)), 2000)
	put(cse, ctxmap.LayerHarm, "cse", 0)
	put(cce, ctxmap.LayerHarm, "cce", 1<<40)
	// 400 young people of the cse set also have cce records elsewhere.
	var both []tiles.Observation
	for _, o := range clusteredObservations(rand.New(rand.NewPCG(3, 10)), 400) {
		o.Subject = cse[int(o.Subject/7919)%len(cse)].Subject
		both = append(both, o)
	}
	put(both, ctxmap.LayerHarm, "cce", 0)
	put(clusteredObservations(rand.New(rand.NewPCG(4, 10)), 2000), ctxmap.LayerUnsafe, "cse", 1<<41)
	consistentKeys(src)
	return src
}

// consistentKeys gives each young person one key across all their records, as
// the store does (one key per subject).
func consistentKeys(src *memSource) {
	key := map[int64]uint8{}
	for i, r := range src.recs {
		if k, ok := key[r.obs.Subject]; ok {
			src.recs[i].obs.Key = k
		} else {
			key[r.obs.Subject] = r.obs.Key
		}
	}
}

const filterK = 11

// filterRigs are the services newFilterService made, so a test can count
// how many sets they read from their release stores.
var filterRigs []*tiles.SourceRig

func newFilterService(t *testing.T, src tiles.Source) *tiles.Service {
	t.Helper()
	s, rig := tiles.SourceService(t, src, tiles.Config{
		K:          filterK,
		Clock:      func() time.Time { return filterNow },
		Categories: filterCategories{},
	}, "cce", "cse")
	filterRigs = append(filterRigs, rig)
	return s
}

// setReads is how many sets every filter service so far read from its
// release store: a request that really recomputes reads one.
func setReads() int64 {
	var n int64
	for _, r := range filterRigs {
		n += r.SetReads()
	}
	return n
}

// heatTile asks s for tile t under f and decodes it into h3 -> value.
func heatTile(t *testing.T, s *tiles.Service, tl maptile.Tile, f tiles.Filter) (map[string]int, []byte) {
	t.Helper()
	got, err := s.HeatTile(context.Background(), tiles.TileRequest{Tile: tl, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	layers, err := mvt.UnmarshalGzipped(got.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range layers {
		if l.Name != tiles.HeatLayer {
			t.Fatalf("tile has layer %q", l.Name)
		}
		for _, ft := range l.Features {
			h, _ := ft.Properties["h3"].(string)
			v, _ := ft.Properties["value"].(float64)
			out[h] = int(v)
		}
	}
	return out, got.Bytes
}

// cellsJSON asks s for the published cells at res under f.
func cellsJSON(t *testing.T, s *tiles.Service, res int, f tiles.Filter) map[string]int {
	t.Helper()
	cells, _, err := s.Cells(context.Background(), tiles.CellsRequest{Res: res, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range cells {
		if c.Res != res {
			t.Fatalf("Cells(res %d) returned a cell at res %d", res, c.Res)
		}
		out[c.H3] = c.Value
	}
	return out
}

// exportRows asks s for the CSV export of every resolution under f and
// returns its rows as h3 -> value, failing on a repeated cell.
func exportRows(t *testing.T, s *tiles.Service, f tiles.Filter) (map[string]int, int) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.ExportCSV(context.Background(), &buf, tiles.ExportRequest{Filter: f}); err != nil {
		t.Fatal(err)
	}
	out, rows := map[string]int{}, 0
	sc := bufio.NewScanner(&buf)
	header := false
	for sc.Scan() {
		line := sc.Text()
		if !header {
			if line != "h3,res,value,period,layer,category,release,release_data_time,release_months,lat,lon" {
				t.Fatalf("CSV header %q", line)
			}
			header = true
			continue
		}
		fields := strings.Split(line, ",")
		v, err := strconv.Atoi(fields[2])
		if len(fields) != len(tiles.ExportColumns) || err != nil {
			t.Fatalf("CSV row %q", line)
		}
		if _, dup := out[fields[0]]; dup {
			t.Fatalf("CSV repeats cell %s", fields[0])
		}
		out[fields[0]] = v
		rows++
	}
	return out, rows
}

// atRes is the part of a cell -> value map at one resolution, keyed by id.
func atRes(m map[h3.Cell]int, res int) map[string]int {
	out := map[string]int{}
	for c, v := range m {
		if c.Resolution() == res {
			out[c.String()] = v
		}
	}
	return out
}

func stringKeys(m map[h3.Cell]int) map[string]int {
	out := map[string]int{}
	for c, v := range m {
		out[c.String()] = v
	}
	return out
}

// inTile is the part of want whose cell centre lies inside tile tl: those
// cells must be in the tile (cells near its edge may be too, from the
// buffer, and are checked against want like every feature).
func inTile(want map[string]int, tl maptile.Tile) map[string]int {
	b := tl.Bound()
	out := map[string]int{}
	for id, v := range want {
		c := h3.Cell(h3.IndexFromString(id)).LatLng()
		if b.Contains(orb.Point{c.Lng, c.Lat}) {
			out[id] = v
		}
	}
	return out
}

// hottest is the centre of the cell with the highest value at res (the
// lowest id on ties).
func hottest(m map[h3.Cell]int, res int) orb.Point {
	var best h3.Cell
	for c, v := range m {
		if c.Resolution() == res && (best == 0 || v > m[best] || v == m[best] && c < best) {
			best = c
		}
	}
	ll := best.LatLng()
	return orb.Point{ll.Lng, ll.Lat}
}

// One category, all categories and another category give the right and
// different published sets, at every resolution, through every output: the
// published set, cells JSON, the CSV export (with its exact row count) and
// the tiles. The requests share one service, so a cache that mixed filters
// up would hand one filter's set to another.
func TestCategoryFilterSelectsItsOwnSet(t *testing.T) {
	src := filterRecords()
	s := newFilterService(t, src)
	type filt struct {
		name string
		f    tiles.Filter
		want map[h3.Cell]int
	}
	var filters []filt
	for _, c := range []struct {
		name     string
		layer    ctxmap.Layer
		category string
	}{{"cse", ctxmap.LayerHarm, "cse"}, {"all", ctxmap.LayerHarm, ""}, {"cce", ctxmap.LayerHarm, "cce"}, {"unsafe", ctxmap.LayerUnsafe, ""}} {
		want, _ := refPublish(filterK, src.selected(c.layer, c.category))
		f := tiles.Filter{Category: c.category, Period: "2026-Q1"}
		if c.layer == ctxmap.LayerUnsafe {
			f.Layer = ctxmap.LayerUnsafe
		}
		filters = append(filters, filt{c.name, f, want})
	}
	// The expectations differ pairwise at every resolution, so serving one
	// filter's set for another cannot pass.
	for i, a := range filters {
		for _, b := range filters[i+1:] {
			for r := geo.MinRes; r <= geo.MaxRes; r++ {
				if reflect.DeepEqual(atRes(a.want, r), atRes(b.want, r)) {
					t.Fatalf("test data: %s and %s publish the same cells at res %d", a.name, b.name, r)
				}
			}
		}
		for r := geo.MinRes; r <= geo.MaxRes; r++ {
			if len(atRes(a.want, r)) < 3 {
				t.Fatalf("test data: %s publishes only %d cells at res %d", a.name, len(atRes(a.want, r)), r)
			}
		}
	}
	centre := maptile.At(orb.Point{-2.24, 53.48}, 9)
	// Twice round, in an order where every filter follows a different one.
	for round := range 2 {
		for _, fl := range filters {
			pub, err := s.Published(context.Background(), fl.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := publishedMap(pub); !reflect.DeepEqual(got, fl.want) {
				t.Errorf("round %d, %s: Published has %d cells, want %d", round, fl.name, len(got), len(fl.want))
			}
			for r := geo.MinRes; r <= geo.MaxRes; r++ {
				if got, want := cellsJSON(t, s, r, fl.f), atRes(fl.want, r); !reflect.DeepEqual(got, want) {
					t.Errorf("round %d, %s: Cells at res %d: %d cells, want %d", round, fl.name, r, len(got), len(want))
				}
			}
			got, rows := exportRows(t, s, fl.f)
			if rows != len(fl.want) || !reflect.DeepEqual(got, stringKeys(fl.want)) {
				t.Errorf("round %d, %s: CSV has %d rows, want exactly %d", round, fl.name, rows, len(fl.want))
			}
			for _, z := range []int{9, 10, 12} {
				tl := centre
				if z != 9 {
					tl = maptile.At(hottest(fl.want, geo.ResForZoom(z)), maptile.Zoom(z))
				}
				want := atRes(fl.want, geo.ResForZoom(z))
				if len(inTile(want, tl)) == 0 {
					t.Fatalf("%s: the z%d tile %v holds no published cell", fl.name, z, tl)
				}
				feats, _ := heatTile(t, s, tl, fl.f)
				for id, v := range feats {
					if w, ok := want[id]; !ok || w != v {
						t.Errorf("round %d, %s: z%d tile shows %s = %d; published: %d, %v", round, fl.name, z, id, v, w, ok)
					}
				}
				for id, v := range inTile(want, tl) {
					if feats[id] != v {
						t.Errorf("round %d, %s: z%d tile lacks %s = %d", round, fl.name, z, id, v)
					}
				}
			}
		}
	}
	// The z9 tile over the centre draws different hexagons per filter.
	var drawn []map[string]int
	for _, fl := range filters {
		feats, _ := heatTile(t, s, centre, fl.f)
		for _, d := range drawn {
			if reflect.DeepEqual(d, feats) {
				t.Errorf("filter %s draws the same z9 tile as an earlier filter", fl.name)
			}
		}
		drawn = append(drawn, feats)
	}
}

// A cell's value is the same however it is asked for, when the second ask
// really recomputes: a different tile holding the cell from a service with
// a cold cache, cells JSON and the CSV from other cold services, the same
// tile from a cold service and after a new release, and another spelling
// of the same months. Each cold service made its release from the Source
// (which returns the observations in a new order every time) and each cold
// path is checked to have read its release store, so the agreement is the
// policy's determinism, not a cached copy.
func TestCacheBustersRecomputeTheSameValues(t *testing.T) {
	src := filterRecords()
	f := tiles.Filter{Category: "cse", Period: "2026-Q1"}
	ref, _ := refPublish(filterK, src.selected(ctxmap.LayerHarm, "cse"))
	// A published res-8 cell whose hexagon straddles two z12 tiles, so two
	// different tiles must both draw it.
	var cell h3.Cell
	var tileA, tileB maptile.Tile
	var cells []h3.Cell
	for c := range ref {
		if c.Resolution() == 8 {
			cells = append(cells, c)
		}
	}
	slices.Sort(cells)
	for _, c := range cells {
		seen := map[maptile.Tile]bool{}
		for _, v := range c.Boundary() {
			seen[maptile.At(orb.Point{v.Lng, v.Lat}, 12)] = true
		}
		if len(seen) >= 2 {
			cell = c
			tileA = maptile.At(orb.Point{c.LatLng().Lng, c.LatLng().Lat}, 12)
			for tl := range seen {
				if tl != tileA && (tileB == maptile.Tile{} || tl.X < tileB.X || tl.X == tileB.X && tl.Y < tileB.Y) {
					tileB = tl
				}
			}
			break
		}
	}
	if cell == 0 {
		t.Fatal("test data publishes no res-8 cell across a z12 tile edge")
	}
	want := ref[cell]
	ll := cell.LatLng()
	pt := orb.Point{ll.Lng, ll.Lat}
	id := cell.String()

	reads := func(fn func()) int64 {
		before := setReads()
		fn()
		return setReads() - before
	}
	check := func(what string, got map[string]int, n, wantReads int64) {
		t.Helper()
		if v, ok := got[id]; !ok || v != want {
			t.Errorf("%s: cell %s = %d, %v; want %d", what, id, v, ok, want)
		}
		if n != wantReads {
			t.Errorf("%s: %d reads of the release store, want %d", what, n, wantReads)
		}
	}

	warm := newFilterService(t, src)
	warmRig := filterRigs[len(filterRigs)-1]
	var first, warmBytes []byte
	var got map[string]int
	n := reads(func() { got, first = heatTile(t, warm, tileA, f) })
	check("z12 tile, cold", got, n, 1)
	n = reads(func() { got, warmBytes = heatTile(t, warm, tileA, f) })
	check("z12 tile, warm", got, n, 0)

	n = reads(func() { got, _ = heatTile(t, newFilterService(t, src), tileB, f) })
	check("the other z12 tile the cell straddles, new service", got, n, 1)
	n = reads(func() { got, _ = heatTile(t, newFilterService(t, src), maptile.At(pt, 13), f) })
	check("z13 tile holding the cell, new service", got, n, 1)
	n = reads(func() { got, _ = heatTile(t, newFilterService(t, src), maptile.At(pt, 14), f) })
	check("z14 tile holding the cell, new service", got, n, 1)
	n = reads(func() { got = cellsJSON(t, newFilterService(t, src), 8, f) })
	check("cells JSON, new service", got, n, 1)
	n = reads(func() { got, _ = exportRows(t, newFilterService(t, src), f) })
	check("CSV export, new service", got, n, 1)

	var cold []byte
	n = reads(func() { got, cold = heatTile(t, newFilterService(t, src), tileA, f) })
	check("same z12 tile, new service", got, n, 1)
	if !bytes.Equal(cold, warmBytes) || !bytes.Equal(first, warmBytes) {
		t.Error("the same tile from a cold and a warm service differs in bytes")
	}
	warmRig.Release(t) // a new release of the same records, read again from the Source
	var again []byte
	n = reads(func() { got, again = heatTile(t, warm, tileA, f) })
	check("same z12 tile after a new release", got, n, 1)
	if !bytes.Equal(again, warmBytes) {
		t.Error("the same tile after a new release differs in bytes")
	}
	rolling := f
	rolling.Period = "last-3m" // the same months at filterNow
	var spelled []byte
	n = reads(func() { got, spelled = heatTile(t, newFilterService(t, src), tileA, rolling) })
	check("last-3m for 2026-Q1, new service", got, n, 1)
	if !bytes.Equal(spelled, warmBytes) {
		t.Error("last-3m and 2026-Q1 give different bytes")
	}
	// The parent cells agree too, through a z9 tile and res-6 cells JSON.
	p6 := cell.Parent(6)
	if v, ok := ref[p6]; ok {
		t9, _ := heatTile(t, newFilterService(t, src), maptile.At(pt, 9), f)
		c6 := cellsJSON(t, newFilterService(t, src), 6, f)
		if t9[p6.String()] != v || c6[p6.String()] != v {
			t.Errorf("parent %s: tile %d, cells %d, want %d", p6, t9[p6.String()], c6[p6.String()], v)
		}
	} else {
		t.Errorf("the parent of a published cell is not published")
	}
}

// filterCategories knows the two categories the filter tests use.
type filterCategories struct{}

func (filterCategories) Known(_ context.Context, c string) (bool, error) {
	return c == "cse" || c == "cce", nil
}

// TestCategoryAllIsNoCategory: "all" is the word for what omitting the
// category gives, byte for byte; "all" in a list or with another code is
// still refused.
func TestCategoryAllIsNoCategory(t *testing.T) {
	s := newFilterService(t, filterRecords())
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		none := cellsJSON(t, s, r, tiles.Filter{Period: "2026-Q1"})
		all := cellsJSON(t, s, r, tiles.Filter{Category: ctxmap.AllCategories, Period: "2026-Q1"})
		if !reflect.DeepEqual(none, all) || len(all) == 0 {
			t.Fatalf("res %d: category=all has %d cells, none %d", r, len(all), len(none))
		}
	}
	for _, c := range []string{"all,cse", "-all", "ALL"} {
		if _, err := s.Published(context.Background(), tiles.Filter{Category: c, Period: "2026-Q1"}); err == nil {
			t.Errorf("category %q accepted", c)
		}
	}
}
