package geo

import (
	"encoding/csv"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ctxmap/ctxmap/geo/geotest"
)

// TestGridToOSGB36 checks the projection against the worked example in the
// OS guide to coordinate systems (annex C.2).
func TestGridToOSGB36(t *testing.T) {
	φ, λ := gridToOSGB36(651409.903, 313177.270)
	wantφ := 52 + 39/60.0 + 27.2531/3600
	wantλ := 1 + 43/60.0 + 4.5177/3600
	if d := math.Abs(φ*180/math.Pi-wantφ) * 3600; d > 1e-4 {
		t.Errorf("latitude %.8f, want %.8f (%.6f arcsec off)", φ*180/math.Pi, wantφ, d)
	}
	if d := math.Abs(λ*180/math.Pi-wantλ) * 3600; d > 1e-4 {
		t.Errorf("longitude %.8f, want %.8f (%.6f arcsec off)", λ*180/math.Pi, wantλ, d)
	}
}

// TestGridToLatLonHackney converts the Code-Point Open grid references of
// every Hackney postcode and compares them with the WGS84 positions in the
// shared derived file (made with the same Helmert transformation): each must
// agree within 5 m.
func TestGridToLatLonHackney(t *testing.T) {
	want := geotest.Hackney(t)
	grid := map[string][2]float64{}
	for _, area := range []string{"e", "n", "ec"} {
		f, err := os.Open(filepath.Join(geotest.SharedData(t, "codepoint-open/CSV"), area+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(f)
		r.ReuseRecord = true
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := want[rec[0]]; ok {
				e, _ := strconv.ParseFloat(rec[2], 64)
				n, _ := strconv.ParseFloat(rec[3], 64)
				grid[rec[0]] = [2]float64{e, n}
			}
		}
		f.Close()
	}
	if len(grid) != len(want) {
		t.Fatalf("found %d of %d Hackney postcodes in Code-Point Open", len(grid), len(want))
	}
	worst, worstPC := 0.0, ""
	for pc, en := range grid {
		lat, lon := GridToLatLon(en[0], en[1])
		d := geotest.Metres(lat, lon, want[pc][0], want[pc][1])
		if d > worst {
			worst, worstPC = d, pc
		}
		if d > 5 {
			t.Errorf("%s: %.6f,%.6f is %.1f m from %.6f,%.6f", pc, lat, lon, d, want[pc][0], want[pc][1])
		}
	}
	t.Logf("%d Hackney postcodes, worst %.3f m (%s)", len(grid), worst, worstPC)
}

func TestGridToLatLonInUK(t *testing.T) {
	// Corners of the populated grid must land inside InUK's box.
	for _, en := range [][2]float64{{85000, 10000}, {655000, 300000}, {465000, 1220000}, {150000, 960000}} {
		lat, lon := GridToLatLon(en[0], en[1])
		if !InUK(lat, lon) {
			t.Errorf("grid %v -> %.4f,%.4f outside InUK", en, lat, lon)
		}
	}
}

func BenchmarkGridToLatLon(b *testing.B) {
	b.ReportAllocs()
	e, n := 534173.0, 184486.0
	var sink float64
	for b.Loop() {
		lat, lon := GridToLatLon(e, n)
		sink += lat + lon
	}
	_ = sink
}
