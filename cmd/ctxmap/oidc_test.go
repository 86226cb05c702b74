package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/web/oidctest"
)

// Single sign-on end to end (issue 15): a real OpenID provider (zitadel's,
// web/oidctest) on loopback and a whole ctxmap server configured for it.

const (
	ssoClientID = "ctxmap-test"
	ssoSecret   = "test-client-secret"
	ssoPassword = "provider-password"
)

// ssoUsers are the provider's people: their groups map to roles through
// --oidc-role-map below.
var ssoUsers = []oidctest.User{
	{ID: "sub-jo", Username: "jo.bloggs", Password: ssoPassword, Email: "jo@example.org", Groups: []string{"grp-other", "grp-practitioners"}, Team: "Hackney North"},
	{ID: "sub-ana", Username: "ana.lyst", Password: ssoPassword, Email: "ana@example.org", Groups: []string{"grp-practitioners", "grp-admins"}, Team: "Hackney South"},
	{ID: "sub-nogroup", Username: "no.group", Password: ssoPassword, Email: "ng@example.org", Groups: []string{"grp-other"}, Team: "Hackney North"},
	{ID: "sub-noteam", Username: "no.team", Password: ssoPassword, Email: "nt@example.org", Groups: []string{"grp-practitioners"}},
	{ID: "sub-clash", Username: "test-admin", Password: ssoPassword, Email: "clash@example.org", Groups: []string{"grp-practitioners"}, Team: "Hackney North"},
}

// startProvider serves the test provider on a free loopback port until the
// test ends and returns its issuer URL.
func startProvider(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String() + "/"
	h, err := oidctest.New(issuer, oidctest.Config{ClientID: ssoClientID, ClientSecret: ssoSecret,
		RedirectGlobs: []string{"http://127.0.0.1:*/api/v1/auth/oidc/callback"}, PostLogoutGlobs: []string{"http://127.0.0.1:*/"},
		Users: ssoUsers, TeamClaim: "department"})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	return issuer
}

// freeAddr is a loopback address nothing listens on: the server's callback
// URL must be known before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startSSOServer is startServer with single sign-on through a fresh
// provider, plus extra flags.
func startSSOServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	issuer := startProvider(t)
	addr := freeAddr(t)
	args := append([]string{"--listen", addr, "--oidc-issuer", issuer, "--oidc-client-id", ssoClientID, "--oidc-client-secret", ssoSecret,
		"--oidc-redirect-url", "http://" + addr + "/api/v1/auth/oidc/callback", "--oidc-name", "Test Provider",
		"--oidc-role-claim", "groups", "--oidc-role-map", "grp-admins=admin,grp-practitioners=practitioner",
		"--oidc-team-claim", "department"}, extra...)
	return startServer(t, args...)
}

// browser is a cookie-keeping client that stops at ctxmap's callback, so
// a test can look at (or tamper with) the provider's redirect first.
type browser struct {
	t   *testing.T
	ts  *testServer
	jar *cookiejar.Jar
	c   *http.Client
}

func newBrowser(t *testing.T, ts *testServer) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, ts: ts, jar: jar}
	b.c = &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/api/v1/auth/oidc/callback" || via[len(via)-1].URL.Path == "/api/v1/auth/oidc/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

// signInAtProvider starts a sign-in at ctxmap, fills in the provider's
// login form as user and returns the provider's redirect to ctxmap's
// callback, not yet followed.
func (b *browser) signInAtProvider(user string) *url.URL {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.ts.URL+"/api/v1/auth/oidc/login?return_to=/admin.html", nil)
	resp, page := b.do(req)
	id := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != 200 || id == "" || !strings.Contains(page, `name="password"`) {
		b.t.Fatalf("the provider's login page: %d %s %.200s", resp.StatusCode, resp.Request.URL, page)
	}
	login := *resp.Request.URL
	login.RawQuery = ""
	form := url.Values{"id": {id}, "username": {user}, "password": {ssoPassword}}
	req, _ = http.NewRequest("POST", login.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, page = b.do(req)
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || loc.Path != "/api/v1/auth/oidc/callback" {
		b.t.Fatalf("after the provider's login: %d %v %.300s", resp.StatusCode, err, page)
	}
	return loc
}

// callback follows the provider's redirect to ctxmap.
func (b *browser) callback(u *url.URL) (*http.Response, map[string]any) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", u.String(), nil)
	resp, raw := b.do(req)
	var out map[string]any
	_ = json.Unmarshal([]byte(raw), &out)
	return resp, out
}

