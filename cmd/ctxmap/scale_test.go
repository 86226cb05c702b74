//go:build scale

package main

// TestScale is the two-replica test of issue 15. scripts/test-scale.sh
// (make test-scale) starts a PostgreSQL primary and a streaming replica,
// two `ctxmap serve` processes with DATABASE_READ_URL on the replica, and
// HAProxy in front, then runs this test with their addresses in
// CTXMAP_SCALE_*; the build tag keeps it out of `go test ./...`, and the
// script fails unless it ran and passed.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb/maptile"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
)

// scaleEnv is what scripts/test-scale.sh started.
type scaleEnv struct {
	lb, stats, a, b string
	pidB            int
	dbURL           string
	standby         *pgxpool.Pool
	owner           *pgxpool.Pool
	load            time.Duration
	subjectCap      int
}

func mustEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run this test with scripts/test-scale.sh (make test-scale)", name)
	}
	return v
}

func TestScale(t *testing.T) {
	env := scaleEnv{lb: mustEnv(t, "CTXMAP_SCALE_LB"), stats: mustEnv(t, "CTXMAP_SCALE_STATS"),
		a: mustEnv(t, "CTXMAP_SCALE_A"), b: mustEnv(t, "CTXMAP_SCALE_B"), dbURL: mustEnv(t, "CTXMAP_SCALE_DATABASE_URL")}
	var err error
	if env.pidB, err = strconv.Atoi(mustEnv(t, "CTXMAP_SCALE_B_PID")); err != nil {
		t.Fatal(err)
	}
	if env.load, err = time.ParseDuration(mustEnv(t, "CTXMAP_SCALE_LOAD")); err != nil {
		t.Fatal(err)
	}
	if env.subjectCap, err = strconv.Atoi(mustEnv(t, "CTXMAP_SCALE_SUBJECT_CAP")); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if env.owner, err = pgxpool.New(ctx, env.dbURL); err != nil {
		t.Fatal(err)
	}
	defer env.owner.Close()
	if env.standby, err = pgxpool.New(ctx, mustEnv(t, "CTXMAP_SCALE_STANDBY_URL")); err != nil {
		t.Fatal(err)
	}
	defer env.standby.Close()
	env.waitStatus(t, "a", "UP")
	env.waitStatus(t, "b", "UP")

	tokens := addTestUsers(t, env.owner)
	server := func(url string) *testServer {
		return &testServer{URL: url, Pool: env.owner, DBURL: env.dbURL, tokens: tokens}
	}
	lb, a, b := server(env.lb), server(env.a), server(env.b)
	replicas := map[string]*testServer{"a": a, "b": b}
	cat := lb.categories(t)[0]

	// Each step needs the ones before it; the kill is last.
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"WriteOnOneIsReadOnTheOtherAfterTheRelease", func(t *testing.T) { scaleWriteThenRelease(t, lb, replicas, cat) }},
		{"SessionsLimitsKeysNotificationsAndETagsAsOne", func(t *testing.T) { scaleAsOne(t, lb, a, b, cat) }},
		{"RateLimitsHoldAcrossReplicas", func(t *testing.T) { scaleRateLimits(t, &env, lb, a, b, cat) }},
		{"ReadReplicaServesPublishedReadsAndLagFallsBack", func(t *testing.T) { scaleReadReplica(t, &env, lb, a, b, cat) }},
		{"KillingAReplicaUnderLoad", func(t *testing.T) { scaleKill(t, &env, lb, a) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}

// servedBy is the replica HAProxy sent a request to (X-Served-By).
func servedBy(resp *http.Response) string { return resp.Header.Get("X-Served-By") }

// post sends a JSON body as role and returns the response and its body.
func (ts *testServer) post(t *testing.T, role contexts.Role, path, body string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	resp, raw := ts.raw(t, role, "POST", path, "application/json", body, header...)
	var out map[string]any
	_ = json.Unmarshal([]byte(raw), &out)
	return resp, out
}

// releaseAll makes a release with `ctxmap release --force` and waits until
// every replica serves it.
func releaseAll(t *testing.T, lb *testServer, replicas ...*testServer) int64 {
	t.Helper()
	var out bytes.Buffer
	if err := Run(t.Context(), []string{"release", "--force", "--database-url", lb.DBURL, "--log-level", "warn"}, nil, &out, io.Discard); err != nil {
		t.Fatalf("ctxmap release: %v", err)
	}
	var id int64
	if _, err := fmt.Sscanf(out.String(), "release %d made", &id); err != nil {
		t.Fatalf("ctxmap release printed %q", out.String())
	}
	for _, r := range replicas {
		r.waitRelease(t, id)
	}
	return id
}

// scaleWriteThenRelease: (a) records written through HAProxy land on one
// replica; the other shows nothing of them until the next release, and
// then publishes them.
func scaleWriteThenRelease(t *testing.T, lb *testServer, replicas map[string]*testServer, cat string) {
	probe := cellAt(probeSite[0], probeSite[1], 8)
	before := replicas["a"].cells(t, 8, "period=last-12m")
	if _, ok := before[probe]; ok {
		t.Fatalf("the probe cell is published before any write: %v", before[probe])
	}
	landed := map[string]int{}
	var last string
	for i := range 3 * k {
		body, _ := json.Marshal(map[string]any{
			"subject": fmt.Sprintf("SCALE-A-%d", i), "categories": []string{cat}, "familial": "extra", "layer": "harm",
			"occurred": recentMonth(), "source": "referral", "lat": probeSite[0], "lon": probeSite[1], "location_type": "park",
		})
		resp, out := lb.post(t, contexts.RolePractitioner, "/api/v1/harm-locations", string(body))
		if resp.StatusCode != 201 {
			t.Fatalf("record through HAProxy: %d %v", resp.StatusCode, out)
		}
		last = servedBy(resp)
		landed[last]++
	}
	if len(landed) != 2 {
		t.Fatalf("HAProxy sent the writes to %v; round robin should use both replicas", landed)
	}
	other := map[string]string{"a": "b", "b": "a"}[last]
	if _, ok := replicas[other].cells(t, 8, "period=last-12m")[probe]; ok {
		t.Fatal("the other replica shows the writes before a release (published values come from releases only)")
	}
	id := releaseAll(t, lb, replicas["a"], replicas["b"])
	v, ok := replicas[other].cells(t, 8, "period=last-12m")[probe]
	if !ok || v < k {
		t.Fatalf("after release %d replica %s does not publish the probe cell written through %s: %v %v", id, other, last, v, ok)
	}
	t.Logf("%d writes through HAProxy (%v); the last on %s, read on %s after release %d: value %d", 3*k, landed, last, other, id, v)
}

// login signs name in on ts with a password and returns the session
// cookie and the CSRF token, or the status when it was refused.
func login(t *testing.T, ts *testServer, name, password string) (*http.Cookie, string, int) {
	t.Helper()
	resp, out := ts.post(t, "", "/api/v1/session", fmt.Sprintf(`{"name":%q,"password":%q}`, name, password))
	if resp.StatusCode != 200 {
		return nil, "", resp.StatusCode
	}
	csrf, _ := out["csrf_token"].(string)
	for _, c := range resp.Cookies() {
		if c.Name == "ctxmap_session" {
			return c, csrf, 200
		}
	}
	t.Fatal("login without a session cookie")
	return nil, "", 0
}

// withCookie sends a request with the session cookie (and the CSRF token
// when not empty) and returns the status.
func withCookie(t *testing.T, base string, c *http.Cookie, csrf, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.AddCookie(c)
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// scaleAsOne: (b) every piece of shared state answers the same on either
// replica and through HAProxy.
func scaleAsOne(t *testing.T, lb, a, b *testServer, cat string) {
	const password = "correct horse battery"
	// A browser session made on A is a session on B and through HAProxy;
	// its CSRF token works on B; signing out on B ends it on A within
	// the token cache's seconds.
	cookie, csrf, st := login(t, a, "test-practitioner", password)
	if st != 200 {
		t.Fatalf("login on A: %d", st)
	}
	for _, ts := range []*testServer{b, lb, lb} {
		if got := withCookie(t, ts.URL, cookie, "", "GET", "/api/v1/me", ""); got != 200 {
			t.Fatalf("A's session on %s: %d", ts.URL, got)
		}
	}
	if got := withCookie(t, b.URL, cookie, "", "POST", "/api/v1/me/notifications/read", `{"up_to":1}`); got != 403 {
		t.Fatalf("a cookie write on B without the CSRF token: %d, want 403", got)
	}
	if got := withCookie(t, b.URL, cookie, csrf, "POST", "/api/v1/me/notifications/read", `{"up_to":1}`); got != 200 {
		t.Fatalf("a cookie write on B with the CSRF token A issued: %d, want 200", got)
	}
	if got := withCookie(t, b.URL, cookie, csrf, "DELETE", "/api/v1/session", ""); got != 204 {
		t.Fatalf("sign out on B: %d", got)
	}
	start := time.Now()
	for withCookie(t, a.URL, cookie, "", "GET", "/api/v1/me", "") != 401 {
		if time.Since(start) > 8*time.Second {
			t.Fatal("the session signed out on B still works on A after 8 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("session: made on A, used on B and through HAProxy, signed out on B, refused on A after %s (A's token cache)", time.Since(start).Round(100*time.Millisecond))

	// Login limits are counted in PostgreSQL: five failures spread over A
	// and B lock the name on both.
	if _, _, err := postgres.NewUsers(a.Pool).AddUser(t.Context(), nil, "scale-limits", contexts.RoleAnalyst, "team-scale", password); err != nil {
		t.Fatal(err)
	}
	for i := range contexts.DefaultLoginLimits.PerName {
		ts := []*testServer{a, b}[i%2]
		if _, _, st := login(t, ts, "scale-limits", "wrong password"); st != 401 {
			t.Fatalf("wrong password %d on %s: %d", i+1, ts.URL, st)
		}
	}
	for _, ts := range []*testServer{a, b, lb} {
		if _, _, st := login(t, ts, "scale-limits", password); st != 429 {
			t.Fatalf("the right password after %d failures on A and B, on %s: %d, want 429", contexts.DefaultLoginLimits.PerName, ts.URL, st)
		}
	}
	t.Logf("login limit: %d failures alternating A and B lock the name on A, B and HAProxy", contexts.DefaultLoginLimits.PerName)

	// An Idempotency-Key claimed on A is answered from its stored answer
	// on B and through HAProxy; another body under it is refused on B.
	body := `{"subject":"SCALE-IDEM-1","categories":["` + cat + `"],"familial":"extra","layer":"harm","occurred":"` + recentMonth() +
		`","source":"referral","lat":51.545,"lon":-0.055,"location_type":"park"}`
	var ids []any
	for i, ts := range []*testServer{a, b, lb} {
		resp, out := ts.post(t, contexts.RolePractitioner, "/api/v1/harm-locations", body, "Idempotency-Key", "scale-idem-1")
		if resp.StatusCode != 201 || (i > 0) != (resp.Header.Get("Idempotent-Replayed") == "true") {
			t.Fatalf("keyed create %d on %s: %d %v (replayed %q)", i+1, ts.URL, resp.StatusCode, out, resp.Header.Get("Idempotent-Replayed"))
		}
		ids = append(ids, out["id"])
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("one key, ids %v", ids)
	}
	if resp, out := b.post(t, contexts.RolePractitioner, "/api/v1/harm-locations", strings.Replace(body, "park", "school", 1),
		"Idempotency-Key", "scale-idem-1"); resp.StatusCode != 422 || errCode(out) != "idempotency_key_reused" {
		t.Fatalf("the key with another body on B: %d %v", resp.StatusCode, out)
	}
	var rows int
	// Nothing else is recorded at that place before this point.
	if err := a.Pool.QueryRow(t.Context(), `SELECT count(*) FROM harm_locations WHERE lat = 51.545 AND lon = -0.055`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("records of the keyed create: %d %v", rows, err)
	}
	t.Logf("idempotency: one key on A, B and HAProxy made one record (id %v), replayed twice; another body refused on B", ids[0])

	// A change made on B notifies the practitioner, who reads it on A and
	// marks it read there; B then shows it read.
	ctxID, _ := a.linkedContext(t, "SCALE-NOTIFY-1")
	if st, out := b.do(t, contexts.RoleContextLead, "POST", fmt.Sprintf("/api/v1/contexts/%d/interventions", ctxID),
		`{"action":"Lighting","partner_agency":"parks","side":"environment"}`); st != 201 {
		t.Fatalf("intervention on B: %d %v", st, out)
	}
	notes := func(ts *testServer) []map[string]any {
		st, out := ts.do(t, contexts.RolePractitioner, "GET", "/api/v1/me/notifications", "")
		if st != 200 {
			t.Fatalf("notifications on %s: %d", ts.URL, st)
		}
		var list []map[string]any
		for _, n := range out["notifications"].([]any) {
			if m := n.(map[string]any); int64(m["context_id"].(float64)) == ctxID {
				list = append(list, m)
			}
		}
		return list
	}
	onA := notes(a)
	if len(onA) == 0 || onA[0]["read"] != false {
		t.Fatalf("the change on B is not an unread notification on A: %v", onA)
	}
	if st, out := a.do(t, contexts.RolePractitioner, "POST", "/api/v1/me/notifications/read",
		fmt.Sprintf(`{"up_to":%v}`, onA[0]["id"])); st != 200 {
		t.Fatalf("mark read on A: %d %v", st, out)
	}
	for _, n := range notes(b) {
		if n["read"] != true {
			t.Fatalf("read on A, unread on B: %v", n)
		}
	}
	t.Logf("notifications: a change on B notified on A (%d), marked read on A, read on B", len(onA))

	// Tiles, cells and exports: the same bytes and ETags on A, B and
	// through HAProxy, and A's ETag is fresh on B (304).
	tile := maptile.At([2]float64{probeSite[1], probeSite[0]}, 12)
	for _, p := range []string{fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X, tile.Y),
		fmt.Sprintf("/tiles/heat/9/%d/%d.mvt?period=last-12m", tile.X>>3, tile.Y>>3),
		"/api/v1/heat/cells?res=8&period=last-12m", "/api/v1/exports/heat.csv?period=" + recentMonth()} {
		ra, rb, rl := a.get(t, contexts.RoleAnalyst, p), b.get(t, contexts.RoleAnalyst, p), lb.get(t, contexts.RoleAnalyst, p)
		etag := ra.header.Get("ETag")
		if ra.status != 200 || !bytes.Equal(ra.body, rb.body) || !bytes.Equal(ra.body, rl.body) ||
			rb.header.Get("ETag") != etag || rl.header.Get("ETag") != etag {
			t.Fatalf("%s: A, B and HAProxy differ (%d/%d/%d, ETag %q/%q/%q)", p, ra.status, rb.status, rl.status,
				etag, rb.header.Get("ETag"), rl.header.Get("ETag"))
		}
		if !strings.HasPrefix(p, "/tiles/") {
			continue // the JSON and CSV answers carry no ETag
		}
		if etag == "" {
			t.Fatalf("%s: no ETag", p)
		}
		req, _ := http.NewRequest("GET", b.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+b.tokens[contexts.RoleAnalyst])
		req.Header.Set("If-None-Match", etag)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 304 {
			t.Fatalf("%s: A's ETag on B: %d, want 304", p, resp.StatusCode)
		}
	}
	t.Log("tiles byte-identical with one ETag on A, B and HAProxy, A's ETag 304 on B; cells and export byte-identical")
}

// scaleRateLimits: the daily cap of young people new to a user is counted
// in PostgreSQL, so records spread over A and B reach it together; and the
// least interval between releases an admin asks for is checked against the
// newest release of all, on either replica.
func scaleRateLimits(t *testing.T, env *scaleEnv, lb, a, b *testServer, cat string) {
	users := postgres.NewUsers(a.Pool)
	_, tok, err := users.AddUser(t.Context(), nil, "scale-cap", contexts.RolePractitioner, "team-scale-cap", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for i := range env.subjectCap {
		ts := []*testServer{a, b}[i%2]
		ts.recordAs(t, tok, fmt.Sprintf("SCALE-CAP-%d", i), cat)
	}
	for _, ts := range []*testServer{a, b, lb} {
		body := fmt.Sprintf(`{"subject":"SCALE-CAP-OVER","categories":[%q],"familial":"extra","layer":"harm","occurred":%q,`+
			`"source":"referral","lat":%v,"lon":%v,"location_type":"park"}`, cat, recentMonth(), probeSite[0], probeSite[1])
		req, _ := http.NewRequest("POST", ts.URL+"/api/v1/harm-locations", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 429 || errCode(out) != "subject_limit" {
			t.Fatalf("young person %d new to the user, on %s: %d %v; want 429 subject_limit", env.subjectCap+1, ts.URL, resp.StatusCode, out)
		}
	}
	t.Logf("daily cap: %d young people recorded alternately on A and B; the next refused on A, B and HAProxy", env.subjectCap)
	for _, ts := range []*testServer{a, b} {
		if status, out := ts.do(t, contexts.RoleAdmin, "POST", "/api/v1/releases", ""); status != 429 || errCode(out) != "release_too_soon" {
			t.Fatalf("an admin's release on %s seconds after the last: %d %v", ts.URL, status, out)
		}
	}
	t.Log("release interval: an admin's release right after the last is refused on A and B")
}

var readsLine = regexp.MustCompile(`(?m)^ctxmap_published_reads_total\{answered_by="(replica|primary)"\} (\S+)$`)

// publishedReads scrapes a replica's /metrics: published reads answered by
// the read replica and by the primary.
func publishedReads(t *testing.T, ts *testServer) (replica, primary float64) {
	t.Helper()
	r := ts.get(t, contexts.RoleAdmin, "/metrics")
	if r.status != 200 {
		t.Fatalf("metrics on %s: %d", ts.URL, r.status)
	}
	body := maybeGunzip(t, r)
	found := 0
	for _, m := range readsLine.FindAllSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		found++
		if string(m[1]) == "replica" {
			replica = v
		} else {
			primary = v
		}
	}
	if found != 2 {
		t.Fatalf("metrics on %s lack ctxmap_published_reads_total: is DATABASE_READ_URL set?", ts.URL)
	}
	return replica, primary
}

// scaleReadReplica: (d) published reads come from the streaming replica;
// while the replica's replay is paused (lag, made on purpose), a new
// release is served from the primary on both replicas with the same bytes,
// never an error nor an older release; after the replay resumes the
// replica answers again. It reports the replication lag seen.
func scaleReadReplica(t *testing.T, env *scaleEnv, lb, a, b *testServer, cat string) {
	ctx := t.Context()
	var standby bool
	if err := env.standby.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby); err != nil || !standby {
		t.Fatalf("CTXMAP_SCALE_STANDBY_URL is not a standby: %v %v", standby, err)
	}
	var sessions int
	if err := env.standby.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ctxmap-read'`).Scan(&sessions); err != nil || sessions == 0 {
		t.Fatalf("no ctxmap-read sessions on the streaming replica: %d %v", sessions, err)
	}
	for _, ts := range []*testServer{a, b} {
		if rep, _ := publishedReads(t, ts); rep == 0 {
			t.Fatalf("%s answered no published read from the read replica", ts.URL)
		}
	}

	// Lag on demand: pause the standby's replay, release, and read.
	if _, err := env.standby.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	paused := true
	defer func() {
		if paused {
			_, _ = env.standby.Exec(context.WithoutCancel(ctx), `SELECT pg_wal_replay_resume()`)
		}
	}()
	for i := range k {
		lb.recordAs(t, lb.tokens[contexts.RolePractitioner], fmt.Sprintf("SCALE-LAG-%d", i), cat)
	}
	_, primA0 := publishedReads(t, a)
	_, primB0 := publishedReads(t, b)
	id := releaseAll(t, lb, a, b)
	var onStandby int
	if err := env.standby.QueryRow(ctx, `SELECT count(*) FROM releases WHERE id = $1`, id).Scan(&onStandby); err != nil || onStandby != 0 {
		t.Fatalf("the paused replica has release %d (%d, %v): the test would not lag", id, onStandby, err)
	}
	probe := cellAt(probeSite[0], probeSite[1], 8)
	ca, cb := a.cells(t, 8, "period=last-12m"), b.cells(t, 8, "period=last-12m")
	if ca[probe] == 0 || ca[probe] != cb[probe] {
		t.Fatalf("during lag the probe cell is %d on A and %d on B", ca[probe], cb[probe])
	}
	tile := maptile.At([2]float64{probeSite[1], probeSite[0]}, 12)
	p := fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X, tile.Y)
	ra, rb := a.get(t, contexts.RoleAnalyst, p), b.get(t, contexts.RoleAnalyst, p)
	if ra.status != 200 || !bytes.Equal(ra.body, rb.body) || ra.header.Get("ETag") != rb.header.Get("ETag") {
		t.Fatalf("during lag A and B serve different tiles: %d/%d", ra.status, rb.status)
	}
	_, primA := publishedReads(t, a)
	_, primB := publishedReads(t, b)
	if primA <= primA0 || primB <= primB0 {
		t.Fatalf("during lag the primary answered no published read (A %v -> %v, B %v -> %v)", primA0, primA, primB0, primB)
	}
	t.Logf("lag: replay paused, release %d served by A and B from the primary (primary answered %v and %v reads)", id, primA-primA0, primB-primB0)

	// Resume: the replica catches up and answers again.
	if _, err := env.standby.Exec(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	paused = false
	catchUp := waitOnStandby(t, env, id)
	t.Logf("lag: after the resume the replica had release %d in %s", id, catchUp.Round(time.Millisecond))
	repA0, _ := publishedReads(t, a)
	if r := a.get(t, contexts.RoleAnalyst, "/api/v1/heat/cells?res=7&period=last-3m"); r.status != 200 {
		t.Fatalf("cells after the resume: %d", r.status)
	}
	if repA, _ := publishedReads(t, a); repA <= repA0 {
		t.Fatalf("after the resume A's new published reads do not come from the replica (%v -> %v)", repA0, repA)
	}

	// Ordinary lag: how long a release takes to be readable on the
	// replica, measured from the end of `ctxmap release` (5 releases).
	var lags []time.Duration
	for range 5 {
		var out bytes.Buffer
		if err := Run(ctx, []string{"release", "--force", "--database-url", env.dbURL, "--log-level", "warn"}, nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		var rid int64
		if _, err := fmt.Sscanf(out.String(), "release %d made", &rid); err != nil {
			t.Fatalf("ctxmap release printed %q", out.String())
		}
		lags = append(lags, waitOnStandby(t, env, rid))
	}
	slices.Sort(lags)
	var replayLag *time.Duration
	_ = env.owner.QueryRow(ctx, `SELECT replay_lag FROM pg_stat_replication LIMIT 1`).Scan(&replayLag)
	t.Logf("lag: a release readable on the replica %s to %s after `ctxmap release` returned (median %s; pg_stat_replication.replay_lag %v)",
		lags[0].Round(100*time.Microsecond), lags[len(lags)-1].Round(100*time.Microsecond), lags[len(lags)/2].Round(100*time.Microsecond), replayLag)
	for _, ts := range []*testServer{a, b} {
		rep, prim := publishedReads(t, ts)
		t.Logf("published reads on %s: %v from the replica, %v from the primary", ts.URL, rep, prim)
	}
	// The load that follows reads one release on both replicas.
	releaseAll(t, lb, a, b)
}

// waitOnStandby waits until the streaming replica has release id and
// returns how long that took.
func waitOnStandby(t *testing.T, env *scaleEnv, id int64) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		var n int
		if err := env.standby.QueryRow(t.Context(), `SELECT count(*) FROM releases WHERE id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("release %d is not on the streaming replica after 10 s", id)
		}
		time.Sleep(time.Millisecond)
	}
}

// status is a server's state on HAProxy's stats page (UP, DOWN, ...).
func (env *scaleEnv) status(name string) (string, error) {
	resp, err := http.Get(env.stats)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return "", err
	}
	col := -1
	for _, row := range rows {
		if len(row) > 0 && strings.HasPrefix(row[0], "# ") {
			col = slices.Index(row, "status")
			continue
		}
		if col > 0 && len(row) > col && row[0] == "replicas" && row[1] == name {
			return row[col], nil
		}
	}
	return "", fmt.Errorf("server %s not on HAProxy's stats page", name)
}

func (env *scaleEnv) waitStatus(t *testing.T, name, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := env.status(name)
		if err == nil && strings.HasPrefix(st, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy has replica %s %q (%v), want %s", name, st, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// result is one load request: when it ended, how long it took and what
// the client saw ("" for a 200).
type result struct {
	end  time.Time
	took time.Duration
	fail string
}

// loadPaths are the tiles and cells a map view asks for around the probe.
func loadPaths() []string {
	tile := maptile.At([2]float64{probeSite[1], probeSite[0]}, 12)
	var out []string
	for dx := range uint32(4) {
		for dy := range uint32(4) {
			out = append(out, fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?period=last-12m", tile.X+dx-2, tile.Y+dy-2))
		}
	}
	return append(out, "/api/v1/heat/cells?res=8&period=last-12m", "/tiles/heat.json?period=last-12m")
}

// load sends GETs from conns connections to base for d (and never more
// than maxRequests), and returns every result. during runs beside it.
func load(t *testing.T, base, token string, conns int, d time.Duration, during func()) []result {
	t.Helper()
	const maxRequests = 2_000_000
	paths := loadPaths()
	tr := &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var mu sync.Mutex
	var all []result
	var sent int
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []result
			for i := c; ctx.Err() == nil; i++ {
				mu.Lock()
				sent++
				over := sent > maxRequests
				mu.Unlock()
				if over {
					break
				}
				req, _ := http.NewRequest("GET", base+paths[i%len(paths)], nil)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Accept-Encoding", "gzip")
				start := time.Now()
				resp, err := client.Do(req)
				r := result{}
				switch {
				case err != nil:
					r.fail = "transport: " + err.Error()
				default:
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil {
						r.fail = "body: " + err.Error()
					} else if resp.StatusCode != 200 {
						r.fail = "status " + strconv.Itoa(resp.StatusCode)
					}
				}
				r.end, r.took = time.Now(), time.Since(start)
				if r.fail != "" && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
					continue // cut by the end of the run, not a failure
				}
				mine = append(mine, r)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	if during != nil {
		during()
	}
	wg.Wait()
	return all
}

// summary is a run's throughput and latency percentiles.
func summary(rs []result, d time.Duration) string {
	if len(rs) == 0 {
		return "no requests"
	}
	took := make([]time.Duration, len(rs))
	for i, r := range rs {
		took[i] = r.took
	}
	slices.Sort(took)
	pct := func(p float64) time.Duration {
		return took[min(len(took)-1, int(p*float64(len(took))))].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("%d requests in %s = %.0f req/s; latency p50 %s p90 %s p99 %s max %s",
		len(rs), d, float64(len(rs))/d.Seconds(), pct(.5), pct(.9), pct(.99), took[len(took)-1].Round(10*time.Microsecond))
}

// scaleKill: throughput through HAProxy against one server directly, then
// (c) replica B killed with SIGKILL during a load through HAProxy: no
// client error once HAProxy has marked it down. Every failure is counted
// and reported by when it happened.
func scaleKill(t *testing.T, env *scaleEnv, lb, a *testServer) {
	token := lb.tokens[contexts.RoleAnalyst]
	const conns = 8
	const bench = 5 * time.Second
	// Warm both replicas' caches, then measure.
	load(t, env.lb, token, conns, time.Second, nil)
	direct := load(t, a.URL, token, conns, bench, nil)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("bench: load average before %s (2 cores shared with the servers, HAProxy, PostgreSQL and this client)", strings.Join(strings.Fields(string(b))[:3], " "))
	}
	t.Logf("bench: one replica directly, %d connections: %s", conns, summary(direct, bench))
	through := load(t, env.lb, token, conns, bench, nil)
	t.Logf("bench: HAProxy over two replicas, %d connections: %s", conns, summary(through, bench))
	for _, rs := range [][]result{direct, through} {
		for _, r := range rs {
			if r.fail != "" {
				t.Fatalf("a request failed with both replicas up: %s", r.fail)
			}
		}
	}

	var killed, markedDown time.Time
	kill := func() {
		time.Sleep(env.load / 4)
		killed = time.Now()
		if err := syscall.Kill(env.pidB, syscall.SIGKILL); err != nil {
			t.Errorf("kill replica B (pid %d): %v", env.pidB, err)
			return
		}
		for time.Since(killed) < 15*time.Second {
			if st, err := env.status("b"); err == nil && strings.HasPrefix(st, "DOWN") {
				markedDown = time.Now()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rs := load(t, env.lb, token, conns, env.load, kill)
	if markedDown.IsZero() {
		t.Fatal("HAProxy did not mark the killed replica down within 15 s")
	}
	var before, between, after []result
	fails := map[string]int{}
	for _, r := range rs {
		switch {
		case r.end.Before(killed):
			before = append(before, r)
		case r.end.Before(markedDown):
			between = append(between, r)
		default:
			after = append(after, r)
		}
		if r.fail != "" {
			fails[r.fail]++
		}
	}
	count := func(rs []result) (n int) {
		for _, r := range rs {
			if r.fail != "" {
				n++
			}
		}
		return n
	}
	t.Logf("kill: %s at %d connections through HAProxy; replica B SIGKILLed %s in, marked DOWN by HAProxy %s later",
		env.load, conns, killed.Sub(rs[0].end.Add(-rs[0].took)).Round(time.Millisecond), markedDown.Sub(killed).Round(time.Millisecond))
	t.Logf("kill: before the kill %d requests, %d failed; between the kill and the mark %d, %d failed; after the mark %d, %d failed",
		len(before), count(before), len(between), count(between), len(after), count(after))
	t.Logf("kill: the whole run: %s; failures by kind: %v", summary(rs, env.load), fails)
	if n := count(before); n > 0 {
		t.Errorf("%d requests failed before the kill", n)
	}
	if n := count(after); n > 0 {
		t.Errorf("%d requests failed after HAProxy marked the replica down", n)
	}
	if len(after) == 0 {
		t.Error("no request after the mark: the load ended too soon")
	}
}
