package postcodes

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/geo/geotest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

func TestImportCodePointFixture(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	sum := mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	if sum.Rows != 44 || sum.Loaded != 44 || sum.Unlocated != 1 || sum.Terminated != 0 || len(sum.Skipped) != 0 {
		t.Errorf("summary %+v, want 44 rows loaded, 1 unlocated", sum)
	}
	if sum.Sectors != 5 {
		t.Errorf("%d sectors, want 5", sum.Sectors)
	}
	// E8, E9, SW1A, and SW1 for the sub-divided district.
	if sum.Districts != 4 {
		t.Errorf("%d districts, want 4", sum.Districts)
	}
	s := NewStore(pool)
	r, err := s.Lookup(ctx, "e83aa")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's first row: "E8 3AA",10,534115,184735.
	wantLat, wantLon := geo.GridToLatLon(534115, 184735)
	if r.Postcode != "E8 3AA" || r.Match != geo.MatchUnit || r.Lat == nil || geotest.Metres(*r.Lat, *r.Lon, wantLat, wantLon) > 0.2 {
		t.Errorf("Lookup(e83aa) = %+v, want E8 3AA at %.6f,%.6f", r, wantLat, wantLon)
	}
	if r.PrecisionM != geo.UnitPrecisionM || r.Admin == nil || r.Admin.LAD != "E09000012" || r.Admin.Ward != "E05009381" ||
		r.Admin.Country != "E92000001" || r.Admin.County != "" || r.Terminated != nil {
		t.Errorf("Lookup(e83aa) = %+v admin %+v", r, r.Admin)
	}
	r, err = s.Lookup(ctx, "E8 4ZZ")
	if err != nil || r.Lat != nil || r.Lon != nil || r.Match != geo.MatchUnit || !strings.Contains(r.Note, "no grid reference") {
		t.Errorf("Lookup(E8 4ZZ) = %+v, %v; want a unit without location", r, err)
	}
	r, err = s.Lookup(ctx, "E8 4ZY") // quality 50: estimated from neighbours
	if err != nil || r.PrecisionM != 250 {
		t.Errorf("Lookup(E8 4ZY) = %+v, %v; want precision 250", r, err)
	}
	r, err = s.Lookup(ctx, "SW1")
	if err != nil || r.Match != geo.MatchDistrict || r.Lat == nil {
		t.Errorf("Lookup(SW1) = %+v, %v; want the district centroid", r, err)
	}
}

