package main

// The exports read by a real GIS client, GDAL's ogrinfo (Debian gdal-bin,
// installed by scripts/tools.sh): the CSV opens as a table (and as points
// from its lat and lon), the GeoJSON as hexagon polygons, each with the
// published cells of the view and the fields the metadata names.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
)

// ogrinfo runs GDAL's ogrinfo on file with args; missing GDAL skips
// locally and fails under CI.
func ogrinfo(t *testing.T, file string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("ogrinfo")
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatalf("ogrinfo missing and CI=%s (bash scripts/tools.sh installs gdal-bin)", ci)
		}
		t.Skip("ogrinfo missing: bash scripts/tools.sh installs gdal-bin")
	}
	out, err := exec.Command(bin, append(append([]string{"-ro", "-al"}, args...), file)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo %s: %v\n%s", file, err, out)
	}
	return string(out)
}

var (
	featureCount = regexp.MustCompile(`(?m)^Feature Count: (\d+)$`)
	geometryLine = regexp.MustCompile(`(?m)^Geometry: (.+)$`)
	fieldLine    = regexp.MustCompile(`(?m)^(\w+): (String|Integer|Integer64|Real|DateTime) \(`)
	featureH3    = regexp.MustCompile(`(?m)^\s+h3 \(String\) = (\w+)$`)
	featureValue = regexp.MustCompile(`(?m)^\s+value \(Integer\) = (\d+)$`)
)

// layerSummary is what ogrinfo -so says of the one layer of a file.
func layerSummary(t *testing.T, out string) (count int, geometry string, fields []string) {
	t.Helper()
	m := featureCount.FindStringSubmatch(out)
	g := geometryLine.FindStringSubmatch(out)
	if m == nil || g == nil {
		t.Fatalf("ogrinfo gave no feature count or geometry:\n%s", out)
	}
	count, _ = strconv.Atoi(m[1])
	for _, f := range fieldLine.FindAllStringSubmatch(out, -1) {
		fields = append(fields, f[1]+":"+f[2])
	}
	return count, g[1], fields
}

// download saves an export into dir under name and checks it is audited
// as action and describes itself.
func (ts *testServer) download(t *testing.T, dir, name, path, action string) string {
	t.Helper()
	var before int
	if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = $1`, action).Scan(&before); err != nil {
		t.Fatal(err)
	}
	r := ts.get(t, contexts.RoleAnalyst, path)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(r.header.Get("Link"), `/api/v1/exports/heat-metadata.json?`) {
		t.Fatalf("%s: %d %v %.200s", path, r.status, r.header, r.body)
	}
	var after int
	if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = $1`, action).Scan(&after); err != nil || after != before+1 {
		t.Fatalf("%s: audit entries %s %d -> %d (%v)", path, action, before, after, err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, r.body, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestExportsOpenInOgrinfoWithTheViewsCells(t *testing.T) {
	ts := startServer(t)
	cat := ts.categories(t)[0]
	a := cellAt(probeSite[0], probeSite[1], 8)
	for i, c := range []h3.Cell{a, a.GridDisk(1)[1], cellAt(51.545, -0.055, 8)} {
		lat, lon := geo.CellCenter(c)
		for j := range 12 + i {
			ts.record(t, harmPoint{subject: fmt.Sprintf("X%d-%d", i, j), lat: lat, lon: lon, category: cat, layer: "harm"})
		}
	}
	ts.release(t)
	dir := t.TempDir()
	view := fmt.Sprintf("bbox=%g,%g,%g,%g", probeSite[1]-0.05, probeSite[0]-0.03, probeSite[1]+0.05, probeSite[0]+0.03)
	for _, c := range []struct{ name, query string }{
		{"view-res8", "res=8&period=last-12m&" + view},
		{"all", "period=last-12m"},
	} {
		want := map[string]int{}
		for res := 6; res <= 8; res++ {
			if strings.Contains(c.query, "res=") && res != 8 {
				continue
			}
			q := "period=last-12m"
			if strings.Contains(c.query, "bbox=") {
				q += "&" + view
			}
			for cell, v := range ts.cells(t, res, q) {
				want[cell.String()] = v
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: no published cell to export", c.name)
		}
		if c.name == "view-res8" && len(want) >= len(ts.cells(t, 8, "period=last-12m")) {
			t.Fatalf("the view holds every cell; the bbox would test nothing")
		}

		csv := ts.download(t, dir, c.name+".csv", "/api/v1/exports/heat.csv?"+c.query, "export.heat_csv")
		n, g, fields := layerSummary(t, ogrinfo(t, csv, "-so"))
		if n != len(want) || g != "None" || strings.Join(fields, " ") !=
			"h3:String res:String value:String period:String layer:String category:String release:String release_data_time:String release_months:String lat:String lon:String" {
			t.Fatalf("%s.csv: %d features (want %d), geometry %s, fields %v", c.name, n, len(want), g, fields)
		}
		n, g, fields = layerSummary(t, ogrinfo(t, csv, "-so", "-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat", "-oo", "AUTODETECT_TYPE=YES"))
		if n != len(want) || g != "Point" || !slices.Contains(fields, "value:Integer") || !slices.Contains(fields, "lat:Real") {
			t.Fatalf("%s.csv as points: %d features, geometry %s, fields %v", c.name, n, g, fields)
		}

		gj := ts.download(t, dir, c.name+".geojson", "/api/v1/exports/heat.geojson?"+c.query, "export.heat_geojson")
		n, g, fields = layerSummary(t, ogrinfo(t, gj, "-so"))
		if n != len(want) || g != "Polygon" || strings.Join(fields, " ") !=
			"h3:String res:Integer value:Integer period:String layer:String category:String release:Integer release_data_time:DateTime release_months:String" {
			t.Fatalf("%s.geojson: %d features (want %d), geometry %s, fields %v", c.name, n, len(want), g, fields)
		}
		full := ogrinfo(t, gj)
		ids, values := featureH3.FindAllStringSubmatch(full, -1), featureValue.FindAllStringSubmatch(full, -1)
		if len(ids) != len(want) || len(values) != len(want) {
			t.Fatalf("%s.geojson: ogrinfo read %d ids and %d values, want %d", c.name, len(ids), len(values), len(want))
		}
		for i := range ids {
			if v, _ := strconv.Atoi(values[i][1]); want[ids[i][1]] != v {
				t.Fatalf("%s.geojson: %s = %d, published %d", c.name, ids[i][1], v, want[ids[i][1]])
			}
		}

		status, meta := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/exports/heat-metadata.json?"+c.query, "")
		rel, _ := meta["release"].(map[string]any)
		if status != 200 || meta["cells"] != float64(len(want)) || rel["id"] != float64(ts.servedRelease(t)) {
			js, _ := json.Marshal(meta)
			t.Fatalf("%s metadata: %d %s", c.name, status, js)
		}
	}
}
