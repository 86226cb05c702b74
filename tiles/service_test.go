package tiles

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/ctxmap/ctxmap/geo"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// record is one harm location in the fake store.
type record struct {
	subject  int64
	key      uint8
	cell     h3.Cell
	layer    ctxmap.Layer
	category string
	month    Month
}

// fakeSource is an in-memory Source with the store's contract: active
// records of the layer and category within [From, To), one observation per
// distinct (subject, cell).
type fakeSource struct {
	mu    sync.Mutex
	recs  []record
	calls atomic.Int64
	gate  chan struct{} // when non-nil, Observations waits for it
	err   error
}

func (f *fakeSource) add(r ...record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, r...)
}

func (f *fakeSource) Observations(ctx context.Context, q Query) ([]Observation, error) {
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	type pair struct {
		s int64
		c h3.Cell
	}
	seen := map[pair]bool{}
	var out []Observation
	for _, r := range f.recs {
		t := r.month.Start()
		if r.layer != q.Layer || (q.Category != "" && r.category != q.Category) || t.Before(q.From) || !t.Before(q.To) {
			continue
		}
		if p := (pair{r.subject, r.cell}); !seen[p] {
			seen[p] = true
			out = append(out, Observation{Subject: r.subject, Key: r.key, Cell: r.cell})
		}
	}
	return out, nil
}

var testCategories = map[string]bool{"cse": true, "cce": true}

// testCategorySet is the fixed taxonomy of the tests.
type testCategorySet struct{}

func (testCategorySet) Known(_ context.Context, code string) (bool, error) {
	return testCategories[code], nil
}

func newTestService(t testing.TB, src Source) *Service {
	t.Helper()
	s, _ := SourceService(t, src, Config{
		Clock:      func() time.Time { return testNow },
		Categories: testCategorySet{},
	}, "cce", "cse")
	return s
}

// testRecords spreads a random clustered data set over the twelve months
// before testNow, both layers and two categories.
func testRecords(seed uint64, subjects int) []record {
	rng := rand.New(rand.NewPCG(seed, 7))
	obs := genObservations(rng, subjects)
	recs := make([]record, len(obs))
	for i, o := range obs {
		layer := ctxmap.LayerHarm
		if rng.IntN(4) == 0 {
			layer = ctxmap.LayerUnsafe
		}
		recs[i] = record{o.Subject, o.Key, o.Cell, layer, []string{"cse", "cce"}[rng.IntN(2)], MonthOf(testNow).Add(-1 - rng.IntN(12))}
	}
	return recs
}

