package tiles

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ctxmap/ctxmap"
	"github.com/uber/h3-go/v4"
)

func TestParentAtMatchesH3(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		lat, lng := rng.Float64()*170-85, rng.Float64()*360-180
		res := 6 + rng.IntN(10)
		c := h3.LatLngToCell(h3.NewLatLng(lat, lng), res)
		for r := 0; r <= res; r++ {
			if got, want := parentAt(c, r), c.Parent(r); got != want {
				t.Fatalf("parentAt(%s, %d) = %s, h3 says %s", c, r, got, want)
			}
		}
	}
}

func TestValidCellMatchesH3(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(c h3.Cell) {
		t.Helper()
		if got, want := validCell(c), c.IsValid(); got != want {
			t.Fatalf("validCell(%x) = %v, h3 says %v", uint64(c), got, want)
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

func TestParseCell(t *testing.T) {
	good := h3.LatLngToCell(h3.NewLatLng(53.48, -2.24), 8)
	if c, err := ParseCell(good.String()); err != nil || c != good {
		t.Fatalf("ParseCell(%s) = %v, %v", good, c, err)
	}
	for _, s := range []string{"", "zz", "0x88195da49bfffff", h3.LatLngToCell(h3.NewLatLng(53.48, -2.24), 9).String(),
		h3.LatLngToCell(h3.NewLatLng(53.48, -2.24), 5).String(), "88195da49bffff0", "-1", "ffffffffffffffffff"} {
		_, err := ParseCell(s)
		var e *ctxmap.Error
		if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid {
			t.Errorf("ParseCell(%q) error = %v, want KindInvalid", s, err)
		}
	}
}
