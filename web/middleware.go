package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

type ctxKey int

const keyInfo ctxKey = 0

// reqInfo is filled in as the request travels inwards (route by the router,
// user by authentication) and read by the access log on the way out.
type reqInfo struct {
	id    string
	route string
	actor *contexts.Actor
	csrf  string
	// viaSession is true when the caller authenticated with the cookie, so
	// writes need the CSRF header.
	viaSession bool
	// clientID is the X-Request-Id the client sent, if it is a sane one.
	clientID string
	// query is the parsed query string, parsed at most once (by
	// checkRequest, or by query when a handler first asks).
	query url.Values
	// plainQuery is true when checkRequest found the query string plain
	// (plainQueryString), so tileFilter need not look again.
	plainQuery bool
	// quiet puts a successful request's access-log line at debug level
	// (heat tiles: counted and timed in /metrics instead).
	quiet bool
	// metrics, when set, are the route's series, bound once.
	metrics *routeMetrics
	// tile is a heat tile's z, x and y when dispatch matched its path.
	tile [3]string
}

// query returns the request's parsed query, parsing it only once.
func query(r *http.Request) url.Values {
	ri := info(r.Context())
	if ri.query == nil {
		ri.query = r.URL.Query()
	}
	return ri.query
}

// requestIDs makes request ids: a counter encrypted with a key made at
// start (AES, truncated to 8 bytes, 16 hex digits). A plain counter would
// tell anyone, even without signing in, how many requests the server
// handled between two of theirs, other users' writes included; encrypted,
// consecutive ids look unrelated. Cheap on the tile path (a crypto/rand read
// per request was measurable there). Truncated, ids may repeat: likely only
// after about 4 billion requests of one process, and nothing relies on
// their being unique (they correlate log lines and audit entries).
type requestIDs struct {
	block cipher.Block
	n     atomic.Uint64
}

func newRequestIDs() *requestIDs {
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	return &requestIDs{block: b}
}

// next writes the next id's 16 hex digits into dst, encrypting in b (the
// request's own state: a local array would escape through the cipher's
// interface and cost an allocation per request).
func (g *requestIDs) next(dst *[16]byte, b *[aes.BlockSize]byte) {
	*b = [aes.BlockSize]byte{}
	binary.BigEndian.PutUint64(b[8:], g.n.Add(1))
	g.block.Encrypt(b[:], b[:])
	hex.Encode(dst[:], b[:8])
}

// clientRequestID keeps a client's request id only if it is short and
// plain, so it cannot break a log line.
func clientRequestID(v string) string {
	if len(v) > 64 {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e {
			return ""
		}
	}
	return v
}

