package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/mux"
	"golang.org/x/oauth2"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// Single sign-on with OpenID Connect (issue 15): the authorization code flow
// with PKCE, a state and a nonce. The state is in a short-lived cookie of
// this browser and, hashed, in PostgreSQL with the PKCE verifier and the
// nonce (SSOUsers.BeginSSO), so any replica can finish a sign-in, each state
// works once, and a callback that did not start in this browser is refused.
// The signed-in person gets an ordinary session (the same cookie, CSRF token
// and table as a password sign-in), so nothing after the callback knows how
// they signed in.

// OIDCConfig configures single sign-on; an empty Issuer switches it off.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this deployment's callback as registered with the
	// provider: https://<host>/api/v1/auth/oidc/callback.
	RedirectURL string
	// Name is the provider as the sign-in page shows it: "Sign in with Name".
	Name string
	// Scopes asked for besides openid; nil: profile and email.
	Scopes []string
	// Mapping turns the ID token's claims into a role and a team.
	Mapping contexts.SSOMapping
	// PostLogoutURL is where the provider sends the browser after its own
	// sign-out; empty: the site's root, from RedirectURL.
	PostLogoutURL string
	// HTTPClient talks to the provider; nil: one with a 10 s timeout.
	HTTPClient *http.Client
}

// Enabled reports whether single sign-on is configured.
func (c OIDCConfig) Enabled() bool { return c.Issuer != "" }

const (
	oidcCookie   = "ctxmap_oidc"
	oidcBasePath = apiPrefix + "/auth/oidc"
	// oidcLoginPath is where the sign-in page's button goes.
	oidcLoginPath = oidcBasePath + "/login"
)

var (
	errOIDCOff         = ctxmap.Errorf(ctxmap.KindNotFound, "oidc_off", "single sign-on is not configured on this server: sign in with a password")
	errOIDCNoStore     = ctxmap.Errorf(ctxmap.KindUnavailable, "oidc_unavailable", "single sign-on is not available on this server now; try again later")
	errOIDCUnreachable = ctxmap.Errorf(ctxmap.KindUnavailable, "oidc_provider_unreachable",
		"your organisation's sign-in service could not be reached: try again in a minute")
	errOIDCStateMismatch = ctxmap.Errorf(ctxmap.KindInvalid, "oidc_state_mismatch",
		"this sign-in did not start in this browser, or took too long: start again from the sign-in page")
	errOIDCCodeRefused = ctxmap.Errorf(ctxmap.KindUnauthorized, "oidc_code_refused",
		"your organisation's sign-in service did not accept this sign-in (it may have been used already or have expired): start again from the sign-in page")
	errOIDCTokenInvalid = ctxmap.Errorf(ctxmap.KindUnauthorized, "oidc_token_invalid",
		"the answer of your organisation's sign-in service could not be verified: start again from the sign-in page")
	errPasswordLoginOff = ctxmap.Errorf(ctxmap.KindForbidden, "password_login_off",
		"signing in with a password is switched off on this server: use your organisation's sign-in (single sign-on); API tokens still work")
)

// oidcClient is the relying party: the provider's endpoints are discovered
// on the first sign-in and kept, so a server starts while its provider is
// unreachable and its sign-ins work once it answers.
type oidcClient struct {
	cfg  OIDCConfig
	http *http.Client

	mu         sync.Mutex
	oauth      *oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
}

func newOIDCClient(cfg OIDCConfig) *oidcClient {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &oidcClient{cfg: cfg, http: hc}
}

// ctx carries the client's HTTP client to go-oidc and oauth2.
func (c *oidcClient) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, c.http) }

// discover reads the provider's discovery document once.
func (c *oidcClient) discover(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.oauth != nil {
		return c.oauth, c.verifier, nil
	}
	dctx, cancel := context.WithTimeout(c.ctx(ctx), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, c.cfg.Issuer)
	if err != nil {
		return nil, nil, err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, nil, err
	}
	scopes := c.cfg.Scopes
	if scopes == nil {
		scopes = []string{"profile", "email"}
	}
	c.oauth = &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, RedirectURL: c.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, scopes...)}
	c.verifier = p.Verifier(&oidc.Config{ClientID: c.cfg.ClientID})
	c.endSession = meta.EndSession
	return c.oauth, c.verifier, nil
}

