package main

// Area trends against the whole server: every step is the sum of the
// published values /api/v1/heat/cells gives for the same release, and no
// write changes them until the next release (PRIVACY.md rules 9 and 12).

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/geo/geotest"
)

// hackneyWards is the ward boundary the demo and the browser tests import.
const hackneyWards = "boundaries/london/ward/E09000012.geojson"

// importBoundary imports the Hackney wards as the operator does and
// returns them as the server reads them.
func (ts *testServer) importBoundary(t *testing.T) []geo.Area {
	t.Helper()
	file := geotest.SharedData(t, hackneyWards)
	if err := Run(t.Context(), []string{"import", "boundary", "--name", "Hackney wards", "--database-url", ts.DBURL, file}, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("import boundary: %v", err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	areas, err := geo.BoundaryAreas([]json.RawMessage{raw})
	if err != nil {
		t.Fatal(err)
	}
	return areas
}

type trendAnswer struct {
	Release int64  `json:"release"`
	Step    string `json:"step"`
	Area    struct {
		Kind  string    `json:"kind"`
		Ward  *geo.Area `json:"ward"`
		Res   int       `json:"res"`
		Cells []string  `json:"cells"`
	} `json:"area"`
	PublishedSteps int `json:"published_steps"`
	Points         []struct {
		Period         string `json:"period"`
		Label          string `json:"label"`
		Value          *int   `json:"value"`
		PublishedCells int    `json:"published_cells"`
	} `json:"points"`
}

// trend reads GET /api/v1/trends?query, its raw body and its decoding.
func (ts *testServer) trend(t *testing.T, query string) ([]byte, trendAnswer) {
	t.Helper()
	r := ts.get(t, contexts.RoleAnalyst, "/api/v1/trends?"+query)
	var out trendAnswer
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("trend %s: %d %s", query, r.status, r.body)
	}
	return r.body, out
}

// checkTrendIsSumOfCells recomputes every step of a trend from the cells
// JSON of the same release and period: the sum of the area's published
// cells, with their count, and null where none is published.
func (ts *testServer) checkTrendIsSumOfCells(t *testing.T, query, filter string, tr trendAnswer) (published int) {
	t.Helper()
	if tr.Release != ts.servedRelease(t) {
		t.Fatalf("%s: trend of release %d, the map serves %d", query, tr.Release, ts.servedRelease(t))
	}
	for _, p := range tr.Points {
		cells := ts.cells(t, tr.Area.Res, "period="+p.Period+filter)
		sum, n := 0, 0
		for _, c := range tr.Area.Cells {
			if v, ok := cells[h3.Cell(h3.IndexFromString(c))]; ok {
				sum += v
				n++
			}
		}
		if p.PublishedCells != n || (p.Value == nil) != (n == 0) || p.Value != nil && *p.Value != sum {
			t.Fatalf("%s, %s: trend value %v over %d cells; the cells JSON sums to %d over %d", query, p.Period, p.Value, p.PublishedCells, sum, n)
		}
		if n > 0 {
			published++
		}
	}
	if published != tr.PublishedSteps {
		t.Fatalf("%s: published_steps %d, %d steps have a value", query, tr.PublishedSteps, published)
	}
	return published
}

func TestAreaTrendIsTheSumOfPublishedCellsAndWaitsForARelease(t *testing.T) {
	ts := startServer(t)
	areas := ts.importBoundary(t)
	ward, err := geo.FindArea(areas, "Brownswood")
	if err != nil {
		t.Fatal(err)
	}
	wardCells := geo.CellsInArea(ward.Geom, 8)
	cat := ts.categories(t)[0]
	a := cellAt(probeSite[0], probeSite[1], 8)
	b := a.GridDisk(1)[1]
	empty := cellAt(50.12, -5.54, 8) // Penzance: no data
	place := func(prefix string, c h3.Cell, n int) {
		lat, lon := geo.CellCenter(c)
		for i := range n {
			ts.record(t, harmPoint{subject: fmt.Sprintf("%s-%d", prefix, i), lat: lat, lon: lon, category: cat, layer: "harm"})
		}
	}
	place("A", a, 15)
	place("B", b, 12)
	place("W", wardCells[0], 14)
	ts.release(t)

	cellsQuery := "h3=" + strings.Join([]string{a.String(), b.String(), empty.String()}, ",")
	queries := [][2]string{ // query, the filter it implies for the cells JSON
		{cellsQuery, ""},
		{cellsQuery + "&step=quarter", ""},
		{cellsQuery + "&category=" + cat, "&category=" + cat},
		{"ward=Brownswood&res=8", ""},
		{"ward=" + ward.ID + "&res=8&step=quarter&category=" + cat, "&category=" + cat},
	}
	before := map[string][]byte{}
	for _, q := range queries {
		body, tr := ts.trend(t, q[0])
		if n := ts.checkTrendIsSumOfCells(t, q[0], q[1], tr); n == 0 {
			t.Fatalf("%s: no step published; the test would compare nothing: %s", q[0], body)
		}
		before[q[0]] = body
		if strings.HasPrefix(q[0], "ward=") {
			if tr.Area.Kind != "ward" || tr.Area.Ward == nil || tr.Area.Ward.ID != ward.ID || tr.Area.Ward.Name != "Brownswood" ||
				fmt.Sprint(tr.Area.Cells) != fmt.Sprint(cellStrings(wardCells)) {
				t.Fatalf("%s: area %+v, want the ward's cells %v", q[0], tr.Area, wardCells)
			}
		} else if tr.Area.Kind != "cells" || len(tr.Area.Cells) != 3 || tr.Area.Res != 8 {
			t.Fatalf("%s: area %+v", q[0], tr.Area)
		}
		for _, p := range tr.Points {
			if p.PublishedCells > 2 {
				t.Fatalf("%s: %d cells published in %s, but one cell has no data", q[0], p.PublishedCells, p.Period)
			}
		}
	}

	// Writes (more young people at every place) change nothing until the next release.
	place("A2", a, 20)
	place("W2", wardCells[0], 20)
	for _, q := range queries {
		if body, _ := ts.trend(t, q[0]); string(body) != string(before[q[0]]) {
			t.Fatalf("%s changed after a write, before a release:\n%s\n%s", q[0], before[q[0]], body)
		}
	}
	ts.release(t)
	for _, q := range queries {
		body, tr := ts.trend(t, q[0])
		if string(body) == string(before[q[0]]) {
			t.Fatalf("%s: the next release changed nothing", q[0])
		}
		ts.checkTrendIsSumOfCells(t, q[0], q[1], tr)
	}

	t.Run("the wards of the imported boundary are listed", func(t *testing.T) {
		status, out := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/boundary/wards", "")
		list, _ := out["wards"].([]any)
		if status != 200 || len(list) != len(areas) || len(list) < 15 {
			t.Fatalf("wards: %d %v", status, out)
		}
		first, _ := list[0].(map[string]any)
		if first["id"] != "E05009367" || first["name"] != "Brownswood" || len(first) != 2 {
			t.Fatalf("first ward %v", first)
		}
	})

	t.Run("bad area requests are clear 400s", func(t *testing.T) {
		for q, code := range map[string]string{
			"ward=Nowhere&res=8":                              "ward_unknown",
			"ward=Brownswood":                                 "invalid_parameter",
			"ward=Brownswood&res=9":                           "invalid_parameter",
			"ward=Brownswood&res=6":                           "ward_no_cells",
			"ward=Brownswood&res=8&h3=" + a.String():          "invalid_parameter",
			"h3=" + a.String() + "&res=8":                     "invalid_parameter",
			"h3=" + a.String() + "&step=week":                 "step_unsupported",
			"h3=" + a.String() + "&step=quarter&from=2025-Q9": "month_invalid",
			"":                                    "cells_required",
			"ward=Brownswood&ward=Clissold&res=8": "filter_unsupported",
		} {
			status, out := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/trends?"+q, "")
			if status != 400 || errCode(out) != code {
				t.Errorf("%s: %d %v, want 400 %s", q, status, out, code)
			}
		}
	})
}

func cellStrings(cells []h3.Cell) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = c.String()
	}
	return out
}
