package tiles

import (
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// ParseCell parses an H3 cell id as shown in tiles, JSON and CSV (lower-case
// hexadecimal) and checks that it is a published resolution, so that every
// user-supplied cell is refused in one place with a clear message.
func ParseCell(s string) (h3.Cell, error) {
	if len(s) == 0 || len(s) > 16 {
		return 0, errInvalid("cell_invalid", "%q is not an H3 cell id (expected 15 hexadecimal digits, e.g. 88195da49bfffff)", ctxmap.Truncate(s, echoRunes))
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F') {
			return 0, errInvalid("cell_invalid", "%q is not an H3 cell id (expected 15 hexadecimal digits, e.g. 88195da49bfffff)", ctxmap.Truncate(s, echoRunes))
		}
	}
	c := h3.Cell(h3.IndexFromString(s))
	if !geo.ValidCell(c) {
		return 0, errInvalid("cell_invalid", "%q is not a valid H3 cell id", ctxmap.Truncate(s, echoRunes))
	}
	if r := geo.CellRes(c); r < geo.MinRes || r > geo.MaxRes {
		return 0, errInvalid("cell_resolution", "cell %s has resolution %d; heat data is published at resolutions %d to %d only", c, r, geo.MinRes, geo.MaxRes)
	}
	return c, nil
}
