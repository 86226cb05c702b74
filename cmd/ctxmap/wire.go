package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/geo/postcodes"
	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/tiles"
	"github.com/ctxmap/ctxmap/web"
)

// categorySet answers "is this a harm category?" for the heat filters
// without a database round trip per tile. It is refreshed every 30 s, and at
// once (at most once a second) when asked about a code it does not know, so
// a category an admin has just added works straight away.
type categorySet struct {
	store       *postgres.Store
	codes       atomic.Pointer[map[string]bool]
	lastRefresh atomic.Int64
}

func (c *categorySet) refresh(ctx context.Context) error {
	t, err := c.store.Taxonomy(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]bool, len(t.Categories)+1)
	m[ctxmap.ExtraFamilial] = true
	for _, cat := range t.Categories {
		m[cat.Code] = true
	}
	c.codes.Store(&m)
	return nil
}

// valid answers from memory; an unknown code triggers one refresh (at most
// once a second), so a category an admin has just added works at once.
func (c *categorySet) valid(code string) bool {
	if m := c.codes.Load(); m != nil && (*m)[code] {
		return true
	}
	now := time.Now().UnixNano()
	last := c.lastRefresh.Load()
	if now-last < int64(time.Second) || !c.lastRefresh.CompareAndSwap(last, now) {
		return false
	}
	// The validator has no request context; the refresh is one small
	// query, bounded here.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.refresh(ctx); err != nil {
		return false
	}
	m := c.codes.Load()
	return m != nil && (*m)[code]
}

// warmer rebuilds the default view's published set (harm layer, all
// categories, last 12 months) in the background at start and shortly after
// each burst of writes, so the first map view after a write usually finds it
// ready. It never serves stale data: a request that arrives during a rebuild
// waits for it (tiles.Service computes each set once).
type warmer struct {
	ctx   context.Context
	log   *slog.Logger
	mu    sync.Mutex
	timer *time.Timer
}

func newWarmer(ctx context.Context, log *slog.Logger) *warmer { return &warmer{ctx: ctx, log: log} }

// warmDelay lets a burst of writes (an import, a busy afternoon) settle
// into one rebuild.
const warmDelay = 300 * time.Millisecond

func (w *warmer) soon(heat *tiles.Service) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(warmDelay, func() { w.now(heat) })
}

func (w *warmer) now(heat *tiles.Service) {
	if w.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	if _, err := heat.Published(ctx, tiles.Filter{}); err != nil && ctx.Err() == nil {
		w.log.Warn("warming the default heat view", "err", err)
	}
}

// newRecords is the records store every command uses: keyed with the
// deployment secret, geocoding through the imported postcode directory.
func newRecords(c *Config, pool *pgxpool.Pool, dir *postcodes.Store, opts ...postgres.Option) (*postgres.Store, error) {
	return postgres.NewStore(pool, []byte(c.Secret), postgres.DirectoryGeocoder(dir), opts...)
}

// buildServer wires the domain services and the HTTP server. Background
// work (cache invalidation from other processes, taxonomy refresh) runs
// until ctx ends.
func buildServer(ctx context.Context, c *Config, pool *pgxpool.Pool, log *slog.Logger) (*web.Server, error) {
	var heat *tiles.Service
	warm := newWarmer(ctx, log)
	invalidate := func() {
		if heat != nil {
			heat.Invalidate()
			warm.soon(heat)
		}
	}
	dir := postcodes.NewStore(pool)
	records, err := newRecords(c, pool, dir,
		postgres.WithLogger(log),
		postgres.OnHeatChange(invalidate))
	if err != nil {
		return nil, err
	}
	cats := &categorySet{store: records}
	if err := cats.refresh(ctx); err != nil {
		return nil, err
	}
	heat, err = tiles.NewService(records, tiles.Config{K: c.K, CacheBytes: c.TileCacheBytes, ValidCategory: cats.valid})
	if err != nil {
		return nil, err
	}
	go warm.now(heat)
	go func() {
		// Writes by other processes (imports, a second server) arrive as
		// NOTIFY; ListenHeat reconnects by itself until ctx ends.
		if err := postgres.ListenHeat(ctx, pool, invalidate); err != nil && ctx.Err() == nil {
			log.Error("listening for heat changes stopped", "err", err)
		}
	}()
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := cats.refresh(ctx); err != nil && ctx.Err() == nil {
					log.Warn("refreshing categories", "err", err)
				}
			}
		}
	}()
	cfg := web.Config{
		Version:            version,
		MaxBodyBytes:       c.MaxBodyBytes,
		Basemap:            c.Basemap,
		BasemapAttribution: c.BasemapAttribution,
		CenterLat:          c.CenterLat,
		CenterLon:          c.CenterLon,
		Zoom:               12,
		SessionTTL:         12 * time.Hour,
	}
	return web.New(cfg, web.Deps{
		Ready:      web.ReadyFunc(func(ctx context.Context) error { return pg.Current(ctx, pool) }),
		Users:      postgres.NewUsers(pool),
		Records:    records,
		Audit:      records,
		Boundaries: postgres.NewBoundaries(pool),
		Postcodes:  dir,
		Heat:       heat,
		Logger:     log,
	}), nil
}
