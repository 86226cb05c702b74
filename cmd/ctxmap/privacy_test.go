package main

// The adversarial cases of PRIVACY.md, run against the whole server with
// real PostGIS: data goes in through the API as a practitioner would write
// it, and comes out only through the published endpoints.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/contexts"
)

const k = 10

// recentMonth is a complete month inside every rolling period.
func recentMonth() string {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month()-2, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

type harmPoint struct {
	subject  string
	lat, lon float64
	category string
	layer    string
}

func (ts *testServer) record(t *testing.T, p harmPoint) int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"subject": p.subject, "categories": []string{p.category}, "familial": "extra", "layer": p.layer,
		"occurred": recentMonth(), "source": "referral", "lat": p.lat, "lon": p.lon, "location_type": "park",
	})
	status, out := ts.do(t, contexts.RolePractitioner, "POST", "/api/v1/harm-locations", string(body))
	if status != 201 && status != 200 {
		t.Fatalf("record harm location: %d %v", status, out)
	}
	id, _ := out["id"].(float64)
	return int64(id)
}

func (ts *testServer) categories(t *testing.T) []string {
	t.Helper()
	status, out := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/taxonomy", "")
	if status != 200 {
		t.Fatalf("taxonomy: %d", status)
	}
	var codes []string
	for _, c := range out["categories"].([]any) {
		codes = append(codes, c.(map[string]any)["code"].(string))
	}
	return codes
}

type pubCell struct {
	H3    string `json:"h3"`
	Res   int    `json:"res"`
	Value int    `json:"value"`
}

