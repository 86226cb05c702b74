package tiles

import (
	"time"

	"github.com/ctxmap/ctxmap"

	"context"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/geo"
)

// benchObservations is about a million distinct (subject, cell)
// observations: 150,000 young people over Greater Manchester, mostly
// around 40 hot spots, 10% geocoded only to a sector or district.
var benchObservations = sync.OnceValue(func() []Observation {
	rng := rand.New(rand.NewPCG(2026, 4))
	type hot struct{ lat, lng, spread float64 }
	hots := make([]hot, 40)
	for i := range hots {
		hots[i] = hot{53.35 + rng.Float64()*0.3, -2.5 + rng.Float64()*0.5, 0.003 + rng.Float64()*0.02}
	}
	obs := make([]Observation, 0, 1_000_000)
	for s := int64(0); len(obs) < 1_000_000; s++ {
		key := uint8(rng.IntN(256))
		for n := 1 + rng.IntN(12); n > 0 && len(obs) < 1_000_000; n-- {
			var lat, lng float64
			if rng.IntN(4) == 0 {
				lat, lng = 53.3+rng.Float64()*0.4, -2.6+rng.Float64()*0.7
			} else {
				h := hots[rng.IntN(len(hots))]
				lat, lng = h.lat+rng.NormFloat64()*h.spread, h.lng+rng.NormFloat64()*h.spread*1.6
			}
			res := 8
			if rng.IntN(10) == 0 {
				res = 6 + rng.IntN(2)
			}
			obs = append(obs, Observation{Subject: s * 7919, Key: key, Cell: h3.LatLngToCell(h3.NewLatLng(lat, lng), res)})
		}
	}
	return obs
})

func BenchmarkPublish1M(b *testing.B) {
	obs := benchObservations()
	p := mustPolicy(b, DefaultK)
	b.ReportAllocs()
	b.ResetTimer()
	var pub *Published
	for b.Loop() {
		pub = p.Publish(obs)
	}
	b.ReportMetric(float64(pub.Len(6)+pub.Len(7)+pub.Len(8)), "cells")
}

// benchService returns a service over a release of the million
// observations (one month, so the release is quick to make), and the z-tile
// over the busiest cell.
func benchService(b *testing.B, z int) (*Service, TileRequest) {
	obs := benchObservations()
	store := newMemReleases(func() time.Time { return testNow })
	month := MonthOf(testNow).Add(-1)
	for _, o := range obs {
		store.records = append(store.records, ReleaseRecord{Layer: ctxmap.LayerHarm, Month: month, Observation: o})
	}
	store.cats, store.ef = store.cats[:1], store.ef[:1]
	s, err := NewService(store, Config{Categories: testCategorySet{}, Clock: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	rel, err := NewReleaser(store, s.Policy(), ReleaseConfig{WindowMonths: 1, Clock: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	if err := rel.EnsureFirst(context.Background()); err != nil {
		b.Fatal(err)
	}
	f := Filter{Period: month.String()}
	pub, err := s.Published(context.Background(), f)
	if err != nil {
		b.Fatal(err)
	}
	best := pub.Cells(8)[0]
	for _, c := range pub.Cells(8) {
		if c.Value > best.Value {
			best = c
		}
	}
	ll := h3.CellToLatLng(best.Cell)
	t := maptile.At(orb.Point{ll.Lng, ll.Lat}, maptile.Zoom(z))
	return s, TileRequest{Tile: t, Filter: f}
}

func BenchmarkHeatTileCached(b *testing.B) {
	s, req := benchService(b, 12)
	ctx := context.Background()
	if _, err := s.HeatTile(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.HeatTile(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeatTileCachedParallel(b *testing.B) {
	s, req := benchService(b, 12)
	ctx := context.Background()
	if _, err := s.HeatTile(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.HeatTile(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Uncached tiles: the published set is cached, the tile is not (the
// normal miss: a tile not requested before since the last write).
func benchUncached(b *testing.B, z int) {
	s, req := benchService(b, z)
	ctx := context.Background()
	tl, err := s.HeatTile(ctx, req) // warms the cell geometry
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.tiles.purge()
		if _, err := s.HeatTile(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(tl.Bytes)), "bytes")
	b.ReportMetric(float64(len(decodeHeat(b, tl.Bytes))), "features")
}

func BenchmarkHeatTileUncachedZ12(b *testing.B) { benchUncached(b, 12) }
func BenchmarkHeatTileUncachedZ10(b *testing.B) { benchUncached(b, 10) }
func BenchmarkHeatTileUncachedZ8(b *testing.B)  { benchUncached(b, 8) }

// The first tile of a new release: read the stored set (from memory here,
// no database), decode it, index the cells, encode.
func BenchmarkFirstTileOfARelease(b *testing.B) {
	s, req := benchService(b, 12)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.purge()
		if _, err := s.HeatTile(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExportCSV(b *testing.B) {
	s, req := benchService(b, 12)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.ExportCSV(ctx, io.Discard, ExportRequest{Filter: req.Filter}); err != nil {
			b.Fatal(err)
		}
	}
}

// Encoding alone: 500 resolution-8 hexagons in one z10 tile, projected,
// clipped, MVT-marshalled and gzipped (TESTING.md's reference point).
func BenchmarkEncodeHeat500(b *testing.B) {
	center := h3.LatLngToCell(h3.NewLatLng(53.4808, -2.2426), 8)
	cells := center.GridDisk(13)[:500]
	slices.Sort(cells)
	cvs := make([]CellValue, len(cells))
	for i, c := range cells {
		cvs[i] = CellValue{c, 10 + 5*(i%7)}
	}
	bounds := geo.NewBoundaryCache(1000)
	ll := h3.CellToLatLng(center)
	t := maptile.At(orb.Point{ll.Lng, ll.Lat}, 10)
	b.ReportAllocs()
	b.ResetTimer()
	var out []byte
	n := 0
	for b.Loop() {
		var err error
		feats := heatFeatures(t, 8, cvs, bounds.Boundary)
		n = len(feats)
		out, _, err = encodeLayer(HeatLayer, feats)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)), "bytes")
	b.ReportMetric(float64(n), "features")
}
