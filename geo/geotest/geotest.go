// Package geotest finds the real UK reference data the tests of several
// packages check against (../shared/data beside the checkout, or wherever
// $CTXMAP_SHARED_DATA points). It is never copied into the repository.
package geotest

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// SharedData returns the path of rel inside the shared reference data.
// When the data is missing the test skips locally but fails under CI=true,
// so an acceptance test can never pass by not running.
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	root := os.Getenv("CTXMAP_SHARED_DATA")
	if root == "" {
		// This file is geo/geotest/geotest.go; the data sits beside the repository.
		_, file, _, _ := runtime.Caller(0)
		root = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
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

// Hackney reads the derived Hackney file (Code-Point Open converted with the
// OSGB36 -> WGS84 Helmert transform): postcode -> lat, lon for all 4,565.
func Hackney(t testing.TB) map[string][2]float64 {
	t.Helper()
	rows := ReadCSV(t, "derived/hackney_postcodes_latlong_lsoa21.csv")
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

// ReadCSV reads a whole CSV file of the shared data, header row included;
// missing data skips or fails the test as SharedData says.
func ReadCSV(t testing.TB, rel string) [][]string {
	t.Helper()
	f, err := os.Open(SharedData(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Metres is the haversine distance between two WGS84 points on the mean
// Earth sphere: ample for the accuracy checks against the reference data,
// whose tolerances are metres, and one formula for every package's tests.
func Metres(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371008.8
	φ1, φ2 := lat1*math.Pi/180, lat2*math.Pi/180
	dφ, dλ := φ2-φ1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}
