package main

import (
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
)

// TestACategoryAddedAfterTheReleaseSaysSo: a harm category added to the
// taxonomy after the current release has no published values until the
// next one. The map offers it at once (its pickers ask the taxonomy), so a
// read of it must say that, not blame a period the release does cover; and
// after the next release it is published like any other.
func TestACategoryAddedAfterTheReleaseSaysSo(t *testing.T) {
	ts := startServer(t)
	if status, out := ts.do(t, contexts.RoleAdmin, "POST", "/api/v1/taxonomy/categories",
		`{"code":"late_cat","label":"Late category","census_code":"11A","extra_familial":true}`); status != 201 {
		t.Fatalf("add category: %d %v", status, out)
	}
	tile := tileAt(51.545, -0.055, 12)
	for _, path := range []string{"/api/v1/heat/cells?res=8&period=last-12m&category=late_cat", "/tiles/heat/" + tile + ".mvt?period=last-12m&category=late_cat"} {
		status, out := ts.do(t, contexts.RoleAnalyst, "GET", path, "")
		if status != 400 || errCode(out) != "category_not_released" {
			t.Fatalf("GET %s before the next release: %d %v", path, status, out)
		}
	}
	if status, out := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/heat/cells?res=8&period=last-12m", ""); status != 200 {
		t.Fatalf("all categories: %d %v", status, out)
	}
	ts.release(t)
	if status, out := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/heat/cells?res=8&period=last-12m&category=late_cat", ""); status != 200 {
		t.Fatalf("after the next release: %d %v", status, out)
	}
}
