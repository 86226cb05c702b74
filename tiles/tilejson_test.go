package tiles

import (
	"context"
	"strings"
	"testing"
)

// The vector layer's description is written from geo.ResForZoom, the rule's
// one home, and must read as it did when it was written by hand.
func TestTileJSONDescribesZoomResolutions(t *testing.T) {
	if got, want := zoomResolutions(), "resolution 6 to z9, 7 at z10-11, 8 from z12"; got != want {
		t.Fatalf("zoomResolutions() = %q, want %q", got, want)
	}
}

// The tile core knows no HTTP routes: neither TileJSON nor a refusal names
// one of its own making.
func TestNoRoutesInTiles(t *testing.T) {
	s := newTestService(t, &fakeSource{})
	tj, err := s.TileJSON(context.Background(), "https://x.example/t/{z}/{x}/{y}.pbf", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tj.Tiles[0]; !strings.HasPrefix(got, "https://x.example/t/{z}/{x}/{y}.pbf?") {
		t.Fatalf("tile URL %q is not the template given", got)
	}
	_, _, err = s.Cells(context.Background(), CellsRequest{Res: 8, Filter: Filter{Category: "nope"}})
	if err == nil || strings.Contains(err.Error(), "/api/") {
		t.Fatalf("category refusal %v names a route", err)
	}
}