// me is GET /api/v1/me with the browser's cookies.
func (b *browser) me() (int, map[string]any) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.ts.URL+"/api/v1/me", nil)
	resp, raw := b.do(req)
	var out map[string]any
	_ = json.Unmarshal([]byte(raw), &out)
	return resp.StatusCode, out
}

func (b *browser) signIn(user string) map[string]any {
	b.t.Helper()
	resp, body := b.callback(b.signInAtProvider(user))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/admin.html" {
		b.t.Fatalf("callback for %s: %d %v", user, resp.StatusCode, body)
	}
	status, me := b.me()
	if status != 200 {
		b.t.Fatalf("me after signing in as %s: %d %v", user, status, me)
	}
	u, _ := me["user"].(map[string]any)
	return u
}

func auditCount(t *testing.T, ts *testServer, action, via string) int {
	t.Helper()
	var n int
	if err := ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = $1 AND detail->>'via' = $2`, action, via).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSSOSignsInWithMappedRoleAndTeam: a first sign-in through the provider
// makes the account (audited) with the role its groups map to and the team
// its claim names, and lands where it started; a second finds the same
// account; a person in two mapped groups gets the first in the map's order;
// sign-out ends the session here and sends the browser to the provider's
// end_session_endpoint, which sends it back to ctxmap.
func TestSSOSignsInWithMappedRoleAndTeam(t *testing.T) {
	ts := startSSOServer(t)
	status, methods := webCall(t, ts, "GET", "/api/v1/auth/methods")
	if oidc, _ := methods["oidc"].(map[string]any); status != 200 || methods["password"] != true || oidc["name"] != "Test Provider" || oidc["login_url"] != "/api/v1/auth/oidc/login" {
		t.Fatalf("methods: %d %v", status, methods)
	}
	b := newBrowser(t, ts)
	u := b.signIn("jo.bloggs")
	if u["name"] != "jo.bloggs" || u["role"] != "practitioner" || u["team"] != "Hackney North" {
		t.Fatalf("signed in as %v", u)
	}
	if n := auditCount(t, ts, "user.add", "oidc"); n != 1 {
		t.Fatalf("%d user.add entries via oidc, want 1", n)
	}
	again := newBrowser(t, ts).signIn("jo.bloggs")
	if again["id"] != u["id"] || auditCount(t, ts, "user.add", "oidc") != 1 || auditCount(t, ts, "login", "oidc") != 2 {
		t.Fatalf("second sign-in: %v (first %v)", again, u)
	}
	if a := newBrowser(t, ts).signIn("ana.lyst"); a["role"] != "admin" || a["team"] != "Hackney South" {
		t.Fatalf("two mapped groups: %v, want the first in the map's order (admin)", a)
	}
	// The users screen tells single sign-on accounts apart.
	_, list := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/users", "")
	users, _ := list["users"].([]any)
	sso := map[string]bool{}
	for _, x := range users {
		m, _ := x.(map[string]any)
		sso[m["name"].(string)] = m["sso"] == true && m["has_password"] == false
	}
	if !sso["jo.bloggs"] || !sso["ana.lyst"] || sso["test-admin"] {
		t.Fatalf("users list: %v", sso)
	}

	_, me := b.me()
	csrf, _ := me["csrf_token"].(string)
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/auth/oidc/logout", nil)
	req.Header.Set("X-CSRF-Token", csrf)
	resp, raw := b.do(req)
	var out struct {
		Redirect string `json:"redirect"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(raw), &out) != nil {
		t.Fatalf("logout: %d %s", resp.StatusCode, raw)
	}
	end, err := url.Parse(out.Redirect)
	if err != nil || end.Query().Get("id_token_hint") == "" || end.Query().Get("post_logout_redirect_uri") != ts.URL+"/" {
		t.Fatalf("logout redirect %q", out.Redirect)
	}
	if status, _ := b.me(); status != 401 {
		t.Fatalf("me after sign-out: %d, want 401", status)
	}
	// The provider ends its session and sends the browser back here.
	req, _ = http.NewRequest("GET", out.Redirect, nil)
	resp, _ = b.do(req)
	if resp.StatusCode != 200 || resp.Request.URL.String() != ts.URL+"/" {
		t.Fatalf("after the provider's sign-out: %d at %s", resp.StatusCode, resp.Request.URL)
	}
}

func webCall(t *testing.T, ts *testServer, method, path string) (int, map[string]any) {
	t.Helper()
	return ts.do(t, "", method, path, "")
}

