package tiles

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/paulmach/orb/planar"

	"github.com/ctxmap/ctxmap"
)

// MaxZoom is the deepest tile zoom accepted. Beyond zoom 12 the heat layer
// no longer changes (resolution 8 is the finest), but maps may still ask.
const MaxZoom = 22

// Extent and Buffer are the MVT tile extent and the margin, in tile units,
// within which features of neighbouring tiles are included so that
// hexagon edges draw without seams.
const (
	Extent = 4096
	Buffer = 64
)

// ParseTile parses tile path segments into a tile, refusing anything out of
// range (z beyond MaxZoom, x or y not below 2^z) with KindInvalid before any
// work is done. It is the one parser of tile coordinates: the typed tile it
// returns travels unchanged to the encoder.
func ParseTile(z, x, y string) (maptile.Tile, error) {
	zi, okz := digits(z)
	xi, okx := digits(x)
	yi, oky := digits(y)
	if !okz || !okx || !oky || len(z) > 2 || len(x) > 8 || len(y) > 8 {
		return maptile.Tile{}, errInvalid("tile_invalid", "tile %s/%s/%s is not z/x/y with non-negative integers",
			ctxmap.Truncate(z, echoRunes), ctxmap.Truncate(x, echoRunes), ctxmap.Truncate(y, echoRunes))
	}
	t := maptile.New(uint32(xi), uint32(yi), maptile.Zoom(zi))
	if err := CheckTile(t); err != nil {
		return maptile.Tile{}, err
	}
	return t, nil
}

// CheckTile is the one bound check of a tile (z <= MaxZoom, x and y below
// 2^z), the rule every entry point that takes a maptile.Tile applies, since
// the type itself admits any coordinates.
func CheckTile(t maptile.Tile) error {
	if t.Z > MaxZoom {
		return errInvalid("tile_out_of_range", "zoom %d is out of range; it must be 0 to %d", t.Z, MaxZoom)
	}
	n := uint32(1) << t.Z
	if t.X >= n || t.Y >= n {
		return errInvalid("tile_out_of_range", "tile %d/%d/%d is out of range; at zoom %d, x and y must be 0 to %d", t.Z, t.X, t.Y, t.Z, n-1)
	}
	return nil
}

// projector maps lon/lat to integer tile coordinates (web mercator).
type projector struct {
	scale, x0, y0 float64
}

func newProjector(t maptile.Tile) projector {
	s := float64(uint64(1)<<t.Z) * Extent
	return projector{scale: s, x0: float64(t.X) * Extent, y0: float64(t.Y) * Extent}
}

func (p projector) point(lon, lat float64) orb.Point {
	x := (lon + 180) / 360 * p.scale
	if lat > 85.0511287798 {
		lat = 85.0511287798
	} else if lat < -85.0511287798 {
		lat = -85.0511287798
	}
	sin := math.Sin(lat * math.Pi / 180)
	y := (0.5 - math.Log((1+sin)/(1-sin))/(4*math.Pi)) * p.scale
	return orb.Point{math.Round(x - p.x0), math.Round(y - p.y0)}
}

// bufferedBound is the lon/lat bound of a tile grown by Buffer tile units,
// the area whose cells a tile carries.
func bufferedBound(t maptile.Tile) orb.Bound {
	return t.Bound(float64(Buffer) / Extent)
}

// ringMeetsBound reports whether a convex ring (a hexagon, in lon/lat)
// and a rectangle share any point, taking both as planar figures in
// lon/lat, as GeoJSON clients draw them. The cells and exports of a map
// view use it, so a cell whose bounding box reaches into the view but
// whose hexagon does not is left out.
func ringMeetsBound(r orb.Ring, b orb.Bound) bool {
	if !r.Bound().Intersects(b) {
		return false
	}
	for _, p := range r {
		if b.Contains(p) {
			return true
		}
	}
	corners := [4]orb.Point{b.Min, {b.Max[0], b.Min[1]}, b.Max, {b.Min[0], b.Max[1]}}
	for _, c := range corners {
		if planar.RingContains(r, c) {
			return true
		}
	}
	for i := 0; i+1 < len(r); i++ {
		for j := range corners {
			if segmentsCross(r[i], r[i+1], corners[j], corners[(j+1)%4]) {
				return true
			}
		}
	}
	return false
}

// segmentsCross reports whether segments ab and cd share a point.
func segmentsCross(a, b, c, d orb.Point) bool {
	side := func(p, q, r orb.Point) float64 { return (q[0]-p[0])*(r[1]-p[1]) - (q[1]-p[1])*(r[0]-p[0]) }
	d1, d2 := side(c, d, a), side(c, d, b)
	d3, d4 := side(a, b, c), side(a, b, d)
	if (d1 > 0) != (d2 > 0) && (d3 > 0) != (d4 > 0) && d1 != 0 && d2 != 0 && d3 != 0 && d4 != 0 {
		return true
	}
	on := func(p, q, r orb.Point) bool { // r on segment pq, given collinear
		return min(p[0], q[0]) <= r[0] && r[0] <= max(p[0], q[0]) && min(p[1], q[1]) <= r[1] && r[1] <= max(p[1], q[1])
	}
	return d1 == 0 && on(c, d, a) || d2 == 0 && on(c, d, b) || d3 == 0 && on(a, b, c) || d4 == 0 && on(a, b, d)
}
