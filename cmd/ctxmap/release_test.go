package main

// PRIVACY.md rules 12 and 13 against the whole server with real PostGIS: an
// insider who writes, reads, archives and reads again learns nothing until
// the next release, and no user of the service can force one.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/tiles"
)

// probeSite is a remote place (Carlisle) with no other test data.
var probeSite = [2]float64{54.8925, -2.9329}

// snapshot is every published value a reader can get about the probe site
// and the whole map: cells JSON at each resolution for the filters and
// periods a prober would use, the z12 tile's bytes and ETag, the CSV export
// and the map's release.
func (ts *testServer) snapshot(t *testing.T, cat string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{"period=last-12m", "period=last-3m", "period=" + recentMonth(), "category=" + cat + "&period=" + recentMonth(),
		"category=extra_familial&period=last-6m", "layer=unsafe&period=last-12m"} {
		for res := 6; res <= 8; res++ {
			r := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/api/v1/heat/cells?res=%d&%s", res, q))
			if r.status != 200 {
				t.Fatalf("cells %s: %d %s", q, r.status, r.body)
			}
			fmt.Fprintf(&b, "%s res %d: %s\n", q, res, r.body)
		}
	}
	tile := maptile.At([2]float64{probeSite[1], probeSite[0]}, 12)
	r := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X, tile.Y))
	fmt.Fprintf(&b, "tile %d %s %x\n", r.status, r.header.Get("ETag"), r.body)
	csv := ts.get(t, contexts.RoleAnalyst, "/api/v1/exports/heat.csv?period=last-12m")
	fmt.Fprintf(&b, "csv %d %s\n", csv.status, csv.body)
	tj := ts.get(t, contexts.RoleAnalyst, "/tiles/heat.json?period=last-12m")
	fmt.Fprintf(&b, "tilejson %d %s\n", tj.status, tj.body)
	fmt.Fprintf(&b, "release %d\n", ts.servedRelease(t))
	return b.String()
}

// recordAs records a harm location at the probe site for one young person
// as the given practitioner token.
func (ts *testServer) recordAs(t *testing.T, token, subject, cat string) int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"subject": subject, "categories": []string{cat}, "familial": "extra", "layer": "harm",
		"occurred": recentMonth(), "source": "referral", "lat": probeSite[0], "lon": probeSite[1], "location_type": "park",
	})
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/harm-locations", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 201 {
		t.Fatalf("record %s: %d %v", subject, resp.StatusCode, out)
	}
	id, _ := out["id"].(float64)
	return int64(id)
}

