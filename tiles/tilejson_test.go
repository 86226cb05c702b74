package tiles

import "testing"

// The vector layer's description is written from geo.ResForZoom, the rule's
// one home, and must read as it did when it was written by hand.
func TestTileJSONDescribesZoomResolutions(t *testing.T) {
	if got, want := zoomResolutions(), "resolution 6 to z9, 7 at z10-11, 8 from z12"; got != want {
		t.Fatalf("zoomResolutions() = %q, want %q", got, want)
	}
}
