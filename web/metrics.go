package web

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are per Server, not global, so tests can build many servers.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctxmap_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ctxmap_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
	}
	m.registry.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts and times one request by its labels.
func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// routeMetrics are one route's series, looked up once rather than on every
// request: WithLabelValues hashes and checks every label and allocates, which
// the heat tile route, a map view's dozens of requests, measurably paid. Each
// series is bound on its first use, so /metrics lists exactly the series it
// would list without the binding (none of a route never asked for).
type routeMetrics struct {
	m     *metrics
	route string
	get   methodMetrics
	head  methodMetrics
}

// methodMetrics are a route's series for one method: the latency and the
// statuses a cached tile answers with.
type methodMetrics struct {
	duration    atomic.Pointer[boundObserver]
	ok          atomic.Pointer[boundCounter]
	notModified atomic.Pointer[boundCounter]
}

type boundObserver struct{ prometheus.Observer }

type boundCounter struct{ prometheus.Counter }

func (m *metrics) forRoute(route string) *routeMetrics { return &routeMetrics{m: m, route: route} }

// observe counts and times one request to the route, as metrics.observe
// would.
func (rm *routeMetrics) observe(method string, status int, d time.Duration) {
	var mm *methodMetrics
	switch method {
	case http.MethodGet:
		mm = &rm.get
	case http.MethodHead:
		mm = &rm.head
	}
	var c *atomic.Pointer[boundCounter]
	switch {
	case mm == nil:
	case status == http.StatusOK:
		c = &mm.ok
	case status == http.StatusNotModified:
		c = &mm.notModified
	}
	if c == nil {
		rm.m.observe(rm.route, method, status, d)
		return
	}
	bc := c.Load()
	if bc == nil {
		// Racing first requests bind the same series: the vector hands
		// out one metric per label set.
		bc = &boundCounter{rm.m.requests.WithLabelValues(rm.route, method, strconv.Itoa(status))}
		c.Store(bc)
	}
	bc.Inc()
	bo := mm.duration.Load()
	if bo == nil {
		bo = &boundObserver{rm.m.duration.WithLabelValues(rm.route, method)}
		mm.duration.Store(bo)
	}
	bo.Observe(d.Seconds())
}
