package postcodes

import (
	"context"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/geo/geotest"

	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

// BenchmarkParseCodePoint measures the parsing side of an import alone:
// read, split, parse postcodes, convert the grid and encode COPY tuples for
// all of Code-Point Open, into a discard instead of PostgreSQL.
func BenchmarkParseCodePoint(b *testing.B) {
	dir := geotest.SharedData(b, "codepoint-open")
	srcs, _, closer, err := sources(FormatCodePoint, []string{dir})
	if err != nil {
		b.Fatal(err)
	}
	defer closer()
	var n int64
	for _, s := range srcs {
		n += s.size
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		st, err := copyRows(context.Background(), func(r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		}, FormatCodePoint, srcs, ImportOptions{}, nil)
		if err != nil || st.loaded != 1_744_635 {
			b.Fatal(st.loaded, err)
		}
	}
}

// BenchmarkImportCodePoint imports all of Code-Point Open (1.74 M rows)
// into PostGIS per iteration: parse, COPY, indexes, centroids, swap.
// Run with -benchtime 3x; each iteration takes ~10-20 s.
func BenchmarkImportCodePoint(b *testing.B) {
	dir := geotest.SharedData(b, "codepoint-open")
	pool := pgtest.New(b)
	var phases = map[string]time.Duration{}
	for b.Loop() {
		sum, err := Import(context.Background(), pool, FormatCodePoint, []string{dir}, ImportOptions{})
		if err != nil || sum.Loaded != 1_744_635 {
			b.Fatal(sum.Loaded, err)
		}
		for k, v := range sum.Phases {
			phases[k] += v
		}
	}
	b.ReportMetric(float64(1_744_635*b.N)/b.Elapsed().Seconds(), "rows/s")
	for k, v := range phases {
		b.ReportMetric(v.Seconds()/float64(b.N), k+"-s/op")
	}
}

// BenchmarkStore measures queries against the full Code-Point directory,
// imported once: Geocode of 1,000 random postcodes in one call, single
// Lookups (serially and from parallel goroutines) and Nearest.
func BenchmarkStore(b *testing.B) {
	dir := geotest.SharedData(b, "codepoint-open")
	pool := pgtest.New(b)
	ctx := context.Background()
	if _, err := Import(ctx, pool, FormatCodePoint, []string{dir}, ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	s := NewStore(pool)
	var all []string
	rows, err := pool.Query(ctx, `SELECT postcode FROM postcodes TABLESAMPLE SYSTEM (2) REPEATABLE (1)`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var pc string
		_ = rows.Scan(&pc)
		all = append(all, pc)
	}
	if len(all) < 10_000 {
		b.Fatalf("sampled %d postcodes", len(all))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	batch := func() []string {
		q := make([]string, MaxBatch)
		for i := range q {
			q[i] = all[rng.IntN(len(all))]
		}
		// Some partial and unknown input, as real batches have.
		for i := 0; i < 50; i++ {
			q[rng.IntN(len(q))] = q[rng.IntN(len(q))][:4]
			q[rng.IntN(len(q))] = "ZE1 9ZZ"
		}
		return q
	}
	b.Run("Geocode1000", func(b *testing.B) {
		batches := make([][]string, 20)
		for i := range batches {
			batches[i] = batch()
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Geocode(ctx, batches[i%len(batches)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Lookup", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Lookup(ctx, all[i%len(all)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("LookupParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rng.Uint64(), 3))
			for pb.Next() {
				if _, err := s.Lookup(ctx, all[r.IntN(len(all))]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Nearest10", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			lat, lon := 50.5+rng.Float64()*4, -3.5+rng.Float64()*3.5
			if _, err := s.Nearest(ctx, lat, lon, 10, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Nearest10Within1km", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			lat, lon := 51.4+rng.Float64()*0.2, -0.2+rng.Float64()*0.3
			if _, err := s.Nearest(ctx, lat, lon, 10, 1000); err != nil {
				b.Fatal(err)
			}
		}
	})
}
