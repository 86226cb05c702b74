package tiles

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Config carries the service's settings; zero values get defaults.
type Config struct {
	// K is the disclosure threshold; 0 means DefaultK, below MinK is refused.
	// It must be the k the releases were made under: the service refuses
	// to serve a release made under another.
	K int
	// Clock is the time a period is judged complete against (a complete
	// month the release does not cover yet is "not released", a month not
	// over is "incomplete"); nil means time.Now. Tests pin it.
	Clock func() time.Time
	// ReleasePoll is how often the service asks for a newer release; 0
	// means DefaultReleasePoll.
	ReleasePoll time.Duration
	// CacheBytes bounds the encoded-tile cache; 0 means 64 MiB.
	CacheBytes int64
	// PublishedCacheBytes bounds the cache of published sets (one per
	// layer, category and period in use); 0 means 256 MiB.
	PublishedCacheBytes int64
	// Categories says which category codes exist. The taxonomy lives in
	// contexts, so it is passed in; nil refuses every category filter
	// (only "all categories" is then allowed).
	Categories Categories
	// Logger gets one line each time the service starts serving a newer
	// release, so an operator can tell when each replica switched; nil
	// means slog.Default().
	Logger *slog.Logger
}

// Service produces the anonymised heat outputs (tiles, cells, trends,
// exports) from the current release (PRIVACY.md rule 12). Every output is
// computed from the same cached published sets of that release, so the same
// cell, filter and period show the same value everywhere, on every replica,
// until the next release. It is safe for concurrent use.
type Service struct {
	releases   ReleaseStore
	current    current
	policy     Policy
	clock      func() time.Time
	categories Categories
	periods    periodMemo

	sets       *lru[setKey, *heatSet]
	tiles      *lru[tileKey, *Tile]
	setFlight  flight[setKey, *heatSet]
	tileFlight flight[tileKey, *Tile]
	// Hot spot analyses and their tiles, per release like the tiles.
	hotResults *lru[hotspotKey, *HotspotResult]
	hotTiles   *lru[hotTileKey, *Tile]
	hotFlight  flight[hotspotKey, *HotspotResult]
	// bounds keeps hexagon boundaries across data generations: the same
	// cells are published again and again.
	bounds *geo.BoundaryCache
}

// NewService checks cfg and returns a service reading releases from store.
func NewService(store ReleaseStore, cfg Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("tiles: NewService: nil ReleaseStore")
	}
	if cfg.K == 0 {
		cfg.K = DefaultK
	}
	pol, err := NewPolicy(cfg.K)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.ReleasePoll <= 0 {
		cfg.ReleasePoll = DefaultReleasePoll
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 64 << 20
	}
	if cfg.PublishedCacheBytes <= 0 {
		cfg.PublishedCacheBytes = 256 << 20
	}
	svc := &Service{
		releases:   store,
		current:    current{store: store, poll: cfg.ReleasePoll},
		policy:     pol,
		clock:      cfg.Clock,
		categories: cfg.Categories,
		sets:       newLRU[setKey, *heatSet](cfg.PublishedCacheBytes),
		tiles:      newLRU[tileKey, *Tile](cfg.CacheBytes),
		hotResults: newLRU[hotspotKey, *HotspotResult](64 << 20),
		hotTiles:   newLRU[hotTileKey, *Tile](16 << 20),
		bounds:     geo.NewBoundaryCache(200_000),
	}
	// Cached sets and tiles of an older release are never served again
	// (their keys name the release); dropping them frees the memory.
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	svc.current.onChange = func(info ReleaseInfo) {
		svc.purge()
		log.Info("serving release", "release", info.ID, "data_time", info.DataTime.UTC().Format(time.RFC3339),
			"first_month", info.Window.First.String(), "last_month", info.Window.Last.String())
	}
	return svc, nil
}

// Policy is the policy the service publishes under, for descriptors and docs.
func (s *Service) Policy() Policy { return s.policy }

// ReleaseMade tells the service that this process has just made a release,
// so the next request uses it without waiting for the poll. Other replicas
// find it within ReleasePoll.
func (s *Service) ReleaseMade() { s.current.forget() }

// purge drops every cached set and tile: they belong to a release no
// longer served.
func (s *Service) purge() {
	s.tiles.purge()
	s.sets.purge()
	s.hotResults.purge()
	s.hotTiles.purge()
}

// Release is the release the service currently serves.
func (s *Service) Release(ctx context.Context) (ReleaseInfo, error) { return s.current.get(ctx) }

// Stats describes the caches, for metrics and capacity planning.
type Stats struct {
	Release              int64 // the release served
	TileEntries          int
	TileBytes            int64
	TileHits, TileMisses uint64
	SetEntries           int
	SetBytes             int64
	SetHits, SetMisses   uint64
	CellGeometries       int // hexagon boundaries kept across releases
}

