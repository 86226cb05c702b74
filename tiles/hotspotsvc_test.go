package tiles

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// plantedRecords puts two planted clusters of resolution 7 cells (a cell
// and its ring) in Manchester over the twelve months to 2026-03: in A the
// young people per cell and month rise from 40 to 62, in B they fall from
// 62 to 40. Forty background cells nearby get 12 young people in a few
// random months. Each record is at its res-7 cell's centre.
func plantedRecords() (recs []record, a, b h3.Cell) {
	centre := h3.LatLngToCell(h3.LatLng{Lat: 53.4808, Lng: -2.2426}, 7)
	ring := h3.GridDiskDistances(centre, 4)[4]
	a, b = ring[0], ring[len(ring)/2]
	inA, inB := h3.GridDisk(a, 1), h3.GridDisk(b, 1)
	at := func(c h3.Cell) h3.Cell {
		ll := h3.CellToLatLng(c)
		return h3.LatLngToCell(ll, geo.MaxRes)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	subject := int64(1)
	add := func(c h3.Cell, m Month, n int) {
		for range n {
			recs = append(recs, record{subject, uint8(rng.IntN(256)), at(c), ctxmap.LayerHarm, "cse", m})
			subject++
		}
	}
	background := h3.GridDisk(centre, 7)
	rng.Shuffle(len(background), func(i, j int) { background[i], background[j] = background[j], background[i] })
	var bg []h3.Cell
	for _, c := range background {
		if h3.GridDistance(c, a) > 2 && h3.GridDistance(c, b) > 2 && len(bg) < 40 {
			bg = append(bg, c)
		}
	}
	for t := range 12 {
		m := Month{2025, 4}.Add(t)
		for _, c := range inA {
			add(c, m, 40+2*t)
		}
		for _, c := range inB {
			add(c, m, 62-2*t)
		}
		for _, c := range bg {
			if rng.IntN(3) == 0 {
				add(c, m, 12)
			}
		}
	}
	return recs, a, b
}

func plantedService(t *testing.T) (*Service, *fakeSource, h3.Cell, h3.Cell) {
	t.Helper()
	recs, a, b := plantedRecords()
	src := &fakeSource{recs: recs}
	return newTestService(t, src), src, a, b
}

func TestHotspotsFindPlantedTrendsInARelease(t *testing.T) {
	s, _, a, b := plantedService(t)
	ctx := context.Background()
	req := HotspotRequest{Layer: ctxmap.LayerHarm, Category: "cse", Res: 7, From: "2025-04", To: "2026-03"}
	r, err := s.Hotspots(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.AreaKind != AreaPublishedCells || len(r.Steps) != 12 || r.Steps[0].Label != "2025-04" || r.Alpha != DefaultHotspotAlpha || r.Release.ID == 0 {
		t.Fatalf("result: kind %s, %d steps, alpha %v, release %d", r.AreaKind, len(r.Steps), r.Alpha, r.Release.ID)
	}
	byCell := map[h3.Cell]CellHotspot{}
	for _, c := range r.Cells {
		byCell[c.Cell] = c
	}
	if got := byCell[a].Category; got != IntensifyingHotSpot {
		t.Errorf("rising cluster: %s (trend %+v)", got, byCell[a].Trend)
	}
	if got := byCell[b].Category; got != DiminishingHotSpot {
		t.Errorf("falling cluster: %s (trend %+v)", got, byCell[b].Trend)
	}

	// The same numbers from the published cells of each month, as a
	// caller of /heat/cells would recompute them.
	var series [][]float64
	area := make([]h3.Cell, len(r.Cells))
	for i, c := range r.Cells {
		area[i] = c.Cell
	}
	union := map[h3.Cell]bool{}
	for _, st := range r.Steps {
		cells, _, err := s.Cells(ctx, CellsRequest{Res: 7, Filter: Filter{Layer: ctxmap.LayerHarm, Category: "cse", Period: st.Label}})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float64, len(area))
		for _, c := range cells {
			cell := h3.Cell(h3.IndexFromString(c.H3))
			union[cell] = true
			if i, ok := slices.BinarySearch(area, cell); ok {
				x[i] = float64(c.Value)
			}
		}
		series = append(series, x)
	}
	if len(union) != len(area) {
		t.Fatalf("study area has %d cells, the steps publish %d", len(area), len(union))
	}
	again := EmergingHotSpots(area, series, DefaultHotspotAlpha)
	for i := range again {
		if again[i].Category != r.Cells[i].Category || again[i].Trend != r.Cells[i].Trend || !slices.Equal(again[i].Gi, r.Cells[i].Gi) {
			t.Fatalf("%s: the service's analysis differs from one over the published cells", area[i])
		}
	}

	// Quarters: whole quarters of the window, each the published quarter set.
	q, err := s.Hotspots(ctx, HotspotRequest{Layer: ctxmap.LayerHarm, Category: "cse", Res: 7, Step: StepQuarter})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Steps) != 12 || q.Steps[0].Label != "2023-Q2" || q.Steps[11].Label != "2026-Q1" || q.Steps[11].Last != (Month{2026, 3}) {
		t.Fatalf("quarter steps %+v", q.Steps)
	}

	// A boundary's cells as the study area.
	boundary := h3.GridDisk(a, 3)
	ba, err := s.Hotspots(ctx, HotspotRequest{Layer: ctxmap.LayerHarm, Category: "cse", Res: 7, From: "2025-04", To: "2026-03", Area: boundary})
	if err != nil {
		t.Fatal(err)
	}
	if ba.AreaKind != AreaBoundary || len(ba.Cells) != len(boundary) {
		t.Fatalf("boundary area: %s with %d cells", ba.AreaKind, len(ba.Cells))
	}
}

