package tiles

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Config carries the service's settings; zero values get defaults.
type Config struct {
	// K is the disclosure threshold; 0 means DefaultK, below MinK is refused.
	K int
	// Clock tells the time that periods are resolved against; nil means
	// time.Now. Tests pin it.
	Clock func() time.Time
	// CacheBytes bounds the encoded-tile cache; 0 means 64 MiB.
	CacheBytes int64
	// PublishedCacheBytes bounds the cache of published sets (one per
	// layer, category and period in use); 0 means 256 MiB.
	PublishedCacheBytes int64
	// Categories says which category codes exist. The taxonomy lives in
	// contexts, so it is passed in; nil refuses every category filter
	// (only "all categories" is then allowed).
	Categories Categories
}

// Service produces the anonymised heat outputs (tiles, cells, trends,
// exports) from one Source under one Policy. Every output is computed from
// the same cached published sets, so the same cell, filter and period show
// the same value everywhere. It is safe for concurrent use.
type Service struct {
	src        Source
	policy     Policy
	clock      func() time.Time
	categories Categories

	gen        atomic.Uint64
	sets       *lru[setKey, *heatSet]
	tiles      *lru[tileKey, *Tile]
	setFlight  flight[setKey, *heatSet]
	tileFlight flight[tileKey, *Tile]
	// bounds keeps hexagon boundaries across data generations: the same
	// cells are published again and again.
	bounds *geo.BoundaryCache
}

// NewService checks cfg and returns a ready service.
func NewService(src Source, cfg Config) (*Service, error) {
	if src == nil {
		return nil, fmt.Errorf("tiles: NewService: nil Source")
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
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 64 << 20
	}
	if cfg.PublishedCacheBytes <= 0 {
		cfg.PublishedCacheBytes = 256 << 20
	}
	return &Service{
		src:        src,
		policy:     pol,
		clock:      cfg.Clock,
		categories: cfg.Categories,
		sets:       newLRU[setKey, *heatSet](cfg.PublishedCacheBytes),
		tiles:      newLRU[tileKey, *Tile](cfg.CacheBytes),
		bounds:     geo.NewBoundaryCache(200_000),
	}, nil
}

// Policy is the policy the service publishes under, for descriptors and docs.
func (s *Service) Policy() Policy { return s.policy }

// Invalidate tells the service that harm locations changed (a write or an
// archive). Every later request recomputes from the Source, so the change
// shows in the next tile; work already in flight finishes under the old
// generation and is never served again. Call it after the change commits.
func (s *Service) Invalidate() {
	s.gen.Add(1)
	s.tiles.purge()
	s.sets.purge()
}

// Stats describes the caches, for metrics and capacity planning.
type Stats struct {
	Generation           uint64 // data generation (Invalidate calls so far)
	TileEntries          int
	TileBytes            int64
	TileHits, TileMisses uint64
	SetEntries           int
	SetBytes             int64
	SetHits, SetMisses   uint64
	CellGeometries       int // hexagon boundaries kept across generations
}

// Stats returns a snapshot of the cache counters.
func (s *Service) Stats() Stats {
	var st Stats
	st.Generation = s.gen.Load()
	st.TileEntries, st.TileBytes, st.TileHits, st.TileMisses = s.tiles.stats()
	st.SetEntries, st.SetBytes, st.SetHits, st.SetMisses = s.sets.stats()
	st.CellGeometries = s.bounds.Len()
	return st
}

// setKey identifies one published set; it names concrete months, so
// "last-3m" and the equivalent explicit range share one set.
type setKey struct {
	gen         uint64
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

// Published returns the published set for a filter: the one source every
// heat output is computed from. Code that derives statistics (hotspots,
// comparisons) must start here, never from raw observations.
func (s *Service) Published(ctx context.Context, f Filter) (*Published, error) {
	r, err := s.resolve(ctx, f)
	if err != nil {
		return nil, err
	}
	h, err := s.set(ctx, s.keyFor(r))
	if err != nil {
		return nil, err
	}
	pub := *h.pub // shares the immutable cell slices
	pub.Period = r.period
	return &pub, nil
}

func (s *Service) keyFor(r resolved) setKey {
	return setKey{gen: s.gen.Load(), layer: r.layer, category: r.category, first: r.period.First, last: r.period.Last}
}

// set returns the published set for k from the cache, or computes it once
// for all concurrent callers.
func (s *Service) set(ctx context.Context, k setKey) (*heatSet, error) {
	if h, ok := s.sets.get(k); ok {
		return h, nil
	}
	return s.setFlight.do(ctx, k, func(ctx context.Context) (*heatSet, error) {
		if h, ok := s.sets.get(k); ok {
			return h, nil
		}
		p := Period{Spec: k.first.String(), First: k.first, Last: k.last}
		if k.first != k.last {
			p.Spec += ".." + k.last.String()
		}
		dataTime := s.clock().UTC()
		obs, err := s.src.Observations(ctx, Query{Layer: k.layer, Category: k.category, From: p.From(), To: p.To()})
		if err != nil {
			return nil, fmt.Errorf("tiles: reading observations: %w", err)
		}
		pub := s.policy.Publish(obs)
		pub.Layer, pub.Category, pub.Period, pub.DataTime = string(k.layer), k.category, p, dataTime
		h := &heatSet{pub: pub}
		var cells int64
		for r := geo.MinRes; r <= geo.MaxRes; r++ {
			cells += int64(pub.Len(r))
		}
		// cell id + value + bound, plus slack for slices and the entry.
		s.sets.add(k, h, 512+cells*(8+4+32))
		return h, nil
	})
}
