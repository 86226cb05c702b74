package tiles

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
)

// hotspotBenchService serves one release of 36 months in which 2,107
// resolution 7 cells around Manchester (a cell and 26 rings) are each
// published in about two months of three, with values that drift over the
// months: the size of a metropolitan partnership at resolution 7.
func hotspotBenchService(b *testing.B) (*Service, int) {
	b.Helper()
	store := newMemReleases(func() time.Time { return testNow })
	w := WindowAt(testNow, DefaultWindowMonths)
	store.releases = []ReleaseInfo{{ID: 1, DataTime: testNow, Window: w, K: DefaultK, ChangedCells: -1}}
	store.nextID = 1
	area := h3.GridDisk(h3.LatLngToCell(h3.LatLng{Lat: 53.4808, Lng: -2.2426}, 7), 26)
	slices.Sort(area)
	rng := rand.New(rand.NewPCG(36, 2000))
	base := make([]int, len(area))
	for i := range base {
		base[i] = 2 + rng.IntN(20)
	}
	for m := w.First; !w.Last.Before(m); m = m.Add(1) {
		var l level
		for i, c := range area {
			if rng.IntN(3) == 0 {
				continue
			}
			v := base[i] + rng.IntN(3) + (i%5-2)*(m.index()-w.First.index())/6
			l.cells = append(l.cells, c)
			l.values = append(l.values, int32(max(2, v)*Rounding))
		}
		p := &Published{K: DefaultK}
		p.levels[7-6] = l
		store.sets[1] = append(store.sets[1], StoredSet{Key: SetKey{Layer: ctxmap.LayerHarm, First: m, Last: m}, Cells: len(l.cells), Data: EncodeSet(p)})
	}
	s, err := NewService(store, Config{Clock: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	return s, len(area)
}

// BenchmarkHotspotsRes7Months36 is issue 12's target: hot spots at
// resolution 7 over 36 monthly steps for about 2,000 cells from a cached
// release (its sets decoded and cached; the analysis computed each time).
func BenchmarkHotspotsRes7Months36(b *testing.B) {
	s, cells := hotspotBenchService(b)
	ctx := context.Background()
	req := HotspotRequest{Layer: ctxmap.LayerHarm, Res: 7, Step: StepMonth}
	r, err := s.Hotspots(ctx, req) // warms the set cache
	if err != nil {
		b.Fatal(err)
	}
	if len(r.Cells) != cells || len(r.Steps) != 36 {
		b.Fatalf("%d cells over %d steps", len(r.Cells), len(r.Steps))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.hotResults.purge()
		if _, err := s.Hotspots(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cells), "cells")
}

// BenchmarkHotspotsRes7Months36Cached is the same request answered from
// the analysis cache (every tile of a map view after the first).
func BenchmarkHotspotsRes7Months36Cached(b *testing.B) {
	s, _ := hotspotBenchService(b)
	ctx := context.Background()
	req := HotspotRequest{Layer: ctxmap.LayerHarm, Res: 7, Step: StepMonth}
	if _, err := s.Hotspots(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Hotspots(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