// PRIVACY.md rules 9 and 12: hot spots are computed from a release, so a
// write changes no output until the next release.
func TestHotspotsChangeOnlyWithARelease(t *testing.T) {
	s, src, a, _ := plantedService(t)
	ctx := context.Background()
	req := HotspotRequest{Layer: ctxmap.LayerHarm, Category: "cse", Res: 7, From: "2025-04", To: "2026-03"}
	before, err := s.Hotspots(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	tile := maptile.At(orb.Point{h3.CellToLatLng(a).Lng, h3.CellToLatLng(a).Lat}, 10)
	tileBefore, err := s.HotspotTile(ctx, tile, req)
	if err != nil {
		t.Fatal(err)
	}
	// A new cluster far from the others, every month: 40 young people.
	far := h3.LatLngToCell(h3.LatLng{Lat: 53.52, Lng: -2.35}, 8)
	for m := range 12 {
		for i := range 40 {
			src.add(record{int64(1e9 + m*100 + i), uint8(i), far, ctxmap.LayerHarm, "cse", Month{2025, 4}.Add(m)})
		}
	}
	s.ReleaseMade()
	s.purge() // nothing cached either: the answer is recomputed from the release
	after, err := s.Hotspots(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	tileAfter, err := s.HotspotTile(ctx, tile, req)
	if err != nil {
		t.Fatal(err)
	}
	if !sameHotspots(before, after) || tileAfter.ETag != tileBefore.ETag {
		t.Fatal("a write changed the hot spots before a release")
	}
	rigOf(t, s).Release(t)
	next, err := s.Hotspots(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if next.Release.ID == before.Release.ID || sameHotspots(before, next) {
		t.Fatal("the next release did not change the hot spots")
	}
}

func sameHotspots(x, y *HotspotResult) bool {
	if x.Release.ID != y.Release.ID || len(x.Cells) != len(y.Cells) {
		return false
	}
	for i := range x.Cells {
		a, b := x.Cells[i], y.Cells[i]
		if a.Cell != b.Cell || a.Category != b.Category || a.Trend != b.Trend || !slices.Equal(a.Gi, b.Gi) {
			return false
		}
	}
	return true
}

func TestHotspotTile(t *testing.T) {
	s, _, a, _ := plantedService(t)
	ll := h3.CellToLatLng(a)
	tile := maptile.At(orb.Point{ll.Lng, ll.Lat}, 10)
	req := HotspotRequest{Layer: ctxmap.LayerHarm, Category: "cse", From: "2025-04", To: "2026-03"}
	tl, err := s.HotspotTile(context.Background(), tile, req)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := mvt.UnmarshalGzipped(tl.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 || layers[0].Name != HotspotsLayer {
		t.Fatalf("layers %v", layers)
	}
	found := false
	for _, f := range layers[0].Features {
		if f.Properties["h3"] == a.String() {
			found = true
			if f.Properties["category"] != string(IntensifyingHotSpot) {
				t.Errorf("tile says %v for the rising cluster", f.Properties["category"])
			}
		}
	}
	if !found {
		t.Fatal("the rising cluster is not in its tile")
	}
	again, _ := s.HotspotTile(context.Background(), tile, req)
	if again.ETag != tl.ETag {
		t.Fatal("the same tile twice differs")
	}
}

func TestHotspotsRefused(t *testing.T) {
	s, _, _, _ := plantedService(t)
	ok := HotspotRequest{Layer: ctxmap.LayerHarm, Category: "cse", Res: 7}
	for _, c := range []struct {
		name string
		edit func(*HotspotRequest)
		code string
	}{
		{"resolution 5", func(r *HotspotRequest) { r.Res = 5 }, "res_unsupported"},
		{"bad step", func(r *HotspotRequest) { r.Step = "week" }, "step_unsupported"},
		{"alpha 0.9", func(r *HotspotRequest) { r.Alpha = 0.9 }, "alpha_invalid"},
		{"negative alpha", func(r *HotspotRequest) { r.Alpha = -0.05 }, "alpha_invalid"},
		{"bad month", func(r *HotspotRequest) { r.From = "2025-13" }, "month_invalid"},
		{"from after to", func(r *HotspotRequest) { r.From, r.To = "2026-01", "2025-06" }, "range_invalid"},
		{"too short", func(r *HotspotRequest) { r.From, r.To = "2026-01", "2026-03" }, "range_too_short"},
		{"not released", func(r *HotspotRequest) { r.From, r.To = "2025-06", "2026-06" }, "period_not_released"},
		{"before the window", func(r *HotspotRequest) { r.From = "2020-01" }, "period_not_released"},
		{"bad quarter", func(r *HotspotRequest) { r.Step, r.From = StepQuarter, "2025-Q5" }, "quarter_invalid"},
		{"partial quarter", func(r *HotspotRequest) { r.Step, r.To = StepQuarter, "2026-Q2" }, "period_not_released"},
		{"unknown category", func(r *HotspotRequest) { r.Category = "nope" }, "category_unsupported"},
		{"nothing at res 8", func(r *HotspotRequest) { r.Res, r.Layer = 8, ctxmap.LayerUnsafe }, "res_nothing_published"},
	} {
		req := ok
		c.edit(&req)
		_, err := s.Hotspots(context.Background(), req)
		var e *ctxmap.Error
		if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid || e.Code != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
}
