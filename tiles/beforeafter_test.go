package tiles

import (
	"context"
	"slices"
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// TestBeforeAfter works an area's months out by hand. At place A's
// resolution 8 cell: 12 young people in 2026-01 (unperturbed: 10) and 9 of
// them in 2026-02 (absent). At a neighbouring cell: 10 others in 2026-01
// (10). The context's area (the cell and its ring) sums both: 20 in
// January, null in February (9 is fewer than k: absent, never 0), null in
// the months with no record, and the months after the release unreleased.
func TestBeforeAfter(t *testing.T) {
	p, _ := NewPolicy(DefaultK)
	recs := rateRecords(t, p)
	home := geo.CellsFor(ratePlaceA[0], ratePlaceA[1])[2]
	ring := PlaceCells(ratePlaceA[0], ratePlaceA[1])
	if len(ring) != 7 || !slices.Contains(ring, home) {
		t.Fatalf("the area around a place is %v; want its resolution 8 cell and its 6 neighbours", ring)
	}
	var next h3.Cell
	for _, c := range ring {
		if c != home {
			next = c
			break
		}
	}
	// Ten young people at the neighbour, with keys that leave both the
	// neighbour (10 -> 10) and the parents holding all 22 (22 -> 20)
	// unperturbed: 20 - (10 + 10) = 0, so no child is held back (rule 8).
	_, sum12 := unperturbed(t, p, 12, 0, 0)
	ten := make([]uint8, 10)
	var sum10 uint8
	for i := range 9 {
		ten[i] = uint8(11*i + 5)
		sum10 += ten[i]
	}
	found := false
	for k := range 256 {
		if s := sum10 + uint8(k); p.Adjustment(10, s) == 0 && p.Adjustment(22, sum12+s) == 0 {
			ten[9], found = uint8(k), true
			break
		}
	}
	if !found {
		t.Fatal("no key leaves 10 and 22 unperturbed")
	}
	for i, k := range ten {
		recs = append(recs, record{int64(200 + i), k, next, ctxmap.LayerHarm, "cse", Month{2026, 1}})
	}
	s := newRateService(t, &fakeSource{recs: recs})
	ctx := context.Background()

	ba, err := s.BeforeAfter(ctx, BeforeAfterRequest{Place: &ratePlaceA, Layer: ctxmap.LayerHarm, Month: "2026-02", Window: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ba.Points) != 7 || ba.Window != 3 || ba.Month != (Month{2026, 2}) || len(ba.Cells) != 7 {
		t.Fatalf("%d points, window %d, month %s, %d cells", len(ba.Points), ba.Window, ba.Month, len(ba.Cells))
	}
	type want struct {
		month, phase string
		offset       int
		released     bool
		value        int // -1: null
		cells        int
	}
	for i, w := range []want{
		{"2025-11", PhaseBefore, -3, true, -1, 0},
		{"2025-12", PhaseBefore, -2, true, -1, 0},
		{"2026-01", PhaseBefore, -1, true, 20, 2}, // 10 + 10: the sum of the published cells
		{"2026-02", PhaseMonth, 0, true, -1, 0},   // 9 young people: absent
		{"2026-03", PhaseAfter, 1, true, -1, 0},   // unsafe only: the harm layer has nothing
		{"2026-04", PhaseAfter, 2, false, -1, 0},  // after the release's last month
		{"2026-05", PhaseAfter, 3, false, -1, 0},
	} {
		got := ba.Points[i]
		value := -1
		if got.Value != nil {
			value = *got.Value
		}
		if got.Month != w.month || got.Phase != w.phase || got.Offset != w.offset || got.Released != w.released || value != w.value || got.PublishedCells != w.cells {
			t.Errorf("point %d: %+v (value %d), want %+v", i, got, value, w)
		}
	}

	// The same months for the home cell alone, given as cells: 10 in January.
	one, err := s.BeforeAfter(ctx, BeforeAfterRequest{Cells: []string{home.String()}, Month: "2026-02", Window: 3})
	if err != nil {
		t.Fatal(err)
	}
	if v := one.Points[2].Value; v == nil || *v != 10 {
		t.Fatalf("home cell in 2026-01: %v, want 10", v)
	}
	// Every value is the month's published cells as /heat/cells gives them.
	for _, pt := range one.Points {
		if !pt.Released {
			continue
		}
		cells, _, err := s.Cells(ctx, CellsRequest{Res: 8, Filter: Filter{Layer: ctxmap.LayerHarm, Period: pt.Month}})
		if err != nil {
			t.Fatal(err)
		}
		var v *int
		for _, c := range cells {
			if c.H3 == home.String() {
				v = &c.Value
			}
		}
		if (v == nil) != (pt.Value == nil) || v != nil && *v != *pt.Value {
			t.Fatalf("%s: before/after %v, cells %v", pt.Month, pt.Value, v)
		}
	}
	// The unsafe layer shows March's 12 young people feeling unsafe.
	unsafe, err := s.BeforeAfter(ctx, BeforeAfterRequest{Place: &ratePlaceA, Layer: ctxmap.LayerUnsafe, Month: "2026-02", Window: 3})
	if err != nil {
		t.Fatal(err)
	}
	if v := unsafe.Points[4].Value; v == nil || *v != 10 {
		t.Fatalf("unsafe 2026-03: %v, want 10", v)
	}
	def, err := s.BeforeAfter(ctx, BeforeAfterRequest{Place: &ratePlaceA, Month: "2026-02"})
	if err != nil || def.Window != DefaultBeforeAfterWindow || len(def.Points) != 2*DefaultBeforeAfterWindow+1 {
		t.Fatalf("default window: %+v %v", def, err)
	}
}

func TestBeforeAfterRefused(t *testing.T) {
	s := newRateService(t, &fakeSource{})
	ctx := context.Background()
	c7 := geo.Parent(geo.CellsFor(ratePlaceA[0], ratePlaceA[1])[2], 7)
	c8 := geo.CellsFor(ratePlaceA[0], ratePlaceA[1])[2]
	for name, req := range map[string]BeforeAfterRequest{
		"no area":             {Month: "2026-02"},
		"no month":            {Place: &ratePlaceA},
		"a date, not a month": {Place: &ratePlaceA, Month: "2026-02-01"},
		"window 4":            {Place: &ratePlaceA, Month: "2026-02", Window: 4},
		"window 24":           {Place: &ratePlaceA, Month: "2026-02", Window: 24},
		"mixed resolutions":   {Cells: []string{c7.String(), c8.String()}, Month: "2026-02"},
		"not a cell":          {Cells: []string{"zzz"}, Month: "2026-02"},
		"a category list":     {Place: &ratePlaceA, Month: "2026-02", Category: "cse,cce"},
		"after the release":   {Place: &ratePlaceA, Month: "2027-06", Window: 3},
		"before the release":  {Place: &ratePlaceA, Month: "2020-01", Window: 12},
	} {
		if _, err := s.BeforeAfter(ctx, req); ctxmap.KindOf(err) != ctxmap.KindInvalid {
			t.Errorf("%s: %v, want a 400", name, err)
		}
	}
}
