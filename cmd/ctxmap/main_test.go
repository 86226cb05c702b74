package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
	"github.com/ctxmap/ctxmap/web"
	"github.com/ctxmap/ctxmap/web/webtest"
)

// TestMain lets a test re-run this binary as the real ctxmap process, so
// signal handling and exit codes are tested on a real process.
func TestMain(m *testing.M) {
	if os.Getenv("CTXMAP_TEST_AS_MAIN") == "1" {
		os.Args = append([]string{"ctxmap"}, strings.Fields(os.Getenv("CTXMAP_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// roleBadToken makes do send a well-formed token that was never issued.
const roleBadToken contexts.Role = "bad-token"

const testSecret = "test-secret-test-secret-test-secret-0123"

var addrLine = regexp.MustCompile(`serving on (http://\S+)`)

// testServer is a whole ctxmap server on a free port over a throw-away database.
type testServer struct {
	URL    string
	Pool   *pgxpool.Pool
	DBURL  string
	tokens map[contexts.Role]string
}

func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	pool, url := pgtest.NewWithURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base := serveOn(t, ctx, url, "warn", extra...)
	return &testServer{URL: base, Pool: pool, DBURL: url, tokens: addTestUsers(t, pool)}
}

// addTestUsers adds one user of each role, each in a team of its own
// ("team-" and the role), and returns their tokens.
func addTestUsers(t *testing.T, pool *pgxpool.Pool) map[contexts.Role]string {
	t.Helper()
	tokens := map[contexts.Role]string{}
	users := postgres.NewUsers(pool)
	for _, role := range contexts.Roles {
		_, tok, err := users.AddUser(context.Background(), nil, "test-"+string(role), role, "team-"+string(role), "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = tok
	}
	return tokens
}

// serveOn runs `ctxmap serve` in-process on a free port against the
// database at url, logging at logLevel, and returns its base URL; the
// server stops when ctx ends or the test does.
func serveOn(t *testing.T, ctx context.Context, url, logLevel string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	base, done := startServe(t, ctx, url, io.Discard, append([]string{"--log-level", logLevel}, extra...)...)
	if base == "" {
		cancel()
		t.Fatalf("server did not start: %v", <-done)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server exited with %v", err)
		}
	})
	return base
}

// startServe starts `ctxmap serve` and returns its base URL once it
// listens, or "" with the command's result on done when it exits first.
// Its log goes to log; extra flags override the test defaults.
func startServe(t *testing.T, ctx context.Context, url string, log io.Writer, extra ...string) (string, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	// Every response of every end-to-end test is checked against the
	// OpenAPI document (issue 15): a violation fails the test that got it.
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--database-url", url, "--secret", testSecret,
		"--release-poll", "50ms", "--subject-daily-cap", "100000", "--validate-responses"}, extra...)
	watch := &violations{next: log}
	t.Cleanup(func() {
		if v := watch.lines(); len(v) > 0 {
			t.Errorf("%d responses broke the OpenAPI document:\n%s", len(v), strings.Join(v, "\n"))
		}
	})
	go func() { done <- Run(ctx, args, nil, pw, watch); pw.Close() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		return a, done
	case err := <-done:
		failed := make(chan error, 1)
		failed <- err
		return "", failed
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not start within 60 s")
	}
	return "", done
}

// violations passes a server's log on and keeps its OpenAPI violation lines.
type violations struct {
	mu    sync.Mutex
	next  io.Writer
	found []string
	part  []byte
}

func (v *violations) Write(p []byte) (int, error) {
	v.mu.Lock()
	v.part = append(v.part, p...)
	for {
		i := bytes.IndexByte(v.part, '\n')
		if i < 0 {
			break
		}
		if line := string(v.part[:i]); strings.Contains(line, web.ViolationLog) {
			v.found = append(v.found, line)
		}
		v.part = v.part[i+1:]
	}
	v.mu.Unlock()
	return v.next.Write(p)
}

func (v *violations) lines() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.found...)
}

func (ts *testServer) do(t *testing.T, role contexts.Role, method, path, body string) (int, map[string]any) {
	t.Helper()
	token := ts.tokens[role]
	if role == roleBadToken {
		token = "ctxm_not-a-real-token"
	}
	return webtest.Call(t, ts.URL, token, method, path, body)
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestServerErrorsAreClearAndNever500(t *testing.T) {
	ts := startServer(t)
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `","password":"p"}`
	cases := []struct {
		name       string
		role       contexts.Role
		method     string
		path, body string
		status     int
		code       string
	}{
		{"no token", "", "GET", "/api/v1/me", "", 401, "unauthenticated"},
		{"bad token", roleBadToken, "GET", "/api/v1/audit", "", 401, "bad_credentials"},
		{"analyst on admin route", contexts.RoleAnalyst, "GET", "/api/v1/audit", "", 403, "forbidden"},
		{"practitioner on admin route", contexts.RolePractitioner, "GET", "/api/v1/users", "", 403, "forbidden"},
		{"admin on admin route", contexts.RoleAdmin, "GET", "/api/v1/audit", "", 200, ""},
		{"malformed json", "", "POST", "/api/v1/session", `{"name":`, 400, "bad_json"},
		{"unknown field", "", "POST", "/api/v1/session", `{"nam":"x","password":"y"}`, 400, "unknown_field"},
		{"body over limit", "", "POST", "/api/v1/session", big, 413, "body_too_large"},
		{"unknown route", contexts.RoleAdmin, "GET", "/api/v1/nope", "", 404, "route_not_found"},
		{"unknown route anonymous", "", "GET", "/nope/at/all", "", 404, "route_not_found"},
		// Only the static files take any GET: a POST to no route is a 404, not a 405.
		{"unknown route, POST", contexts.RoleAdmin, "POST", "/api/v1/nope", "{}", 404, "route_not_found"},
		{"an id that is not a number", contexts.RolePractitioner, "POST", "/api/v1/harm-locations/abc/archive", "{}", 404, "route_not_found"},
		{"a route with other methods", contexts.RoleAdmin, "DELETE", "/api/v1/releases", "", 405, "method_not_allowed"},
		{"wrong password", "", "POST", "/api/v1/session", `{"name":"test-admin","password":"wrong password"}`, 401, "bad_credentials"},
		{"bad audit time", contexts.RoleAdmin, "GET", "/api/v1/audit?from=yesterday", "", 400, "invalid_parameter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := ts.do(t, c.role, c.method, c.path, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d (body %v)", status, c.status, body)
			}
			if c.code != "" && errCode(body) != c.code {
				t.Fatalf("code %q, want %q", errCode(body), c.code)
			}
		})
	}
}