// hotTile is the z-tile over the densest published res-8 cell.
func hotTile(t testing.TB, s *Service, f Filter, z int) (maptile.Tile, h3.Cell) {
	t.Helper()
	pub, err := s.Published(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	cells := pub.Cells(8)
	if len(cells) == 0 {
		t.Fatal("test data publishes no res-8 cell")
	}
	best := cells[0]
	for _, c := range cells {
		if c.Value > best.Value {
			best = c
		}
	}
	ll := h3.CellToLatLng(best.Cell)
	return maptile.At(orb.Point{ll.Lng, ll.Lat}, maptile.Zoom(z)), best.Cell
}

type decodedFeature struct {
	h3    string
	res   int
	value int
	poly  orb.Polygon
}

func decodeHeat(t testing.TB, b []byte) []decodedFeature {
	t.Helper()
	layers, err := mvt.UnmarshalGzipped(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 || layers[0].Name != HeatLayer || layers[0].Extent != Extent || layers[0].Version != 2 {
		t.Fatalf("layers: %+v", layers)
	}
	var out []decodedFeature
	for _, f := range layers[0].Features {
		h, ok1 := f.Properties["h3"].(string)
		r, ok2 := f.Properties["res"].(float64)
		v, ok3 := f.Properties["value"].(float64)
		poly, ok4 := f.Geometry.(orb.Polygon)
		if !ok1 || !ok2 || !ok3 || !ok4 || len(f.Properties) != 3 {
			t.Fatalf("feature %v: properties %v geometry %T", f.ID, f.Properties, f.Geometry)
		}
		// the decoder returns ids as float64, which rounds a 64-bit cell id
		if id, _ := f.ID.(float64); id != float64(h3.IndexFromString(h)) {
			t.Fatalf("feature id %v does not match h3 %s", f.ID, h)
		}
		out = append(out, decodedFeature{h, int(r), int(v), poly})
	}
	return out
}

func TestHeatTileDeterministic(t *testing.T) {
	recs := testRecords(1, 3000)
	src := &fakeSource{recs: recs}
	s := newTestService(t, src)
	f := Filter{Layer: ctxmap.LayerHarm, Period: "last-12m"}
	tile, _ := hotTile(t, s, f, 12)
	req := TileRequest{Tile: tile, Filter: f}
	a, err := s.HeatTile(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.HeatTile(context.Background(), req)
	if !bytes.Equal(a.Bytes, b.Bytes) || a.ETag != b.ETag {
		t.Fatal("the same request gave different bytes")
	}
	// Two spellings of the same months (at testNow, last-3m is 2026-Q1)
	// give the same bytes.
	q1, rolling := req, req
	q1.Period, rolling.Period = "2026-Q1", "last-3m"
	x, err := s.HeatTile(context.Background(), q1)
	if err != nil {
		t.Fatal(err)
	}
	y, err := s.HeatTile(context.Background(), rolling)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes, y.Bytes) || x.ETag != y.ETag {
		t.Fatal("2026-Q1 and last-3m gave different bytes")
	}
	// A fresh service over the same records in another order, after a
	// second release of the same records, still gives the same bytes and ETag.
	shuffled := slices.Clone(recs)
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	s2 := newTestService(t, &fakeSource{recs: shuffled})
	rigOf(t, s2).Release(t)
	c, err := s2.HeatTile(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes, c.Bytes) || a.ETag != c.ETag {
		t.Fatal("the same data in another order gave different bytes")
	}
	if len(decodeHeat(t, a.Bytes)) == 0 {
		t.Fatal("hot tile is empty")
	}
	if a.DataTime.IsZero() {
		t.Fatal("no data time")
	}
}

// Every tile at every zoom shows exactly the published cells at its
// resolution that touch it, with their published values: the same cell
// through different tiles and through Cells has the same value.
func TestHeatTilesAgreeWithCells(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(2, 3000)})
	ctx := context.Background()
	f := Filter{Layer: ctxmap.LayerHarm, Category: "cse", Period: "2025"}
	_, hot := hotTile(t, s, f, 12)
	seenIn := map[string]map[string]bool{} // h3 -> tiles it appeared in
	for z := 8; z <= 14; z++ {
		res := geo.ResForZoom(z)
		cells, _, err := s.Cells(ctx, CellsRequest{Res: res, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for _, c := range cells {
			want[c.H3] = c.Value
		}
		ll := h3.CellToLatLng(hot)
		center := maptile.At(orb.Point{ll.Lng, ll.Lat}, maptile.Zoom(z))
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				tl := maptile.New(center.X+uint32(dx), center.Y+uint32(dy), center.Z)
				got, err := s.HeatTile(ctx, TileRequest{Tile: tl, Filter: f})
				if err != nil {
					t.Fatal(err)
				}
				feats := decodeHeat(t, got.Bytes)
				inTile := map[string]bool{}
				for _, ft := range feats {
					if ft.res != res {
						t.Fatalf("z%d: feature at res %d, want %d", z, ft.res, res)
					}
					v, ok := want[ft.h3]
					if !ok || v != ft.value {
						t.Fatalf("z%d: tile shows %s = %d; published %d (%v)", z, ft.h3, ft.value, v, ok)
					}
					if a := planarArea(ft.poly[0]); a <= 0 {
						t.Fatalf("exterior ring with area %v: wrong winding", a)
					}
					inTile[ft.h3] = true
					key := ft.h3
					if seenIn[key] == nil {
						seenIn[key] = map[string]bool{}
					}
					seenIn[key][fmt.Sprint(tl)] = true
				}
				// completeness: every published cell whose centre is in the tile is there
				b := tl.Bound()
				for _, c := range cells {
					cl := h3.CellToLatLng(h3.Cell(h3.IndexFromString(c.H3)))
					if b.Contains(orb.Point{cl.Lng, cl.Lat}) && !inTile[c.H3] {
						t.Fatalf("z%d tile %v misses published cell %s", z, tl, c.H3)
					}
				}
			}
		}
	}
	multi := 0
	for _, tiles := range seenIn {
		if len(tiles) > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Fatal("no cell appeared in more than one tile; the cross-tile check checked nothing")
	}
}

