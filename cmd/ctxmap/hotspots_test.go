package main

// Emerging hot spots (issue 12) against the whole server with real
// PostGIS: the API's Gi* and Mann-Kendall numbers are recomputed here,
// independently, from the published values /heat/cells returns for each
// step; a write changes nothing until the next release.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/contexts"
)

type hotspotAnswer struct {
	Release struct {
		ID       int64  `json:"id"`
		DataTime string `json:"data_time"`
	} `json:"release"`
	Res       int     `json:"res"`
	Step      string  `json:"step"`
	Alpha     float64 `json:"alpha"`
	StudyArea struct {
		Kind  string `json:"kind"`
		Cells int    `json:"cells"`
	} `json:"study_area"`
	Steps []struct {
		Label string `json:"label"`
	} `json:"steps"`
	Categories []struct {
		Code, Label string
	} `json:"categories"`
	Cells []struct {
		H3       string  `json:"h3"`
		Category string  `json:"category"`
		TrendZ   float64 `json:"trend_z"`
		TrendP   float64 `json:"trend_p"`
		Gi       []struct {
			Z float64 `json:"z"`
			P float64 `json:"p"`
		} `json:"gi"`
	} `json:"cells"`
}

func (ts *testServer) hotspots(t *testing.T, query string) (hotspotAnswer, []byte) {
	t.Helper()
	r := ts.get(t, contexts.RoleAnalyst, "/api/v1/hotspots?"+query)
	if r.status != 200 {
		t.Fatalf("hotspots %s: %d %s", query, r.status, r.body)
	}
	var out hotspotAnswer
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out, r.body
}

// giStar is Getis-Ord Gi* written out again from the formula, for the
// recomputation: binary weights over the cell and its ring-1 neighbours in
// the area, mean and standard deviation over the whole area.
func giStar(area []h3.Cell, x map[h3.Cell]float64) map[h3.Cell][2]float64 {
	n := float64(len(area))
	in := map[h3.Cell]bool{}
	var sum, sum2 float64
	for _, c := range area {
		in[c] = true
		sum += x[c]
		sum2 += x[c] * x[c]
	}
	mean := sum / n
	sd := math.Sqrt(sum2/n - mean*mean)
	out := map[h3.Cell][2]float64{}
	for _, c := range area {
		var local, w float64
		for _, nb := range c.GridDisk(1) {
			if in[nb] {
				local += x[nb]
				w++
			}
		}
		den := sd * math.Sqrt((n*w-w*w)/(n-1))
		if den < 1e-9 {
			out[c] = [2]float64{0, 1}
			continue
		}
		z := (local - mean*w) / den
		out[c] = [2]float64{z, 2 * (1 - normalCDF(math.Abs(z)))}
	}
	return out
}

func normalCDF(z float64) float64 { return 0.5 * (1 + math.Erf(z/math.Sqrt2)) }

// mannKendall is the trend test written out again: S, the variance with
// the tie correction, the continuity-corrected z and its two-sided p.
func mannKendall(xs []float64) (z, p float64) {
	n := len(xs)
	s := 0.0
	for i := range xs {
		for j := i + 1; j < n; j++ {
			if d := xs[j] - xs[i]; d > 0 {
				s++
			} else if d < 0 {
				s--
			}
		}
	}
	ties := map[float64]int{}
	for _, x := range xs {
		ties[x]++
	}
	v := float64(n*(n-1)*(2*n+5)) / 18
	for _, t := range ties {
		v -= float64(t*(t-1)*(2*t+5)) / 18
	}
	switch {
	case v <= 0 || s == 0:
		return 0, 1
	case s > 0:
		z = (s - 1) / math.Sqrt(v)
	default:
		z = (s + 1) / math.Sqrt(v)
	}
	return z, 2 * (1 - normalCDF(math.Abs(z)))
}

