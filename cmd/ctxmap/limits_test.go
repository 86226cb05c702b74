package main

// Issue 11, findings 5, 7 and 8 through the whole server: the shared login
// limiter, idempotency keys and the trusted proxy, served as the runtime
// role so the new tables' grants are exercised too.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

func TestLimitsThroughTheWholeServer(t *testing.T) {
	owner, url := pgtest.NewWithURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log lockedBuffer
	base, done := startServe(t, ctx, pgtest.WithUser(t, url, "ctxmap_app"), &log, "--log-level", "warn",
		"--trusted-proxy", "127.0.0.1, ::1/128")
	if base == "" {
		t.Fatalf("server did not start: %v\n%s", <-done, log.b.String())
	}
	ts := &testServer{URL: base, Pool: owner, DBURL: url, tokens: map[contexts.Role]string{}}
	_, tok, err := postgres.NewUsers(owner).AddUser(ctx, nil, "limits-practitioner", contexts.RolePractitioner, "team", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	ts.tokens[contexts.RolePractitioner] = tok

	// The test client connects from 127.0.0.1, a trusted proxy here.
	login := func(password string, header ...string) *http.Response {
		resp, _ := ts.raw(t, "", "POST", "/api/v1/session", "application/json",
			fmt.Sprintf(`{"name":"limits-practitioner","password":%q}`, password), header...)
		return resp
	}
	secure := func(resp *http.Response) bool {
		for _, c := range resp.Cookies() {
			if c.Name == "ctxmap_session" {
				return c.Secure
			}
		}
		t.Fatalf("no session cookie: %d", resp.StatusCode)
		return false
	}
	if !secure(login("correct horse battery", "X-Forwarded-Proto", "https")) {
		t.Error("behind the trusted TLS proxy the session cookie is not Secure")
	}
	if secure(login("correct horse battery")) {
		t.Error("over plain HTTP the session cookie is Secure")
	}
	if r := login("wrong password", "X-Forwarded-For", "198.51.100.7"); r.StatusCode != 401 {
		t.Fatalf("a wrong password: %d", r.StatusCode)
	}
	var addr string
	if err := owner.QueryRow(ctx, `SELECT addr FROM login_failures WHERE name = 'limits-practitioner'`).Scan(&addr); err != nil || addr != "198.51.100.7" {
		t.Fatalf("the failure is counted in PostgreSQL for %q (%v), want the client behind the proxy", addr, err)
	}

	body := `{"subject":"LIMITS-1","categories":["cse"],"familial":"extra","layer":"harm","occurred":"` + recentMonth() +
		`","source":"referral","lat":51.545,"lon":-0.055,"location_type":"park"}`
	var ids []float64
	for i := range 2 {
		resp, out := ts.raw(t, contexts.RolePractitioner, "POST", "/api/v1/harm-locations", "application/json", body, "Idempotency-Key", "limits-1")
		var v map[string]any
		_ = json.Unmarshal([]byte(out), &v)
		if resp.StatusCode != 201 || (i == 1) != (resp.Header.Get("Idempotent-Replayed") == "true") {
			t.Fatalf("attempt %d: %d %s (replayed %q)", i+1, resp.StatusCode, out, resp.Header.Get("Idempotent-Replayed"))
		}
		id, _ := v["id"].(float64)
		ids = append(ids, id)
	}
	var n int
	if err := owner.QueryRow(ctx, `SELECT count(*) FROM harm_locations`).Scan(&n); err != nil || n != 1 || ids[0] != ids[1] {
		t.Fatalf("ids %v, %d rows (%v), want one record", ids, n, err)
	}
	if c := log.count("internal error"); c != 0 {
		t.Fatalf("%d internal errors:\n%s", c, log.b.String())
	}
}

// A trusted proxy list that does not parse stops serve with the reason,
// rather than trusting nobody (or everybody) by accident.
func TestTrustedProxyFlagIsStrict(t *testing.T) {
	for _, v := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1/8/2"} {
		err := Run(context.Background(), []string{"serve", "--trusted-proxy", v}, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "CTXMAP_TRUSTED_PROXIES") {
			t.Errorf("--trusted-proxy %q: %v", v, err)
		}
	}
	c := &Config{trustedProxiesText: "10.0.0.7/8,192.0.2.1 ::ffff:203.0.113.0/120, 2001:db8::/32"}
	if err := c.parseTrustedProxies(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.TrustedProxies); got != "[10.0.0.0/8 192.0.2.1/32 203.0.113.0/24 2001:db8::/32]" {
		t.Fatalf("parsed %s", got)
	}
}
