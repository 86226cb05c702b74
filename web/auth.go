package web

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

const (
	sessionCookie = "ctxmap_session"
	csrfHeader    = "X-CSRF-Token"
)

var (
	errNoAuth = ctxmap.Errorf(ctxmap.KindUnauthorized, "unauthenticated", "sign in or send Authorization: Bearer <token>")
	errCSRF   = ctxmap.Errorf(ctxmap.KindForbidden, "csrf_failed", "missing or wrong "+csrfHeader+" header for a cookie-authenticated write")
)

// tokenCache keeps recently seen API tokens for a few seconds so machines
// polling tiles do not cost a database round trip per request (a disabled
// user's token stops working within that TTL). Token use is audited at most
// once per auditEvery per token, so the log says which tokens were used
// when without one line per tile.
//
// Both maps are keyed by the token itself: they only ever hold tokens the
// store has just verified, inside this process, and a map lookup by string
// costs less on the tile path than hashing the token with SHA-256 first
// (the store still looks tokens up by their hash).
type tokenCache struct {
	mu         sync.Mutex
	ttl        time.Duration
	auditEvery time.Duration
	entries    map[string]tokenEntry
	audited    map[string]time.Time
}

// dueForAudit reports whether a token's use should be written to the audit
// log now, and if so notes that it was.
func (c *tokenCache) dueForAudit(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.audited[key]; ok && now.Sub(last) < c.auditEvery {
		return false
	}
	if len(c.audited) > 10000 {
		clear(c.audited)
	}
	c.audited[key] = now
	return true
}

type tokenEntry struct {
	actor   *contexts.Actor
	expires time.Time
}

func (c *tokenCache) get(key string, now time.Time) *contexts.Actor {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return nil
	}
	return e.actor
}

// forget drops every cached token of user id, so a disabled or reset
// account's old token stops working in this process at once (other
// replicas within the cache's few seconds).
func (c *tokenCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.actor.UserID == id {
			delete(c.entries, k)
		}
	}
}

func (c *tokenCache) put(key string, a *contexts.Actor, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 10000 {
		clear(c.entries)
	}
	c.entries[key] = tokenEntry{actor: a, expires: now.Add(c.ttl)}
}

// authenticate finds the caller from a bearer token or the session cookie.
// It returns nil, nil for an anonymous request.
func (s *Server) authenticate(r *http.Request) (*contexts.Actor, error) {
	ri := info(r.Context())
	if ri.actor != nil {
		return ri.actor, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		// The scheme is case-insensitive (RFC 9110 section 11.1).
		if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
			return nil, errNoAuth
		}
		token := strings.TrimSpace(h[7:])
		now := s.now()
		a := s.tokens.get(token, now)
		if a == nil {
			var err error
			if a, err = s.users.TokenActor(r.Context(), token); err != nil {
				return nil, err
			}
			if s.tokens.dueForAudit(token, now) {
				if err := s.users.RecordTokenUse(r.Context(), a, token); err != nil {
					return nil, err
				}
			}
			s.tokens.put(token, a, now)
		}
		ri.actor = a
		return a, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		a, csrf, err := s.users.SessionActor(r.Context(), c.Value)
		if err != nil {
			return nil, err
		}
		ri.actor, ri.csrf, ri.viaSession = a, csrf, true
		return a, nil
	}
	return nil, nil
}

// authorize is the one access decision: signed in, CSRF for cookie writes,
// and the route's roles.
func (s *Server) authorize(r *http.Request, roles []contexts.Role) error {
	a, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if a == nil {
		return errNoAuth
	}
	ri := info(r.Context())
	if ri.viaSession && !safeMethod(r.Method) {
		got := r.Header.Get(csrfHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ri.csrf)) != 1 {
			return errCSRF
		}
	}
	if roles == nil {
		return nil
	}
	for _, role := range roles {
		if a.Role == role {
			return nil
		}
	}
	return ctxmap.Errorf(ctxmap.KindForbidden, "forbidden", "the %s role may not use this route", a.Role)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// actor returns the signed-in user; routes reach handlers only after authorize.
func actor(r *http.Request) *contexts.Actor { return info(r.Context()).actor }

// loginLimiter is the login limiter of a single process, used when
// Deps.Logins is nil (one replica, or unit tests on fakes): it applies the
// same allowances as the shared PostgreSQL one, under one mutex, so
// concurrent attempts are counted one by one.
//
// An address gets a much larger allowance than a name: a whole council may
// sign in through one proxy, and a few typos must not lock everyone out.
type loginLimiter struct {
	mu       sync.Mutex
	window   time.Duration
	maxName  int
	maxAddr  int
	failures map[string][]time.Time
	// pending are the attempts counted before their password was checked,
	// by id, so a success can be uncounted.
	pending map[int64]pendingLogin
	lastID  int64
}

type pendingLogin struct {
	keys []string
	at   time.Time
}

func newLoginLimiter(l contexts.LoginLimits) *loginLimiter {
	return &loginLimiter{window: l.Window, maxName: l.PerName, maxAddr: l.PerAddr, failures: map[string][]time.Time{}}
}

// loginKeys are the counters one attempt counts against.
func loginKeys(at contexts.LoginAttempt) []string {
	return []string{"name:" + at.Name, "ip:" + at.Addr}
}

// BeginLogin counts at as a failure unless one of its counters is full.
func (l *loginLimiter) BeginLogin(_ context.Context, at contexts.LoginAttempt) (int64, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := loginKeys(at)
	if l.blockedLocked(keys, at.At) {
		return 0, false, nil
	}
	l.failLocked(keys, at.At)
	if l.pending == nil || len(l.pending) > 100000 {
		l.pending = map[int64]pendingLogin{}
	}
	l.lastID++
	l.pending[l.lastID] = pendingLogin{keys: keys, at: at.At}
	return l.lastID, true, nil
}

