// Package web is the only place that speaks HTTP: the JSON API, the tile
// endpoints, authentication and the map's static files. Handlers are thin:
// they parse, authorize and call the domain packages, and return errors to
// one adapter that maps error kinds to statuses.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// Config holds the HTTP settings; cmd/ctxmap fills it from flags and env.
type Config struct {
	Version       string
	MaxBodyBytes  int64         // request body limit; larger bodies get 413
	SessionTTL    time.Duration // browser session lifetime
	SecureCookies bool          // force Secure cookies (when TLS ends at a proxy)
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed, for connections from them only: the
	// per-address login limit then counts the client behind the proxy, and
	// a session cookie set through a TLS proxy is Secure. Empty: nobody's.
	TrustedProxies []netip.Prefix
	// Basemap, when set, is an XYZ raster URL template shown under the heat
	// layer (e.g. an OpenStreetMap tile server the council may use); empty
	// keeps the map fully offline.
	Basemap            string
	BasemapAttribution string
	CenterLon          float64
	CenterLat          float64
	Zoom               float64
	// ValidateResponses checks every API response against the OpenAPI
	// document and logs each one that breaks it (ViolationLog): the
	// end-to-end suites run with it on. Not for production: it buffers
	// every response.
	ValidateResponses bool
	// OIDC is single sign-on (oidc.go); off when its Issuer is empty.
	OIDC OIDCConfig
	// PasswordLoginOff refuses password sign-ins (403): people sign in
	// through OIDC only. API tokens keep working: machines (the case
	// system's feed, Prometheus) have no browser to sign in with.
	PasswordLoginOff bool
}

// Deps are the services the handlers call (see deps.go).
type Deps struct {
	Ready   Readiness
	Users   Users
	Records Records
	Audit   AuditLog
	Alerts  Alerts // nil: the alert routes answer 503
	// Allocations takes the case system's feed; nil: its routes answer 503.
	Allocations Allocations
	Reviews     Reviews   // nil: the overdue reviews answer 503
	Retention   Retention // nil: the retention route answers 503
	Boundaries  Boundaries
	Postcodes   PostcodeDirectory
	// Places draws the postcode outlines and finds searched postcodes (optional).
	Places Places
	// LocalBasemap is the council's own basemap archive (optional).
	LocalBasemap LocalBasemap
	Heat         *tiles.Service
	Releases     Releases
	// Logins limits failed sign-ins; nil counts them in this process only.
	Logins LoginLimiter
	// Idempotency keeps the answers to creates sent with an
	// Idempotency-Key; nil refuses such requests with 503.
	Idempotency IdempotencyKeys
	// SSO keeps single sign-ons and their accounts; nil with OIDC
	// configured answers its routes 503.
	SSO    SSOUsers
	Logger *slog.Logger
	// Metrics are further collectors served on /metrics, from parts the
	// wiring knows and the handlers do not (the read replica's counters).
	Metrics []prometheus.Collector
}

// Server holds the handlers' dependencies. Build it with New.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ready   Readiness
	users   Users
	records Records
	audit   AuditLog
	alerts  Alerts
	// allocations is Deps.Allocations.
	allocations Allocations
	reviews     Reviews
	retention   Retention
	boundaries  Boundaries
	postcodes   PostcodeDirectory
	places      Places
	basemap     LocalBasemap
	heat        *tiles.Service
	releases    Releases
	areas       areaCache // the boundary's cells per resolution (analytics.go)
	// now is the clock of the token cache and the login limiter; tests
	// move it instead of sleeping through their windows.
	now    func() time.Time
	outage outage
	// unavailable is Deps.Ready's classifier of the driver's outage errors.
	unavailable func(error) bool
	ids         *requestIDs
	metrics     *metrics
	tokens      *tokenCache
	limiter     LoginLimiter
	idem        IdempotencyKeys
	// oidc is the relying party when single sign-on is on, else nil.
	oidc *oidcClient
	sso  SSOUsers
	ops  []Op
	// tileHandler is the heat tile route's handler, which dispatch calls
	// ahead of the router, with its metrics bound once.
	tileHandler     http.Handler
	heatTileMetrics *routeMetrics
	prefixes        map[*mux.Router]string
	router          *mux.Router
	// staticRoute serves the map's files; every GET no other route takes
	// reaches it (methodNotAllowed tells the two apart).
	staticRoute *mux.Route
	handler     http.Handler
}

