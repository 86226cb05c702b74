package tiles

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

func TestExportCSVStartsWithItsHeader(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(8, 2000)})
	ctx := context.Background()
	f := Filter{Layer: ctxmap.LayerHarm, Period: "2026-Q1"}
	var buf bytes.Buffer
	meta, err := s.ExportCSV(ctx, &buf, ExportRequest{Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if lines[0] != "h3,res,value,period,layer,category,release,release_data_time,release_months,lat,lon" {
		t.Fatalf("first line %q", lines[0])
	}
	rows := map[string]string{}
	for _, line := range lines[1:] {
		fields := strings.Split(line, ",")
		// Each row names its release: id, data time and the months it covers.
		if len(fields) != 11 || fields[3] != "2026-01/2026-03" || fields[4] != "harm" || fields[5] != "all" || fields[6] != "1" ||
			fields[7] != meta.Release.DataTime || fields[8] != meta.Release.FirstMonth+"/"+meta.Release.LastMonth || fields[7] == "" {
			t.Fatalf("row %q", line)
		}
		rows[fields[0]] = fields[2]
	}
	total := 0
	for res := geo.MinRes; res <= geo.MaxRes; res++ {
		cells, _, _ := s.Cells(ctx, CellsRequest{Res: res, Filter: f})
		total += len(cells)
		for _, c := range cells {
			if rows[c.H3] != fmt.Sprint(c.Value) {
				t.Fatalf("export has %s = %q, published %d", c.H3, rows[c.H3], c.Value)
			}
		}
	}
	if total != len(rows) || total == 0 || meta.Cells != total {
		t.Fatalf("export has %d rows, metadata says %d, %d cells published", len(rows), meta.Cells, total)
	}
	var again bytes.Buffer
	if _, err := s.ExportCSV(ctx, &again, ExportRequest{Filter: f}); err != nil || again.String() != buf.String() {
		t.Fatal("the same export differs")
	}
}

func TestExportMetadataCarriesTheCaveats(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(8, 2000)})
	b := &orb.Bound{Min: orb.Point{-3, 53}, Max: orb.Point{-2, 54}}
	m, err := s.ExportMetadata(context.Background(), ExportRequest{Res: 8, Filter: Filter{Category: "cse", Period: "2026-03"}, BBox: b})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(m)
	for _, want := range []string{`"layer":"harm"`, `"category":"cse"`, `"period":"2026-03"`, `"period_value":"2026-03"`, `"resolutions":[8]`,
		`"bbox":[-3,53,-2,54]`, "whole cells whose hexagon meets the bbox", "nearest 5", PerturbationSeed, "suppressed or empty",
		`"release":{"id":1,"data_time":"2026-04-15T10:00:00Z","first_month":"2023-04","last_month":"2026-03"}`, `"name":"lat"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("metadata lacks %s: %s", want, js)
		}
	}
}

// geoJSONDoc is what RFC 7946 requires of the export, decoded.
type geoJSONDoc struct {
	Type     string `json:"type"`
	Features []struct {
		Type     string `json:"type"`
		Geometry struct {
			Type        string         `json:"type"`
			Coordinates [][][2]float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties map[string]any `json:"properties"`
	} `json:"features"`
}

func TestExportGeoJSONIsRFC7946Hexagons(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(8, 2000)})
	ctx := context.Background()
	f := Filter{Layer: ctxmap.LayerHarm, Period: "last-3m"}
	var buf bytes.Buffer
	meta, err := s.ExportGeoJSON(ctx, &buf, ExportRequest{Res: 7, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	var doc geoJSONDoc
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%.300s", err, buf.String())
	}
	cells, _, _ := s.Cells(ctx, CellsRequest{Res: 7, Filter: f})
	if doc.Type != "FeatureCollection" || len(doc.Features) != len(cells) || len(cells) == 0 || meta.Cells != len(cells) {
		t.Fatalf("%s with %d features, %d cells published", doc.Type, len(doc.Features), len(cells))
	}
	for i, ft := range doc.Features {
		g := ft.Geometry
		if ft.Type != "Feature" || g.Type != "Polygon" || len(g.Coordinates) != 1 {
			t.Fatalf("feature %d: %+v", i, ft)
		}
		ring := orb.Ring{}
		for _, p := range g.Coordinates[0] {
			ring = append(ring, orb.Point(p))
		}
		if len(ring) != 7 || ring[0] != ring[6] || ring.Orientation() != orb.CCW {
			t.Fatalf("feature %d: ring of %d points, closed %v, orientation %v", i, len(ring), ring[0] == ring[len(ring)-1], ring.Orientation())
		}
		p := ft.Properties
		if p["h3"] != cells[i].H3 || p["value"] != float64(cells[i].Value) || p["res"] != 7.0 || p["layer"] != "harm" ||
			p["category"] != "all" || p["period"] != "2026-01/2026-03" || p["release"] != 1.0 ||
			p["release_data_time"] != "2026-04-15T10:00:00Z" || p["release_months"] != "2023-04/2026-03" || len(p) != 9 {
			t.Fatalf("feature %d properties %v, cell %+v", i, p, cells[i])
		}
		lat, lon := geo.CellCenter(cellOf(cells[i].H3))
		if !planar.RingContains(ring, orb.Point{lon, lat}) {
			t.Fatalf("feature %d: the hexagon does not hold its cell's centre", i)
		}
	}
}

// The view's cells are the whole cells whose hexagon meets it: a cell
// whose bounding box reaches into the view but whose hexagon does not is
// not one of them.
func TestExportBBoxKeepsWholeCellsThatMeetIt(t *testing.T) {
	s := newTestService(t, &fakeSource{recs: testRecords(8, 2000)})
	ctx := context.Background()
	f := Filter{Period: "last-12m"}
	all, _, _ := s.Cells(ctx, CellsRequest{Res: 8, Filter: f})
	c := cellOf(all[len(all)/2].H3)
	ring := geo.BoundaryOf(c).Ring
	lat, lon := geo.CellCenter(c)
	view := &orb.Bound{Min: orb.Point{lon - 0.02, lat - 0.01}, Max: orb.Point{lon + 0.02, lat + 0.01}}
	var buf bytes.Buffer
	meta, err := s.ExportCSV(ctx, &buf, ExportRequest{Res: 8, Filter: f, BBox: view})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n")[1:] {
		got[strings.Split(line, ",")[0]] = true
	}
	want := 0
	for _, x := range all {
		meets := ringMeetsBound(geo.BoundaryOf(cellOf(x.H3)).Ring, *view)
		if meets != got[x.H3] {
			t.Errorf("cell %s: meets the view %v, exported %v", x.H3, meets, got[x.H3])
		}
		if meets {
			want++
		}
	}
	if !got[c.String()] || meta.Cells != want || len(got) != want {
		t.Fatalf("exported %d cells, %d meet the view (metadata %d)", len(got), want, meta.Cells)
	}
	cells, _, _ := s.Cells(ctx, CellsRequest{Res: 8, Filter: f, BBox: view})
	if len(cells) != want {
		t.Fatalf("the cells JSON of the same view has %d cells, the export %d", len(cells), want)
	}
	// A corner of the hexagon's bounding box that lies outside the hexagon.
	bb := ring.Bound()
	corner := orb.Bound{Min: bb.Min, Max: orb.Point{bb.Min[0] + (bb.Max[0]-bb.Min[0])/20, bb.Min[1] + (bb.Max[1]-bb.Min[1])/20}}
	if !bb.Intersects(corner) || ringMeetsBound(ring, corner) {
		t.Fatal("a box in the corner of the hexagon's bounding box counts as meeting the hexagon")
	}
	inside := orb.Bound{Min: orb.Point{lon - 1e-5, lat - 1e-5}, Max: orb.Point{lon + 1e-5, lat + 1e-5}}
	around := orb.Bound{Min: orb.Point{bb.Min[0] - 1, bb.Min[1] - 1}, Max: orb.Point{bb.Max[0] + 1, bb.Max[1] + 1}}
	edge := orb.Bound{Min: orb.Point{ring[0][0] - 1e-4, ring[0][1] - 1e-4}, Max: orb.Point{ring[0][0] + 1e-4, ring[0][1] + 1e-4}}
	for name, b := range map[string]orb.Bound{"inside": inside, "around": around, "over a vertex": edge} {
		if !ringMeetsBound(ring, b) {
			t.Errorf("a box %s the hexagon does not meet it", name)
		}
	}
}

func cellOf(s string) h3.Cell { return h3.Cell(h3.IndexFromString(s)) }
