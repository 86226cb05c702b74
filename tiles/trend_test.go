package tiles

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
)

// plant adds n distinct young people at cell in month m, subjects from
// first upwards.
func plant(recs []record, first int64, n int, cell h3.Cell, m Month) []record {
	for i := range n {
		s := first + int64(i)
		recs = append(recs, record{s, uint8(s * 37), cell, ctxmap.LayerHarm, "cse", m})
	}
	return recs
}

func TestTrendAreaIsTheSumOfPublishedCells(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(7, 4000)})
	ctx := context.Background()
	pub, err := s.Published(ctx, Filter{Layer: ctxmap.LayerHarm, Period: "2026-03"})
	if err != nil {
		t.Fatal(err)
	}
	cells := pub.Cells(7)
	if len(cells) < 2 {
		t.Fatalf("only %d res-7 cells published in 2026-03", len(cells))
	}
	area := []string{cells[0].Cell.String(), cells[1].Cell.String(), cells[0].Cell.String()}
	tr, err := s.Trend(ctx, TrendRequest{Cells: area, Layer: ctxmap.LayerHarm, From: "2025-10", To: "2026-06"})
	if err != nil {
		t.Fatal(err)
	}
	pts := tr.Points
	if len(pts) != 6 || pts[0].Period != "2025-10" || pts[5].Period != "2026-03" || len(tr.Cells) != 2 || tr.Res != 7 || tr.Release.ID != 1 {
		t.Fatalf("trend %+v (want 2025-10..2026-03: clamped to complete months, two cells)", tr)
	}
	for _, p := range pts {
		got, _, err := s.Cells(ctx, CellsRequest{Res: 7, Filter: Filter{Layer: ctxmap.LayerHarm, Period: p.Period}})
		if err != nil {
			t.Fatal(err)
		}
		sum, n := 0, 0
		for _, c := range got {
			if c.H3 == area[0] || c.H3 == area[1] {
				sum += c.Value
				n++
			}
		}
		if p.PublishedCells != n || (p.Value == nil) != (n == 0) || p.Value != nil && *p.Value != sum {
			t.Fatalf("%s: trend %+v, published cells sum to %d over %d", p.Period, p, sum, n)
		}
	}
	if pts[5].PublishedCells != 2 {
		t.Fatalf("2026-03: %+v", pts[5])
	}
	def, err := s.Trend(ctx, TrendRequest{Cells: area[:1]})
	if err != nil || len(def.Points) != 12 || def.Points[11].Period != "2026-03" || def.Step != StepMonth {
		t.Fatalf("default trend: %+v %v", def, err)
	}
}

// A step where no cell of the area is published carries null, never 0; a
// step where some are carries the sum of those only, with their count.
func TestTrendUnpublishedStepIsNullNotZero(t *testing.T) {
	a, b, c := cellAt(54.89, -2.93, 8), cellAt(52.0, -1.2, 8), cellAt(50.9, -3.5, 8)
	var recs []record
	recs = plant(recs, 1, 15, a, Month{2026, 1})
	recs = plant(recs, 100, 15, b, Month{2026, 1})
	recs = plant(recs, 200, 15, a, Month{2026, 2})
	recs = plant(recs, 300, 3, b, Month{2026, 2})          // below k: suppressed
	recs = plant(recs, 400, DefaultK-1, c, Month{2026, 3}) // just under k: suppressed
	s := newTestService(t, &fakeSource{recs: recs})
	ctx := context.Background()
	tr, err := s.Trend(ctx, TrendRequest{Cells: []string{a.String(), b.String(), c.String()}, Category: "cse", From: "2026-01", To: "2026-03"})
	if err != nil {
		t.Fatal(err)
	}
	value := func(period string, cell h3.Cell) int {
		cs, _, err := s.Cells(ctx, CellsRequest{Res: 8, Filter: Filter{Category: "cse", Period: period}})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range cs {
			if x.H3 == cell.String() {
				return x.Value
			}
		}
		t.Fatalf("%s not published in %s", cell, period)
		return 0
	}
	jan, feb, mar := tr.Points[0], tr.Points[1], tr.Points[2]
	if jan.Value == nil || *jan.Value != value("2026-01", a)+value("2026-01", b) || jan.PublishedCells != 2 {
		t.Errorf("January (both published): %+v", jan)
	}
	if feb.Value == nil || *feb.Value != value("2026-02", a) || feb.PublishedCells != 1 {
		t.Errorf("February (one of three published): %+v, want %d over 1 cell", feb, value("2026-02", a))
	}
	if mar.Value != nil || mar.PublishedCells != 0 {
		t.Errorf("March (none published) must be null: %+v", mar)
	}
	js, _ := json.Marshal(mar)
	if !strings.Contains(string(js), `"value":null`) {
		t.Errorf("March as JSON: %s", js)
	}
	if tr.Published() != 2 {
		t.Errorf("Published() = %d", tr.Published())
	}
}