func (ts *testServer) cells(t *testing.T, res int, query string) map[h3.Cell]int {
	t.Helper()
	resp := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/api/v1/heat/cells?res=%d&%s", res, query))
	if resp.status != 200 {
		t.Fatalf("cells res %d %s: %d %s", res, query, resp.status, resp.body)
	}
	var out struct {
		Cells []pubCell `json:"cells"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil {
		t.Fatal(err)
	}
	m := map[h3.Cell]int{}
	for _, c := range out.Cells {
		m[h3.Cell(h3.IndexFromString(c.H3))] = c.Value
	}
	return m
}

type rawResp struct {
	status int
	body   []byte
	header http.Header
}

func (ts *testServer) get(t *testing.T, role contexts.Role, path string) rawResp {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+ts.tokens[role])
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent gunzip: compare raw bytes
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{resp.StatusCode, b, resp.Header}
}

// tileValues decodes a heat tile into h3 -> value.
func tileValues(t *testing.T, gz []byte) map[string]int {
	t.Helper()
	layers, err := mvt.UnmarshalGzipped(gz)
	if err != nil {
		t.Fatalf("decode tile: %v", err)
	}
	out := map[string]int{}
	for _, l := range layers {
		if l.Name != "heat" {
			t.Fatalf("unexpected layer %q", l.Name)
		}
		for _, f := range l.Features {
			out[f.Properties["h3"].(string)] = int(f.Properties["value"].(float64))
		}
	}
	return out
}

// release makes a data release as the operator does on the server's host
// (`ctxmap release --force`, since tests make several in a row), and waits
// until the server serves it. It returns the new release's id.
func (ts *testServer) release(t *testing.T) int64 {
	t.Helper()
	var out bytes.Buffer
	if err := Run(t.Context(), []string{"release", "--force", "--database-url", ts.DBURL, "--log-level", "warn"}, nil, &out, io.Discard); err != nil {
		t.Fatalf("ctxmap release: %v", err)
	}
	var id int64
	if _, err := fmt.Sscanf(out.String(), "release %d made", &id); err != nil {
		t.Fatalf("ctxmap release printed %q", out.String())
	}
	ts.waitRelease(t, id)
	return id
}

// servedRelease is the id of the release the server's map shows.
func (ts *testServer) servedRelease(t *testing.T) int64 {
	t.Helper()
	status, cfg := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/config", "")
	if status != 200 {
		t.Fatalf("config: %d %v", status, cfg)
	}
	rel, _ := cfg["release"].(map[string]any)
	id, _ := rel["id"].(float64)
	return int64(id)
}

// waitRelease waits until the server serves release id (servers poll for
// new releases; the test servers every 50 ms).
func (ts *testServer) waitRelease(t *testing.T, id int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ts.servedRelease(t) != id {
		if time.Now().After(deadline) {
			t.Fatalf("the server does not serve release %d within 10 s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cellAt(lat, lon float64, res int) h3.Cell {
	return h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lon}, res)
}

func TestPrivacyAdversarial(t *testing.T) {
	ts := startServer(t)
	cats := ts.categories(t)
	if len(cats) < 2 {
		t.Fatalf("taxonomy has %d categories", len(cats))
	}
	cat := cats[0]

	t.Run("one child with 20 incidents never shows", func(t *testing.T) {
		lat, lon := 53.4808, -2.2426 // Manchester
		for i := 0; i < 20; i++ {
			ts.record(t, harmPoint{"solo-child", lat + float64(i)*1e-5, lon, cat, "harm"})
		}
		ts.release(t)
		for res := 6; res <= 8; res++ {
			for _, q := range []string{"period=last-12m", "period=last-3m", "period=" + recentMonth(), "category=" + cat + "&period=last-6m"} {
				if v, ok := ts.cells(t, res, q)[cellAt(lat, lon, res)]; ok {
					t.Fatalf("res %d %s: one child's cell published with %d", res, q, v)
				}
			}
		}
		tile := maptile.At([2]float64{lon, lat}, 12)
		r := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X, tile.Y))
		if r.status != 200 {
			t.Fatalf("tile: %d", r.status)
		}
		if v := tileValues(t, r.body); len(v) != 0 {
			t.Fatalf("tile over one child shows %v", v)
		}
	})

	t.Run("k-1 children never show; the k-th shows with the next release, not before; an archive leaves the next release", func(t *testing.T) {
		lat, lon := 53.8008, -1.5491 // Leeds
		for i := 0; i < k-1; i++ {
			ts.record(t, harmPoint{fmt.Sprintf("leeds-%d", i), lat, lon, cat, "harm"})
		}
		ts.release(t)
		tile := maptile.At([2]float64{lon, lat}, 12)
		tilePath := fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X, tile.Y)
		for res := 6; res <= 8; res++ {
			if v, ok := ts.cells(t, res, "period=last-12m")[cellAt(lat, lon, res)]; ok {
				t.Fatalf("res %d: %d children published as %d", res, k-1, v)
			}
		}
		if v := tileValues(t, ts.get(t, contexts.RoleAnalyst, tilePath).body); len(v) != 0 {
			t.Fatalf("tile shows k-1 children: %v", v)
		}
		// A single extra child elsewhere in the same res-7 cell must not make
		// the res-8 cell of the nine visible, nor its own.
		other := cellAt(lat, lon, 8)
		var nlat, nlon float64
		for _, n := range h3.GridDisk(other, 1) {
			if n != other && n.Parent(7) == other.Parent(7) {
				ll := h3.CellToLatLng(n)
				nlat, nlon = ll.Lat, ll.Lng
				break
			}
		}
		ts.record(t, harmPoint{"leeds-neighbour", nlat, nlon, cat, "harm"})
		ts.release(t)
		got8 := ts.cells(t, 8, "period=last-12m")
		if _, ok := got8[cellAt(lat, lon, 8)]; ok {
			t.Fatal("nine children became visible when a neighbour was added")
		}
		if _, ok := got8[cellAt(nlat, nlon, 8)]; ok {
			t.Fatal("one child's cell became visible")
		}
		// The tenth child in the same cell: invisible until the next
		// release (PRIVACY.md rule 12), then visible (no stale cache).
		id := ts.record(t, harmPoint{"leeds-tenth", lat, lon, cat, "harm"})
		if v, ok := ts.cells(t, 8, "period=last-12m")[cellAt(lat, lon, 8)]; ok {
			t.Fatalf("the k-th child showed before a release: %d", v)
		}
		if tv := tileValues(t, ts.get(t, contexts.RoleAnalyst, tilePath).body); len(tv) != 0 {
			t.Fatalf("tile shows the k-th child before a release: %v", tv)
		}
		ts.release(t)
		v, ok := ts.cells(t, 8, "period=last-12m")[cellAt(lat, lon, 8)]
		if !ok || v < k || v%5 != 0 {
			t.Fatalf("k children: published=%v value=%d, want a multiple of 5 >= %d", ok, v, k)
		}
		if tv := tileValues(t, ts.get(t, contexts.RoleAnalyst, tilePath).body); tv[cellAt(lat, lon, 8).String()] != v {
			t.Fatalf("tile after write shows %v, want %s=%d", tv, cellAt(lat, lon, 8), v)
		}
		status, out := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/harm-locations/%d/archive", id),
			`{"reason":"never_an_issue","note":"recorded against the wrong place"}`)
		if status != 200 {
			t.Fatalf("archive: %d %v", status, out)
		}
		if v2, ok := ts.cells(t, 8, "period=last-12m")[cellAt(lat, lon, 8)]; !ok || v2 != v {
			t.Fatalf("an archive changed the published value before a release: %d, %v", v2, ok)
		}
		ts.release(t)
		if v, ok := ts.cells(t, 8, "period=last-12m")[cellAt(lat, lon, 8)]; ok {
			t.Fatalf("archived record still counted: %d", v)
		}
		if tv := tileValues(t, ts.get(t, contexts.RoleAnalyst, tilePath).body); len(tv) != 0 {
			t.Fatalf("tile after archive shows %v", tv)
		}
	})

	// A realistic cluster: many children around a few hotspots in Hackney.
	rng := rand.New(rand.NewSource(7))
	hotspots := [][2]float64{{51.5450, -0.0550}, {51.5520, -0.0750}, {51.5380, -0.0420}, {51.5600, -0.0600}}
	for i := 0; i < 160; i++ {
		h := hotspots[rng.Intn(len(hotspots))]
		for j := 0; j <= rng.Intn(3); j++ {
			layer := "harm"
			if rng.Intn(4) == 0 {
				layer = "unsafe"
			}
			ts.record(t, harmPoint{fmt.Sprintf("hackney-%d", i), h[0] + rng.NormFloat64()*0.006, h[1] + rng.NormFloat64()*0.009, cats[rng.Intn(2)], layer})
		}
	}
	ts.release(t)

	t.Run("parent minus published children is never in 1..k-1", func(t *testing.T) {
		checked := 0
		for _, layer := range []string{"harm", "unsafe"} {
			for _, c := range []string{"", cats[0], cats[1]} {
				for _, period := range []string{"last-3m", "last-6m", "last-12m", recentMonth(), recentMonth()[:4]} {
					q := "layer=" + layer + "&period=" + period
					if c != "" {
						q += "&category=" + c
					}
					levels := map[int]map[h3.Cell]int{}
					for res := 6; res <= 8; res++ {
						levels[res] = ts.cells(t, res, q)
						for cell, v := range levels[res] {
							if v < k || v%5 != 0 {
								t.Errorf("%s res %d: %s published as %d", q, res, cell, v)
							}
							if res > 6 {
								if _, ok := levels[res-1][cell.Parent(res-1)]; !ok {
									t.Errorf("%s: %s published without its parent", q, cell)
								}
							}
						}
					}
					for res := 6; res < 8; res++ {
						for parent, pv := range levels[res] {
							sum := 0
							for _, child := range parent.Children(res + 1) {
								sum += levels[res+1][child]
							}
							if d := pv - sum; d >= 1 && d <= k-1 {
								t.Errorf("%s: parent %s (%d) minus children (%d) = %d", q, parent, pv, sum, d)
							}
							checked++
						}
					}
				}
			}
		}
		if checked == 0 {
			t.Fatal("no published parent to check: the cluster data is too thin")
		}
		t.Logf("checked %d published parents", checked)
	})

	t.Run("identical requests give identical bytes; the same cell through different tiles the same value", func(t *testing.T) {
		lat, lon := hotspots[0][0], hotspots[0][1]
		var seen map[string]int
		for z := 10; z <= 13; z++ {
			tile := maptile.At([2]float64{lon, lat}, maptile.Zoom(z))
			base := fmt.Sprintf("/tiles/heat/%d/%d/%d.mvt?period=last-12m", z, tile.X, tile.Y)
			a := ts.get(t, contexts.RoleAnalyst, base)
			b := ts.get(t, contexts.RoleAnalyst, base+"&_=12345")
			c := ts.get(t, contexts.RolePractitioner, base+"&nocache="+fmt.Sprint(time.Now().UnixNano()))
			if a.status != 200 || !bytes.Equal(a.body, b.body) || !bytes.Equal(a.body, c.body) {
				t.Fatalf("z%d: repeated requests differ (%d/%d/%d bytes)", z, len(a.body), len(b.body), len(c.body))
			}
			if a.header.Get("ETag") == "" || a.header.Get("ETag") != b.header.Get("ETag") {
				t.Fatalf("z%d: ETags differ or missing", z)
			}
			if z == 12 {
				seen = tileValues(t, a.body)
				// Each neighbouring tile that shows one of the same hexagons
				// shows it with the same value.
				shared := 0
				for dx := -1; dx <= 1; dx++ {
					for dy := -1; dy <= 1; dy++ {
						if dx == 0 && dy == 0 {
							continue
						}
						p := fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", int(tile.X)+dx, int(tile.Y)+dy)
						for cell, v := range tileValues(t, ts.get(t, contexts.RoleAnalyst, p).body) {
							if sv, ok := seen[cell]; ok {
								shared++
								if sv != v {
									t.Fatalf("cell %s: %d in one tile, %d in its neighbour", cell, sv, v)
								}
							}
						}
					}
				}
				cellVals := ts.cells(t, 8, "period=last-12m")
				for cell, v := range seen {
					if cellVals[h3.Cell(h3.IndexFromString(cell))] != v {
						t.Fatalf("cell %s: tile %d, JSON %d", cell, v, cellVals[h3.Cell(h3.IndexFromString(cell))])
					}
				}
				if shared == 0 {
					t.Fatal("no hexagon shows in two neighbouring tiles: the cross-tile check compared nothing")
				}
				t.Logf("z12 tile shows %d cells, %d shared with neighbours", len(seen), shared)
			}
		}
		if len(seen) == 0 {
			t.Fatal("the hotspot tile shows nothing; the test data is too thin to test determinism")
		}
		// A 304 for a revalidation with the ETag.
		tile := maptile.At([2]float64{lon, lat}, 12)
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/tiles/heat/12/%d/%d.mvt?period=last-12m", ts.URL, tile.X, tile.Y), nil)
		req.Header.Set("Authorization", "Bearer "+ts.tokens[contexts.RoleAnalyst])
		req.Header.Set("Accept-Encoding", "gzip")
		first := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X, tile.Y))
		req.Header.Set("If-None-Match", first.header.Get("ETag"))
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("revalidation: %d, want 304", resp.StatusCode)
		}
	})

	t.Run("date ranges, all-except filters and polygons are refused", func(t *testing.T) {
		bad := []string{
			"/api/v1/heat/cells?res=8&period=2026-01-01..2026-02-01",
			"/api/v1/heat/cells?res=8&period=last-7d",
			"/api/v1/heat/cells?res=8&period=last-2m",
			"/api/v1/heat/cells?res=8&period=2026-13",
			"/api/v1/heat/cells?res=8&period=" + time.Now().UTC().Format("2006-01"), // the current, incomplete month
			"/api/v1/heat/cells?res=8&from=2026-01-01&to=2026-01-08",
			"/api/v1/heat/cells?res=8&category=" + cats[0] + "," + cats[1],
			"/api/v1/heat/cells?res=8&category=!" + cats[0],
			"/api/v1/heat/cells?res=8&exclude=" + cats[0],
			"/api/v1/heat/cells?res=8&category=" + cats[0] + "&category=" + cats[1],
			"/api/v1/heat/cells?res=9",
			"/api/v1/heat/cells?res=8&polygon=" + url.QueryEscape("POLYGON((0 0,1 0,1 1,0 0))"),
			"/api/v1/heat/cells?res=8&layer=both",
			"/tiles/heat/12/2047/1362.mvt?period=last-7d",
			"/tiles/heat/12/4096/1362.mvt",
			"/tiles/heat/23/0/0.mvt",
			"/api/v1/trends?h3=" + cellAt(51.545, -0.055, 8).String() + "&from=2026-01-01",
			"/api/v1/trends?h3=" + cellAt(51.545, -0.055, 8).String() + "&period=last-7d",
			"/api/v1/trends?h3=" + cellAt(51.545, -0.055, 9).String(),
			"/api/v1/exports/heat.csv?period=2026-01-05",
		}
		for _, p := range bad {
			r := ts.get(t, contexts.RoleAnalyst, p)
			if r.status != 400 {
				t.Errorf("%s: %d, want 400 (%s)", p, r.status, r.body)
				continue
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(r.body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Errorf("%s: 400 without a clear code and message: %s", p, r.body)
			}
		}
	})

	t.Run("an analyst never gets an individual record", func(t *testing.T) {
		forbidden := []struct{ method, path, body string }{
			{"POST", "/api/v1/harm-locations", `{"subject":"x"}`},
			{"GET", "/api/v1/subjects/hackney-1/harm-locations?purpose=assessment", ""},
			{"POST", "/api/v1/harm-locations/1/archive", `{"reason":"never_an_issue","note":"x"}`},
			{"POST", "/api/v1/contexts/1/links", `{"subject":"hackney-1","reason":"x"}`},
			{"DELETE", "/api/v1/contexts/1/links/1", `{"reason":"x"}`},
			{"GET", "/api/v1/subjects/hackney-1/contextual-record?purpose=assessment", ""},
			{"POST", "/api/v1/markers", `{"subject":"x"}`},
			{"POST", "/api/v1/markers/1/correct", `{"reason":"x"}`},
			{"POST", "/api/v1/relocations", `{"subject":"x"}`},
			{"POST", "/api/v1/factors", `{"subject":"x"}`},
			{"POST", "/api/v1/factors/1/actions", `{"action":"x"}`},
			{"PATCH", "/api/v1/factors/1/actions/1", `{"status":"done"}`},
		}
		for _, f := range forbidden {
			if status, _ := ts.do(t, contexts.RoleAnalyst, f.method, f.path, f.body); status != 403 {
				t.Errorf("analyst %s %s: %d, want 403", f.method, f.path, status)
			}
		}
		// Every GET an analyst may call answers without a subject: neither
		// an id in clear nor its stored hash nor a subject row id field.
		rows, err := ts.Pool.Query(t.Context(), `SELECT encode(hash, 'hex'), encode(hash, 'base64') FROM subjects`)
		if err != nil {
			t.Fatal(err)
		}
		var hashes []string
		for rows.Next() {
			var hx, b64 string
			if err := rows.Scan(&hx, &b64); err != nil {
				t.Fatal(err)
			}
			hashes = append(hashes, hx, b64)
		}
		if rows.Err() != nil || len(hashes) == 0 {
			t.Fatalf("no subject hashes to look for: %v", rows.Err())
		}
		trendCell := cellAt(hotspots[0][0], hotspots[0][1], 8).String()
		for _, p := range []string{"/api/v1/heat/cells?res=8", "/api/v1/trends?h3=" + trendCell, "/api/v1/exports/heat.csv",
			"/api/v1/contexts?near=51.545,-0.055&radius_m=5000", "/api/v1/taxonomy", "/api/v1/me"} {
			r := ts.get(t, contexts.RoleAnalyst, p)
			if r.status != 200 {
				t.Errorf("analyst GET %s: %d %s", p, r.status, r.body)
			}
			body := strings.ToLower(string(r.body))
			if strings.Contains(body, "hackney-") || strings.Contains(body, "\"subject") {
				t.Errorf("analyst GET %s leaks a subject: %.300s", p, r.body)
			}
			for _, h := range hashes {
				if strings.Contains(string(r.body), h) {
					t.Errorf("analyst GET %s contains a subject hash", p)
				}
			}
		}
	})

	t.Run("trends and exports carry published values only", func(t *testing.T) {
		pub := ts.cells(t, 8, "period="+recentMonth())
		if len(pub) == 0 {
			t.Fatal("no published cell in the recent month: the cluster data is too thin")
		}
		for cell, v := range pub {
			r := ts.get(t, contexts.RoleAnalyst, "/api/v1/trends?h3="+cell.String()+"&from="+recentMonth()+"&to="+recentMonth())
			var out struct {
				Points []struct {
					Period string
					Value  *int
				}
			}
			if err := json.Unmarshal(r.body, &out); err != nil || len(out.Points) != 1 || out.Points[0].Value == nil {
				t.Fatalf("trend: %d %s", r.status, r.body)
			}
			if *out.Points[0].Value != v {
				t.Fatalf("trend for %s in %s is %d, published %d", cell, recentMonth(), *out.Points[0].Value, v)
			}
			break
		}
		r := ts.get(t, contexts.RoleAnalyst, "/api/v1/exports/heat.csv?res=8&period="+recentMonth())
		if r.status != 200 || !strings.HasPrefix(string(r.body), "h3,res,value,") {
			t.Fatalf("export: %d %.200s", r.status, r.body)
		}
		for _, line := range strings.Split(string(r.body), "\n")[1:] {
			if line == "" {
				continue
			}
			var cell string
			var res, value int
			if _, err := fmt.Sscanf(strings.ReplaceAll(line, ",", " "), "%s %d %d", &cell, &res, &value); err != nil {
				t.Fatalf("export line %q: %v", line, err)
			}
			if pub[h3.Cell(h3.IndexFromString(cell))] != value {
				t.Fatalf("export %s=%d, published %d", cell, value, pub[h3.Cell(h3.IndexFromString(cell))])
			}
		}
		var n int
		if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'export.heat_csv'`).Scan(&n); err != nil || n == 0 {
			t.Fatalf("export not audited: n=%d err=%v", n, err)
		}
	})
}