func TestImportONSPDFixture(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	// A release-like folder: data plus a lookup file that is not postcodes.
	for _, f := range []string{"onspd_small.csv", "not_postcodes.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := mustImport(t, pool, FormatONSPD, dir)
	if sum.Loaded != 11 || sum.Terminated != 4 || sum.Unlocated != 2 || sum.Warnings[warnBadDate] != 1 {
		t.Errorf("summary %+v", sum)
	}
	if len(sum.Files) != 1 || len(sum.SkippedFiles) != 1 {
		t.Errorf("files %v, skipped %v; want the lookup file skipped", sum.Files, sum.SkippedFiles)
	}
	s := NewStore(pool)
	r, err := s.Lookup(ctx, "E8 3AA")
	if err != nil {
		t.Fatal(err)
	}
	want := geo.Admin{Country: "E92000001", Region: "E12000007", LAD: "E09000012", Ward: "E05009381",
		LSOA21: "E01001744", MSOA21: "E02000351", PFA: "E23000001"}
	if r.Admin == nil || *r.Admin != want || *r.Lat != 51.543329 || *r.Lon != -0.066559 || r.Introduced.String() != "1980-01" {
		t.Errorf("Lookup(E8 3AA) = %+v, admin %+v", r, r.Admin)
	}
	r, err = s.Lookup(ctx, "E8 3XY")
	if err != nil || r.Match != geo.MatchTerminated || r.Terminated.String() != "2001-02" || r.Lat != nil ||
		r.Admin == nil || r.Admin.LAD != "" || r.Admin.Country != "E92000001" {
		t.Errorf("Lookup(E8 3XY) = %+v, %v", r, err)
	}
	// Geocode places the unlocated terminated unit at its sector, saying so.
	res, err := s.Geocode(ctx, []string{"E8 3XY"})
	if err != nil || res[0].Match != geo.MatchSector || res[0].Lat == nil || res[0].Terminated.String() != "2001-02" ||
		!strings.Contains(res[0].Note, "sector E8 3") {
		t.Errorf("Geocode(E8 3XY) = %+v, %v", res, err)
	}
}

// TestImportAberdeenSample runs the acceptance checks on real ONSPD rows.
func TestImportAberdeenSample(t *testing.T) {
	path := geotest.SharedData(t, "onspd-sample/onspd_sample_aberdeen.csv")
	pool := pgtest.New(t)
	ctx := context.Background()
	sum := mustImport(t, pool, FormatONSPD, path)
	if sum.Rows != 8048 || sum.Loaded != 8048 || sum.Terminated != 3811 || len(sum.Skipped) != 0 {
		t.Errorf("summary %+v, want 8,048 rows loaded of which 3,811 terminated", sum)
	}
	s := NewStore(pool)

	// Terminated: AB1 0AA was withdrawn in June 1996 and keeps its place.
	r, err := s.Lookup(ctx, "ab1 0aa")
	if err != nil {
		t.Fatal(err)
	}
	if r.Match != geo.MatchTerminated || r.Terminated == nil || r.Terminated.String() != "1996-06" ||
		r.Lat == nil || *r.Lat != 57.101474 || *r.Lon != -2.242851 {
		t.Errorf("Lookup(AB1 0AA) = %+v", r)
	}
	if r.Admin == nil || r.Admin.LAD != "S12000033" || r.Admin.County != "" {
		t.Errorf("Lookup(AB1 0AA) admin %+v, want LAD S12000033 and no pseudo-code county", r.Admin)
	}
	// Every terminated row in the sample answers "terminated" with its month.
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM postcodes WHERE terminated IS NOT NULL`).Scan(&n); err != nil || n != 3811 {
		t.Errorf("%d terminated rows, %v; want 3,811", n, err)
	}

	// No grid reference: answers, without a location, and says so.
	r, err = s.Lookup(ctx, "JE2 4WD")
	if err != nil {
		t.Fatal(err)
	}
	if r.Match != geo.MatchUnit || r.Lat != nil || r.Lon != nil || r.PrecisionM != 0 || !strings.Contains(r.Note, "no grid reference") {
		t.Errorf("Lookup(JE2 4WD) = %+v", r)
	}

	res, err := s.Geocode(ctx, []string{"AB10 1", "AB10", "AB10 1AB", "JE2 4WD", "AB10 1XX", "ZZ1 1ZZ", "E8 3AA", "not a postcode", "ab1 0aa"})
	if err != nil {
		t.Fatal(err)
	}
	expect := []struct {
		match  geo.Match
		placed bool
	}{
		{geo.MatchSector, true}, {geo.MatchDistrict, true}, {geo.MatchUnit, true}, {geo.MatchUnit, false},
		{geo.MatchSector, true}, {geo.MatchNone, false}, {geo.MatchNone, false}, {geo.MatchNone, false}, {geo.MatchTerminated, true},
	}
	for i, e := range expect {
		got := res[i]
		if got.Match != e.match || (got.Lat != nil) != e.placed {
			t.Errorf("Geocode[%d] %q = %+v, want match %s placed %v", i, got.Query, got, e.match, e.placed)
		}
	}
	if res[0].PrecisionM < 100 || res[0].PrecisionM > 5000 || res[1].PrecisionM <= res[0].PrecisionM/2 {
		t.Errorf("sector precision %d m, district %d m", res[0].PrecisionM, res[1].PrecisionM)
	}
	if !strings.Contains(res[4].Note, "AB10 1XX is not in the postcode directory") {
		t.Errorf("unknown unit note %q", res[4].Note)
	}
	if res[7].Error == nil || res[7].Error.Code != "postcode_malformed" || res[7].Postcode != "" {
		t.Errorf("malformed query result %+v", res[7])
	}
	// AB10 1's centroid agrees with the shared derived file (live units).
	if d := geotest.Metres(*res[0].Lat, *res[0].Lon, 57.144864, -2.106885); d > 25 {
		t.Errorf("AB10 1 centroid %.6f,%.6f is %.0f m from the derived one", *res[0].Lat, *res[0].Lon, d)
	}

	// Lookup: 422 for malformed, 404 for unknown.
	_, err = s.Lookup(ctx, "AB10 1XX")
	if k := ctxmap.KindOf(err); k != ctxmap.KindNotFound || !hasCode(err, "postcode_not_found") {
		t.Errorf("Lookup(unknown) = %v (kind %v)", err, k)
	}
	_, err = s.Lookup(ctx, "AB10 1CI")
	if k := ctxmap.KindOf(err); k != ctxmap.KindUnprocessable || !hasCode(err, "postcode_malformed") {
		t.Errorf("Lookup(malformed) = %v (kind %v)", err, k)
	}
}

func hasCode(err error, code string) bool {
	var e *ctxmap.Error
	return errors.As(err, &e) && e.Code == code
}

// TestImportFailureKeepsDirectory: a failed or interrupted import must leave
// the previous directory answering, with nothing left behind.
func TestImportFailureKeepsDirectory(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	s := NewStore(pool)
	before, err := s.Lookup(ctx, "E8 3AA")
	if err != nil {
		t.Fatal(err)
	}
	big := syntheticCodePoint(t, 300_000)

	check := func(t *testing.T) {
		t.Helper()
		after, err := s.Lookup(ctx, "E8 3AA")
		if err != nil || *after.Lat != *before.Lat {
			t.Errorf("after the failed import Lookup = %+v, %v; want %+v", after, err, before)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM postcodes`).Scan(&n); err != nil || n != 44 {
			t.Errorf("%d postcodes serving, %v; want the previous 44", n, err)
		}
		var left []string
		rows, _ := pool.Query(ctx, `SELECT relname FROM pg_class WHERE relname LIKE '%\_next%'`)
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			left = append(left, s)
		}
		if rows.Err() != nil || len(left) > 0 {
			t.Errorf("left behind: %v %v", left, rows.Err())
		}
		if r, err := s.LastImport(ctx); err != nil || r == nil || r.RowsLoaded != 44 {
			t.Errorf("LastImport = %+v, %v", r, err)
		}
	}

	t.Run("cancelled mid-COPY", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		opts := ImportOptions{afterBatch: func(n int) {
			if n == 5 {
				cancel()
			}
		}}
		sum, err := Import(cctx, pool, FormatCodePoint, []string{big}, opts)
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Import = %v, want context.Canceled", err)
		}
		if sum.Rows == 0 || sum.Rows >= 300_000 {
			t.Errorf("cancelled after %d rows; want part of the file", sum.Rows)
		}
		check(t)
	})

	t.Run("corrupt zip", func(t *testing.T) {
		zpath := corruptZip(t, big)
		_, err := Import(ctx, pool, FormatCodePoint, []string{zpath}, ImportOptions{})
		if err == nil {
			t.Fatal("Import of a corrupt zip succeeded")
		}
		t.Logf("corrupt zip: %v", err)
		check(t)
	})

	t.Run("wrong format", func(t *testing.T) {
		_, err := Import(ctx, pool, FormatONSPD, []string{"testdata/codepoint_small.csv"}, ImportOptions{})
		if ctxmap.KindOf(err) != ctxmap.KindInvalid || !hasCode(err, "import_no_data") {
			t.Errorf("Import(codepoint as onspd) = %v", err)
		}
		_, err = Import(ctx, pool, "nspl", []string{"testdata/codepoint_small.csv"}, ImportOptions{})
		if !hasCode(err, "import_format_unknown") {
			t.Errorf("Import(format nspl) = %v", err)
		}
		_, err = Import(ctx, pool, FormatCodePoint, []string{"testdata/missing.csv"}, ImportOptions{})
		if !hasCode(err, "import_source_missing") {
			t.Errorf("Import(missing) = %v", err)
		}
		check(t)
	})

	t.Run("concurrent import refused", func(t *testing.T) {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(importLockID)); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(importLockID)) //nolint:errcheck
		_, err = Import(ctx, pool, FormatCodePoint, []string{"testdata/codepoint_small.csv"}, ImportOptions{})
		if ctxmap.KindOf(err) != ctxmap.KindConflict {
			t.Errorf("Import during another = %v, want KindConflict", err)
		}
		check(t)
	})
}

