package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
)

var madeID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// The request id is always the server's own (16 hex digits), so nothing a
// client sends becomes an audit entry's id; a caller's id (within 64 plain
// bytes) is kept beside it in the access log. Error bodies quote the
// server's id.
func TestRequestIDs(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	for _, c := range []struct {
		name, given string
		keep        bool
	}{
		{"given", "req-from-proxy-1", true},
		{"64 bytes", strings.Repeat("a", 64), true},
		{"none", "", false},
		{"over 64 bytes", strings.Repeat("b", 65), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.given != "" {
				hdr = append(hdr, "X-Request-Id: "+c.given)
			}
			w := us.send("GET", "/api/v1/nope", "", hdr...)
			got := w.Header().Get("X-Request-Id")
			if !madeID.MatchString(got) || got == c.given {
				t.Fatalf("id %q, want the server's own 16 hex digits", got)
			}
			lines := logLines(t, us)
			if last := lines[len(lines)-1]; c.keep && last["client_request_id"] != c.given || !c.keep && last["client_request_id"] != "" {
				t.Fatalf("access log keeps client id %v for %q", last["client_request_id"], c.given)
			}
			if _, inBody := errorOf(t, w); inBody != got {
				t.Fatalf("error body quotes %q, header says %q", inBody, got)
			}
		})
	}
	a, b := us.send("GET", "/healthz", ""), us.send("GET", "/healthz", "")
	if a.Header().Get("X-Request-Id") == b.Header().Get("X-Request-Id") {
		t.Fatal("two requests were given the same id")
	}
	// Ids do not count requests: anyone, signed in or not, could otherwise
	// tell how many others the server handled between two of theirs.
	seen := map[string]bool{}
	var prev uint64
	near := 0
	for i := range 200 {
		id := us.send("GET", "/healthz", "").Header().Get("X-Request-Id")
		n, err := strconv.ParseUint(id, 16, 64)
		if err != nil || seen[id] {
			t.Fatalf("id %q: %v, seen before %v", id, err, seen[id])
		}
		seen[id] = true
		if d := n - prev; i > 0 && (d < 1<<20 || -d < 1<<20) {
			near++
		}
		prev = n
	}
	if near > 1 {
		t.Fatalf("%d of 200 consecutive ids are within 2^20 of the one before: they count", near)
	}
}

// logLines decodes the JSON access log lines ("msg":"http").
func logLines(t *testing.T, us *unitServer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(us.logs.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["msg"] == "http" {
			out = append(out, m)
		}
	}
	return out
}

// One access log line per request with route, status, size, id and user;
// a path that may hold a young person's id is logged as its route
// template, and the query string never.
func TestAccessLog(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	auth := "Authorization: Bearer " + analystToken
	ok := us.send("GET", "/api/v1/me?cachebust=W-77", "", auth, "X-Request-Id: id-me")
	// Analysts may not read a subject's records: refused before any store call.
	refused := us.send("GET", "/api/v1/subjects/W-42/harm-locations", "", auth, "X-Request-Id: id-subject")
	us.send("POST", "/no/such/W-43", "", "X-Request-Id: id-unmatched")
	// A GET of an unknown path reaches the static files' route, which logs
	// it as unmatched too.
	us.send("GET", "/no/such/W-44", "", "X-Request-Id: id-unmatched-get")
	if ok.Code != 200 || refused.Code != 403 {
		t.Fatalf("statuses %d, %d", ok.Code, refused.Code)
	}
	lines := logLines(t, us)
	if len(lines) != 4 {
		t.Fatalf("%d access log lines, want 4:\n%s", len(lines), us.logs)
	}
	want := []map[string]any{
		{"method": "GET", "route": "/api/v1/me", "path": "/api/v1/me", "status": 200.0, "client_request_id": "id-me", "user": analystName,
			"bytes": float64(ok.Body.Len())},
		{"method": "GET", "route": "/api/v1/subjects/{subject}/harm-locations", "path": "/api/v1/subjects/{subject}/harm-locations",
			"status": 403.0, "client_request_id": "id-subject", "user": analystName, "bytes": float64(refused.Body.Len())},
		{"method": "POST", "route": "unmatched", "path": "unmatched", "status": 404.0, "client_request_id": "id-unmatched", "user": ""},
		{"method": "GET", "route": "unmatched", "path": "unmatched", "status": 404.0, "client_request_id": "id-unmatched-get", "user": ""},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i+1, k, lines[i][k], v)
			}
		}
		if _, ok := lines[i]["ms"].(float64); !ok {
			t.Errorf("line %d has no duration", i+1)
		}
	}
	for _, id := range []string{"W-77", "W-42", "W-43"} {
		if strings.Contains(us.logs.String(), id) {
			t.Errorf("the log holds %s:\n%s", id, us.logs)
		}
	}
}

