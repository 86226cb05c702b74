package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/geo/postcodes"
	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/tiles"
	"github.com/ctxmap/ctxmap/tiles/basemap"
	"github.com/ctxmap/ctxmap/web"
)

// categorySet is the heat filters' tiles.Categories: it answers "is this a
// harm category?" from memory, without a database round trip per tile. It is
// refreshed every 30 s (run), and at once, at most once a second, when asked
// about a code it does not know, so a category an admin has just added works
// straight away. This is the one place of that refresh policy.
type categorySet struct {
	store       *postgres.Store
	codes       atomic.Pointer[map[string]bool]
	lastRefresh atomic.Int64
}

// categoryRefresh is how often the set is reloaded without being asked, and
// categoryRetry the least time between reloads for unknown codes.
const (
	categoryRefresh = 30 * time.Second
	categoryRetry   = time.Second
)

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

// Known answers from memory; an unknown code triggers one refresh (at most
// once a second), bounded by the request's ctx, so a category an admin has
// just added works at once.
func (c *categorySet) Known(ctx context.Context, code string) (bool, error) {
	if c.has(code) {
		return true, nil
	}
	now := time.Now().UnixNano()
	last := c.lastRefresh.Load()
	if now-last < int64(categoryRetry) || !c.lastRefresh.CompareAndSwap(last, now) {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.refresh(ctx); err != nil {
		return false, fmt.Errorf("refreshing the harm categories: %w", err)
	}
	return c.has(code), nil
}

func (c *categorySet) has(code string) bool {
	m := c.codes.Load()
	return m != nil && (*m)[code]
}

// run refreshes the set every categoryRefresh until ctx ends.
func (c *categorySet) run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(categoryRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("refreshing categories", "err", err)
			}
		}
	}
}

// newRecords is the records store every command uses: keyed with the
// deployment secret, geocoding through the imported postcode directory.
func newRecords(c *Config, pool *pgxpool.Pool, dir *postcodes.Store, opts ...postgres.Option) (*postgres.Store, error) {
	return postgres.NewStore(pool, []byte(c.Secret), postgres.DirectoryGeocoder(dir), opts...)
}

// releaseCheck is how often the schedule looks whether a release is due;
// the work itself runs on one replica only (tiles.Releaser).
const releaseCheck = time.Minute