// PRIVACY.md rule 12: a write or an archive changes nothing anyone sees
// until the next release, which then shows it.
func TestWritesAndArchivesShowOnlyAfterARelease(t *testing.T) {
	src := &fakeSource{recs: testRecords(3, 500)}
	s := newTestService(t, src)
	rig := rigOf(t, s)
	ctx := context.Background()
	f := Filter{Layer: ctxmap.LayerUnsafe, Period: "2026-02"}
	// a place far from the test data
	c := cellAt(51.5, -0.12, 8)
	tl := maptile.At(orb.Point{-0.12, 51.5}, 12)
	req := TileRequest{Tile: tl, Filter: f}
	before, err := s.HeatTile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(decodeHeat(t, before.Bytes)); n != 0 {
		t.Fatalf("empty area shows %d cells", n)
	}
	var added []record
	for i := 0; i < 25; i++ {
		added = append(added, record{int64(1e9 + i), uint8(i * 11), c, ctxmap.LayerUnsafe, "cce", Month{2026, 2}})
	}
	src.add(added...)
	s.ReleaseMade() // even a fresh look at the store finds no new release
	unchanged, err := s.HeatTile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unchanged.Bytes, before.Bytes) || unchanged.ETag != before.ETag {
		t.Fatal("a write changed the tile before a release")
	}
	rig.Release(t)
	after, err := s.HeatTile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	feats := decodeHeat(t, after.Bytes)
	if len(feats) != 1 || feats[0].h3 != c.String() || feats[0].value < 20 {
		t.Fatalf("after a write and a release the tile shows %+v", feats)
	}
	if after.ETag == before.ETag {
		t.Fatal("ETag did not change")
	}
	// archive 16 of them: 9 left, below k
	src.mu.Lock()
	src.recs = src.recs[:len(src.recs)-16]
	src.mu.Unlock()
	still, err := s.HeatTile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if still.ETag != after.ETag {
		t.Fatal("an archive changed the tile before a release")
	}
	rig.Release(t)
	archived, err := s.HeatTile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(decodeHeat(t, archived.Bytes)) != 0 || archived.ETag != before.ETag {
		t.Fatal("archived records still show, or an empty tile differs from the first empty tile")
	}
}