// New builds a Server and its routes.
func New(cfg Config, d Deps) *Server {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	s := &Server{
		cfg:         cfg,
		log:         d.Logger,
		ready:       d.Ready,
		users:       d.Users,
		records:     d.Records,
		audit:       d.Audit,
		alerts:      d.Alerts,
		reviews:     d.Reviews,
		retention:   d.Retention,
		allocations: d.Allocations,
		boundaries:  d.Boundaries,
		postcodes:   d.Postcodes,
		places:      d.Places,
		basemap:     d.LocalBasemap,
		heat:        d.Heat,
		releases:    d.Releases,
		now:         time.Now,
		metrics:     newMetrics(),
		ids:         newRequestIDs(),
		tokens: &tokenCache{ttl: 5 * time.Second, auditEvery: 10 * time.Minute,
			entries: map[string]tokenEntry{}, audited: map[string]time.Time{}},
		limiter:  d.Logins,
		idem:     d.Idempotency,
		sso:      d.SSO,
		prefixes: map[*mux.Router]string{},
	}
	if d.Ready != nil {
		s.unavailable = d.Ready.Unavailable
	}
	if cfg.OIDC.Enabled() {
		s.oidc = newOIDCClient(cfg.OIDC)
	}
	if s.limiter == nil {
		s.limiter = newLoginLimiter(contexts.DefaultLoginLimits)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.heat != nil {
		s.metrics.registry.MustRegister(heatMetrics(s.heat)...)
	}
	s.metrics.registry.MustRegister(d.Metrics...)
	s.heatTileMetrics = s.metrics.forRoute(heatTileRoute)
	s.routes()
	s.handler = s.observe(s.router)
	if cfg.ValidateResponses {
		c, err := s.newConformance()
		if err != nil {
			// A document that does not load is itself the violation.
			s.log.Error(ViolationLog, "err", err)
		} else {
			s.handler = c.wrap(s.handler)
		}
	}
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Router exposes the router so tests can walk every route.
func (s *Server) Router() *mux.Router { return s.router }

// Ops lists every documented operation.
func (s *Server) Ops() []Op { return s.ops }

// apiPrefix is where the JSON API lives; links between its routes (an
// export's description) are made from it.
const apiPrefix = "/api/v1"

func (s *Server) routes() {
	r := mux.NewRouter()
	r.Use(routeName)
	r.NotFoundHandler = http.HandlerFunc(s.notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(s.methodNotAllowed)
	s.router = r
	s.prefixes[r] = ""

	s.route(r, Op{Method: "GET", Path: "/healthz", Summary: "Liveness: the process is up", Tag: "health", Public: true, Response: Fields{"status": ""}}, s.healthz)
	s.route(r, Op{Method: "GET", Path: "/readyz", Summary: "Readiness: database reachable and migrated", Tag: "health", Public: true, Errors: []int{503}, Response: Fields{"status": ""}}, s.readyz)
	// Metrics say how busy each route is and when releases land: an admin's
	// business only (Prometheus sends an admin's bearer token).
	metrics := promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
	r.Handle("/metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorize(r, []contexts.Role{contexts.RoleAdmin}); err != nil {
			s.writeError(w, r, err)
			return
		}
		metrics.ServeHTTP(w, r)
	})).Methods("GET")

	api := r.PathPrefix(apiPrefix).Subrouter()
	s.prefixes[api] = apiPrefix
	s.route(api, Op{Method: "GET", Path: "/openapi.json", Summary: "This OpenAPI 3 document", Tag: "meta", Public: true, Response: map[string]any{}}, s.openapiDoc)
	s.route(api, Op{Method: "POST", Path: "/session", Summary: "Sign in with a password; sets the session cookie and returns the CSRF token",
		Tag: "auth", Public: true, Body: "{name, password}",
		Request: loginRequest{}, Example: loginRequest{Name: "demo-practitioner", Password: "correct horse battery"}, Errors: []int{400, 401, 403, 413, 429}, Response: sessionResponse{}}, s.login)
	s.route(api, Op{Method: "DELETE", Path: "/session", Summary: "Sign out", Tag: "auth", Status: http.StatusNoContent}, s.logout)
	s.oidcRoutes(api)
	s.route(api, Op{Method: "GET", Path: "/me", Summary: "The signed-in user and their CSRF token", Tag: "auth", Response: sessionResponse{}}, s.me)
	s.adminRoutes(api)
	s.allocationRoutes(api)
	s.appRoutes(api)
	s.heatRoutes(r, api)
	s.placeRoutes(r, api)
	s.basemapRoutes(r)
	s.analyticsRoutes(r, api)
	s.beforeAfterRoutes(api)
	s.rateRoutes(api)
	s.releaseRoutes(api)
	s.reportRoutes(api)

	s.staticRoutes(r)
}

// openapiDoc handles GET /api/v1/openapi.json.
func (s *Server) openapiDoc(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, s.openAPI())
	return nil
}

// healthz handles GET /healthz: the process answers.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz handles GET /readyz: 200 only when the database answers and is at
// the newest migration, so a load balancer never sends traffic too early.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready.Ready(ctx); err != nil {
		s.readinessFailed(ctx, err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errorDetail{Code: "not_ready", Message: "database unreachable or not migrated", RequestID: requestID(ctx)}})
		return nil
	}
	s.readinessPassed()
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// Serve runs an HTTP server on l until ctx ends, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish (up to grace) and
// returns nil on a clean stop.
func Serve(ctx context.Context, srv *http.Server, serve func() error, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NewHTTPServer wraps h with the timeouts a public-facing server needs.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