// Stats returns a snapshot of the cache counters.
func (s *Service) Stats() Stats {
	var st Stats
	if st0 := s.current.v.Load(); st0 != nil {
		st.Release = st0.info.ID
	}
	st.TileEntries, st.TileBytes, st.TileHits, st.TileMisses = s.tiles.stats()
	st.SetEntries, st.SetBytes, st.SetHits, st.SetMisses = s.sets.stats()
	st.CellGeometries = s.bounds.Len()
	return st
}

// setKey identifies one published set of one release; it names concrete
// months, so "last-3m" and the equivalent explicit range share one set.
type setKey struct {
	release     int64
	layer       ctxmap.Layer
	category    string
	first, last Month
}

// heatSet is a cached published set plus the per-resolution cell bounds
// the tile path needs, built on first use.
type heatSet struct {
	pub    *Published
	once   [geo.MaxRes - geo.MinRes + 1]sync.Once
	bounds [geo.MaxRes - geo.MinRes + 1][]orb.Bound
}

// boundsAt returns the lon/lat bounds of the published cells at res,
// aligned with pub.levels.
func (h *heatSet) boundsAt(res int, cache *geo.BoundaryCache) []orb.Bound {
	i := res - geo.MinRes
	h.once[i].Do(func() {
		cells := h.pub.levels[i].cells
		b := make([]orb.Bound, len(cells))
		for j, c := range cells {
			b[j] = cache.Boundary(c).Bound
		}
		h.bounds[i] = b
	})
	return h.bounds[i]
}

// inBound lists the published cells at res whose hexagon bound intersects
// b, in id order.
func (s *Service) inBound(h *heatSet, res int, b orb.Bound) []CellValue {
	bounds := h.boundsAt(res, s.bounds)
	l := &h.pub.levels[res-geo.MinRes]
	var out []CellValue
	for j, cb := range bounds {
		if cb.Intersects(b) {
			out = append(out, CellValue{l.cells[j], int(l.values[j])})
		}
	}
	return out
}

// inView lists the published cells at res whose hexagon meets b (not just
// its bounding box): the whole cells a map view shows, for the cells JSON
// and the exports. Tiles keep the cheaper inBound: a few extra hexagons in
// a tile's buffer are drawn outside it anyway.
func (s *Service) inView(h *heatSet, res int, b orb.Bound) []CellValue {
	cvs := s.inBound(h, res, b)
	out := cvs[:0]
	for _, cv := range cvs {
		if ringMeetsBound(s.bounds.Boundary(cv.Cell).Ring, b) {
			out = append(out, cv)
		}
	}
	return out
}

// Published returns the published set for a filter: the one source every
// heat output is computed from. Code that derives statistics (hotspots,
// comparisons) must start here, never from raw observations.
func (s *Service) Published(ctx context.Context, f Filter) (*Published, error) {
	r, err := s.resolve(ctx, f)
	if err != nil {
		return nil, err
	}
	h, err := s.set(ctx, r.release, s.keyFor(r))
	if err != nil {
		return nil, err
	}
	pub := *h.pub // shares the immutable cell slices
	pub.Period = r.period
	return &pub, nil
}

func (s *Service) keyFor(r resolved) setKey {
	return setKey{release: r.release.ID, layer: r.layer, category: r.category, first: r.period.First, last: r.period.Last}
}

// set returns the published set for k from the cache, or loads it from the
// release store once for all concurrent callers.
func (s *Service) set(ctx context.Context, rel ReleaseInfo, k setKey) (*heatSet, error) {
	if h, ok := s.sets.get(k); ok {
		return h, nil
	}
	return s.setFlight.do(ctx, k, func(ctx context.Context) (*heatSet, error) {
		if h, ok := s.sets.get(k); ok {
			return h, nil
		}
		sk := SetKey{Layer: k.layer, Category: k.category, First: k.first, Last: k.last}
		b, ok, err := s.releases.Set(ctx, k.release, sk)
		if err != nil {
			return nil, fmt.Errorf("tiles: reading release %d set %s: %w", k.release, sk, err)
		}
		if !ok {
			return nil, missingSet(rel, sk)
		}
		pub, err := DecodeSet(b, rel.K)
		if err != nil {
			return nil, fmt.Errorf("tiles: release %d set %s: %w", k.release, sk, err)
		}
		pub.Layer, pub.Category, pub.DataTime, pub.Release = string(k.layer), k.category, rel.DataTime, rel
		pub.Period = Period{Spec: periodSpec(k.first, k.last), First: k.first, Last: k.last}
		h := &heatSet{pub: pub}
		cells := int64(pub.TotalCells())
		// cell id + value + bound, plus slack for slices and the entry.
		s.sets.add(k, h, 512+cells*(8+4+32))
		return h, nil
	})
}