func TestRefusedRequests(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(4, 100)})
	ctx := context.Background()
	okF := Filter{Layer: ctxmap.LayerHarm, Period: "2025-06"}
	badFilters := []Filter{
		{Layer: "both"},
		{Layer: "harm,unsafe"},
		{Layer: "HARM"},
		{Category: "not-a-category"},
		{Category: "cse,cce"},
		{Category: "!cse"},
		{Category: "-cse"},
		{Category: "all except cse"},
		{Category: "*"},
		{Period: "2025-01-01..2025-01-07"},
		{Period: "last-7d"},
		{Period: "2026-04"},
		{Period: "2025-06-15"},
	}
	for _, bf := range badFilters {
		_, err := s.HeatTile(ctx, TileRequest{Tile: maptile.New(2020, 1300, 12), Filter: bf})
		wantInvalid(t, fmt.Sprintf("HeatTile %+v", bf), err)
		_, _, err = s.Cells(ctx, CellsRequest{Res: 8, Filter: bf})
		wantInvalid(t, fmt.Sprintf("Cells %+v", bf), err)
		_, err = s.ExportCSV(ctx, &bytes.Buffer{}, ExportRequest{Filter: bf})
		wantInvalid(t, fmt.Sprintf("ExportCSV %+v", bf), err)
		_, err = s.ExportGeoJSON(ctx, &bytes.Buffer{}, ExportRequest{Filter: bf})
		wantInvalid(t, fmt.Sprintf("ExportGeoJSON %+v", bf), err)
		_, err = s.ExportMetadata(ctx, ExportRequest{Filter: bf})
		wantInvalid(t, fmt.Sprintf("ExportMetadata %+v", bf), err)
		_, err = s.TileJSON(ctx, "http://x/tiles/heat/{z}/{x}/{y}.mvt", bf)
		wantInvalid(t, fmt.Sprintf("TileJSON %+v", bf), err)
	}
	// Negative coordinates cannot be a maptile.Tile; ParseTile refuses them below.
	for _, zxy := range [][3]uint32{{23, 0, 0}, {0, 1, 0}, {0, 0, 1}, {12, 4096, 0}, {30, 0, 0}} {
		_, err := s.HeatTile(ctx, TileRequest{Tile: maptile.New(zxy[1], zxy[2], maptile.Zoom(zxy[0])), Filter: okF})
		wantInvalid(t, fmt.Sprint("tile ", zxy), err)
	}
	for _, zxy := range [][3]string{{"a", "0", "0"}, {"1", "-1", "0"}, {"1", "0", "2"}, {"", "0", "0"}, {"99999999999", "0", "0"}, {"1", "0x1", "0"},
		{"-1", "0", "0"}, {"23", "0", "0"}, {"12", "4096", "0"}, {"12", "0", "-1"}, {"30", "0", "0"}} {
		_, err := ParseTile(zxy[0], zxy[1], zxy[2])
		wantInvalid(t, fmt.Sprint("ParseTile ", zxy), err)
	}
	for _, res := range []int{0, 5, 9, 15} {
		_, _, err := s.Cells(ctx, CellsRequest{Res: res, Filter: okF})
		wantInvalid(t, fmt.Sprint("Cells res ", res), err)
	}
	for _, bb := range []string{"1,2,3", "a,b,c,d", "0,0,-1,1", "0,100,1,101", "NaN,0,1,1"} {
		_, err := ParseBBox(bb)
		wantInvalid(t, "bbox "+bb, err)
	}
	if b, err := ParseBBox("-2.3, 53.4,-2.2,53.5"); err != nil || b.Min[0] != -2.3 {
		t.Errorf("ParseBBox: %v %v", b, err)
	}
	c8 := cellAt(53.48, -2.24, 8).String()
	c7 := cellAt(53.48, -2.24, 7).String()
	badTrends := []TrendRequest{
		{},
		{Cells: []string{"nothex"}},
		{Cells: []string{cellAt(53.48, -2.24, 9).String()}},
		{Cells: []string{c8, c7}},
		{Cells: []string{c8}, From: "2025-01-01"},
		{Cells: []string{c8}, From: "2022-01", To: "2025-12"},
		{Cells: []string{c8}, From: "2025-06", To: "2025-01"},
		{Cells: []string{c8}, From: "2026-04"},
		{Cells: []string{c8}, Layer: "all"},
		{Cells: []string{c8}, Category: "cse|cce"},
		{Cells: slices.Repeat([]string{c8}, MaxTrendCells+1)},
		{Cells: []string{c8}, Step: "week"},
		{Cells: []string{c8}, Step: "year"},
		{Cells: []string{c8}, From: "2025-Q1"},
		{Cells: []string{c8}, Step: StepQuarter, From: "2025-Q5"},
		{Cells: []string{c8}, Step: StepQuarter, From: "2025-02", To: "2025-03"},
		{Cells: []string{c8}, Step: StepQuarter, From: "2023-Q1"},
	}
	for _, tr := range badTrends {
		_, err := s.Trend(ctx, tr)
		wantInvalid(t, fmt.Sprintf("Trend %+v", tr), err)
	}
	if _, err := NewService(newMemReleases(time.Now), Config{K: 4}); ctxmap.KindOf(err) != ctxmap.KindInvalid {
		t.Errorf("NewService with k=4: %v", err)
	}
}

func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	var e *ctxmap.Error
	if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid || e.Message == "" || e.Code == "" {
		t.Errorf("%s: error %v, want a KindInvalid *ctxmap.Error", what, err)
	}
}

func TestReleaseStoreErrorsAreInternalAndNotCached(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(5, 100)})
	store := rigOf(t, s).store
	refused := errors.New("connection refused")
	store.setErr.Store(&refused)
	req := TileRequest{Tile: maptile.New(2020, 1300, 12), Filter: Filter{Period: "2025"}}
	_, err := s.HeatTile(context.Background(), req)
	if err == nil || ctxmap.KindOf(err) != ctxmap.KindInternal {
		t.Fatalf("store failure: %v", err)
	}
	store.setErr.Store(nil)
	if _, err := s.HeatTile(context.Background(), req); err != nil {
		t.Fatalf("a failure was cached: %v", err)
	}
}

// Concurrent identical misses load the set once, and everyone gets the result.
func TestConcurrentMissesShareOneComputation(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(6, 800)})
	store := rigOf(t, s).store
	gate := make(chan struct{})
	store.gate.Store(&gate)
	reads := store.setReads.Load()
	req := TileRequest{Tile: maptile.New(2021, 1300, 12), Filter: Filter{Period: "last-6m"}}
	var wg sync.WaitGroup
	results := make([]*Tile, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tl, err := s.HeatTile(context.Background(), req)
			if err != nil {
				t.Error(err)
			}
			results[i] = tl
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	if n := store.setReads.Load() - reads; n != 1 {
		t.Errorf("the release store was read %d times for one tile", n)
	}
	for _, r := range results {
		if r != results[0] {
			t.Fatal("concurrent requests got different tiles")
		}
	}
}

