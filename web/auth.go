package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
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
type tokenCache struct {
	mu         sync.Mutex
	ttl        time.Duration
	auditEvery time.Duration
	entries    map[[32]byte]tokenEntry
	audited    map[[32]byte]time.Time
}

// dueForAudit reports whether a token's use should be written to the audit
// log now, and if so notes that it was.
func (c *tokenCache) dueForAudit(key [32]byte, now time.Time) bool {
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

func (c *tokenCache) get(key [32]byte, now time.Time) *contexts.Actor {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return nil
	}
	return e.actor
}

func (c *tokenCache) put(key [32]byte, a *contexts.Actor, now time.Time) {
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
		key := sha256.Sum256([]byte(token))
		now := s.now()
		a := s.tokens.get(key, now)
		if a == nil {
			var err error
			if a, err = s.users.TokenActor(r.Context(), token); err != nil {
				return nil, err
			}
			if s.tokens.dueForAudit(key, now) {
				if err := s.users.RecordTokenUse(r.Context(), a, token); err != nil {
					return nil, err
				}
			}
			s.tokens.put(key, a, now)
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

// loginLimiter refuses sign-in after too many recent failures for one name
// or one client address, slowing password guessing without locking people
// out for long.
//
// An address gets a much larger allowance than a name: a whole council may
// sign in through one proxy, and a few typos must not lock everyone out.
type loginLimiter struct {
	mu       sync.Mutex
	window   time.Duration
	maxName  int
	maxAddr  int
	failures map[string][]time.Time
}

func (l *loginLimiter) blocked(keys []string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
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

func (l *loginLimiter) fail(keys []string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
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

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type sessionResponse struct {
	User      *contexts.Actor `json:"user"`
	CSRFToken string          `json:"csrf_token,omitempty"`
	// Capabilities are the parts of the UI the user's role is offered.
	Capabilities []Capability `json:"capabilities"`
}

// login handles POST /api/v1/session: a password sign-in that sets the
// session cookie and returns the CSRF token for later writes.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == "" || req.Password == "" {
		return ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "name and password are required")
	}
	keys := []string{"name:" + strings.ToLower(req.Name), "ip:" + clientIP(r)}
	now := s.now()
	if s.limiter.blocked(keys, now) {
		return ctxmap.Errorf(ctxmap.KindRateLimited, "too_many_attempts", "too many failed sign-ins; wait 15 minutes and try again")
	}
	a, err := s.users.CheckPassword(r.Context(), req.Name, req.Password)
	if err != nil {
		if ctxmap.KindOf(err) == ctxmap.KindUnauthorized {
			s.limiter.fail(keys, now)
		}
		return err
	}
	sess, err := s.users.CreateSession(r.Context(), a, s.cfg.SessionTTL)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: sess.ID, Path: "/", Expires: sess.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r),
	})
	writeJSON(w, http.StatusOK, sessionResponse{User: a, CSRFToken: sess.CSRFToken, Capabilities: capabilitiesOf(a)})
	return nil
}

// secure reports whether the cookie must be Secure: always behind TLS, or
// when a trusted proxy says the client used HTTPS.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || s.cfg.SecureCookies || (s.cfg.TrustProxy && r.Header.Get("X-Forwarded-Proto") == "https")
}

// logout handles DELETE /api/v1/session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.users.DeleteSession(r.Context(), actor(r), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// me handles GET /api/v1/me: who is signed in, and the CSRF token for a
// browser that reloaded the page.
func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, sessionResponse{User: actor(r), CSRFToken: info(r.Context()).csrf, Capabilities: capabilitiesOf(actor(r))})
	return nil
}
