package geo

import (
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"
)

func TestCellsFor(t *testing.T) {
	for _, ll := range [][2]float64{{51.5433, -0.0666}, {57.1449, -2.1069}, {60.15, -1.15}, {49.45, -2.55}, {54.6, -5.93}} {
		got := CellsFor(ll[0], ll[1])
		for i, res := range []int{6, 7, 8} {
			want := h3.LatLngToCell(h3.NewLatLng(ll[0], ll[1]), res)
			if got[i] != want {
				t.Errorf("CellsFor(%v)[%d] = %v, want %v", ll, i, got[i], want)
			}
		}
	}
}

func TestParent(t *testing.T) {
	for _, ll := range [][2]float64{{51.5433, -0.0666}, {-33.9, 151.2}, {0, 0}, {89.9, 10}, {-60, -170}} {
		for res := 0; res <= 15; res++ {
			c := h3.LatLngToCell(h3.NewLatLng(ll[0], ll[1]), res)
			for p := 0; p <= res; p++ {
				if got, want := Parent(c, p), c.Parent(p); got != want {
					t.Errorf("Parent(%v, %d) = %v, want %v", c, p, got, want)
				}
			}
		}
	}
}

func TestResForZoom(t *testing.T) {
	for z, want := range map[int]int{0: 6, 5: 6, 9: 6, 10: 7, 11: 7, 12: 8, 14: 8, 16: 8, 22: 8, -1: 6} {
		if got := ResForZoom(z); got != want {
			t.Errorf("ResForZoom(%d) = %d, want %d", z, got, want)
		}
	}
}

func TestBoundaryOf(t *testing.T) {
	c := h3.LatLngToCell(h3.NewLatLng(51.5433, -0.0666), 8)
	cb := BoundaryOf(c)
	p := orb.Polygon{cb.Ring}
	if len(p) != 1 || len(p[0]) != 7 || !p[0].Closed() {
		t.Fatalf("BoundaryOf = %v, want one closed ring of 7 points", p)
	}
	lat, lon := CellCenter(c)
	if !planar.PolygonContains(p, orb.Point{lon, lat}) {
		t.Errorf("polygon %v does not contain its centre %v,%v (lat/lon swapped?)", p, lon, lat)
	}
	if planar.PolygonContains(p, orb.Point{lat, lon}) {
		t.Errorf("polygon contains the swapped centre")
	}
	if cb.Bound != cb.Ring.Bound() {
		t.Errorf("bound %v, ring's bound %v", cb.Bound, cb.Ring.Bound())
	}
}

func TestBoundaryCache(t *testing.T) {
	bc := NewBoundaryCache(2)
	cells := h3.LatLngToCell(h3.NewLatLng(51.5433, -0.0666), 8).GridDisk(1)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				c := cells[i%len(cells)]
				got := bc.Boundary(c)
				want := BoundaryOf(c)
				if !orb.Equal(got.Ring, want.Ring) || got.Bound != want.Bound {
					t.Errorf("cached %v != %v", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if bc.Len() > 2 {
		t.Errorf("cache holds %d cells, max 2", bc.Len())
	}
}

func TestInUK(t *testing.T) {
	for _, tt := range []struct {
		lat, lon float64
		want     bool
	}{
		{51.5433, -0.0666, true},  // Hackney
		{60.8605, -0.8806, true},  // Muckle Flugga, Shetland
		{49.9146, -6.3151, true},  // St Mary's, Scilly
		{49.43, -2.6, true},       // Guernsey
		{54.597, -5.930, true},    // Belfast
		{54.15, -4.48, true},      // Isle of Man
		{-0.0666, 51.5433, false}, // swapped
		{0, 0, false},
		{48.86, 2.35, false},  // Paris
		{53.35, -10.5, false}, // off western Ireland
	} {
		if got := InUK(tt.lat, tt.lon); got != tt.want {
			t.Errorf("InUK(%v, %v) = %v, want %v", tt.lat, tt.lon, got, tt.want)
		}
	}
}

func BenchmarkCellsFor(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = CellsFor(51.5433, -0.0666)
	}
}

func BenchmarkCellBoundary(b *testing.B) {
	c := h3.LatLngToCell(h3.NewLatLng(51.5433, -0.0666), 8)
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = BoundaryOf(c)
		}
	})
	b.Run("cached", func(b *testing.B) {
		bc := NewBoundaryCache(1000)
		b.ReportAllocs()
		for b.Loop() {
			_ = bc.Boundary(c)
		}
	})
}

func TestInUKExcludesNeighbours(t *testing.T) {
	in := map[string][2]float64{
		"Belfast": {54.597, -5.930}, "Derry": {54.997, -7.309}, "Enniskillen": {54.344, -7.639},
		"Dover": {51.127, 1.313}, "Margate": {51.389, 1.386}, "Lowestoft": {52.48, 1.75}, "St Helier": {49.186, -2.107},
		"St Peter Port": {49.455, -2.536}, "Hugh Town": {49.914, -6.315}, "Lerwick": {60.155, -1.145},
		"Stornoway": {58.209, -6.389}, "Hackney": {51.545, -0.055}, "Penzance": {50.118, -5.537}, "Douglas": {54.15, -4.48},
	}
	out := map[string][2]float64{
		"Dublin": {53.35, -6.26}, "Cork": {51.90, -8.47}, "Sligo": {54.27, -8.47}, "Letterkenny": {54.95, -7.73},
		"Calais": {50.95, 1.85}, "Cherbourg": {49.64, -1.62}, "Saint-Malo": {48.65, -2.01}, "Null Island": {0, 0},
		"swapped Hackney": {-0.055, 51.545},
	}
	for name, p := range in {
		if !InUK(p[0], p[1]) {
			t.Errorf("%s (%v) not in the UK", name, p)
		}
	}
	for name, p := range out {
		if InUK(p[0], p[1]) {
			t.Errorf("%s (%v) counted as UK", name, p)
		}
	}
}