// Months below k can still make a published quarter: the quarter step is
// the quarter's own published set, not a sum of months.
func TestTrendQuartersWhenMonthsAreSuppressed(t *testing.T) {
	cell := cellAt(54.89, -2.93, 8)
	var recs []record
	for i, m := range []Month{{2025, 10}, {2025, 11}, {2025, 12}} {
		recs = plant(recs, int64(1+100*i), 5, cell, m) // 5 a month, 15 in the quarter
	}
	s := newTestService(t, &fakeSource{recs: recs})
	ctx := context.Background()
	months, err := s.Trend(ctx, TrendRequest{Cells: []string{cell.String()}, Category: "cse"})
	if err != nil {
		t.Fatal(err)
	}
	if months.Published() != 0 {
		t.Fatalf("months published: %+v", months.Points)
	}
	q, err := s.Trend(ctx, TrendRequest{Cells: []string{cell.String()}, Category: "cse", Step: StepQuarter})
	if err != nil {
		t.Fatal(err)
	}
	var periods []string
	for _, p := range q.Points {
		periods = append(periods, p.Period)
	}
	if strings.Join(periods, " ") != "2025-Q2 2025-Q3 2025-Q4 2026-Q1" || q.Step != StepQuarter {
		t.Fatalf("default quarters %v", periods)
	}
	q4 := q.Points[2]
	cs, _, err := s.Cells(ctx, CellsRequest{Res: 8, Filter: Filter{Category: "cse", Period: "2025-Q4"}})
	if err != nil || len(cs) != 1 || q4.Value == nil || *q4.Value != cs[0].Value || q4.Label != "Q4 2025" ||
		q4.FirstMonth != "2025-10" || q4.LastMonth != "2025-12" {
		t.Fatalf("2025-Q4: %+v, published %+v %v", q4, cs, err)
	}
	if q.Points[3].Value != nil {
		t.Fatalf("2026-Q1 has no data: %+v", q.Points[3])
	}
	// Quarters named as quarters, and months inside them.
	for _, r := range [][2]string{{"2025-Q4", "2025-Q4"}, {"2025-10", "2025-12"}, {"2025-10", "2025-11"}} {
		got, err := s.Trend(ctx, TrendRequest{Cells: []string{cell.String()}, Category: "cse", Step: StepQuarter, From: r[0], To: r[1]})
		if err != nil || len(got.Points) != 1 || got.Points[0].Period != "2025-Q4" || got.Points[0].LastMonth != "2025-12" {
			t.Fatalf("quarters %v: %+v %v", r, got, err)
		}
	}
}

func TestTrendLabelsNameMonthAndYear(t *testing.T) {
	steps := trendSteps(StepMonth, Month{2025, 4}, Month{2025, 8}, Month{2026, 3})
	apr, aug := steps[0].point(), steps[4].point()
	if apr.Label != "Apr 2025" || aug.Label != "Aug 2025" || apr.Period != "2025-04" {
		t.Fatalf("labels %q %q", apr.Label, aug.Label)
	}
	// The quarter the release has not closed is cut back and says so.
	q := trendSteps(StepQuarter, Month{2025, 10}, Month{2026, 2}, Month{2026, 2})
	if len(q) != 2 || q[1].point().Label != "Q1 2026 (Jan to Feb only)" || q[1].point().LastMonth != "2026-02" || q[0].point().Label != "Q4 2025" {
		t.Fatalf("quarters %+v", q)
	}
	one := trendSteps(StepQuarter, Month{2026, 1}, Month{2026, 1}, Month{2026, 1})
	if len(one) != 1 || one[0].point().Label != "Q1 2026 (Jan only)" {
		t.Fatalf("one month of a quarter %+v", one)
	}
}