// recompute checks a hot spot answer against the published cells of each
// of its steps.
func (ts *testServer) recompute(t *testing.T, ans hotspotAnswer, filter string) {
	t.Helper()
	var area []h3.Cell
	for _, c := range ans.Cells {
		area = append(area, h3.Cell(h3.IndexFromString(c.H3)))
	}
	union := map[h3.Cell]bool{}
	gis := make([]map[h3.Cell][2]float64, len(ans.Steps))
	for i, st := range ans.Steps {
		pub := ts.cells(t, ans.Res, filter+"&period="+st.Label)
		x := map[h3.Cell]float64{}
		for c, v := range pub {
			union[c] = true
			x[c] = float64(v)
		}
		gis[i] = giStar(area, x)
	}
	if ans.StudyArea.Kind == "published_cells" && len(union) != len(area) {
		t.Fatalf("the study area has %d cells, the steps publish %d", len(area), len(union))
	}
	const tol = 1e-6
	for ci, c := range ans.Cells {
		cell := area[ci]
		zs := make([]float64, len(ans.Steps))
		for i := range ans.Steps {
			want := gis[i][cell]
			if got := c.Gi[i]; math.Abs(got.Z-want[0]) > tol || math.Abs(got.P-want[1]) > tol {
				t.Fatalf("%s step %s: Gi* %v p %v, recomputed %v p %v", c.H3, ans.Steps[i].Label, got.Z, got.P, want[0], want[1])
			}
			zs[i] = c.Gi[i].Z // the series as the API states it: ties are exact there
		}
		z, p := mannKendall(zs)
		if math.Abs(c.TrendZ-z) > tol || math.Abs(c.TrendP-p) > tol {
			t.Fatalf("%s: trend z %v p %v, recomputed %v p %v", c.H3, c.TrendZ, c.TrendP, z, p)
		}
	}
}

