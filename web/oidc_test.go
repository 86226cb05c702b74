package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLocalPathKeepsReturnToOnThisSite: a return_to that could send a
// freshly signed-in browser to another host becomes "/".
func TestLocalPathKeepsReturnToOnThisSite(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "/",
		"/":                        "/",
		"/reports.html":            "/reports.html",
		"/#z=12/51.5/-0.05":        "/#z=12/51.5/-0.05",
		"/admin.html?tab=users":    "/admin.html?tab=users",
		"//evil.example/":          "/",
		"/\\evil.example":          "/",
		"https://evil.example/":    "/",
		"evil.example":             "/",
		"javascript:alert(1)":      "/",
		"/ok\r\nSet-Cookie: x=1":   "/",
		"/%2F%2Fevil.example":      "/%2F%2Fevil.example",
		"\t/reports.html":          "/",
		"/\t/evil.example":         "/",
		"/\n/evil.example":         "/",
		"/reports.html\\..\\admin": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSignInMethodsFollowTheConfig: the sign-in page learns from the server
// which methods to offer; without a provider the single sign-on routes say
// so (404), and with passwords off the password route refuses with 403
// before it reads anything.
func TestSignInMethodsFollowTheConfig(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	w := us.send("GET", "/api/v1/auth/methods", "")
	if w.Code != 200 || w.Body.String() != `{"password":true,"oidc":null}`+"\n" {
		t.Fatalf("no provider: %d %s", w.Code, w.Body.String())
	}
	for _, path := range []string{"/api/v1/auth/oidc/login", "/api/v1/auth/oidc/callback?state=x&code=y"} {
		if w := us.send("GET", path, ""); w.Code != http.StatusNotFound {
			t.Fatalf("%s without a provider: %d", path, w.Code)
		} else if code, _ := errorOf(t, w); code != "oidc_off" {
			t.Fatalf("%s: %s", path, code)
		}
	}

	off := newUnitServer(t, Config{PasswordLoginOff: true, OIDC: OIDCConfig{Issuer: "http://127.0.0.1:1/", ClientID: "c", Name: "Hackney Council",
		RedirectURL: "https://ctxmap.example/api/v1/auth/oidc/callback"}}, nil)
	w = off.send("GET", "/api/v1/auth/methods", "")
	if w.Code != 200 || w.Body.String() != `{"password":false,"oidc":{"name":"Hackney Council","login_url":"/api/v1/auth/oidc/login"}}`+"\n" {
		t.Fatalf("provider, passwords off: %d %s", w.Code, w.Body.String())
	}
	if w := off.send("POST", "/api/v1/session", `{"name":"`+analystName+`","password":"`+analystPassword+`"}`); w.Code != http.StatusForbidden {
		t.Fatalf("password sign-in with passwords off: %d", w.Code)
	} else if code, _ := errorOf(t, w); code != "password_login_off" {
		t.Fatalf("password sign-in with passwords off: %s", code)
	}
	// The store is not wired (Deps.SSO nil): 503, never a half-made sign-in.
	if w := off.send("GET", "/api/v1/auth/oidc/login", ""); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("no store: %d", w.Code)
	}
}

// TestEndSessionURL: RP-initiated logout names the ID token, the client and
// where to come back to (the site's root unless configured).
func TestEndSessionURL(t *testing.T) {
	c := newOIDCClient(OIDCConfig{ClientID: "ctxmap", RedirectURL: "https://ctxmap.example/api/v1/auth/oidc/callback"})
	if got := c.endSessionURL("tok"); got != "" {
		t.Fatalf("no end_session_endpoint known: %q", got)
	}
	c.endSession = "https://login.example/t/oauth2/v2.0/logout?x=1"
	u, err := url.Parse(c.endSessionURL("tok"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "login.example" || q.Get("x") != "1" || q.Get("id_token_hint") != "tok" || q.Get("client_id") != "ctxmap" ||
		q.Get("post_logout_redirect_uri") != "https://ctxmap.example/" {
		t.Fatalf("end session URL %s", u)
	}
	c.cfg.PostLogoutURL = "https://ctxmap.example/signed-out"
	if u, _ := url.Parse(c.endSessionURL("tok")); u.Query().Get("post_logout_redirect_uri") != "https://ctxmap.example/signed-out" {
		t.Fatalf("configured post-logout URL: %s", u)
	}
}

// FuzzLocalPath: whatever return_to a browser brings, the callback's
// Location stays on this site.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/reports.html", "//evil.example", "/\t/evil", "https://x", "/a?b=c#d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := localPath(in)
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") ||
			strings.IndexFunc(got, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) >= 0 {
			t.Fatalf("localPath(%q) = %q leaves the site", in, got)
		}
	})
}