func TestHealthAndReady(t *testing.T) {
	ts := startServer(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, _ := ts.do(t, "", "GET", p, ""); status != 200 {
			t.Errorf("%s: %d", p, status)
		}
	}
	// Metrics are an admin's: anonymous and other roles are refused.
	if status, _ := ts.do(t, "", "GET", "/metrics", ""); status != 401 {
		t.Errorf("anonymous /metrics: %d, want 401", status)
	}
	if status, _ := ts.do(t, contexts.RoleAnalyst, "GET", "/metrics", ""); status != 403 {
		t.Errorf("analyst /metrics: %d, want 403", status)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+ts.tokens[contexts.RoleAdmin])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "ctxmap_http_requests_total") || !strings.Contains(string(b), "ctxmap_heat_release") {
		t.Errorf("admin /metrics: %d; requests or the release not in it", resp.StatusCode)
	}
}

func TestBrowserSessionNeedsCSRFForWrites(t *testing.T) {
	ts := startServer(t)
	resp, err := http.Post(ts.URL+"/api/v1/session", "application/json", strings.NewReader(`{"name":"test-admin","password":"correct horse battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		CSRFToken string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&sess) //nolint:errcheck
	resp.Body.Close()
	if resp.StatusCode != 200 || sess.CSRFToken == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "ctxmap_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie missing or not HttpOnly+SameSite=Strict: %+v", cookie)
	}
	send := func(method, path, csrf string) int {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		req.AddCookie(cookie)
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if got := send("GET", "/api/v1/me", ""); got != 200 {
		t.Fatalf("cookie read: %d", got)
	}
	if got := send("DELETE", "/api/v1/session", ""); got != 403 {
		t.Fatalf("cookie write without CSRF: %d, want 403", got)
	}
	if got := send("DELETE", "/api/v1/session", "wrong"); got != 403 {
		t.Fatalf("cookie write with wrong CSRF: %d, want 403", got)
	}
	if got := send("DELETE", "/api/v1/session", sess.CSRFToken); got != 204 {
		t.Fatalf("logout: %d, want 204", got)
	}
	if got := send("GET", "/api/v1/me", ""); got != 401 {
		t.Fatalf("after logout: %d, want 401", got)
	}
}

func TestFailedLoginsAreRateLimitedAndAudited(t *testing.T) {
	ts := startServer(t)
	var last int
	for i := 0; i < 7; i++ {
		last, _ = ts.do(t, "", "POST", "/api/v1/session", `{"name":"test-analyst","password":"wrong password"}`)
	}
	if last != 429 {
		t.Fatalf("7th failed login: %d, want 429", last)
	}
	var n int
	if err := ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'login.failed'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d failed logins audited", n)
	}
}

// TestSIGTERMLetsInFlightRequestFinish runs ctxmap as a real process, starts
// a request whose body arrives slowly, sends SIGTERM mid-request, and checks
// that the request gets its answer and the process exits 0.
func TestSIGTERMLetsInFlightRequestFinish(t *testing.T) {
	_, url := pgtest.NewWithURL(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CTXMAP_TEST_AS_MAIN=1",
		"CTXMAP_TEST_ARGS=serve --listen 127.0.0.1:0 --log-level warn",
		"DATABASE_URL="+url, "CTXMAP_SECRET="+testSecret)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("no output from server")
	}
	m := addrLine.FindStringSubmatch(sc.Text())
	if m == nil {
		t.Fatalf("unexpected line %q", sc.Text())
	}
	go io.Copy(io.Discard, stdout) //nolint:errcheck

	pr, pw := io.Pipe()
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", m[1]+"/api/v1/session", pr)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		res <- result{status: resp.StatusCode}
	}()
	fmt.Fprint(pw, `{"name":"nobody",`)
	time.Sleep(300 * time.Millisecond) // the request is now in flight
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // shutdown has begun while the body is incomplete
	fmt.Fprint(pw, `"password":"not the password"}`)
	pw.Close()
	r := <-res
	if r.err != nil || r.status != 401 {
		t.Fatalf("in-flight request: status %d err %v, want a complete 401 answer", r.status, r.err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("process exit: %v, want 0", err)
	}
}
