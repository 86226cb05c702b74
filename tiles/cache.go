package tiles

import (
	"container/list"
	"context"
	"errors"
	"sync"
)

// lru is a mutex-guarded least-recently-used cache bounded by the sum of
// its entries' costs (bytes, approximately). An entry larger than the whole
// budget is not stored.
type lru[K comparable, V any] struct {
	mu     sync.Mutex
	max    int64
	used   int64
	order  *list.List // front = most recent; elements hold *lruEntry
	items  map[K]*list.Element
	hits   uint64
	misses uint64
}

type lruEntry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
}

func newLRU[K comparable, V any](maxCost int64) *lru[K, V] {
	return &lru[K, V]{max: maxCost, order: list.New(), items: make(map[K]*list.Element)}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		c.hits++
		return e.Value.(*lruEntry[K, V]).val, true
	}
	c.misses++
	var zero V
	return zero, false
}

func (c *lru[K, V]) add(k K, v V, cost int64) {
	if cost > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		old := e.Value.(*lruEntry[K, V])
		c.used += cost - old.cost
		old.val, old.cost = v, cost
		c.order.MoveToFront(e)
	} else {
		c.items[k] = c.order.PushFront(&lruEntry[K, V]{k, v, cost})
		c.used += cost
	}
	for c.used > c.max {
		e := c.order.Back()
		old := e.Value.(*lruEntry[K, V])
		c.order.Remove(e)
		delete(c.items, old.key)
		c.used -= old.cost
	}
}

// purge drops every entry, freeing memory at once after an invalidation.
func (c *lru[K, V]) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.items)
	c.used = 0
}

func (c *lru[K, V]) stats() (entries int, used int64, hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used, c.hits, c.misses
}

// flight collapses concurrent computations of the same key into one
// (golang.org/x/sync/singleflight, which is not a direct dependency).
// The leader computes under its own context; when it fails only because
// its context ended, waiters whose contexts are still live try again
// rather than inherit someone else's cancellation.
type flight[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*flightCall[V]
}

type flightCall[V any] struct {
	done chan struct{}
	val  V
	err  error
}

func (f *flight[K, V]) do(ctx context.Context, k K, fn func(context.Context) (V, error)) (V, error) {
	for {
		f.mu.Lock()
		if f.calls == nil {
			f.calls = make(map[K]*flightCall[V])
		}
		if c, ok := f.calls[k]; ok {
			f.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				var zero V
				return zero, ctx.Err()
			}
			if c.err != nil && isContextErr(c.err) && ctx.Err() == nil {
				continue // the leader was cancelled, not us: try again
			}
			return c.val, c.err
		}
		c := &flightCall[V]{done: make(chan struct{})}
		f.calls[k] = c
		f.mu.Unlock()

		func() {
			defer func() {
				f.mu.Lock()
				delete(f.calls, k)
				f.mu.Unlock()
				close(c.done)
			}()
			c.err = errPanicked // replaced unless fn panics
			c.val, c.err = fn(ctx)
		}()
		return c.val, c.err
	}
}

var errPanicked = errors.New("tiles: shared computation panicked")

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
