package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
	"github.com/ctxmap/ctxmap/tiles"
)

// The store keeps each set's partnership total beside its cells and reads
// one filter's totals back: 30 young people give a published total, 8 an
// absent one (NULL), and the release says it carries totals.
func TestReleaseStoreKeepsTotals(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	cell := h3.LatLngToCell(h3.NewLatLng(51.545, -0.055), 8)
	last := tiles.MonthOf(time.Now()).Add(-1)
	plantHarm(t, pool, 1, 30, cell, last.Start(), "harm", "cse")
	plantHarm(t, pool, 100, 8, cell, last.Start(), "harm", "cce")
	if err := releaser(t, pool, nil).EnsureFirst(ctx); err != nil {
		t.Fatal(err)
	}
	store := NewReleases(pool)
	info, ok, err := store.Latest(ctx)
	if err != nil || !ok || !info.Totals {
		t.Fatalf("latest: %+v %v %v", info, ok, err)
	}
	month := func(cat string) tiles.Total {
		t.Helper()
		totals, err := store.Totals(ctx, info.ID, cat)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range totals {
			if st.Key.Category != cat {
				t.Fatalf("asked for %q, got %+v", cat, st)
			}
			if st.Key.Layer == ctxmap.LayerHarm && st.Key.First == last && st.Key.Last == last {
				return st.Total
			}
		}
		t.Fatalf("no harm total for %q in %s", cat, last)
		return tiles.Total{}
	}
	if got := month("cse"); !got.Published || got.Value < 25 || got.Value > 35 || got.Value%5 != 0 {
		t.Errorf("cse, 30 young people: %+v", got)
	}
	if got := month("cce"); got.Published {
		t.Errorf("cce, 8 young people: %+v, want absent", got)
	}
	var nulls int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM release_sets WHERE release_id = $1 AND category = 'cce' AND total IS NULL`, info.ID).Scan(&nulls); err != nil || nulls == 0 {
		t.Errorf("cce totals stored as NULL: %d %v", nulls, err)
	}
}