// expectedCells is what the policy gives for the records as they stand,
// read from the database directly: what a release made now must publish.
func (ts *testServer) expectedCells(t *testing.T, q tiles.Query, res int) map[h3.Cell]int {
	t.Helper()
	store, err := postgres.NewStore(ts.Pool, []byte(testSecret), nil)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := store.Observations(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tiles.NewPolicy(k)
	out := map[h3.Cell]int{}
	for _, cv := range p.Publish(obs).Cells(res) {
		out[cv.Cell] = cv.Value
	}
	return out
}

func TestReleasesDefeatTheInsiderProbes(t *testing.T) {
	ts := startServer(t)
	cat := ts.categories(t)[0]
	ctx := context.Background()
	users := postgres.NewUsers(ts.Pool)
	_, other, err := users.AddUser(ctx, nil, "other-team-worker", contexts.RolePractitioner, "Other team", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	prober := ts.tokens[contexts.RolePractitioner]

	// Another team recorded two real young people at the site; released.
	ts.recordAs(t, other, "REAL-1", cat)
	ts.recordAs(t, other, "REAL-2", cat)
	ts.release(t)
	site := cellAt(probeSite[0], probeSite[1], 8)
	before := ts.snapshot(t, cat)
	if strings.Contains(before, site.String()) {
		t.Fatal("two young people are published")
	}

	t.Run("threshold probe: synthetic young people one at a time change nothing before a release", func(t *testing.T) {
		for i := range k {
			ts.recordAs(t, prober, fmt.Sprintf("SYNTHETIC-%d", i), cat)
			if got := ts.snapshot(t, cat); got != before {
				t.Fatalf("after synthetic young person %d the published values changed", i+1)
			}
		}
	})

	t.Run("membership probe: recording a named child's id changes nothing before a release", func(t *testing.T) {
		ts.recordAs(t, prober, "REAL-1", cat) // already recorded by the other team
		if got := ts.snapshot(t, cat); got != before {
			t.Fatal("recording an id already on record changed the published values")
		}
		ts.recordAs(t, prober, "NEVER-RECORDED", cat)
		if got := ts.snapshot(t, cat); got != before {
			t.Fatal("recording a new id changed the published values")
		}
	})

	t.Run("no user of the service can force a release", func(t *testing.T) {
		for _, role := range []contexts.Role{contexts.RolePractitioner, contexts.RoleContextLead, contexts.RoleAnalyst} {
			if status, _ := ts.do(t, role, "POST", "/api/v1/releases", ""); status != 403 {
				t.Errorf("%s POST /releases: %d, want 403", role, status)
			}
		}
		req, _ := http.NewRequest("POST", ts.URL+"/api/v1/releases", nil)
		req.Header.Set("Authorization", "Bearer "+ts.tokens[contexts.RoleAdmin])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Error struct {
				Code, Message string
				Details       map[string]any
			}
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 429 || out.Error.Code != "release_too_soon" || out.Error.Details["earliest"] == nil ||
			resp.Header.Get("Retry-After") == "" || !strings.Contains(out.Error.Message, "earliest") {
			t.Fatalf("admin within the interval: %d %+v Retry-After=%q", resp.StatusCode, out.Error, resp.Header.Get("Retry-After"))
		}
		if got := ts.snapshot(t, cat); got != before {
			t.Fatal("a refused release changed the published values")
		}
		// The refusal is in the audit log, with the earliest allowed time.
		status, audit := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/audit?limit=20", "")
		refused := false
		entries, _ := audit["entries"].([]any)
		for _, e := range entries {
			if m := e.(map[string]any); m["action"] == "release.refused" && strings.Contains(fmt.Sprint(m["detail"]), "earliest") {
				refused = true
			}
		}
		if status != 200 || !refused {
			t.Fatalf("no release.refused in the audit log: %d %v", status, audit)
		}
	})

	t.Run("archiving one's own records changes nothing before a release", func(t *testing.T) {
		id := ts.recordAs(t, prober, "ARCHIVE-ME", cat)
		if status, out := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/harm-locations/%d/archive", id),
			`{"reason":"never_an_issue","note":"entered by mistake"}`); status != 200 {
			t.Fatalf("archive: %d %v", status, out)
		}
		if got := ts.snapshot(t, cat); got != before {
			t.Fatal("an archive changed the published values")
		}
	})

	t.Run("after a release the published values are the policy's for the records at its data time", func(t *testing.T) {
		ts.release(t)
		after := ts.snapshot(t, cat)
		if after == before {
			t.Fatal("the release published nothing new")
		}
		if !strings.Contains(after, site.String()) {
			t.Fatal("13 young people at the site are not published after the release")
		}
		for _, q := range []struct {
			query string
			tq    tiles.Query
		}{
			{"period=" + recentMonth(), tiles.Query{Layer: ctxmap.LayerHarm}},
			{"category=" + cat + "&period=" + recentMonth(), tiles.Query{Layer: ctxmap.LayerHarm, Category: cat}},
		} {
			m, _ := tiles.ParseMonth(recentMonth())
			q.tq.From, q.tq.To = m.Start(), m.Add(1).Start()
			for res := 6; res <= 8; res++ {
				want := ts.expectedCells(t, q.tq, res)
				got := ts.cells(t, res, q.query)
				if len(want) == 0 || fmt.Sprint(want) != fmt.Sprint(got) {
					t.Fatalf("%s res %d: published %v, the policy gives %v", q.query, res, got, want)
				}
			}
		}
	})

	t.Run("the list says how each release was made; an export names its release in every row and its headers", func(t *testing.T) {
		var list struct {
			Releases []struct {
				ID         int64
				How        string
				DataTime   string `json:"data_time"`
				MadeBy     string `json:"made_by"`
				FirstMonth string `json:"first_month"`
				LastMonth  string `json:"last_month"`
			}
		}
		r := ts.get(t, contexts.RoleAnalyst, "/api/v1/releases")
		if err := json.Unmarshal(r.body, &list); err != nil || len(list.Releases) < 2 {
			t.Fatalf("releases: %s", r.body)
		}
		latest, first := list.Releases[0], list.Releases[len(list.Releases)-1]
		// how says who made it; made_by names an admin only (a user could be called "operator").
		if latest.How != "forced" || latest.MadeBy != "" || first.How != "first_start" || first.MadeBy != "" {
			t.Fatalf("made by: %+v", list.Releases)
		}
		csv := ts.get(t, contexts.RoleAnalyst, "/api/v1/exports/heat.csv?period="+recentMonth())
		months := latest.FirstMonth + "/" + latest.LastMonth
		if csv.header.Get("Ctxmap-Release") != fmt.Sprint(latest.ID) || csv.header.Get("Ctxmap-Release-Data-Time") != latest.DataTime ||
			csv.header.Get("Ctxmap-Release-Months") != months {
			t.Fatalf("export headers %v, release %+v", csv.header, latest)
		}
		lines := strings.Split(strings.TrimSpace(string(csv.body)), "\n")
		if len(lines) < 2 {
			t.Fatal("the export has no rows")
		}
		for _, line := range lines[1:] {
			if !strings.Contains(line, fmt.Sprintf(",%d,%s,%s,", latest.ID, latest.DataTime, months)) {
				t.Fatalf("a row without its release: %s", line)
			}
		}
	})
}

// TestSingleWriteDifferencing takes a snapshot of every published value
// before and after one write, for every role that can read heat: identical
// until the next release.
func TestSingleWriteDifferencing(t *testing.T) {
	ts := startServer(t)
	cat := ts.categories(t)[0]
	for i := range 2 * k {
		ts.recordAs(t, ts.tokens[contexts.RolePractitioner], fmt.Sprintf("BASE-%d", i), cat)
	}
	ts.release(t)
	before := ts.snapshot(t, cat)
	if !strings.Contains(before, cellAt(probeSite[0], probeSite[1], 8).String()) {
		t.Fatal("the base data publishes nothing to difference")
	}
	ts.recordAs(t, ts.tokens[contexts.RolePractitioner], "ONE-MORE", cat)
	if after := ts.snapshot(t, cat); after != before {
		t.Fatal("one write changed a published value before a release")
	}
}

// TestReadersDuringAReleaseSeeOneRelease reads cells and tiles without
// pause while releases are made: every answer is the old release's or the
// new one's, never a mix.
func TestReadersDuringAReleaseSeeOneRelease(t *testing.T) {
	ts := startServer(t)
	cat := ts.categories(t)[0]
	for i := range 3 * k {
		ts.recordAs(t, ts.tokens[contexts.RolePractitioner], fmt.Sprintf("R-%d", i), cat)
	}
	first := ts.release(t)
	cellsPath := "/api/v1/heat/cells?res=6&period=last-12m"
	tile := maptile.At([2]float64{probeSite[1], probeSite[0]}, 12)
	tilePath := fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X, tile.Y)
	oldCells, oldTile := ts.get(t, contexts.RoleAnalyst, cellsPath), ts.get(t, contexts.RoleAnalyst, tilePath)
	// More young people, so the next release differs at every resolution.
	for i := range 4 * k {
		ts.recordAs(t, ts.tokens[contexts.RolePractitioner], fmt.Sprintf("S-%d", i), cat)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var seenCells, seenTiles [][]byte
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, tl := ts.get(t, contexts.RoleAnalyst, cellsPath), ts.get(t, contexts.RoleAnalyst, tilePath)
				if c.status != 200 || tl.status != 200 {
					t.Errorf("during a release: cells %d, tile %d", c.status, tl.status)
					return
				}
				mu.Lock()
				seenCells, seenTiles = append(seenCells, c.body), append(seenTiles, tl.body)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	second := ts.release(t)
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	newCells, newTile := ts.get(t, contexts.RoleAnalyst, cellsPath), ts.get(t, contexts.RoleAnalyst, tilePath)
	if second == first || bytes.Equal(oldCells.body, newCells.body) || bytes.Equal(oldTile.body, newTile.body) {
		t.Fatal("the second release does not differ from the first; the test would compare nothing")
	}
	var sawOld, sawNew int
	for i := range seenCells {
		switch {
		case bytes.Equal(seenCells[i], oldCells.body):
			sawOld++
		case bytes.Equal(seenCells[i], newCells.body):
			sawNew++
		default:
			t.Fatalf("a reader got cells of neither release: %s", seenCells[i])
		}
		if !bytes.Equal(seenTiles[i], oldTile.body) && !bytes.Equal(seenTiles[i], newTile.body) {
			t.Fatal("a reader got a tile of neither release")
		}
	}
	if sawOld == 0 || sawNew == 0 {
		t.Fatalf("readers saw %d old and %d new answers: the reads did not straddle the release", sawOld, sawNew)
	}
	t.Logf("%d reads during the release: %d of the old, %d of the new", len(seenCells), sawOld, sawNew)
}

// TestTwoServersServeOneRelease runs two servers on one database: the same
// release with byte-identical tiles and ETags, and the minimum interval
// holds across both.
func TestTwoServersServeOneRelease(t *testing.T) {
	a := startServer(t)
	cat := a.categories(t)[0]
	for i := range 3 * k {
		a.recordAs(t, a.tokens[contexts.RolePractitioner], fmt.Sprintf("T-%d", i), cat)
	}
	// Make the first release old enough for an admin's request: releases
	// are immutable, so the test lifts the trigger for this one update.
	if _, err := a.Pool.Exec(t.Context(), `ALTER TABLE releases DISABLE TRIGGER releases_no_update;
		UPDATE releases SET data_time = data_time - interval '8 days';
		ALTER TABLE releases ENABLE TRIGGER releases_no_update`); err != nil {
		t.Fatal(err)
	}
	b := &testServer{URL: serveOn(t, t.Context(), a.DBURL, "warn"), Pool: a.Pool, DBURL: a.DBURL, tokens: a.tokens}

	status, made := a.do(t, contexts.RoleAdmin, "POST", "/api/v1/releases", "")
	if status != 201 {
		t.Fatalf("admin release on server A: %d %v", status, made)
	}
	id := int64(made["id"].(float64))
	if status, out := b.do(t, contexts.RoleAdmin, "POST", "/api/v1/releases", ""); status != 429 || errCode(out) != "release_too_soon" {
		t.Fatalf("admin release on server B right after A's: %d %v", status, out)
	}
	a.waitRelease(t, id)
	b.waitRelease(t, id)
	tile := maptile.At([2]float64{probeSite[1], probeSite[0]}, 12)
	paths := []string{fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X, tile.Y),
		fmt.Sprintf("/tiles/heat/9/%d/%d.mvt?period=last-12m", tile.X>>3, tile.Y>>3),
		"/api/v1/heat/cells?res=8&period=last-12m", "/api/v1/exports/heat.csv?period=" + recentMonth()}
	nonEmpty := 0
	for _, p := range paths {
		ra, rb := a.get(t, contexts.RoleAnalyst, p), b.get(t, contexts.RoleAnalyst, p)
		if ra.status != 200 || !bytes.Equal(ra.body, rb.body) || ra.header.Get("ETag") != rb.header.Get("ETag") {
			t.Fatalf("%s: server A and B differ (%d/%d, ETag %q/%q)", p, ra.status, rb.status, ra.header.Get("ETag"), rb.header.Get("ETag"))
		}
		if strings.HasPrefix(p, "/tiles/") && len(tileValues(t, ra.body)) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty == 0 {
		t.Fatal("both tiles are empty: the comparison compared nothing")
	}
	var list struct {
		Releases []struct {
			ID  int64
			How string
		}
	}
	r := b.get(t, contexts.RoleAnalyst, "/api/v1/releases")
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Releases) != 2 || list.Releases[0].ID != id ||
		!slices.Equal([]string{list.Releases[0].How, list.Releases[1].How}, []string{"admin", "first_start"}) {
		t.Fatalf("releases on B: %s", r.body)
	}
	var audited int
	if err := a.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'release.make'`).Scan(&audited); err != nil || audited != 2 {
		t.Fatalf("release audit entries: %d %v", audited, err)
	}
}
