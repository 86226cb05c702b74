package geo

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestAreaCells(t *testing.T) {
	square := `{"type":"Polygon","coordinates":[[[-1.60,53.78],[-1.50,53.78],[-1.50,53.82],[-1.60,53.82],[-1.60,53.78]]]}`
	feature := json.RawMessage(`{"type":"Feature","properties":{},"geometry":` + square + `}`)
	fc := json.RawMessage(`{"type":"FeatureCollection","features":[` + string(feature) + `,{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[0,51]}}]}`)
	one, err := AreaCells([]json.RawMessage{feature}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(one) < 5 || !slices.IsSorted(one) {
		t.Fatalf("%d cells", len(one))
	}
	for _, c := range one {
		ll := h3.CellToLatLng(c)
		if ll.Lat < 53.78 || ll.Lat > 53.82 || ll.Lng < -1.60 || ll.Lng > -1.50 || CellRes(c) != 7 {
			t.Fatalf("%s (centre %v) is not a res 7 cell inside the square", c, ll)
		}
	}
	both, err := AreaCells([]json.RawMessage{fc, feature}, 7)
	if err != nil || !slices.Equal(both, one) {
		t.Fatalf("a collection and the same feature again: %d cells, %v", len(both), err)
	}
	if _, err := AreaCells([]json.RawMessage{json.RawMessage(`{"type":`)}, 7); err == nil {
		t.Fatal("a broken document was accepted")
	}
}
