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

// outageEndRecheck bounds how often successes probe whether an outage ended.
const outageEndRecheck = 100 * time.Millisecond

// retryAfterSeconds is what a client is told to wait during an outage.
const retryAfterSeconds = 2

var errDatabaseUnavailable = &ctxmap.Error{Kind: ctxmap.KindUnavailable, Code: "database_unavailable",
	Message: "the database is unavailable; try again in a few seconds",
	Details: map[string]any{"retry_after_seconds": retryAfterSeconds}}

// databaseDown reports whether err comes from an unreachable database,
// logging the start of an outage once. The adapter's classifier names
// connection failures by their type (refused, reset, "the database system
// is starting up"); any other error of ours is judged by a readiness probe,
// which outside an outage runs on every failure, so a failure just after the
// database came back is never taken for a bug, nor a bug for an outage.
func (s *Server) databaseDown(ctx context.Context, err error) bool {
	if s.ready == nil {
		return false
	}
	o := &s.outage
	o.mu.Lock()
	defer o.mu.Unlock()
	if s.unavailable != nil && s.unavailable(err) {
		s.startOutage(err)
		return true
	}
	if o.down.Load() && time.Since(o.checked) < outageRecheck {
		return true
	}
	probe := s.probe(ctx)
	if probe != nil {
		s.startOutage(probe)
	} else if o.down.Load() {
		s.endOutage()
	}
	return probe != nil
}

// probe asks the readiness check, bounded, and notes when; the caller holds
// the lock.
func (s *Server) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	err := s.ready.Ready(ctx)
	s.outage.checked = time.Now()
	return err
}

// startOutage logs the start of an outage once; the caller holds the lock.
func (s *Server) startOutage(err error) {
	if s.outage.down.Load() {
		return
	}
	s.outage.down.Store(true)
	s.outage.since = time.Now()
	s.outage.checked = s.outage.since
	s.log.Error("database unavailable: answering 503 until it is back", "err", err)
}

// requestSucceeded ends an outage once the database answers again. A
// success alone proves nothing (tiles come from memory, a 401 needs no
// database), so it probes, at most every outageEndRecheck; cheap when there is
// no outage.
func (s *Server) requestSucceeded(ctx context.Context) {
	if !s.outage.down.Load() {
		return
	}
	s.outage.mu.Lock()
	defer s.outage.mu.Unlock()
	if s.outage.down.Load() && time.Since(s.outage.checked) >= outageEndRecheck && s.probe(ctx) == nil {
		s.endOutage()
	}
}

// endOutage logs the end of an outage; the caller holds the lock.
func (s *Server) endOutage() {
	s.outage.down.Store(false)
	s.log.Info("database available again", "outage_seconds", time.Since(s.outage.since).Seconds())
}

// readinessFailed logs a failed readiness check: an outage once, at its
// start (a load balancer probes every few seconds, and one line per probe
// would bury the outage's own lines); anything else, such as a database
// not migrated, every time, since it is a deployment's mistake to fix.
func (s *Server) readinessFailed(ctx context.Context, err error) {
	if s.unavailable != nil && s.unavailable(err) {
		s.outage.mu.Lock()
		s.startOutage(err)
		s.outage.mu.Unlock()
		return
	}
	s.log.WarnContext(ctx, "not ready", "err", err)
}

// readinessPassed ends an outage a readiness check finds over.
func (s *Server) readinessPassed() {
	if !s.outage.down.Load() {
		return
	}
	s.outage.mu.Lock()
	defer s.outage.mu.Unlock()
	if s.outage.down.Load() {
		s.endOutage()
	}
}
