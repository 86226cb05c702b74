package postgres

import (
	"context"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

func TestSeedDemo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts := DemoOptions{CenterLat: 51.545, CenterLon: -0.055, Seed: 1, Now: testNow,
		Practitioners: []contexts.Actor{*f.pracA, *f.pracB}, ContextLeads: []contexts.Actor{*f.lead}}
	sum := must[DemoSummary](t)(f.store.SeedDemo(ctx, opts))
	if sum.Skipped || sum.YoungPeople < 200 || sum.HarmLocations < 1000 || sum.Contexts < 20 ||
		sum.Assessments < 20 || sum.Interventions < 15 || sum.Links < 20 {
		t.Fatalf("summary %+v", sum)
	}
	again := must[DemoSummary](t)(f.store.SeedDemo(ctx, opts))
	if !again.Skipped {
		t.Fatalf("second seed %+v", again)
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM harm_locations WHERE NOT demo`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("unlabelled rows: %d %v", n, err)
	}
	// Hotspots are dense enough to publish at every resolution with k=10
	// over the last 12 complete months.
	obs := must[[]tiles.Observation](t)(f.store.Observations(ctx, tiles.Query{Layer: "harm", From: month(2025, 3), To: month(2026, 3)}))
	for res := 6; res <= 8; res++ {
		cells := map[uint64]map[int64]bool{}
		for _, o := range obs {
			c := uint64(o.Cell.Parent(res))
			if cells[c] == nil {
				cells[c] = map[int64]bool{}
			}
			cells[c][o.Subject] = true
		}
		dense := 0
		for _, subj := range cells {
			if len(subj) >= 10 {
				dense++
			}
		}
		if dense < 2 && res == 8 || dense < 1 {
			t.Errorf("res %d: %d cells with >= 10 young people", res, dense)
		}
		t.Logf("res %d: %d cells, %d with >= 10 young people", res, len(cells), dense)
	}
	// The records read like any others.
	near := must[[]contexts.ContextListItem](t)(f.store.Nearby(ctx, 51.545, -0.055, 5000, "location", "", 100))
	if len(near) < 10 {
		t.Fatalf("nearby demo contexts %d", len(near))
	}
	for _, c := range near {
		full := must[*contexts.Context](t)(f.store.Context(ctx, f.analyst, c.ID))
		chron := must[[]contexts.ChronologyEntry](t)(f.store.Chronology(ctx, f.analyst, c.ID))
		if !full.Demo || len(chron) == 0 || chron[0].Event != contexts.EventOpened {
			t.Fatalf("context %+v chronology %+v", full, chron)
		}
	}
	if notes := must[[]contexts.Notification](t)(f.store.Notifications(ctx, f.pracA)); len(notes) == 0 {
		t.Error("demo practitioners have no notifications")
	}
}
