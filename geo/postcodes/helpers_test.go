package postcodes

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// sharedData returns the path of rel inside the shared reference data
// (../shared/data from the repository root, or $CTXMAP_SHARED_DATA). When it
// is missing the test skips locally but fails under CI=true.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	root := os.Getenv("CTXMAP_SHARED_DATA")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared", "data")
	}
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatalf("shared data %s missing and CI=%s: %v", p, ci, err)
		}
		t.Skipf("shared data %s missing: %v", p, err)
	}
	return p
}

// mustImport imports or fails the test.
func mustImport(t testing.TB, pool *pgxpool.Pool, format string, paths ...string) Summary {
	t.Helper()
	sum, err := Import(context.Background(), pool, format, paths, ImportOptions{})
	if err != nil {
		t.Fatalf("Import(%s, %v): %v\nsummary: %+v", format, paths, err, sum)
	}
	return sum
}

// hackney reads the derived Hackney file: postcode -> lat, lon.
func hackney(t testing.TB) map[string][2]float64 {
	t.Helper()
	f, err := os.Open(sharedData(t, "derived/hackney_postcodes_latlong_lsoa21.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	out := map[string][2]float64{}
	for _, r := range rows[1:] {
		lat, err1 := strconv.ParseFloat(r[col["lat"]], 64)
		lon, err2 := strconv.ParseFloat(r[col["long"]], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad row %v", r)
		}
		out[r[col["pcds"]]] = [2]float64{lat, lon}
	}
	if len(out) != 4565 {
		t.Fatalf("read %d Hackney postcodes, want 4565", len(out))
	}
	return out
}
