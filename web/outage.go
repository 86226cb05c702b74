package web

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctxmap/ctxmap"
)

// outage tells a database outage from our own errors. When a request fails
// with an error that is not a user's, the server asks the readiness check
// (at most every outageRecheck): if the database is unreachable, the answer
// is 503 database_unavailable with Retry-After, not 500, and the log gets one
// line when the outage starts and one when it ends, not one per request.
type outage struct {
	mu      sync.Mutex
	down    atomic.Bool
	since   time.Time
	checked time.Time
}

// outageRecheck bounds how often failing requests probe the database.
const outageRecheck = 500 * time.Millisecond

// retryAfterSeconds is what a client is told to wait during an outage.
const retryAfterSeconds = 2

var errDatabaseUnavailable = &ctxmap.Error{Kind: ctxmap.KindUnavailable, Code: "database_unavailable",
	Message: "the database is unavailable; try again in a few seconds",
	Details: map[string]any{"retry_after_seconds": retryAfterSeconds}}

// databaseDown reports whether the database is unreachable now, logging the
// start of an outage once.
func (s *Server) databaseDown(ctx context.Context) bool {
	if s.ready == nil {
		return false
	}
	o := &s.outage
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Since(o.checked) < outageRecheck {
		return o.down.Load()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	err := s.ready.Ready(ctx)
	o.checked = time.Now()
	if err != nil && !o.down.Load() {
		o.down.Store(true)
		o.since = o.checked
		s.log.Error("database unavailable: answering 503 until it is back", "err", err)
	}
	if err == nil && o.down.Load() {
		s.endOutage()
	}
	return err != nil
}

// requestSucceeded ends an outage when a request that needed nothing but
// the database went through; cheap when there is no outage.
func (s *Server) requestSucceeded() {
	if !s.outage.down.Load() {
		return
	}
	s.outage.mu.Lock()
	defer s.outage.mu.Unlock()
	if s.outage.down.Load() {
		s.endOutage()
	}
}

// endOutage logs the end of an outage; the caller holds the lock.
func (s *Server) endOutage() {
	s.outage.down.Store(false)
	s.log.Info("database available again", "outage_seconds", time.Since(s.outage.since).Seconds())
}