// endSessionURL is the provider's sign-out for a session made with idToken,
// bringing the browser back to this site; empty when the provider
// advertises no end_session_endpoint or nothing is known of it yet.
func (c *oidcClient) endSessionURL(idToken string) string {
	c.mu.Lock()
	end := c.endSession
	c.mu.Unlock()
	if end == "" {
		return ""
	}
	u, err := url.Parse(end)
	if err != nil {
		return ""
	}
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("client_id", c.cfg.ClientID)
	back := c.cfg.PostLogoutURL
	if back == "" {
		if r, err := url.Parse(c.cfg.RedirectURL); err == nil {
			back = (&url.URL{Scheme: r.Scheme, Host: r.Host, Path: "/"}).String()
		}
	}
	if back != "" {
		q.Set("post_logout_redirect_uri", back)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// oidcRoutes registers the sign-in methods and single sign-on's routes.
func (s *Server) oidcRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/auth/methods", Summary: "How people sign in here: with a password, with the organisation's provider (single sign-on), or both",
		Tag: "auth", Public: true, Response: signInMethods{}}, s.signInMethods)
	s.route(api, Op{Method: "GET", Path: "/auth/oidc/login", Summary: "Start a single sign-on: redirects to the provider with a state, a nonce and a PKCE challenge",
		Tag: "auth", Public: true, Status: http.StatusFound, Params: []Param{Q("return_to", "a path of this site to land on after signing in (default /)")},
		Errors: []int{404, 429}}, s.oidcLogin)
	s.route(api, Op{Method: "GET", Path: "/auth/oidc/callback", Summary: "The provider's redirect back: checks the state against this browser's cookie, exchanges the code with the PKCE verifier, verifies the ID token and its nonce, maps role and team, makes the account on a first sign-in, sets the session cookie and redirects",
		Tag: "auth", Public: true, Status: http.StatusFound,
		Params: []Param{Q("code", "the authorization code"), RQ("state", "the state the sign-in began with"), Q("error", "the provider's refusal, if any"), Q("error_description", "its explanation")},
		Errors: []int{401, 403, 404, 409}, HTMLErrors: true}, s.oidcCallbackPage)
	s.route(api, Op{Method: "POST", Path: "/auth/oidc/logout", Summary: "Sign out, and get the provider's sign-out address (RP-initiated logout) to send the browser to when it advertises one",
		Tag: "auth", Response: oidcLogout{}}, s.oidcLogout)
}

// signInMethods is what the sign-in page offers.
type signInMethods struct {
	// Password: the name and password form works.
	Password bool `json:"password"`
	// OIDC is the organisation's provider, when single sign-on is on.
	OIDC *oidcMethod `json:"oidc"`
}

// oidcMethod is the "Sign in with <Name>" button: it links to LoginURL.
type oidcMethod struct {
	Name     string `json:"name"`
	LoginURL string `json:"login_url"`
}