func TestImportDefectsAndDuplicates(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	small, _ := os.ReadFile("testdata/codepoint_small.csv")
	// A zip holding the data twice (a release plus a copy), the defective
	// file and Code-Point's column-header file, which is not data.
	zpath := filepath.Join(dir, "codepo_gb.zip")
	writeZip(t, zpath, map[string][]byte{
		"Data/CSV/e.csv":                         small,
		"Data/CSV/copy/e.csv":                    small,
		"Data/CSV/defects.csv":                   mustRead(t, "testdata/codepoint_defects.csv"),
		"Doc/Code-Point_Open_Column_Headers.csv": []byte("PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC\nPostcode,Positional_quality_indicator,Eastings,Northings,Country_code,NHS_regional_HA_code,NHS_HA_code,Admin_county_code,Admin_district_code,Admin_ward_code\n"),
	})
	sum := mustImport(t, pool, FormatCodePoint, zpath)
	if sum.Loaded != 44 || sum.Skipped[reasonDuplicate] != 49 || sum.Skipped[reasonMalformed] != 1 || sum.Skipped[reasonBadRow] != 2 {
		t.Errorf("summary %+v", sum)
	}
	if len(sum.SkippedFiles) != 1 || len(sum.Examples[reasonBadRow]) != 2 || !strings.Contains(sum.Examples[reasonMalformed][0], "defects.csv:6") {
		t.Errorf("skipped files %v, examples %v", sum.SkippedFiles, sum.Examples)
	}
	if _, err := NewStore(pool).Lookup(ctx, "SW1A 2AA"); err != nil {
		t.Error(err)
	}
}