// A cancelled leader does not fail the waiters behind it.
func TestFlightLeaderCancelled(t *testing.T) {
	var f flight[int, int]
	leaderCtx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		f.do(leaderCtx, 1, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
	}()
	<-started
	done := make(chan int)
	go func() {
		v, err := f.do(context.Background(), 1, func(context.Context) (int, error) { return 7, nil })
		if err != nil {
			t.Error(err)
		}
		done <- v
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if v := <-done; v != 7 {
		t.Fatalf("waiter got %d", v)
	}
}

func TestLRUBytes(t *testing.T) {
	c := newLRU[int, string](100)
	for i := 0; i < 50; i++ {
		c.add(i, "x", 10)
	}
	n, used, _, _ := c.stats()
	if n != 10 || used != 100 {
		t.Fatalf("%d entries, %d bytes", n, used)
	}
	if _, ok := c.get(49); !ok {
		t.Fatal("most recent entry evicted")
	}
	if _, ok := c.get(0); ok {
		t.Fatal("oldest entry kept")
	}
	c.get(40)
	c.add(100, "y", 10) // evicts 41, the least recently used
	if _, ok := c.get(40); !ok {
		t.Fatal("recently read entry evicted")
	}
	if _, ok := c.get(41); ok {
		t.Fatal("LRU order not kept")
	}
	c.add(200, "too big", 101)
	if _, ok := c.get(200); ok {
		t.Fatal("an entry over the budget was stored")
	}
	c.purge()
	if n, used, _, _ := c.stats(); n != 0 || used != 0 {
		t.Fatal("purge left entries")
	}
}

func TestTileJSON(t *testing.T) {
	s := newTestService(t, &fakeSource{})
	tj, err := s.TileJSON(context.Background(), "https://ctxmap.example/tiles/heat/{z}/{x}/{y}.mvt", Filter{Category: "cse"})
	if err != nil {
		t.Fatal(err)
	}
	if tj.TileJSON != "3.0.0" || len(tj.Tiles) != 1 ||
		tj.Tiles[0] != "https://ctxmap.example/tiles/heat/{z}/{x}/{y}.mvt?category=cse&layer=harm&period=last-12m" ||
		len(tj.VectorLayers) != 1 || tj.VectorLayers[0].ID != HeatLayer || tj.VectorLayers[0].Fields["h3"] != "String" ||
		!strings.Contains(tj.Attribution, "Royal Mail") || tj.MinZoom > tj.MaxZoom {
		t.Fatalf("%+v", tj)
	}
}

// goldenRecords is a small fixed data set: two cells with enough subjects
// and one below k.
func goldenRecords() []record {
	var recs []record
	cells := []h3.Cell{cellAt(53.4808, -2.2426, 8), cellAt(53.4850, -2.2300, 8), cellAt(53.4760, -2.2500, 8)}
	for i, n := range []int{23, 14, 9} {
		for s := 0; s < n; s++ {
			recs = append(recs, record{int64(i*100 + s), uint8(37 * s), cells[i], ctxmap.LayerHarm, "cse", Month{2026, 1}})
		}
	}
	return recs
}

func TestHeatTileGolden(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: goldenRecords()})
	tl := maptile.At(orb.Point{-2.2426, 53.4808}, 12)
	got, err := s.HeatTile(context.Background(), TileRequest{Tile: tl, Filter: Filter{Period: "2026-01"}})
	if err != nil {
		t.Fatal(err)
	}
	feats := decodeHeat(t, got.Bytes)
	if len(feats) != 2 {
		t.Fatalf("%d features, want 2 (the third cell has 9 < k subjects)", len(feats))
	}
	for _, f := range feats {
		if f.res != 8 || f.value%5 != 0 || f.value < 10 || len(f.poly) != 1 || len(f.poly[0]) < 7 {
			t.Fatalf("feature %+v", f)
		}
	}
	raw, err := mvtRaw(got.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "heat_z12.mvt")
	if *update {
		if err := os.WriteFile(golden, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./tiles -run Golden -update to create it)", err)
	}
	if !bytes.Equal(raw, want) {
		t.Fatalf("tile differs from %s (run with -update if the change is intended)", golden)
	}
	// The golden file decodes on its own too.
	layers, err := mvt.Unmarshal(want)
	if err != nil || len(layers) != 1 || layers[0].Name != HeatLayer || len(layers[0].Features) != 2 {
		t.Fatalf("golden file: %v %v", layers, err)
	}
	for _, f := range layers[0].Features {
		if f.Properties["h3"] != goldenRecords()[0].cell.String() && f.Properties["h3"] != cellAt(53.4850, -2.2300, 8).String() {
			t.Fatalf("unexpected cell %v", f.Properties["h3"])
		}
	}
}