// Bodies over MaxBodyBytes are 413 with the JSON error shape; bodies
// within it reach the handler.
func TestBodyLimit(t *testing.T) {
	us := newUnitServer(t, Config{MaxBodyBytes: 64}, nil)
	small := `{"name":"ana","password":"wrong"}`
	big := `{"name":"ana","password":"` + strings.Repeat("x", 64) + `"}`
	if w := us.send("POST", "/api/v1/session", small); w.Code != http.StatusUnauthorized {
		t.Fatalf("a body within the limit: %d, want the handler's 401", w.Code)
	}
	w := us.send("POST", "/api/v1/session", big)
	if code, _ := errorOf(t, w); w.Code != http.StatusRequestEntityTooLarge || code != "body_too_large" {
		t.Fatalf("a body over the limit: %d %s", w.Code, code)
	}
}

// Cookie-authenticated writes need the session's CSRF token in the header;
// reads do not, and bearer-token writes do not.
func TestCSRFForSessionWrites(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	w := us.send("POST", "/api/v1/session", `{"name":"ana","password":"`+analystPassword+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	var signedIn sessionResponse
	if err := json.Unmarshal(w.Body.Bytes(), &signedIn); err != nil || signedIn.CSRFToken == "" {
		t.Fatalf("sign-in answer %s: %v", w.Body, err)
	}
	c := sessionCookieOf(t, w)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie %+v: want HttpOnly and SameSite=Strict", c)
	}
	cookie := "Cookie: " + sessionCookie + "=" + c.Value

	w = us.send("GET", "/api/v1/me", "", cookie)
	var me sessionResponse
	if err := json.Unmarshal(w.Body.Bytes(), &me); w.Code != 200 || err != nil || me.CSRFToken != signedIn.CSRFToken || me.User.Name != analystName {
		t.Fatalf("GET /api/v1/me by cookie: %d %s", w.Code, w.Body)
	}
	for _, hdr := range [][]string{{cookie}, {cookie, csrfHeader + ": wrong"}, {cookie, csrfHeader + ": " + signedIn.CSRFToken + "x"}} {
		w := us.send("DELETE", "/api/v1/session", "", hdr...)
		if code, _ := errorOf(t, w); w.Code != http.StatusForbidden || code != "csrf_failed" {
			t.Fatalf("DELETE with %v: %d %s, want 403 csrf_failed", hdr, w.Code, code)
		}
	}
	if len(us.users.sessions) != 1 {
		t.Fatal("a refused sign-out deleted the session")
	}
	if w := us.send("DELETE", "/api/v1/session", "", cookie, csrfHeader+": "+signedIn.CSRFToken); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE with the token: %d %s", w.Code, w.Body)
	}
	if len(us.users.sessions) != 0 {
		t.Fatal("sign-out kept the session")
	}
	if w := us.send("DELETE", "/api/v1/session", "", "Authorization: Bearer "+analystToken); w.Code != http.StatusNoContent {
		t.Fatalf("a bearer-token write without a CSRF header: %d %s", w.Code, w.Body)
	}
}