// TestSSOCallbackRefusals: every check of the callback, against the real
// provider: a state that is not this browser's (400), a replayed callback
// (400, the state works once), a replayed code under a fresh state (the
// provider refuses it: 401), the provider's own refusal (401), a wrong
// PKCE verifier (401), a wrong nonce
// (401), no mapped role or no team (403, saying what to ask for), a name a
// password account already has (409), a disabled account (403). None of
// them makes an account or a session.
func TestSSOCallbackRefusals(t *testing.T) {
	ts := startSSOServer(t)
	ctx := context.Background()
	expect := func(name string, resp *http.Response, body map[string]any, status int, code string) {
		t.Helper()
		if resp.StatusCode != status || errCode(body) != code {
			t.Fatalf("%s: %d %v, want %d %s", name, resp.StatusCode, body, status, code)
		}
	}

	b := newBrowser(t, ts)
	cb := b.signInAtProvider("jo.bloggs")
	wrong := *cb
	q := wrong.Query()
	q.Set("state", "not-the-state")
	wrong.RawQuery = q.Encode()
	resp, body := b.callback(&wrong)
	expect("wrong state", resp, body, 400, "oidc_state_mismatch")

	b = newBrowser(t, ts)
	cb = b.signInAtProvider("jo.bloggs")
	resp, body = newBrowser(t, ts).callback(cb)
	expect("another browser's callback", resp, body, 400, "oidc_state_mismatch")

	b = newBrowser(t, ts)
	cb = b.signInAtProvider("jo.bloggs")
	state := cb.Query().Get("state")
	if resp, body := b.callback(cb); resp.StatusCode != 302 {
		t.Fatalf("first use: %d %v", resp.StatusCode, body)
	}
	b.jar.SetCookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(ts.URL, "http://"), Path: "/api/v1/auth/oidc/"},
		[]*http.Cookie{{Name: "ctxmap_oidc", Value: state, Path: "/api/v1/auth/oidc/"}})
	resp, body = b.callback(cb)
	expect("replayed callback", resp, body, 400, "oidc_state_unknown")

	// The code of a finished sign-in, sent back under a new sign-in's state.
	b2 := newBrowser(t, ts)
	fresh := b2.signInAtProvider("jo.bloggs")
	replay := *fresh
	q = replay.Query()
	q.Set("code", cb.Query().Get("code"))
	replay.RawQuery = q.Encode()
	resp, body = b2.callback(&replay)
	expect("replayed code", resp, body, 401, "oidc_code_refused")

	// The provider refuses (the person cancelled): 401, and the state is spent.
	b = newBrowser(t, ts)
	cb = b.signInAtProvider("jo.bloggs")
	refused := *cb
	q = url.Values{"state": {cb.Query().Get("state")}, "error": {"access_denied"}, "error_description": {"the user cancelled"}}
	refused.RawQuery = q.Encode()
	resp, body = b.callback(&refused)
	expect("the provider's refusal", resp, body, 401, "oidc_refused")

	tamper := func(column, value string) (*http.Response, map[string]any) {
		t.Helper()
		b := newBrowser(t, ts)
		cb := b.signInAtProvider("jo.bloggs")
		if _, err := ts.Pool.Exec(ctx, `UPDATE oidc_logins SET `+column+` = $1`, value); err != nil {
			t.Fatal(err)
		}
		return b.callback(cb)
	}
	resp, body = tamper("verifier", strings.Repeat("v", 64))
	expect("wrong PKCE verifier", resp, body, 401, "oidc_code_refused")
	resp, body = tamper("nonce", "another-nonce")
	expect("wrong nonce", resp, body, 401, "oidc_nonce_mismatch")

	b = newBrowser(t, ts)
	resp, body = b.callback(b.signInAtProvider("no.group"))
	expect("no mapped group", resp, body, 403, "oidc_no_role")
	if msg, _ := body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "no ctxmap role") || !strings.Contains(msg, `"groups"`) {
		t.Fatalf("no role message: %q", msg)
	}
	// A person (Accept: text/html) gets the same refusal as a page.
	b = newBrowser(t, ts)
	req, _ := http.NewRequest("GET", b.signInAtProvider("no.group").String(), nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, page := b.do(req)
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page, "gives you no ctxmap role") || !strings.Contains(page, `href="/"`) {
		t.Fatalf("no role, as a page: %d %s %.400s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	b = newBrowser(t, ts)
	resp, body = b.callback(b.signInAtProvider("no.team"))
	expect("no team", resp, body, 403, "oidc_no_team")
	b = newBrowser(t, ts)
	resp, body = b.callback(b.signInAtProvider("test-admin"))
	expect("a password account's name", resp, body, 409, "user_exists")

	var n int
	if err := ts.Pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE oidc_subject IS NOT NULL`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d single sign-on accounts after the refusals, want 1 (jo.bloggs): %v", n, err)
	}
	if err := postgres.NewUsers(ts.Pool).Disable(ctx, nil, "jo.bloggs"); err != nil {
		t.Fatal(err)
	}
	b = newBrowser(t, ts)
	resp, body = b.callback(b.signInAtProvider("jo.bloggs"))
	expect("disabled account", resp, body, 403, "account_disabled")
	if status, _ := b.me(); status != 401 {
		t.Fatalf("a refused sign-in left a session: %d", status)
	}
}

// TestPasswordLoginOff: with --local-login off the password route refuses
// with 403 and says what to use; API tokens keep working; the sign-in page
// is told to offer single sign-on only.
func TestPasswordLoginOff(t *testing.T) {
	ts := startSSOServer(t, "--local-login", "off")
	status, body := ts.do(t, "", "POST", "/api/v1/session", `{"name":"test-admin","password":"correct horse battery"}`)
	if status != 403 || errCode(body) != "password_login_off" {
		t.Fatalf("password sign-in: %d %v", status, body)
	}
	if status, body := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/me", ""); status != 200 {
		t.Fatalf("bearer token: %d %v", status, body)
	}
	if status, m := webCall(t, ts, "GET", "/api/v1/auth/methods"); status != 200 || m["password"] != false || m["oidc"] == nil {
		t.Fatalf("methods: %d %v", status, m)
	}
	if u := newBrowser(t, ts).signIn("jo.bloggs"); u["role"] != "practitioner" {
		t.Fatalf("single sign-on with passwords off: %v", u)
	}
}

// TestSSOFlagsAreCheckedAtStart: a configuration that would fail at the
// first sign-in fails at start instead.
func TestSSOFlagsAreCheckedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"passwords off, no provider", []string{"--local-login", "off"}, "needs single sign-on"},
		{"bad local-login", []string{"--local-login", "maybe"}, "on or off"},
		{"no client id", []string{"--oidc-issuer", "https://login.example.org/t/v2.0", "--oidc-redirect-url", "https://ctxmap.example.org/api/v1/auth/oidc/callback", "--oidc-team-claim", "department"}, "--oidc-client-id"},
		{"bad role map", []string{"--oidc-issuer", "https://login.example.org/t/v2.0", "--oidc-client-id", "x", "--oidc-redirect-url", "https://ctxmap.example.org/api/v1/auth/oidc/callback", "--oidc-team-claim", "department", "--oidc-role-map", "grp=superuser"}, "superuser"},
		{"no team claim", []string{"--oidc-issuer", "https://login.example.org/t/v2.0", "--oidc-client-id", "x", "--oidc-redirect-url", "https://ctxmap.example.org/api/v1/auth/oidc/callback"}, "--oidc-team-claim"},
		{"relative redirect", []string{"--oidc-issuer", "https://login.example.org/t/v2.0", "--oidc-client-id", "x", "--oidc-redirect-url", "/api/v1/auth/oidc/callback", "--oidc-team-claim", "department"}, "--oidc-redirect-url"},
		{"settings without issuer", []string{"--oidc-client-id", "x"}, "--oidc-issuer"},
	} {
		err := Run(context.Background(), append([]string{"serve", "--database-url", "postgres://127.0.0.1:1/none", "--secret", testSecret}, tc.args...), nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

// TestSSOSignInsInFlightAreCappedPerAddress: one address cannot fill the
// table of sign-ins in progress by starting sign-ins it never finishes.
func TestSSOSignInsInFlightAreCappedPerAddress(t *testing.T) {
	ts := startSSOServer(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := func() (int, string) {
		resp, err := c.Get(ts.URL + "/api/v1/auth/oidc/login")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, errCode(body)
	}
	for i := range contexts.SSOPendingPerAddr {
		if status, _ := start(); status != http.StatusFound {
			t.Fatalf("sign-in %d: %d", i+1, status)
		}
	}
	if status, code := start(); status != http.StatusTooManyRequests || code != "too_many_sign_ins" {
		t.Fatalf("one more: %d %s, want 429 too_many_sign_ins", status, code)
	}
	var n int
	if err := ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM oidc_logins`).Scan(&n); err != nil || n != contexts.SSOPendingPerAddr {
		t.Fatalf("%d sign-ins kept: %v", n, err)
	}
}