// Far zooms clip the hexagon to the buffered tile; far-out zooms drop
// hexagons smaller than a tile unit rather than draw slivers.
func TestHeatTileExtremeZooms(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: goldenRecords()})
	ctx := context.Background()
	c := goldenRecords()[0].cell
	ll := h3.CellToLatLng(c)
	for _, z := range []int{18, 22} {
		tl := maptile.At(orb.Point{ll.Lng, ll.Lat}, maptile.Zoom(z))
		got, err := s.HeatTile(ctx, TileRequest{Tile: tl, Filter: Filter{Period: "2026-01"}})
		if err != nil {
			t.Fatal(err)
		}
		feats := decodeHeat(t, got.Bytes)
		if len(feats) != 1 || feats[0].h3 != c.String() {
			t.Fatalf("z%d: %+v", z, feats)
		}
		if b := feats[0].poly.Bound(); b.Min[0] < -Buffer || b.Max[0] > Extent+Buffer || b.Min[1] < -Buffer || b.Max[1] > Extent+Buffer {
			t.Fatalf("z%d: not clipped: %v", z, b)
		}
	}
	for z := 0; z <= 5; z++ {
		tl := maptile.At(orb.Point{ll.Lng, ll.Lat}, maptile.Zoom(z))
		got, err := s.HeatTile(ctx, TileRequest{Tile: tl, Filter: Filter{Period: "2026-01"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range decodeHeat(t, got.Bytes) {
			if planarArea(f.poly[0]) <= 0 {
				t.Fatalf("z%d: degenerate ring %v", z, f.poly)
			}
		}
	}
}

func TestEncodeContexts(t *testing.T) {
	tl := maptile.At(orb.Point{-2.2426, 53.4808}, 14)
	feats := []ContextFeature{
		{ID: 9, Kind: "location", LocationType: "park", DisplayName: "Park, M1 1AA", Status: "open", Lon: -2.2426, Lat: 53.4808},
		{ID: 3, Kind: "group", DisplayName: "Group", Status: "closed", Lon: -2.2427, Lat: 53.4809},
		{ID: 5, Kind: "location", DisplayName: "Far away", Status: "open", Lon: 0, Lat: 51},
	}
	a, err := EncodeContexts(tl, feats)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(feats)
	b, _ := EncodeContexts(tl, feats)
	if !bytes.Equal(a, b) {
		t.Fatal("input order changed the bytes")
	}
	layers, err := mvt.UnmarshalGzipped(a)
	if err != nil || len(layers) != 1 || layers[0].Name != ContextsLayer {
		t.Fatalf("%v %v", layers, err)
	}
	fs := layers[0].Features
	if len(fs) != 2 || fs[0].Properties["id"] != 3.0 || fs[1].Properties["display_name"] != "Park, M1 1AA" ||
		fs[1].Properties["location_type"] != "park" || fs[0].Properties["status"] != "closed" || fs[1].Properties["kind"] != "location" {
		t.Fatalf("features %+v", fs)
	}
	if _, ok := fs[0].Geometry.(orb.Point); !ok {
		t.Fatalf("geometry %T", fs[0].Geometry)
	}
	if _, err := EncodeContexts(maptile.New(5, 0, 1), nil); ctxmap.KindOf(err) != ctxmap.KindInvalid {
		t.Fatalf("invalid tile accepted: %v", err)
	}
}

func TestStats(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(10, 500)})
	req := TileRequest{Tile: maptile.New(2020, 1300, 12)}
	s.HeatTile(context.Background(), req)
	s.HeatTile(context.Background(), req)
	st := s.Stats()
	if st.TileEntries != 1 || st.TileHits != 1 || st.SetEntries != 1 || st.TileBytes <= 0 {
		t.Fatalf("%+v", st)
	}
	if st.Release != 1 {
		t.Fatalf("serving release %d", st.Release)
	}
	rigOf(t, s).Release(t)
	if _, err := s.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Release != 2 || st.TileEntries != 0 || st.SetEntries != 0 {
		t.Fatalf("after a new release: %+v", st)
	}
}
