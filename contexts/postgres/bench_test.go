package postgres

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/geo/geotest"
	"github.com/ctxmap/ctxmap/geo/postcodes"
	"github.com/ctxmap/ctxmap/tiles"
)

// hackneyCSV is real reference data (Code-Point Open, Hackney, converted to
// WGS84), inside the shared data folder next to the repository.
const hackneyCSV = "derived/hackney_postcodes_latlong_lsoa21.csv"

type benchPostcode struct {
	pc       string
	lat, lon float64
}

func loadHackney(tb testing.TB) []benchPostcode {
	tb.Helper()
	f, err := os.Open(geotest.SharedData(tb, hackneyCSV))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	var out []benchPostcode
	for _, r := range recs[1:] {
		lat, _ := strconv.ParseFloat(r[6], 64)
		lon, _ := strconv.ParseFloat(r[7], 64)
		out = append(out, benchPostcode{r[0], lat, lon})
	}
	return out
}

// mapGeocoder is an in-memory directory: the benchmark measures the
// records import, not the directory (which has its own benchmark).
type mapGeocoder map[string]contexts.Geocoded

func (m mapGeocoder) Geocode(_ context.Context, pcs []string) ([]contexts.Geocoded, error) {
	out := make([]contexts.Geocoded, len(pcs))
	for i, p := range pcs {
		g, ok := m[p]
		if !ok {
			g = contexts.Geocoded{Postcode: p, Match: "none"}
		}
		out[i] = g
	}
	return out, nil
}

// genHarmCSV writes n realistic rows: 80% by postcode (one borough's
// postcodes), 20% by lat/lon, n/5 distinct young people, one or two
// categories, dates over two years.
func genHarmCSV(n int, pcs []benchPostcode, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	cats := []string{"cse", "cce", "county_lines", "serious_youth_violence", "gangs", "missing", "online_harm", "teenage_relationship_abuse"}
	fam := []string{"extra", "extra", "extra", "both", "unknown", "intra"}
	layers := []string{"harm", "harm", "harm", "unsafe"}
	sources := []string{"referral", "assessment", "safety_map", "partner_information", "other"}
	types := []string{"park", "street", "bus_stop", "estate", "takeaway", "shop", "station", "school"}
	var b bytes.Buffer
	b.Grow(n * 90)
	b.WriteString("subject,categories,familial,layer,occurred,source,location_type,postcode,lat,lon\n")
	start := testNow.AddDate(-2, 0, 0)
	for i := 0; i < n; i++ {
		subj := rng.IntN(max(1, n/5))
		c := cats[rng.IntN(len(cats))]
		if rng.IntN(3) == 0 {
			c += ";" + cats[rng.IntN(len(cats))]
		}
		day := start.AddDate(0, 0, rng.IntN(700)).Format("2006-01-02")
		p := pcs[rng.IntN(len(pcs))]
		fmt.Fprintf(&b, "MOS%07d,%s,%s,%s,%s,%s,%s,", subj, c, fam[rng.IntN(len(fam))], layers[rng.IntN(len(layers))], day,
			sources[rng.IntN(len(sources))], types[rng.IntN(len(types))])
		if rng.IntN(5) == 0 {
			fmt.Fprintf(&b, ",%.6f,%.6f\n", p.lat+rng.NormFloat64()*0.002, p.lon+rng.NormFloat64()*0.003)
		} else {
			b.WriteString(p.pc)
			b.WriteString(",,\n")
		}
	}
	return b.Bytes()
}