// signInMethods handles GET /api/v1/auth/methods.
func (s *Server) signInMethods(w http.ResponseWriter, r *http.Request) error {
	m := signInMethods{Password: !s.cfg.PasswordLoginOff}
	if s.oidc != nil {
		m.OIDC = &oidcMethod{Name: s.cfg.OIDC.Name, LoginURL: oidcLoginPath}
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

// localPath is p when it is a path of this site, else "/": a return_to
// must never send a signed-in browser to another host. Browsers drop tabs
// and line breaks from a Location and read a backslash as a slash, so
// "/\t/evil" would be "//evil" to them: any control character or backslash
// is refused.
func localPath(p string) string {
	bad := strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) >= 0
	if bad || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

// redirect answers 302 to loc with no body.
func redirect(w http.ResponseWriter, loc string) {
	w.Header().Set("Location", loc)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

func (s *Server) oidcReady() error {
	if s.oidc == nil {
		return errOIDCOff
	}
	if s.sso == nil {
		return errOIDCNoStore
	}
	return nil
}

// oidcLogin handles GET /api/v1/auth/oidc/login.
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) error {
	if err := s.oidcReady(); err != nil {
		return err
	}
	oc, _, err := s.oidc.discover(r.Context())
	if err != nil {
		s.log.WarnContext(r.Context(), "oidc discovery", "err", err, "issuer", s.cfg.OIDC.Issuer, "request_id", requestID(r.Context()))
		return errOIDCUnreachable
	}
	l := contexts.SSOLogin{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		ReturnTo: localPath(r.URL.Query().Get("return_to")), Addr: s.clientIP(r), Expires: s.now().Add(contexts.SSOLoginTTL)}
	if err := s.sso.BeginSSO(r.Context(), l); err != nil {
		return err
	}
	// Lax, not Strict: the provider's redirect back is a cross-site
	// navigation, on which a Strict cookie is not sent. The path keeps it
	// off every other request.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: l.State, Path: oidcBasePath + "/", MaxAge: int(contexts.SSOLoginTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r)})
	redirect(w, oc.AuthCodeURL(l.State, oidc.Nonce(l.Nonce), oauth2.S256ChallengeOption(l.Verifier)))
	return nil
}

// oidcCallbackPage handles GET /api/v1/auth/oidc/callback: oidcCallback,
// with a refusal shown to a browser as a page that says what to do and
// links back to the sign-in page (a person lands here from the provider,
// and a JSON body would be all they saw). Clients that do not ask for HTML
// get the usual JSON error.
func (s *Server) oidcCallbackPage(w http.ResponseWriter, r *http.Request) error {
	err := s.oidcCallback(w, r)
	if err == nil || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return err
	}
	e, status := s.userError(w, r, err)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	return errorPage.Execute(w, map[string]string{"Message": sentence(e.Message), "Code": e.Code, "RequestID": requestID(r.Context())})
}

// sentence is an error message as a sentence on a page: a capital first
// letter and a full stop.
func sentence(m string) string {
	if m == "" {
		return m
	}
	r, n := utf8.DecodeRuneInString(m)
	m = string(unicode.ToUpper(r)) + m[n:]
	if !strings.HasSuffix(m, ".") {
		m += "."
	}
	return m
}

// errorPage is the single sign-on refusal a person sees.
var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ctxmap: sign-in refused</title><link rel="stylesheet" href="/css/app.css"></head>
<body><main class="login-view"><div class="card login-card" role="alert" id="sign-in-refused">
<h2>You are not signed in</h2>
<p id="sign-in-refused-message">{{.Message}}</p>
<p class="note">Code {{.Code}}{{if .RequestID}}, request {{.RequestID}}{{end}}.</p>
<p><a class="btn btn-primary" href="/">Back to the sign-in page</a></p>
</div></main></body></html>
`))

// oidcCallback is the callback's work; its error is the refusal.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	if err := s.oidcReady(); err != nil {
		return err
	}
	q := r.URL.Query()
	state := q.Get("state")
	// The state cookie is spent whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: oidcBasePath + "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r)})
	c, err := r.Cookie(oidcCookie)
	if state == "" || err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		return errOIDCStateMismatch
	}
	l, err := s.sso.TakeSSO(r.Context(), state)
	if err != nil {
		return err
	}
	if e := q.Get("error"); e != "" {
		return ctxmap.Errorf(ctxmap.KindUnauthorized, "oidc_refused",
			"your organisation's sign-in service refused the sign-in (%s): start again, or ask your identity administrator", ctxmap.Truncate(e, 60))
	}
	code := q.Get("code")
	if code == "" {
		return ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "the provider's redirect carries no code: start again from the sign-in page")
	}
	oc, verifier, err := s.oidc.discover(r.Context())
	if err != nil {
		s.log.WarnContext(r.Context(), "oidc discovery", "err", err, "issuer", s.cfg.OIDC.Issuer, "request_id", requestID(r.Context()))
		return errOIDCUnreachable
	}
	ctx, cancel := context.WithTimeout(s.oidc.ctx(r.Context()), 15*time.Second)
	defer cancel()
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			s.log.InfoContext(r.Context(), "oidc code refused", "err", err, "request_id", requestID(r.Context()))
			return errOIDCCodeRefused
		}
		s.log.WarnContext(r.Context(), "oidc token request", "err", err, "request_id", requestID(r.Context()))
		return errOIDCUnreachable
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return errOIDCTokenInvalid
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		s.log.InfoContext(r.Context(), "oidc id token refused", "err", err, "request_id", requestID(r.Context()))
		return errOIDCTokenInvalid
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.Nonce)) != 1 {
		return ctxmap.Errorf(ctxmap.KindUnauthorized, "oidc_nonce_mismatch",
			"the sign-in service's answer was not made for this sign-in (its nonce differs): start again from the sign-in page")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return errOIDCTokenInvalid
	}
	id, err := s.cfg.OIDC.Mapping.Identity(idt.Issuer, idt.Subject, claims)
	if err != nil {
		return err
	}
	a, err := s.sso.SSOActor(r.Context(), id)
	if err != nil {
		return err
	}
	sess, err := s.sso.CreateSSOSession(r.Context(), a, s.cfg.SessionTTL, raw)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, r, sess)
	redirect(w, l.ReturnTo)
	return nil
}

// oidcLogout is the answer to a single sign-on's sign-out.
type oidcLogout struct {
	// Redirect is the provider's sign-out to send the browser to; empty
	// when the provider has none or the session was not a single sign-on.
	Redirect string `json:"redirect"`
}

// oidcLogout handles POST /api/v1/auth/oidc/logout: the local session ends
// here; the provider's own session ends when the browser follows Redirect.
func (s *Server) oidcLogout(w http.ResponseWriter, r *http.Request) error {
	out := oidcLogout{}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		idToken := ""
		if s.sso != nil {
			if idToken, err = s.sso.SessionIDToken(r.Context(), c.Value); err != nil {
				return err
			}
		}
		if err := s.users.DeleteSession(r.Context(), actor(r), c.Value); err != nil {
			return err
		}
		if idToken != "" && s.oidc != nil {
			out.Redirect = s.oidc.endSessionURL(idToken)
		}
	}
	s.clearSessionCookie(w, r)
	writeJSON(w, http.StatusOK, out)
	return nil
}