// buildServer wires the domain services and the HTTP server. Background
// work (the release schedule, taxonomy refresh) runs until ctx ends. With
// hooks, changes to contexts with linked young people are queued for the
// case system.
//
// With read (a pool on a streaming replica, or nil), the published values
// of releases and the postcode directory answer from it; everything that
// must read its own writes stays on pool (postgres.Releases says how lag
// is handled).
//
// Published values come from releases only (PRIVACY.md rule 12): with no
// release yet, buildServer makes the first one, so a new deployment shows
// its map at once; every replica then polls for newer releases, the one
// signal that changes what it serves.
func buildServer(ctx context.Context, c *Config, pool, read *pgxpool.Pool, log *slog.Logger, hooks *postgres.Webhooks) (*web.Server, error) {
	dir := postcodes.NewStore(pool)
	opts := []postgres.Option{postgres.WithLogger(log), postgres.WithDisclosureThreshold(c.K),
		postgres.WithSubjectDailyCap(c.SubjectDailyCap), postgres.WithBurstAlert(c.BurstAlert),
		postgres.WithAllocationsRequired(c.AllocationsRequired)}
	if hooks != nil {
		opts = append(opts, postgres.WithWebhooks(hooks))
	}
	records, err := newRecords(c, pool, dir, opts...)
	if err != nil {
		return nil, err
	}
	cats := &categorySet{store: records}
	if err := cats.refresh(ctx); err != nil {
		return nil, err
	}
	store := postgres.NewReleases(pool)
	lookups := dir
	var metrics []prometheus.Collector
	if read != nil {
		store.ReadFrom(read, log)
		lookups = postcodes.NewStore(read)
		metrics = readMetrics(store)
	}
	heat, err := tiles.NewService(store, tiles.Config{K: c.K, CacheBytes: c.TileCacheBytes, Categories: cats, ReleasePoll: c.ReleasePoll, Logger: log})
	if err != nil {
		return nil, err
	}
	rcfg, err := c.releaseConfig()
	if err != nil {
		return nil, err
	}
	rcfg.Logger = log
	releaser, err := tiles.NewReleaser(store, heat.Policy(), rcfg)
	if err != nil {
		return nil, err
	}
	if err := releaser.EnsureFirst(ctx); err != nil {
		return nil, fmt.Errorf("making the first data release: %w", err)
	}
	go releaser.RunSchedule(ctx, releaseCheck)
	retention, err := newRetention(c, pool, records)
	if err != nil {
		return nil, err
	}
	if _, scheduled, _ := c.retentionPolicy(); scheduled {
		go retention.RunSchedule(ctx, retentionCheck)
	}
	go cats.run(ctx, log)
	logins, err := postgres.NewLogins(pool, contexts.DefaultLoginLimits)
	if err != nil {
		return nil, err
	}
	idem := postgres.NewIdempotency(pool, []byte(c.Secret))
	go pruneLimits(ctx, log, logins, idem)
	var local web.LocalBasemap
	if c.BasemapFile != "" {
		if c.Basemap != "" {
			return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_twice", "give --basemap (a local file) or --basemap-url, not both")
		}
		a, err := basemap.Open(ctx, c.BasemapFile, log)
		if err != nil {
			return nil, err
		}
		local = a
	}
	cfg := web.Config{
		Version:            version,
		MaxBodyBytes:       c.MaxBodyBytes,
		Basemap:            c.Basemap,
		BasemapAttribution: c.BasemapAttribution,
		CenterLat:          c.CenterLat,
		CenterLon:          c.CenterLon,
		Zoom:               12,
		SessionTTL:         12 * time.Hour,
		TrustedProxies:     c.TrustedProxies,
		ValidateResponses:  c.ValidateResponses,
		OIDC:               c.OIDC,
		PasswordLoginOff:   c.PasswordLoginOff,
	}
	users := postgres.NewUsers(pool)
	return web.New(cfg, web.Deps{
		Ready:        web.NewReadiness(func(ctx context.Context) error { return pg.Current(ctx, pool) }, pg.Unavailable),
		Users:        users,
		SSO:          users,
		Records:      records,
		Audit:        records,
		Releases:     releaser,
		Alerts:       records,
		Reviews:      records,
		Retention:    retention,
		Allocations:  records,
		Boundaries:   postgres.NewBoundaries(pool),
		Postcodes:    lookups,
		Places:       dir,
		LocalBasemap: local,
		Heat:         heat,
		Logins:       logins,
		Idempotency:  idem,
		Logger:       log,
		Metrics:      metrics,
	}), nil
}

// readMetrics counts the published reads the read replica answered and
// those the primary answered for it (lag, or the replica away).
func readMetrics(store *postgres.Releases) []prometheus.Collector {
	const name, help = "ctxmap_published_reads_total", "Reads of release values with a read replica configured, by who answered: replica, or primary (the replica lagged or failed)."
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"answered_by": "replica"}},
			func() float64 { return float64(store.ReadStats().FromReader) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"answered_by": "primary"}},
			func() float64 { return float64(store.ReadStats().FromPrimary) }),
	}
}

// limitsPrune is how often expired login failures and idempotency keys are
// deleted; every replica does it, which costs an indexed delete each.
const limitsPrune = 10 * time.Minute

// pruneLimits deletes expired login failures and idempotency keys until ctx
// ends, so both tables stay as small as their windows.
func pruneLimits(ctx context.Context, log *slog.Logger, logins *postgres.Logins, idem *postgres.Idempotency) {
	t := time.NewTicker(limitsPrune)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := logins.PruneLogins(ctx, now); err != nil && ctx.Err() == nil {
				log.Warn("pruning login failures", "err", err)
			}
			if _, err := idem.PruneIdempotencyKeys(ctx, now); err != nil && ctx.Err() == nil {
				log.Warn("pruning idempotency keys", "err", err)
			}
		}
	}
}