func benchRows(def int) int {
	if v, err := strconv.Atoi(os.Getenv("CTXMAP_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkImportHarmCSV imports 1,000,000 rows (CTXMAP_BENCH_ROWS) into a
// fresh database per iteration: parse, validate, geocode, H3, COPY.
// Run with -benchtime=1x.
func BenchmarkImportHarmCSV(b *testing.B) {
	pcs := loadHackney(b)
	geoc := mapGeocoder{}
	for _, p := range pcs {
		geoc[p.pc] = contexts.Geocoded{Postcode: p.pc, Match: "unit", Lat: p.lat, Lon: p.lon, PrecisionM: geo.UnitPrecisionM}
	}
	n := benchRows(1_000_000)
	data := genHarmCSV(n, pcs, 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var last contexts.Report
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFixture(b)
		s, err := NewStore(f.pool, testSecret, geoc, WithClock(func() time.Time { return testNow }))
		if err != nil {
			b.Fatal(err)
		}
		m := newCPUMeter(b, f.pool)
		b.StartTimer()
		last, err = s.ImportHarmCSV(context.Background(), bytes.NewReader(data), f.pracA)
		if err != nil {
			b.Fatalf("%v %+v", err, last.Errors[:min(3, len(last.Errors))])
		}
		b.StopTimer()
		self, back := m.since()
		b.ReportMetric(self.Seconds(), "go_cpu_s")
		b.ReportMetric(back.Seconds(), "pg_cpu_s")
		b.StartTimer()
	}
	reportImport(b, n, last)
}

// BenchmarkImportHarmCSVDirectory is BenchmarkImportHarmCSV geocoding
// through the real postcode directory (Code-Point Open areas E and N
// and EC imported into the test database) instead of a map.
func BenchmarkImportHarmCSVDirectory(b *testing.B) {
	pcs := loadHackney(b)
	n := benchRows(1_000_000)
	data := genHarmCSV(n, pcs, 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var last contexts.Report
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFixture(b)
		files := []string{"../../shared/data/codepoint-open/CSV/e.csv", "../../shared/data/codepoint-open/CSV/ec.csv",
			"../../shared/data/codepoint-open/CSV/n.csv"}
		if _, err := postcodes.Import(context.Background(), f.pool, postcodes.FormatCodePoint, files, postcodes.ImportOptions{}); err != nil {
			b.Fatal(err)
		}
		s, err := NewStore(f.pool, testSecret, DirectoryGeocoder(postcodes.NewStore(f.pool)), WithClock(func() time.Time { return testNow }))
		if err != nil {
			b.Fatal(err)
		}
		m := newCPUMeter(b, f.pool)
		b.StartTimer()
		last, err = s.ImportHarmCSV(context.Background(), bytes.NewReader(data), f.pracA)
		if err != nil {
			b.Fatalf("%v %+v", err, last.Errors[:min(3, len(last.Errors))])
		}
		b.StopTimer()
		self, back := m.since()
		b.ReportMetric(self.Seconds(), "go_cpu_s")
		b.ReportMetric(back.Seconds(), "pg_cpu_s")
		b.StartTimer()
	}
	reportImport(b, n, last)
}

// cpuMeter adds up the CPU time of this process and of the PostgreSQL
// backends serving the benchmark's database, so the figures say how much
// work an import is even when other work on the shared machine stretches
// its wall time.
type cpuMeter struct {
	db         string
	self, back time.Duration
}

func newCPUMeter(tb testing.TB, pool *pgxpool.Pool) *cpuMeter {
	var db string
	if err := pool.QueryRow(context.Background(), `SELECT current_database()`).Scan(&db); err != nil {
		tb.Fatal(err)
	}
	m := &cpuMeter{db: db}
	m.self, m.back = selfCPU(), backendCPU(db)
	return m
}

// since returns the CPU used by this process and by the database's
// backends since the meter was made.
func (m *cpuMeter) since() (self, backends time.Duration) {
	return selfCPU() - m.self, backendCPU(m.db) - m.back
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU sums utime+stime of the live backends whose process title
// names db (Linux /proc; 0 elsewhere).
func backendCPU(db string) time.Duration {
	dirs, _ := os.ReadDir("/proc")
	var ticks int64
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmd, []byte(" "+db+" ")) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state is field 3,
		// utime and stime are fields 14 and 15.
		f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+2:])
		if len(f) > 12 {
			u, _ := strconv.ParseInt(string(f[11]), 10, 64)
			s, _ := strconv.ParseInt(string(f[12]), 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ = 100 on Linux
}

func reportImport(b *testing.B, n int, last contexts.Report) {
	b.ReportMetric(float64(n)/last.Timings.Total.Seconds(), "rows/s")
	b.ReportMetric(last.Timings.Parse.Seconds(), "parse_s")
	b.ReportMetric(last.Timings.Geocode.Seconds(), "geocode_s")
	b.ReportMetric(last.Timings.Write.Seconds(), "write_s")
	b.ReportMetric(last.Timings.Subjects.Seconds(), "subjects_s")
	b.ReportMetric(last.Timings.Copy.Seconds(), "copy_s")
	b.ReportMetric(last.Timings.Indexes.Seconds(), "index_s")
	b.ReportMetric(last.Timings.Analyze.Seconds(), "analyze_s")
}

// BenchmarkObservations asks for a year of one layer over 1,000,000 harm
// locations (CTXMAP_BENCH_ROWS), all categories and one category: what an
// uncached heat tile costs before aggregation.
func BenchmarkObservations(b *testing.B) {
	pcs := loadHackney(b)
	geoc := mapGeocoder{}
	for _, p := range pcs {
		geoc[p.pc] = contexts.Geocoded{Postcode: p.pc, Match: "unit", Lat: p.lat, Lon: p.lon, PrecisionM: geo.UnitPrecisionM}
	}
	f := newFixture(b)
	s, err := NewStore(f.pool, testSecret, geoc, WithClock(func() time.Time { return testNow }))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.ImportHarmCSV(ctx, bytes.NewReader(genHarmCSV(benchRows(1_000_000), pcs, 2)), f.pracA); err != nil {
		b.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `VACUUM (ANALYZE) harm_locations`); err != nil {
		b.Fatal(err)
	}
	for _, cat := range []string{"", "cse"} {
		name := cat
		if name == "" {
			name = "all"
		}
		b.Run("12m-"+name, func(b *testing.B) {
			q := tiles.Query{Layer: "harm", Category: cat, From: month(2025, 3), To: month(2026, 3)}
			b.ReportAllocs()
			var n int
			for b.Loop() {
				obs, err := s.Observations(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(obs)
			}
			b.ReportMetric(float64(n), "observations")
		})
		b.Run("1m-"+name, func(b *testing.B) {
			q := tiles.Query{Layer: "harm", Category: cat, From: month(2026, 2), To: month(2026, 3)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Observations(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNearby searches within 1 km among 100,000 contexts spread over
// a 30 x 30 km area (about 110 per km², denser than any real borough) and
// reports latency percentiles.
func BenchmarkNearby(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	const n = 100_000
	const lat0, lon0 = 51.50, -0.12
	rng := rand.New(rand.NewPCG(7, 7))
	kinds := []string{"location", "location", "location", "group", "school"}
	i := 0
	_, err := f.pool.CopyFrom(ctx, pgx.Identifier{"contexts"},
		[]string{"kind", "location_type", "display_name", "status", "lat", "lon", "team_id", "created_by"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			lat := lat0 + (rng.Float64()-0.5)*30/111.32
			lon := lon0 + (rng.Float64()-0.5)*30/(111.32*math.Cos(lat0*math.Pi/180))
			status := "open"
			if rng.IntN(4) == 0 {
				status = "closed"
			}
			return []any{kinds[rng.IntN(len(kinds))], "park", fmt.Sprintf("Bench %d", i), status, lat, lon, f.lead.TeamID, f.lead.UserID}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `VACUUM (ANALYZE) contexts`); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		kind, status string
	}{{"any", "", ""}, {"open-locations", "location", "open"}} {
		b.Run(tc.name, func(b *testing.B) {
			benchNearby(b, f.store, f.pool, lat0, lon0, tc.kind, tc.status)
		})
	}
}

func benchNearby(b *testing.B, s *Store, _ *pgxpool.Pool, lat0, lon0 float64, kind, status string) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 9))
	var lat []time.Duration
	var found int
	b.ReportAllocs()
	for b.Loop() {
		la := lat0 + (rng.Float64()-0.5)*20/111.32
		lo := lon0 + (rng.Float64()-0.5)*20/69.3
		t := time.Now()
		got, err := s.Nearby(ctx, la, lo, 1000, kind, status, 50)
		lat = append(lat, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		found += len(got)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(found)/float64(len(lat)), "results/op")
}

// BenchmarkParseHarmCSV is the import's parse-and-validate pass alone (no
// database): what the Go side costs before geocoding and COPY.
func BenchmarkParseHarmCSV(b *testing.B) {
	pcs := loadHackney(b)
	n := benchRows(1_000_000)
	data := genHarmCSV(n, pcs, 1)
	var cats []contexts.Category
	for _, c := range []string{"missing", "cse", "trafficking", "gangs", "physical_abuse_child_on_child",
		"sexual_abuse_child_on_child", "cce", "county_lines", "serious_youth_violence", "teenage_relationship_abuse",
		"online_harm", "radicalisation", "modern_slavery"} {
		cats = append(cats, contexts.Category{Code: c, Label: c})
	}
	tax := contexts.NewTaxonomy(1, cats)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		im, err := contexts.ParseHarmCSV(bytes.NewReader(data), tax, testNow)
		if err != nil || len(im.Errors) > 0 {
			b.Fatal(err, im.Errors)
		}
	}
	b.ReportMetric(float64(n), "rows/op")
}

// BenchmarkCopyBaseline is the calibration the issue quotes ("COPY alone
// reaches about 400,000 rows/s here"): the same 21 columns COPYed into a
// table with no index, constraint or generated column. Comparing it with
// BenchmarkImportHarmCSV separates the machine's current speed from the
// import's own cost.
func BenchmarkCopyBaseline(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	if _, err := f.pool.Exec(ctx, `CREATE TABLE copy_baseline (LIKE harm_locations INCLUDING DEFAULTS)`); err != nil {
		b.Fatal(err)
	}
	n := benchRows(1_000_000)
	cats := []string{"cse", "county_lines"}
	day := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		i := 0
		_, err := f.pool.CopyFrom(ctx, pgx.Identifier{"copy_baseline"}, append([]string{"id"}, harmCopyColumns...),
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == n {
					return nil, nil
				}
				i++
				return []any{int64(i), int64(i % 200000), int16(i % 256), int64(1), int64(1), "harm", cats, "extra", day, "day",
					"referral", "park", "E8 3AA", "unit", int32(50), 51.5, -0.1, int64(613222222), int64(613222223),
					int64(613222224), nil, int32(1)}, nil
			}))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.pool.Exec(ctx, `TRUNCATE copy_baseline`); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
