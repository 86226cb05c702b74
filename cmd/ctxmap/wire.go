package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo/postcodes"
	"github.com/ctxmap/ctxmap/tiles"
	"github.com/ctxmap/ctxmap/web"
)

// categorySet answers "is this a harm category?" for the heat filters
// without a database round trip per tile. It is refreshed periodically and
// whenever heat data changes, so a category added by an admin appears soon.
type categorySet struct {
	store       *contexts.Store
	codes       atomic.Pointer[map[string]bool]
	lastRefresh atomic.Int64
}

func (c *categorySet) refresh(ctx context.Context) error {
	t, err := c.store.Taxonomy(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]bool, len(t.Categories)+1)
	m[contexts.ExtraFamilial] = true
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

// services is everything buildServer wires together.
type services struct {
	records *contexts.Store
	heat    *tiles.Service
	server  *web.Server
}

// buildServices wires the domain services and the HTTP server. Background
// work (cache invalidation from other processes, taxonomy refresh) runs
// until ctx ends.
func buildServices(ctx context.Context, c *Config, pool *pgxpool.Pool, log *slog.Logger) (*services, error) {
	var heat *tiles.Service
	dir := postcodes.NewStore(pool)
	records, err := contexts.NewStore(pool, []byte(c.Secret), contexts.DirectoryGeocoder(dir),
		contexts.WithLogger(log),
		contexts.OnHeatChange(func() {
			if heat != nil {
				heat.Invalidate()
			}
		}))
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
	go func() {
		// Writes by other processes (imports, a second server) arrive as
		// NOTIFY; ListenHeat reconnects by itself until ctx ends.
		if err := contexts.ListenHeat(ctx, pool, heat.Invalidate); err != nil && ctx.Err() == nil {
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
	srv := web.New(cfg, web.Deps{Pool: pool, Users: contexts.NewUsers(pool), Records: records, Postcodes: dir, Heat: heat, Logger: log})
	return &services{records: records, heat: heat, server: srv}, nil
}
