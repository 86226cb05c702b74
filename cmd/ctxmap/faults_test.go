package main

// Issue 11's findings about faults and odd input, each as a regression test
// against the whole server.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

// lockedBuffer collects a server's log lines from its goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (ts *testServer) raw(t *testing.T, role contexts.Role, method, path, contentType, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+ts.tokens[role])
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestInvalidUTF8IsA400(t *testing.T) {
	ts := startServer(t)
	for _, p := range []string{"/api/v1/audit?record=%FF", "/api/v1/audit?record=%C3%28", "/api/v1/audit?%FF=1", "/api/v1/contexts/%FF"} {
		resp, body := ts.raw(t, contexts.RoleAdmin, "GET", p, "", "")
		if resp.StatusCode != 400 || !strings.Contains(body, `"invalid_utf8"`) {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	resp, body := ts.raw(t, contexts.RolePractitioner, "POST", "/api/v1/harm-locations", "application/json", "{\"subject\":\"\xff\xfe\"}")
	if resp.StatusCode != 400 || !strings.Contains(body, `"invalid_utf8"`) {
		t.Errorf("a body with invalid UTF-8: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.raw(t, contexts.RoleAdmin, "GET", "/api/v1/me", "", "", "X-Note", "caf\xe9")
	if resp.StatusCode != 400 || !strings.Contains(body, `"invalid_utf8"`) {
		t.Errorf("a header with invalid UTF-8: %d %s", resp.StatusCode, body)
	}
}

func TestJSONBodiesOnlyAsJSON(t *testing.T) {
	ts := startServer(t)
	body := `{"name":"test-admin","password":"wrong"}`
	for _, ct := range []string{"application/jsonx", "application/json; charset=latin1", "text/plain", "application/x-www-form-urlencoded"} {
		resp, out := ts.raw(t, "", "POST", "/api/v1/session", ct, body)
		if resp.StatusCode != 415 || !strings.Contains(out, `"unsupported_media_type"`) {
			t.Errorf("Content-Type %q: %d %s", ct, resp.StatusCode, out)
		}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"} {
		if resp, out := ts.raw(t, "", "POST", "/api/v1/session", ct, body); resp.StatusCode != 401 {
			t.Errorf("Content-Type %q: %d %s, want the wrong password's 401", ct, resp.StatusCode, out)
		}
	}
}

func TestRequestIDsAreTheServers(t *testing.T) {
	ts := startServer(t)
	resp, _ := ts.raw(t, contexts.RoleAdmin, "GET", "/api/v1/audit", "", "", "X-Request-Id", "chosen-by-client")
	if got := resp.Header.Get("X-Request-Id"); got == "" || got == "chosen-by-client" {
		t.Fatalf("response request id %q", got)
	}
	var n int
	if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE request_id = 'chosen-by-client'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("audit entries with the client's id: %d %v", n, err)
	}
}

// migratedCluster is a throw-away cluster of the test's own, migrated, with
// a token per role.
func migratedCluster(t *testing.T) (*pgtest.Cluster, map[contexts.Role]string) {
	t.Helper()
	cl := pgtest.NewCluster(t)
	if err := Run(t.Context(), []string{"migrate", "up", "--database-url", cl.URL()}, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	tokens := map[contexts.Role]string{}
	for _, role := range contexts.Roles {
		out, err := runCLI(t, "", "users", "add", "--database-url", cl.URL(), "--name", "outage-"+string(role), "--role", string(role), "--team", "outage-team")
		if err != nil {
			t.Fatalf("users add: %v\n%s", err, out)
		}
		m := tokenLine.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("users add printed no token:\n%s", out)
		}
		tokens[role] = m[1]
	}
	return cl, tokens
}

// TestDatabaseOutageIs503NotA500 stops PostgreSQL under a running server:
// every route that needs it answers 503 database_unavailable with
// Retry-After (never 500), the log says so once, and everything works again
// once the database is back.
func TestDatabaseOutageIs503NotA500(t *testing.T) {
	cl, tokens := migratedCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log lockedBuffer
	base, done := startServe(t, ctx, cl.URL(), &log, "--log-level", "info", "--log-format", "text")
	if base == "" {
		t.Fatalf("server did not start: %v", <-done)
	}
	ts := &testServer{URL: base, tokens: tokens}
	routes := []struct {
		role         contexts.Role
		method, path string
		body         string
	}{
		{contexts.RoleAnalyst, "GET", "/api/v1/taxonomy", ""},
		{contexts.RoleAdmin, "GET", "/api/v1/audit", ""},
		{contexts.RolePractitioner, "GET", "/api/v1/contexts?near=51.545,-0.055&radius_m=1000", ""},
		{contexts.RolePractitioner, "POST", "/api/v1/harm-locations", `{"subject":"OUT-1","categories":["cse"],"familial":"extra","layer":"harm","occurred":"2026-10","source":"referral","lat":51.545,"lon":-0.055,"location_type":"park"}`},
		{contexts.RoleAnalyst, "GET", "/api/v1/releases", ""},
	}
	for _, r := range routes {
		if resp, body := ts.raw(t, r.role, r.method, r.path, jsonIf(r.body), r.body); resp.StatusCode >= 300 {
			t.Fatalf("before the outage %s %s: %d %s", r.method, r.path, resp.StatusCode, body)
		}
	}
	if err := cl.Stop(); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		for _, r := range routes {
			resp, body := ts.raw(t, r.role, r.method, r.path, jsonIf(r.body), r.body)
			if resp.StatusCode != 503 || !strings.Contains(body, `"database_unavailable"`) || resp.Header.Get("Retry-After") == "" {
				t.Errorf("round %d, database down, %s %s: %d %s (Retry-After %q)", round, r.method, r.path, resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
		}
	}
	if resp, _ := ts.raw(t, "", "GET", "/readyz", "", ""); resp.StatusCode != 503 {
		t.Errorf("/readyz during the outage: %d", resp.StatusCode)
	}
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := ts.raw(t, contexts.RoleAnalyst, "GET", "/api/v1/taxonomy", "", "")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("taxonomy still %d 15 s after the restart", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range routes {
		if resp, body := ts.raw(t, r.role, r.method, r.path, jsonIf(r.body), r.body); resp.StatusCode >= 300 && resp.StatusCode != 409 {
			t.Errorf("after the outage %s %s: %d %s", r.method, r.path, resp.StatusCode, body)
		}
	}
	if n := log.count("database unavailable"); n != 1 {
		t.Errorf("%d log lines for the outage's start, want 1", n)
	}
	if n := log.count("database available again"); n != 1 {
		t.Errorf("%d log lines for the outage's end, want 1", n)
	}
	if n := log.count("internal error"); n != 0 {
		t.Errorf("%d internal errors logged during an outage", n)
	}
}

func jsonIf(body string) string {
	if body == "" {
		return ""
	}
	return "application/json"
}

// TestServeWaitsForTheDatabase starts the server before its database: it
// waits and comes up when PostgreSQL does, and when the database never
// comes it says so, not "run migrate up".
func TestServeWaitsForTheDatabase(t *testing.T) {
	cl, _ := migratedCluster(t)
	if err := cl.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log lockedBuffer
	_, done := startServe(t, ctx, cl.URL(), &log, "--db-wait", "1s")
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "unreachable") || strings.Contains(err.Error(), "migrate up") {
		t.Fatalf("serve with no database: %v", err)
	}
	go func() {
		time.Sleep(1500 * time.Millisecond)
		if err := cl.Start(); err != nil {
			t.Error(err)
		}
	}()
	base, done := startServe(t, ctx, cl.URL(), &log, "--db-wait", "30s")
	if base == "" {
		t.Fatalf("serve did not wait for the database: %v", <-done)
	}
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz after waiting: %v %v", resp, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server exit: %v", err)
	}
}

func TestSecretFromAFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/secret"
	if err := os.WriteFile(path, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Config{SecretFile: path}
	if err := c.needSecret(); err != nil || c.Secret != testSecret {
		t.Fatalf("a 0600 secret file: %v (%d chars read)", err, len(c.Secret))
	}
	if err := (&Config{SecretFile: path, Secret: testSecret}).needSecret(); err == nil {
		t.Error("both a secret and a secret file were accepted")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (&Config{SecretFile: path}).needSecret(); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("a world-readable secret file: %v", err)
	}
}

// TestServerRunsAsTheRuntimeRole serves as ctxmap_app, the role that may
// only append to the audit log: recording, reading, releases at start and
// the heat outputs all work with its grants.
func TestServerRunsAsTheRuntimeRole(t *testing.T) {
	owner, url := pgtest.NewWithURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log lockedBuffer
	base, done := startServe(t, ctx, pgtest.WithUser(t, url, "ctxmap_app"), &log, "--log-level", "info", "--log-format", "text")
	if base == "" {
		t.Fatalf("server as ctxmap_app did not start: %v\n%s", <-done, log.b.String())
	}
	ts := &testServer{URL: base, Pool: owner, DBURL: url, tokens: map[contexts.Role]string{}}
	users := postgres.NewUsers(owner)
	for _, role := range contexts.Roles {
		_, tok, err := users.AddUser(ctx, nil, "app-"+string(role), role, "team-"+string(role), "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens[role] = tok
	}
	cat := ts.categories(t)[0]
	for i := range k {
		ts.recordAs(t, ts.tokens[contexts.RolePractitioner], fmt.Sprintf("APP-%d", i), cat)
	}
	if status, out := ts.do(t, contexts.RolePractitioner, "GET", "/api/v1/subjects/APP-1/harm-locations?purpose=assessment", ""); status != 200 {
		t.Fatalf("own young person's list: %d %v", status, out)
	}
	ts.release(t)
	if cells := ts.cells(t, 8, "period=last-12m"); len(cells) == 0 {
		t.Fatal("nothing published from the runtime role's server")
	}
	if n := log.count("internal error"); n != 0 {
		t.Fatalf("%d internal errors as ctxmap_app:\n%s", n, log.b.String())
	}
}

// TestBulkReadsOfPublishedValuesAreAudited: cells and trends are bulk reads
// of published values (PRIVACY.md rule 11), logged with who and which
// release, like exports.
func TestBulkReadsOfPublishedValuesAreAudited(t *testing.T) {
	ts := startServer(t)
	cell := cellAt(51.545, -0.055, 8).String()
	for _, p := range []string{"/api/v1/heat/cells?res=8&period=last-12m", "/api/v1/trends?h3=" + cell} {
		if r := ts.get(t, contexts.RoleAnalyst, p); r.status != 200 || !strings.Contains(string(r.body), `"release":`) {
			t.Fatalf("GET %s: %d %s", p, r.status, r.body)
		}
	}
	for _, action := range []string{"heat.cells", "heat.trend"} {
		var n int
		if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id
			WHERE a.action = $1 AND u.name = 'test-analyst' AND a.record LIKE 'release:%'`, action).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s audit entries: %d %v", action, n, err)
		}
	}
}
