package tiles

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctxmap/ctxmap"
)

// DefaultReleasePoll is how often a server asks the database for a newer
// release. Releases are made monthly, so a few seconds of lag between
// replicas costs nothing, and the one query is tiny.
const DefaultReleasePoll = 2 * time.Second

// current tracks the newest release for one server. A request takes the
// release once, at its start, and reads every set from that release only:
// a reader never sees a mix of two releases, however a new one lands.
type current struct {
	store ReleaseStore
	poll  time.Duration
	mu    sync.Mutex // one refresh at a time
	v     atomic.Pointer[currentState]
	// onChange runs when a newer release is found.
	onChange func(ReleaseInfo)
	last     atomic.Int64 // the id last served
}

type currentState struct {
	info    ReleaseInfo
	ok      bool
	checked time.Time
}

// get returns the current release, asking the store when the last answer
// is older than the poll interval. With no release at all it returns a
// KindUnavailable error: the server makes the first one at start.
func (c *current) get(ctx context.Context) (ReleaseInfo, error) {
	st := c.v.Load()
	if st == nil || time.Since(st.checked) >= c.poll {
		var err error
		if st, err = c.refresh(ctx, st); err != nil {
			return ReleaseInfo{}, err
		}
	}
	if !st.ok {
		return ReleaseInfo{}, ctxmap.Errorf(ctxmap.KindUnavailable, "no_release",
			"no data release has been made yet; the server makes the first one when it starts")
	}
	return st.info, nil
}

// refresh asks the store, unless another request did so since seen.
func (c *current) refresh(ctx context.Context, seen *currentState) (*currentState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.v.Load(); st != seen && st != nil {
		return st, nil
	}
	info, ok, err := c.store.Latest(ctx)
	if err != nil {
		if seen != nil && seen.ok {
			// Keep serving the release we have: releases are immutable,
			// so the one we know stays correct while the database is away;
			// ask again after another poll interval, not on every request.
			st := *seen
			st.checked = time.Now()
			c.v.Store(&st)
			return &st, nil
		}
		return nil, err
	}
	st := &currentState{info: info, ok: ok, checked: time.Now()}
	c.v.Store(st)
	if ok && c.last.Swap(info.ID) != info.ID && c.onChange != nil {
		c.onChange(info)
	}
	return st, nil
}

// forget makes the next request ask the store, e.g. after this process made
// a release itself.
func (c *current) forget() { c.v.Store(nil) }