// Query strings and paths no route can use are refused before routing.
func TestURLChecks(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	for _, c := range []struct{ path, code string }{
		{"/api/v1/me?a=%zz", "invalid_query"},
		{"/api/v1/me?a=x%00y", "invalid_parameter"},
		{"/api/v1/me?a%00=x", "invalid_parameter"},
		{"/api/v1/me%00", "invalid_path"},
	} {
		w := us.send("GET", c.path, "", "Authorization: Bearer "+analystToken)
		if code, _ := errorOf(t, w); w.Code != http.StatusBadRequest || code != c.code {
			t.Errorf("%s: %d %s, want 400 %s", c.path, w.Code, code, c.code)
		}
	}
}

// panickingUsers is fakeUsers whose token look-up panics.
type panickingUsers struct{ *fakeUsers }

func (panickingUsers) TokenActor(context.Context, string) (*contexts.Actor, error) {
	panic("token store exploded")
}

// A panic in a handler is a logged 500 with the request id, never a
// dropped connection.
func TestPanicIsAnInternalError(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	us.users = newFakeUsers()
	us.Server.users = panickingUsers{us.users}
	w := us.send("GET", "/api/v1/me", "", "Authorization: Bearer "+analystToken, "X-Request-Id: id-panic")
	code, id := errorOf(t, w)
	if w.Code != http.StatusInternalServerError || code != "internal" || !madeID.MatchString(id) || id != w.Header().Get("X-Request-Id") {
		t.Fatalf("%d %s %s", w.Code, code, id)
	}
	if strings.Contains(w.Body.String(), "exploded") {
		t.Fatalf("the panic's text reached the client: %s", w.Body)
	}
	if !strings.Contains(us.logs.String(), "token store exploded") {
		t.Fatalf("the panic is not in the log:\n%s", us.logs)
	}
	if lines := logLines(t, us); len(lines) != 1 || lines[0]["status"] != 500.0 {
		t.Fatalf("access log %v", lines)
	}
}

// The request id reaches the stores through the request's context
// (contexts.RequestID, which every audit entry records), also through a
// context derived from it, and is the id the response names; an id stays
// what it was after later requests.
func TestRequestIDInContext(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	var ids []string
	h := us.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		ids = append(ids, contexts.RequestID(r.Context()), contexts.RequestID(ctx))
	}))
	var sent []string
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/anything", nil))
		sent = append(sent, w.Header().Get("X-Request-Id"))
	}
	if len(ids) != 6 {
		t.Fatalf("handler saw %d ids, want 6", len(ids))
	}
	for i, want := range sent {
		if !madeID.MatchString(want) || ids[2*i] != want || ids[2*i+1] != want {
			t.Fatalf("request %d: header %q, context %q, derived context %q", i, want, ids[2*i], ids[2*i+1])
		}
		if i > 0 && want == sent[i-1] {
			t.Fatalf("requests %d and %d share id %q", i-1, i, want)
		}
	}
	if contexts.RequestID(context.Background()) != "" {
		t.Fatal("a context without a request has an id")
	}
}

// A path a route takes with other methods is a 405 naming them, in the
// message and Allow, whichever method was tried (a GET of a POST route
// reaches the static files' catch-all first); a path no route takes is a
// 404 for every method.
func TestMethodNotAllowedNamesTheMethods(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", "/api/v1/me", 405, "GET, HEAD"},
		{"GET", "/api/v1/session", 405, "POST, DELETE"},
		{"HEAD", "/api/v1/session", 405, "POST, DELETE"},
		{"POST", "/no/such/route", 404, ""},
		{"GET", "/no/such/route", 404, ""},
		{"POST", "/api/v1/harm-locations/abc/archive", 404, ""},
	} {
		w := us.send(c.method, c.path, "")
		if w.Code != c.status || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", c.method, c.path, w.Code, w.Header().Get("Allow"), c.status, c.allow)
		}
		if c.status == 405 && c.method != "HEAD" && !strings.Contains(w.Body.String(), "it takes "+c.allow) {
			t.Errorf("%s %s: %s", c.method, c.path, w.Body.String())
		}
	}
}
