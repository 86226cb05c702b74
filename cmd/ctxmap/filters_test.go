package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/paulmach/orb/maptile"

	"github.com/ctxmap/ctxmap/contexts"
)

// TestCategoryFiltersOverHTTP plants one category at one place and another
// at another: over HTTP, a category's cells, tiles and export show its own
// place only, all categories show both, the extra-familial figure only the
// extra-familial category's place, and the CSV has exactly one row per
// published cell.
func TestCategoryFiltersOverHTTP(t *testing.T) {
	ts := startServer(t)
	// a counts towards the extra-familial figure, b does not.
	var a, b string
	if err := ts.Pool.QueryRow(t.Context(), `SELECT (SELECT min(code) FROM harm_categories WHERE extra_familial),
		(SELECT min(code) FROM harm_categories WHERE NOT extra_familial)`).Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	placeA, placeB := [2]float64{53.4808, -2.2426}, [2]float64{52.4862, -1.8904} // Manchester, Birmingham
	for i := range 2 * k {
		ts.record(t, harmPoint{fmt.Sprintf("filter-a-%d", i), placeA[0], placeA[1], a, "harm"})
		ts.record(t, harmPoint{fmt.Sprintf("filter-b-%d", i), placeB[0], placeB[1], b, "harm"})
	}
	ts.release(t)
	cellA, cellB := cellAt(placeA[0], placeA[1], 8), cellAt(placeB[0], placeB[1], 8)
	for _, c := range []struct {
		query      string
		wantA, wtB bool
	}{
		{"period=last-12m", true, true},
		{"category=" + a + "&period=last-12m", true, false},
		{"category=" + b + "&period=last-12m", false, true},
		{"category=extra_familial&period=last-12m", true, false},
	} {
		for res := 6; res <= 8; res++ {
			got := ts.cells(t, res, c.query)
			_, hasA := got[cellA.Parent(res)]
			_, hasB := got[cellB.Parent(res)]
			if hasA != c.wantA || hasB != c.wtB {
				t.Errorf("%s res %d: place A %v, place B %v; want %v, %v", c.query, res, hasA, hasB, c.wantA, c.wtB)
			}
		}
		// The CSV export: one row per published cell at every resolution,
		// the same cells as the JSON.
		want := 0
		for res := 6; res <= 8; res++ {
			want += len(ts.cells(t, res, c.query))
		}
		r := ts.get(t, contexts.RoleAnalyst, "/api/v1/exports/heat.csv?"+c.query)
		if r.status != 200 {
			t.Fatalf("export %s: %d", c.query, r.status)
		}
		rows := 0
		for _, line := range strings.Split(strings.TrimSpace(string(r.body)), "\n") {
			if line != "" && !strings.HasPrefix(line, "h3,") {
				rows++
			}
		}
		if rows != want || want == 0 {
			t.Errorf("export %s: %d rows, %d published cells", c.query, rows, want)
		}
	}
	// The tile over place A draws A's hexagon for A and all, nothing for B.
	for _, c := range []struct {
		query string
		want  bool
	}{{"period=last-12m", true}, {"category=" + a + "&period=last-12m", true}, {"category=" + b + "&period=last-12m", false}} {
		tile := maptile.At([2]float64{placeA[1], placeA[0]}, 12)
		v := tileValues(t, ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?%s", tile.X, tile.Y, c.query)).body)
		if _, ok := v[cellA.String()]; ok != c.want {
			t.Errorf("tile over A, %s: drawn %v, want %v (%v)", c.query, ok, c.want, v)
		}
	}
}
