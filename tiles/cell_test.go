package tiles

import (
	"errors"
	"testing"

	"github.com/ctxmap/ctxmap"
	"github.com/uber/h3-go/v4"
)

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
