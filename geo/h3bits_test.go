package geo

import (
	"math/rand/v2"
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestParentMatchesH3AtFinerResolutions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		lat, lng := rng.Float64()*170-85, rng.Float64()*360-180
		res := 6 + rng.IntN(10)
		c := h3.LatLngToCell(h3.NewLatLng(lat, lng), res)
		for r := 0; r <= res; r++ {
			if got, want := Parent(c, r), c.Parent(r); got != want {
				t.Fatalf("Parent(%s, %d) = %s, h3 says %s", c, r, got, want)
			}
		}
	}
}

func TestValidCellMatchesH3(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(c h3.Cell) {
		t.Helper()
		if got, want := ValidCell(c), c.IsValid(); got != want {
			t.Fatalf("ValidCell(%x) = %v, h3 says %v", uint64(c), got, want)
		}
	}
	for i := 0; i < 20000; i++ {
		c := h3.LatLngToCell(h3.NewLatLng(rng.Float64()*180-90, rng.Float64()*360-180), rng.IntN(16))
		check(c)
		// flip one random bit: mostly invalid, sometimes another valid cell.
		check(h3.Cell(uint64(c) ^ 1<<rng.IntN(64)))
		check(h3.Cell(rng.Uint64()))
	}
	// every pentagon and its children, and the deleted K-axis cells.
	for _, p := range h3.Pentagons(2) {
		check(p)
		for _, ch := range p.Children(4) {
			check(ch)
		}
		for d := uint64(0); d < 8; d++ {
			check(h3.Cell(uint64(p)&^(7<<(3*(15-1))) | d<<(3*(15-1))))
		}
	}
	check(0)
}