// TestImportIndexesMatchMigration guards the swap against schema drift: a
// later migration adding an index to the directory tables must teach
// Import to build it too, or the first import would silently drop it.
func TestImportIndexesMatchMigration(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	indexes := func() string {
		var s string
		err := pool.QueryRow(ctx, `SELECT string_agg(indexdef, E'\n' ORDER BY indexdef) FROM pg_indexes
			WHERE tablename IN ('postcodes', 'postcode_sectors', 'postcode_districts')`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	constraints := func() string {
		var s string
		err := pool.QueryRow(ctx, `SELECT string_agg(conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), E'\n' ORDER BY conrelid::regclass::text, conname)
			FROM pg_constraint WHERE conrelid IN ('postcodes'::regclass, 'postcode_sectors'::regclass, 'postcode_districts'::regclass)`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	wantIdx, wantCons := indexes(), constraints()
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	if got := indexes(); got != wantIdx {
		t.Errorf("indexes after import:\n%s\nafter migration:\n%s", got, wantIdx)
	}
	if got := constraints(); got != wantCons {
		t.Errorf("constraints after import:\n%s\nafter migration:\n%s", got, wantCons)
	}
}

// TestImportCodePointFull is the acceptance test: all of Code-Point Open,
// then every Hackney postcode within 5 m of the derived file.
func TestImportCodePointFull(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 1.74 M postcodes")
	}
	dir := geotest.SharedData(t, "codepoint-open")
	want := geotest.Hackney(t)
	pool := pgtest.New(t)
	ctx := context.Background()
	start := time.Now()
	sum := mustImport(t, pool, FormatCodePoint, dir)
	t.Logf("imported %d postcodes (%d unlocated) from %d files in %v (phases %v); %d sectors, %d districts; skipped files %v",
		sum.Loaded, sum.Unlocated, len(sum.Files), time.Since(start).Round(time.Millisecond), sum.Phases, sum.Sectors, sum.Districts, sum.SkippedFiles)
	if sum.Loaded != 1_744_635 || sum.Rows != 1_744_635 || len(sum.Skipped) != 0 || len(sum.Warnings) != 0 {
		t.Errorf("summary %+v", sum)
	}
	s := NewStore(pool)
	queries := make([]string, 0, len(want))
	for pc := range want {
		queries = append(queries, pc)
	}
	worst := 0.0
	for i := 0; i < len(queries); i += MaxBatch {
		batch := queries[i:min(i+MaxBatch, len(queries))]
		res, err := s.Geocode(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			w := want[r.Query]
			if r.Match != geo.MatchUnit || r.Lat == nil {
				t.Errorf("%s: %+v", r.Query, r)
				continue
			}
			d := geotest.Metres(*r.Lat, *r.Lon, w[0], w[1])
			worst = math.Max(worst, d)
			if d > 5 {
				t.Errorf("%s: %.6f,%.6f is %.2f m from %.6f,%.6f", r.Query, *r.Lat, *r.Lon, d, w[0], w[1])
			}
		}
	}
	t.Logf("%d Hackney postcodes geocoded, worst %.3f m", len(want), worst)

	// Sector and district centroids agree with the derived files.
	centroidsMatch(t, s, "derived/gb_sector_centroids.csv", 10843)
	centroidsMatch(t, s, "derived/gb_outcode_centroids.csv", 2863)
	nearestExact(t, s, pool)
}

// centroidsMatch geocodes every sector or outcode in a shared derived file
// and compares the mean positions.
func centroidsMatch(t *testing.T, s *Store, rel string, n int) {
	rows := geotest.ReadCSV(t, rel)
	if len(rows)-1 != n {
		t.Fatalf("%s: %d rows, want %d", rel, len(rows)-1, n)
	}
	worst, far := 0.0, 0
	for i := 1; i < len(rows); i += MaxBatch {
		var q []string
		want := map[string][2]float64{}
		for _, r := range rows[i:min(i+MaxBatch, len(rows))] {
			lat, _ := strconv.ParseFloat(r[4], 64)
			lon, _ := strconv.ParseFloat(r[5], 64)
			q = append(q, r[0])
			want[r[0]] = [2]float64{lat, lon}
		}
		res, err := s.Geocode(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Lat == nil || (r.Match != geo.MatchSector && r.Match != geo.MatchDistrict) {
				t.Errorf("%s: %+v", r.Query, r)
				continue
			}
			// The derived file averages eastings and northings, we average
			// latitudes and longitudes: the two means part by up to ~1% of
			// the spread in far-flung rural sectors (Shetland, the Isles).
			w := want[r.Query]
			d := geotest.Metres(*r.Lat, *r.Lon, w[0], w[1])
			worst = math.Max(worst, d)
			if d > math.Max(5, 0.02*float64(r.PrecisionM)) {
				far++
				if far <= 10 {
					t.Errorf("%s centroid %.6f,%.6f is %.1f m from %.6f,%.6f (radius %d m)", r.Query, *r.Lat, *r.Lon, d, w[0], w[1], r.PrecisionM)
				}
			}
		}
	}
	t.Logf("%s: %d centroids, worst %.2f m", rel, n, worst)
}

// nearestExact compares Nearest with a brute-force scan ordered by true
// distance, where the planar index order would get it wrong.
func nearestExact(t *testing.T, s *Store, pool *pgxpool.Pool) {
	ctx := context.Background()
	for _, pt := range [][2]float64{{51.5433, -0.0666}, {57.1449, -2.1069}, {60.155, -1.145}, {50.1, -5.5}} {
		got, err := s.Nearest(ctx, pt[0], pt[1], 25, 0)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := pool.Query(ctx, `SELECT postcode FROM postcodes WHERE terminated IS NULL AND geom IS NOT NULL
			AND geom && ST_MakeEnvelope($2 - 0.5, $1 - 0.3, $2 + 0.5, $1 + 0.3, 4326)
			ORDER BY ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography), postcode LIMIT 25`, pt[0], pt[1])
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for rows.Next() {
			var pc string
			_ = rows.Scan(&pc)
			want = append(want, pc)
		}
		if len(got) != 25 || len(want) != 25 {
			t.Fatalf("near %v: %d results, brute force %d", pt, len(got), len(want))
		}
		for i := range got {
			// Equal distances may swap; compare distances, not names.
			if got[i].Postcode != want[i] && math.Abs(*got[i].DistanceM-*got[min(i+1, 24)].DistanceM) > 0.2 &&
				math.Abs(*got[i].DistanceM-*got[max(i-1, 0)].DistanceM) > 0.2 {
				t.Errorf("near %v #%d: %s (%.1f m), brute force %s", pt, i, got[i].Postcode, *got[i].DistanceM, want[i])
			}
		}
	}
}

func TestNearestFixture(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	s := NewStore(pool)
	lat, lon := geo.GridToLatLon(534115, 184735) // E8 3AA
	res, err := s.Nearest(ctx, lat, lon, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 || res[0].Postcode != "E8 3AA" || *res[0].DistanceM > 0.5 {
		t.Fatalf("Nearest = %+v", res)
	}
	for i := 1; i < len(res); i++ {
		if *res[i].DistanceM < *res[i-1].DistanceM {
			t.Errorf("not sorted by distance: %v then %v", *res[i-1].DistanceM, *res[i].DistanceM)
		}
	}
	res, err = s.Nearest(ctx, lat, lon, 100, 300)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 || len(res) >= 43 {
		t.Errorf("%d postcodes within 300 m", len(res))
	}
	for _, r := range res {
		if *r.DistanceM > 300 {
			t.Errorf("%s at %.1f m, radius 300", r.Postcode, *r.DistanceM)
		}
	}
	// The sea off Dover: nothing within 1 km, an empty list (not null).
	res, err = s.Nearest(ctx, 51.0, 1.5, 10, 1000)
	if err != nil || res == nil || len(res) != 0 {
		t.Errorf("Nearest(sea) = %v, %v", res, err)
	}
	for _, bad := range []struct {
		lat, lon, r float64
		limit       int
	}{{91, 0, 0, 1}, {0, 181, 0, 1}, {51, 0, 0, -1}, {51, 0, 0, 101}, {51, 0, -5, 1}, {51, 0, 1e6, 1}, {math.NaN(), 0, 0, 1}} {
		if _, err := s.Nearest(ctx, bad.lat, bad.lon, bad.limit, bad.r); ctxmap.KindOf(err) != ctxmap.KindInvalid {
			t.Errorf("Nearest(%+v) = %v, want KindInvalid", bad, err)
		}
	}
}

func TestGeocodeBatch(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	s := NewStore(pool)
	// An empty directory answers "none", not an error.
	res, err := s.Geocode(ctx, []string{"E8 3AA"})
	if err != nil || res[0].Match != geo.MatchNone || res[0].Lat != nil {
		t.Errorf("Geocode on empty directory = %+v, %v", res, err)
	}
	if _, err := s.Lookup(ctx, "E8 3AA"); ctxmap.KindOf(err) != ctxmap.KindNotFound {
		t.Errorf("Lookup on empty directory = %v", err)
	}
	if r, err := s.LastImport(ctx); r != nil || err != nil {
		t.Errorf("LastImport on empty directory = %+v, %v", r, err)
	}
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	if _, err := s.Geocode(ctx, make([]string, MaxBatch+1)); ctxmap.KindOf(err) != ctxmap.KindTooLarge {
		t.Errorf("Geocode(1001) = %v, want KindTooLarge", err)
	}
	q := make([]string, MaxBatch)
	for i := range q {
		q[i] = []string{"E8 3AA", "e8 3ab", "E8 3", "E8", "", "SW1A 3ZZ"}[i%6]
	}
	res, err = s.Geocode(ctx, q)
	if err != nil || len(res) != MaxBatch {
		t.Fatalf("Geocode(1000) = %d results, %v", len(res), err)
	}
	for i, r := range res {
		want := []geo.Match{geo.MatchUnit, geo.MatchUnit, geo.MatchSector, geo.MatchDistrict, geo.MatchNone, geo.MatchDistrict}[i%6]
		if r.Match != want || r.Query != q[i] {
			t.Fatalf("result %d for %q = %+v, want %s", i, q[i], r, want)
		}
	}
	if res[5].Note == "" || res[5].PrecisionM < 100 {
		t.Errorf("SW1A 3ZZ (unknown unit and sector, known district) = %+v", res[5])
	}
	lr, err := s.LastImport(ctx)
	if err != nil || lr == nil || lr.Format != FormatCodePoint || lr.RowsLoaded != 44 || len(lr.Sources) != 1 {
		t.Errorf("LastImport = %+v, %v", lr, err)
	}
}

// syntheticCodePoint writes n made-up Code-Point rows (districts E1..E99,
// plausible London grid references) and returns the file's path.
func syntheticCodePoint(t testing.TB, n int) string {
	t.Helper()
	var b bytes.Buffer
	const letters = "ABDEFGHJLNPQRSTUWXYZ"
	i := 0
	for d := 1; d < 100 && i < n; d++ {
		for s := 0; s < 10 && i < n; s++ {
			for u := 0; u < 400 && i < n; u++ {
				fmt.Fprintf(&b, "\"E%d %d%c%c\",10,%d,%d,\"E92000001\",\"\",\"\",\"\",\"E09000012\",\"E05009381\"\n",
					d, s, letters[u/20], letters[u%20], 530000+d*50+u, 180000+s*100+u)
				i++
			}
		}
	}
	p := filepath.Join(t.TempDir(), "synthetic.csv")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// corruptZip zips the file at path and flips bytes in the middle of the
// compressed data, so reading fails partway through (bad checksum or
// invalid deflate data) after some rows have been copied.
func corruptZip(t testing.TB, path string) string {
	t.Helper()
	zpath := filepath.Join(t.TempDir(), "corrupt.zip")
	writeZip(t, zpath, map[string][]byte{"Data/CSV/e.csv": mustRead(t, path)})
	b := mustRead(t, zpath)
	mid := len(b) * 2 / 3
	for i := mid; i < mid+64; i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(zpath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return zpath
}

func writeZip(t testing.TB, path string, files map[string][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
