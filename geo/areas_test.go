package geo_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/geo/geotest"
)

func TestBoundaryAreasReadsONSAndPlainNames(t *testing.T) {
	docs := []json.RawMessage{
		json.RawMessage(`{"type":"FeatureCollection","features":[
			{"type":"Feature","properties":{"WD25CD":"E05000001","WD25NM":"Hoxton East","WD25NMW":" ","LAD25CD":"E09000012","LAD25NM":"Hackney"},"geometry":{"type":"Polygon","coordinates":[[[-0.09,51.52],[-0.07,51.52],[-0.07,51.54],[-0.09,51.54],[-0.09,51.52]]]}},
			{"type":"Feature","properties":{"WD25CD":"E05000002","WD25NM":"Hoxton West","LAD25CD":"E09000012","LAD25NM":"Hackney"},"geometry":{"type":"Polygon","coordinates":[[[-0.11,51.52],[-0.09,51.52],[-0.09,51.54],[-0.11,51.52]]]}},
			{"type":"Feature","properties":{"name":"Point, not an area"},"geometry":{"type":"Point","coordinates":[-0.08,51.53]}},
			{"type":"Feature","properties":{"note":"no name"},"geometry":{"type":"Polygon","coordinates":[[[-0.09,51.52],[-0.07,51.52],[-0.07,51.54],[-0.09,51.52]]]}}]}`),
		json.RawMessage(`{"type":"Feature","id":7,"properties":{"Name":"hoxton east"},"geometry":{"type":"MultiPolygon","coordinates":[[[[-0.2,51.5],[-0.1,51.5],[-0.1,51.6],[-0.2,51.5]]]]}}`),
		json.RawMessage(`{"type":"Feature","properties":{"code":"E05000001","name":"Copy"},"geometry":{"type":"Polygon","coordinates":[[[-0.09,51.52],[-0.07,51.52],[-0.07,51.54],[-0.09,51.52]]]}}`),
	}
	areas, err := geo.BoundaryAreas(docs)
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]string
	for _, a := range areas {
		got = append(got, [2]string{a.ID, a.Name})
	}
	want := [][2]string{{"E05000001", "Hoxton East"}, {"E05000002", "Hoxton West"}, {"7", "hoxton east"}, {"E05000001-2", "Copy"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("areas %v, want %v", got, want)
	}
	if a, err := geo.FindArea(areas, "E05000001"); err != nil || a.Name != "Hoxton East" {
		t.Errorf("by id: %+v %v", a, err)
	}
	if a, err := geo.FindArea(areas, "COPY"); err != nil || a.ID != "E05000001-2" {
		t.Errorf("by name: %+v %v", a, err)
	}
	for key, code := range map[string]string{"Hoxton East": "ward_ambiguous", "Nowhere": "ward_unknown"} {
		_, err := geo.FindArea(areas, key)
		var e *ctxmap.Error
		if ctxmap.KindOf(err) != ctxmap.KindInvalid || !asError(err, &e) || e.Code != code {
			t.Errorf("FindArea(%q): %v, want %s", key, err, code)
		}
	}
	if _, err := geo.BoundaryAreas([]json.RawMessage{json.RawMessage(`{"type":`)}); err == nil {
		t.Error("a broken document was read")
	}
}

func asError(err error, e **ctxmap.Error) bool {
	x, ok := err.(*ctxmap.Error)
	*e = x
	return ok
}

// An area stands for the whole cells whose centres fall inside it: every
// cell returned has its centre inside, every neighbour left out has not.
func TestCellsInAreaAreThoseWithCentresInside(t *testing.T) {
	raw, err := os.ReadFile(geotest.SharedData(t, "boundaries/london/ward/E09000012.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	areas, err := geo.BoundaryAreas([]json.RawMessage{raw})
	if err != nil || len(areas) < 15 || areas[0].Name != "Brownswood" || areas[0].ID != "E05009367" {
		t.Fatalf("%d Hackney wards, %v", len(areas), err)
	}
	owner := map[h3.Cell]string{}
	for _, a := range areas {
		cells := geo.CellsInArea(a.Geom, 8)
		for _, c := range cells {
			lat, lon := geo.CellCenter(c)
			if !contains(a.Geom, orb.Point{lon, lat}) {
				t.Fatalf("%s: cell %s has its centre outside", a.Name, c)
			}
			if o, dup := owner[c]; dup {
				t.Fatalf("cell %s stands for both %s and %s", c, o, a.Name)
			}
			owner[c] = a.Name
			for _, n := range c.GridDisk(1) {
				nlat, nlon := geo.CellCenter(n)
				inside := contains(a.Geom, orb.Point{nlon, nlat})
				if inside != containsCell(cells, n) {
					t.Fatalf("%s: neighbour %s has its centre inside %v but is listed %v", a.Name, n, inside, !inside)
				}
			}
		}
	}
	if len(owner) < 20 {
		t.Fatalf("only %d res-8 cells in Hackney's wards", len(owner))
	}
}

func contains(g orb.Geometry, p orb.Point) bool {
	switch v := g.(type) {
	case orb.Polygon:
		return planar.PolygonContains(v, p)
	case orb.MultiPolygon:
		return planar.MultiPolygonContains(v, p)
	}
	return false
}

func containsCell(cells []h3.Cell, c h3.Cell) bool {
	for _, x := range cells {
		if x == c {
			return true
		}
	}
	return false
}