// plantHotspots imports, as a practitioner's CSV, two planted clusters of
// resolution 7 cells (a cell and its ring) over the twelve months before
// this one: in A the young people per cell and month rise from 40 to 62,
// in B they fall from 62 to 40. Forty background cells nearby get 12 young
// people in some months. It returns A and B and the twelve months.
func (ts *testServer) plantHotspots(t *testing.T, cat string) (a, b h3.Cell, months []string) {
	t.Helper()
	centre := cellAt(51.545, -0.055, 7)
	ring := centre.GridDiskDistances(4)[4]
	a, b = ring[0], ring[len(ring)/2]
	now := time.Now().UTC()
	for i := 12; i >= 1; i-- {
		months = append(months, time.Date(now.Year(), now.Month()-time.Month(i), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
	}
	var buf strings.Builder
	buf.WriteString("subject,categories,familial,layer,occurred,source,location_type,lat,lon\n")
	n := 0
	add := func(c h3.Cell, month string, count int) {
		ll := h3.CellToLatLng(c)
		for range count {
			n++
			fmt.Fprintf(&buf, "PLANT-%d,%s,extra,harm,%s,referral,park,%.6f,%.6f\n", n, cat, month, ll.Lat, ll.Lng)
		}
	}
	rng := rand.New(rand.NewSource(12))
	var bg []h3.Cell
	for _, c := range centre.GridDisk(7) {
		if h3.GridDistance(c, a) > 2 && h3.GridDistance(c, b) > 2 && len(bg) < 40 {
			bg = append(bg, c)
		}
	}
	for i, m := range months {
		for _, c := range a.GridDisk(1) {
			add(c, m, 40+2*i)
		}
		for _, c := range b.GridDisk(1) {
			add(c, m, 62-2*i)
		}
		for _, c := range bg {
			if rng.Intn(3) == 0 {
				add(c, m, 12)
			}
		}
	}
	file := filepath.Join(t.TempDir(), "planted.csv")
	if err := os.WriteFile(file, []byte(buf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Run(t.Context(), []string{"import", "harm-locations", "--database-url", ts.DBURL, "--secret", testSecret,
		"--as", "test-practitioner", file}, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("import: %v", err)
	}
	return a, b, months
}

func TestHotspotsAgreeWithPublishedValues(t *testing.T) {
	ts := startServer(t)
	cat := ts.categories(t)[0]
	a, b, months := ts.plantHotspots(t, cat)
	rel := ts.release(t)

	window := fmt.Sprintf("&from=%s&to=%s", months[0], months[11])
	month, _ := ts.hotspots(t, "res=7&step=month"+window)
	if month.Release.ID != rel || month.Release.DataTime == "" || month.StudyArea.Kind != "published_cells" ||
		month.StudyArea.Cells != len(month.Cells) || len(month.Steps) != 12 || month.Alpha != 0.05 || len(month.Categories) != 17 {
		t.Fatalf("answer: release %+v, area %+v, %d steps, alpha %v, %d categories", month.Release, month.StudyArea, len(month.Steps), month.Alpha, len(month.Categories))
	}
	counts := map[string]int{}
	for _, c := range month.Cells {
		counts[c.Category]++
		switch c.H3 {
		case a.String():
			if c.Category != "intensifying_hot_spot" {
				t.Errorf("rising cluster: %s", c.Category)
			}
		case b.String():
			if c.Category != "diminishing_hot_spot" {
				t.Errorf("falling cluster: %s", c.Category)
			}
		}
	}
	t.Logf("res 7 monthly: %d cells, %v", len(month.Cells), counts)
	ts.recompute(t, month, "layer=harm")
	whole, _ := ts.hotspots(t, "res=7")
	if len(whole.Steps) != 36 {
		t.Fatalf("default range: %d steps", len(whole.Steps))
	}
	ts.recompute(t, whole, "layer=harm")
	t.Run("quarters and a category", func(t *testing.T) {
		q, _ := ts.hotspots(t, "res=7&step=quarter&alpha=0.1&category="+cat)
		t.Logf("res 7 quarterly, %s: %d cells", cat, len(q.Cells))
		if q.Step != "quarter" || q.Alpha != 0.1 || len(q.Steps) < 8 || !strings.Contains(q.Steps[0].Label, "-Q") {
			t.Fatalf("quarterly: step %s alpha %v steps %v", q.Step, q.Alpha, q.Steps)
		}
		ts.recompute(t, q, "category="+cat)
	})

	t.Run("csv, geojson and the tile say the same", func(t *testing.T) {
		r := ts.get(t, contexts.RoleAnalyst, "/api/v1/hotspots?res=7&format=csv"+window)
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if r.status != 200 || err != nil || len(rows) != len(month.Cells)+1 || rows[0][0] != "h3" || rows[0][2] != "category" {
			t.Fatalf("csv: %d %v, %d rows, header %v", r.status, err, len(rows), rows[0])
		}
		if rows[1][0] != month.Cells[0].H3 || rows[1][2] != month.Cells[0].Category || rows[1][len(rows[1])-2] != fmt.Sprint(rel) {
			t.Fatalf("csv row %v", rows[1])
		}
		if r.header.Get("Ctxmap-Release") != fmt.Sprint(rel) || r.header.Get("Ctxmap-Release-Data-Time") == "" || r.header.Get("Ctxmap-Release-Months") == "" {
			t.Fatalf("the download does not name its release: %v", r.header)
		}
		g := ts.getAccept(t, "/api/v1/hotspots?res=7"+window, "application/geo+json")
		var fc struct {
			Type     string
			Release  struct{ ID int64 }
			Features []struct {
				Type     string
				Geometry struct {
					Type        string
					Coordinates [][][2]float64
				}
				Properties map[string]any
			}
		}
		if err := json.Unmarshal(g, &fc); err != nil || fc.Type != "FeatureCollection" || fc.Release.ID != rel || len(fc.Features) != len(month.Cells) {
			t.Fatalf("geojson: %v %s release %d, %d features", err, fc.Type, fc.Release.ID, len(fc.Features))
		}
		f := fc.Features[0]
		ring := f.Geometry.Coordinates[0]
		if f.Geometry.Type != "Polygon" || len(ring) != 7 || ring[0] != ring[6] || f.Properties["category"] != month.Cells[0].Category {
			t.Fatalf("feature %+v", f)
		}
		// The tile over the first hot spot carries its category.
		var hot string
		for _, c := range month.Cells {
			if strings.HasSuffix(c.Category, "hot_spot") {
				hot = c.H3
				break
			}
		}
		if hot == "" {
			t.Fatal("no hot spot at all")
		}
		ll := h3.CellToLatLng(h3.Cell(h3.IndexFromString(hot)))
		tile := maptile.At([2]float64{ll.Lng, ll.Lat}, 10)
		tr := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/tiles/hotspots/10/%d/%d.mvt?res=7%s", tile.X, tile.Y, window))
		layers, err := mvt.UnmarshalGzipped(tr.body)
		if tr.status != 200 || err != nil || len(layers) != 1 || layers[0].Name != "hotspots" {
			t.Fatalf("tile: %d %v", tr.status, err)
		}
		found := false
		for _, f := range layers[0].Features {
			if f.Properties["h3"] == hot {
				found = true
				want := ""
				for _, c := range month.Cells {
					if c.H3 == hot {
						want = c.Category
					}
				}
				if f.Properties["category"] != want {
					t.Fatalf("tile category %v, JSON %s", f.Properties["category"], want)
				}
			}
		}
		if !found {
			t.Fatal("the hot spot is not in its tile")
		}
	})

	t.Run("reads are audited", func(t *testing.T) {
		var n int
		if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'hotspots.read' AND record = $1`, fmt.Sprintf("release:%d", rel)).Scan(&n); err != nil || n < 3 {
			t.Fatalf("%d hotspots.read entries, %v", n, err)
		}
	})

	t.Run("bad parameters are clear 400s", func(t *testing.T) {
		for _, q := range []string{"", "res=5", "res=x", "res=7&step=week", "res=7&alpha=x", "res=7&alpha=0.9", "res=7&format=xml",
			"res=7&period=last-12m", "res=7&from=2001-01", "res=7&from=2030-01", "res=7&category=nope", "res=7&step=quarter&from=2025-Q9",
			"res=7&polygon=1", "res=7&step=month&step=quarter"} {
			status, out := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/hotspots?"+q, "")
			if status != 400 || errCode(out) == "" {
				t.Errorf("%q: %d %v", q, status, out)
			}
		}
		if status, _ := ts.do(t, contexts.RoleAnalyst, "GET", "/tiles/hotspots/30/0/0.mvt", ""); status != 400 {
			t.Errorf("tile at zoom 30: %d", status)
		}
		if status, _ := ts.do(t, roleBadToken, "GET", "/api/v1/hotspots?res=7", ""); status != 401 {
			t.Errorf("bad token: %d", status)
		}
	})

	t.Run("a write changes no hot spot output until the next release", func(t *testing.T) {
		snap := func() string {
			var b strings.Builder
			for _, q := range []string{"res=7", "res=7&format=csv", "res=6&step=quarter", "res=7&format=geojson"} {
				r := ts.get(t, contexts.RoleAnalyst, "/api/v1/hotspots?"+q)
				fmt.Fprintf(&b, "%s %d %s\n", q, r.status, r.body)
			}
			ll := h3.CellToLatLng(h3.Cell(h3.IndexFromString(month.Cells[0].H3)))
			tile := maptile.At([2]float64{ll.Lng, ll.Lat}, 10)
			r := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/tiles/hotspots/10/%d/%d.mvt", tile.X, tile.Y))
			fmt.Fprintf(&b, "tile %d %s\n", r.status, r.header.Get("ETag"))
			return b.String()
		}
		before := snap()
		// Fifteen young people at a published hot spot and fifteen at a
		// place with nothing, in a month the release covers.
		ll := h3.CellToLatLng(h3.Cell(h3.IndexFromString(month.Cells[0].H3)))
		for i := range 15 {
			ts.record(t, harmPoint{subject: fmt.Sprintf("HOT-A-%d", i), lat: ll.Lat, lon: ll.Lng, category: cat, layer: "harm"})
			ts.record(t, harmPoint{subject: fmt.Sprintf("HOT-B-%d", i), lat: probeSite[0], lon: probeSite[1], category: cat, layer: "harm"})
		}
		if after := snap(); after != before {
			t.Fatal("hot spot outputs changed after writes, before a release")
		}
		ts.release(t)
		if after := snap(); after == before {
			t.Fatal("the next release changed no hot spot output")
		}
	})

	t.Run("with a boundary the study area is its whole cells", func(t *testing.T) {
		_, cfg := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/config", "")
		c := cfg["center"].([]any)
		lon, lat := c[0].(float64), c[1].(float64)
		doc := fmt.Sprintf(`{"type":"Feature","properties":{"name":"test"},"geometry":{"type":"Polygon","coordinates":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}}`,
			lon-0.15, lat-0.1, lon+0.15, lat-0.1, lon+0.15, lat+0.1, lon-0.15, lat+0.1, lon-0.15, lat-0.1)
		file := filepath.Join(t.TempDir(), "boundary.geojson")
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Run(t.Context(), []string{"import", "boundary", "--database-url", ts.DBURL, file}, nil, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		// A new server: the running one keeps the boundary's cells for 30 s.
		fresh := &testServer{URL: serveOn(t, t.Context(), ts.DBURL, "warn"), Pool: ts.Pool, DBURL: ts.DBURL, tokens: ts.tokens}
		b, _ := fresh.hotspots(t, "res=7")
		if b.StudyArea.Kind != "boundary" || len(b.Cells) == 0 {
			t.Fatalf("study area %+v", b.StudyArea)
		}
		for _, c := range b.Cells {
			ll := h3.CellToLatLng(h3.Cell(h3.IndexFromString(c.H3)))
			if ll.Lng < lon-0.15 || ll.Lng > lon+0.15 || ll.Lat < lat-0.1 || ll.Lat > lat+0.1 {
				t.Fatalf("%s's centre is outside the boundary", c.H3)
			}
		}
		fresh.recompute(t, b, "layer=harm")
	})
}

// getAccept GETs path as an analyst with an Accept header.
func (ts *testServer) getAccept(t *testing.T, path, accept string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+ts.tokens[contexts.RoleAnalyst])
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), accept) {
		t.Fatalf("%s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return b
}