// headerValue is r.Header.Get(key) for a key already in canonical form, as
// net/http stores the keys of a request it parsed: Get canonicalises its
// key on every call, a measurable share of a cached tile's few
// microseconds over the five headers the tile path reads.
func headerValue(r *http.Request, canonicalKey string) string {
	if v := r.Header[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func info(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(keyInfo).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

func requestID(ctx context.Context) string { return info(ctx).id }

// routeName records the matched route template for logs and metrics.
func routeName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt := mux.CurrentRoute(r); rt != nil {
			if tpl, err := rt.GetPathTemplate(); err == nil {
				info(r.Context()).route = tpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status and size for the access log and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// reqState is what observe allocates for a request, in one piece: the
// request's info, the status recorder, the request id's digits and the
// X-Request-Id header's value. It is also the context layer that holds the
// info and the request id (contexts.RequestIDKey), so neither needs a
// context.WithValue of its own.
type reqState struct {
	context.Context
	info  reqInfo
	sw    statusWriter
	id    [1]string
	idHex [16]byte
	idBlk [aes.BlockSize]byte // requestIDs.next's scratch
}

// Value answers keyInfo with the request's info, contexts.RequestIDKey with
// the state itself (a contexts.RequestIDer), and any other key from the
// request's own context.
func (st *reqState) Value(key any) any {
	switch k := key.(type) {
	case ctxKey:
		if k == keyInfo {
			return &st.info
		}
	case contexts.RequestIDKey:
		return st
	}
	return st.Context.Value(key)
}

// RequestID is the request's id, for contexts.RequestID.
func (st *reqState) RequestID() string { return st.info.id }

// newReqState is a request's state with the next request id. The id is a
// string over the state's own idHex, which is written here once and never
// again, so the id costs no allocation of its own.
func (s *Server) newReqState(r *http.Request) *reqState {
	st := &reqState{Context: r.Context()}
	s.ids.next(&st.idHex, &st.idBlk)
	id := unsafe.String(&st.idHex[0], len(st.idHex))
	st.info = reqInfo{id: id, route: "unmatched", clientID: clientRequestID(headerValue(r, "X-Request-Id"))}
	st.id[0] = id
	return st
}

// observe wraps the whole router: request id, panic recovery, body limit,
// access log and metrics, in that order of need.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The request id is always ours, so the audit log's ids cannot be
		// chosen by a client; a client's own id is kept beside it for
		// correlation, in the access log only.
		st := s.newReqState(r)
		ri, id := &st.info, st.info.id
		var ctx context.Context = st
		r = r.WithContext(ctx)
		// Set would allocate the value's slice; the key is canonical.
		w.Header()["X-Request-Id"] = st.id[:]
		if r.Body != nil && r.Body != http.NoBody {
			limit := s.cfg.MaxBodyBytes
			if r.URL.Path == allocationsPath {
				limit = max(limit, MaxFeedBytes) // a whole caseload
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		sw := &st.sw
		sw.ResponseWriter = w
		if err := checkRequest(r, ri); err != nil {
			s.writeError(sw, r, err)
			s.logRequest(ctx, r, sw, ri, start)
			return
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic", "panic", p, "path", safePath(r.URL.Path, ri.route), "request_id", id)
				if sw.status == 0 {
					s.writeError(sw, r, errPanic)
				}
			}
			s.logRequest(ctx, r, sw, ri, start)
		}()
		s.dispatch(sw, r, ri, next)
		if sw.status < 500 && ri.route != "unmatched" {
			s.requestSucceeded(ctx)
		}
	})
}

// dispatch sends a heat tile straight to its handler, ahead of the router,
// and everything else through next (the router). A map view asks for dozens
// of tiles, and gorilla/mux's regexps, vars map and two request copies were
// a measurable share of a cached tile's cost. heatTileCoords matches exactly
// the paths the tile route's pattern matches, so the router would have
// chosen the same handler; other methods go to the router for its 405.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, ri *reqInfo, next http.Handler) {
	if s.tileHandler != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if c, ok := heatTileCoords(r.URL.Path); ok {
			ri.route, ri.metrics, ri.tile = heatTileRoute, s.heatTileMetrics, c
			s.tileHandler.ServeHTTP(w, r)
			return
		}
	}
	next.ServeHTTP(w, r)
}

// logRequest writes the access log line and the metrics of one request.
func (s *Server) logRequest(ctx context.Context, r *http.Request, sw *statusWriter, ri *reqInfo, start time.Time) {
	d := time.Since(start)
	if ri.metrics != nil {
		ri.metrics.observe(r.Method, sw.status, d)
	} else {
		s.metrics.observe(ri.route, r.Method, sw.status, d)
	}
	level := slog.LevelInfo
	if ri.quiet && sw.status < 400 {
		level = slog.LevelDebug
	}
	if s.log.Enabled(ctx, level) {
		user := ""
		if ri.actor != nil {
			user = ri.actor.Name
		}
		// The query string is left out: it can carry a subject id.
		s.log.LogAttrs(ctx, level, "http",
			slog.String("method", r.Method), slog.String("route", ri.route), slog.String("path", safePath(r.URL.Path, ri.route)),
			slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
			slog.Float64("ms", float64(d.Microseconds())/1000), slog.String("request_id", ri.id),
			slog.String("client_request_id", ri.clientID), slog.String("user", user))
	}
}

// checkRequest refuses what no route can use: an undecodable query string
// (otherwise silently dropped, so a filter would be ignored), NUL
// characters, which PostgreSQL cannot store in text, and bytes that are not
// UTF-8 anywhere in the path, the query or a header (the database would
// refuse them deep in a query, as an internal error).
//
// A plain query string (plainQueryString: nothing to decode, nothing to
// refuse) passes as it is and is parsed only if a handler asks (query).
func checkRequest(r *http.Request, ri *reqInfo) error {
	u := r.URL
	var q url.Values
	if ri.plainQuery = plainQueryString(u.RawQuery); !ri.plainQuery {
		var err error
		if q, err = url.ParseQuery(u.RawQuery); err != nil {
			return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_query", "the query string is malformed: %v", err)
		}
		ri.query = q
	}
	if strings.ContainsRune(u.Path, 0) {
		return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_path", "the path contains a NUL character")
	}
	if !utf8.ValidString(u.Path) {
		return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_utf8", "the path is not valid UTF-8")
	}
	for name, vs := range q {
		if !utf8.ValidString(name) {
			return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_utf8", "a query parameter name is not valid UTF-8")
		}
		for _, v := range vs {
			if strings.ContainsRune(v, 0) || strings.ContainsRune(name, 0) {
				return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_parameter", "%s: NUL characters are not allowed", strings.ReplaceAll(name, "\x00", ""))
			}
			if !utf8.ValidString(v) {
				return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_utf8", "%s: the value is not valid UTF-8", name)
			}
		}
	}
	for name, vs := range r.Header {
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_utf8", "header %s is not valid UTF-8", name)
			}
		}
	}
	return nil
}

// safePath logs the route template instead of the path when the path may hold
// a young person's id.
func safePath(path, route string) string {
	// Unmatched paths are not logged either: a mistyped subject route
	// would otherwise put a young person's id in the log.
	if strings.Contains(route, "{subject}") || route == "unmatched" {
		return route
	}
	return path
}

var errPanic = &ctxmap.Error{Kind: ctxmap.KindInternal, Code: "internal", Message: "internal error; quote the request id when reporting it"}

// notFound answers unknown routes with the JSON error shape.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, ctxmap.Errorf(ctxmap.KindNotFound, "route_not_found", "no route %s %s", r.Method, r.URL.Path))
}

// methodNotAllowed answers a path a route serves with other methods: 405,
// naming them (and in Allow). Every GET falls through to the map's static
// files, so a path only they would take is no route at all: 404, so that a
// mistyped API path, or an id that is not a number, says so instead of "POST
// is not allowed".
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := *r
		probe.Method = m
		var match mux.RouteMatch
		if s.router.Match(&probe, &match) && match.MatchErr == nil && match.Route != s.staticRoute {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		s.notFound(w, r)
		return
	}
	list := strings.Join(allowed, ", ")
	w.Header().Set("Allow", list)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "method_not_allowed",
		Message: r.Method + " is not allowed on " + r.URL.Path + "; it takes " + list, RequestID: requestID(r.Context())}})
}