// ForgiveLogin uncounts attempt id.
func (l *loginLimiter) ForgiveLogin(_ context.Context, id int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.pending[id]
	if !ok {
		return nil
	}
	delete(l.pending, id)
	for _, k := range p.keys {
		ts := l.failures[k]
		for i := len(ts) - 1; i >= 0; i-- {
			if ts[i].Equal(p.at) {
				l.failures[k] = append(ts[:i:i], ts[i+1:]...)
				break
			}
		}
	}
	return nil
}

func (l *loginLimiter) blockedLocked(keys []string, now time.Time) bool {
	for _, k := range keys {
		limit := l.maxName
		if strings.HasPrefix(k, "ip:") {
			limit = l.maxAddr
		}
		if len(l.recent(k, now)) >= limit {
			return true
		}
	}
	return false
}

func (l *loginLimiter) failLocked(keys []string, now time.Time) {
	if len(l.failures) > 100000 {
		clear(l.failures)
	}
	for _, k := range keys {
		l.failures[k] = append(l.recent(k, now), now)
	}
}

func (l *loginLimiter) recent(k string, now time.Time) []time.Time {
	ts := l.failures[k]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > l.window {
		i++
	}
	ts = ts[i:]
	l.failures[k] = ts
	return ts
}

// peerAddr is the address at the far end of the connection.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// trusts reports whether a is one of the configured trusted proxies.
func (s *Server) trusts(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// viaTrustedProxy reports whether the connection comes from a trusted
// proxy, whose X-Forwarded-* headers are then believed.
func (s *Server) viaTrustedProxy(r *http.Request) bool {
	peer, ok := peerAddr(r)
	return ok && s.trusts(peer)
}

// clientIP is the address the per-address login limit counts: the
// connection's peer, or when the peer is a trusted proxy, the nearest
// address in X-Forwarded-For that is not itself a trusted proxy. Only the
// trusted hops' entries are believed: anything further left was written by
// the client, and an untrusted peer's header is ignored altogether, so
// nobody can pick the counter they are charged to.
func (s *Server) clientIP(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if !s.trusts(peer) {
		return peer.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := forwardedAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break // a malformed entry: stop at the last hop we can name
		}
		if !s.trusts(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

// forwardedAddr reads one X-Forwarded-For entry: an address, perhaps with
// a port.
func forwardedAddr(v string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(v); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

type sessionResponse struct {
	User      *contexts.Actor `json:"user"`
	CSRFToken string          `json:"csrf_token,omitempty"`
	// Capabilities are the parts of the UI the user's role is offered.
	Capabilities []Capability `json:"capabilities"`
}

// loginRequest is the body of a password sign-in.
type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// login handles POST /api/v1/session: a password sign-in that sets the
// session cookie and returns the CSRF token for later writes.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.PasswordLoginOff {
		return errPasswordLoginOff
	}
	var req loginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == "" || req.Password == "" {
		return ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "name and password are required")
	}
	attempt := contexts.LoginAttempt{Name: strings.ToLower(req.Name), Addr: s.clientIP(r), At: s.now()}
	id, ok, err := s.limiter.BeginLogin(r.Context(), attempt)
	if err != nil {
		return err
	}
	if !ok {
		return errTooManyLogins
	}
	a, err := s.users.CheckPassword(r.Context(), req.Name, req.Password)
	if ctxmap.KindOf(err) != ctxmap.KindUnauthorized {
		// A success, or a password that could not be checked: no failure.
		s.forgiveLogin(r, id)
	}
	if err != nil {
		return err
	}
	sess, err := s.users.CreateSession(r.Context(), a, s.cfg.SessionTTL)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, r, sess)
	writeJSON(w, http.StatusOK, sessionResponse{User: a, CSRFToken: sess.CSRFToken, Capabilities: capabilitiesOf(a)})
	return nil
}

var errTooManyLogins = ctxmap.Errorf(ctxmap.KindRateLimited, "too_many_attempts",
	"too many failed sign-ins; wait %d minutes and try again", int(contexts.DefaultLoginLimits.Window.Minutes()))

// forgiveLogin uncounts a sign-in attempt that was no failure. It runs even
// when the client has gone: a success must not stay counted as a failure.
// Its own failure is logged, not the user's problem.
func (s *Server) forgiveLogin(r *http.Request, id int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.limiter.ForgiveLogin(ctx, id); err != nil {
		s.log.WarnContext(ctx, "uncounting a sign-in attempt", "err", err, "request_id", requestID(ctx))
	}
}

// secure reports whether the cookie must be Secure: always behind TLS, or
// when a trusted proxy says the client used HTTPS (X-Forwarded-Proto from
// anyone else is ignored: a client could claim HTTPS over plain HTTP).
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil || s.cfg.SecureCookies {
		return true
	}
	if !s.viaTrustedProxy(r) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// logout handles DELETE /api/v1/session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.users.DeleteSession(r.Context(), actor(r), c.Value); err != nil {
			return err
		}
	}
	s.clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setSessionCookie hands the browser its session, however it signed in.
// Strict: no other site's page can make a request that carries it.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, sess *contexts.Session) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: sess.ID, Path: "/", Expires: sess.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r),
	})
}

// clearSessionCookie removes the session cookie at sign-out.
func (s *Server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
}

// me handles GET /api/v1/me: who is signed in, and the CSRF token for a
// browser that reloaded the page.
func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, sessionResponse{User: actor(r), CSRFToken: info(r.Context()).csrf, Capabilities: capabilitiesOf(actor(r))})
	return nil
}
