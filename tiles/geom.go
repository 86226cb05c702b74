package tiles

import (
	"math"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/geo"
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

// ResForZoom is the H3 resolution the heat layer shows at a zoom
// (PRIVACY.md rule 3): 6 up to z9, 7 at z10-11, 8 from z12 on and never
// finer, however far the map zooms. The rule itself lives in geo, so the
// map and every other caller share one definition.
func ResForZoom(z int) int { return geo.ResForZoom(z) }

// ParseTile parses tile path segments into a tile, refusing anything out of
// range (z beyond MaxZoom, x or y not below 2^z) with KindInvalid before any
// work is done.
func ParseTile(z, x, y string) (maptile.Tile, error) {
	zi, okz := digits(z)
	xi, okx := digits(x)
	yi, oky := digits(y)
	if !okz || !okx || !oky || len(z) > 2 || len(x) > 8 || len(y) > 8 {
		return maptile.Tile{}, errInvalid("tile_invalid", "tile %s/%s/%s is not z/x/y with non-negative integers", trunc(z), trunc(x), trunc(y))
	}
	return CheckTile(zi, xi, yi)
}

// CheckTile bound-checks integer tile coordinates (0 <= z <= MaxZoom,
// 0 <= x, y < 2^z) and returns the typed tile.
func CheckTile(z, x, y int) (maptile.Tile, error) {
	if z < 0 || z > MaxZoom {
		return maptile.Tile{}, errInvalid("tile_out_of_range", "zoom %d is out of range; it must be 0 to %d", z, MaxZoom)
	}
	n := 1 << z
	if x < 0 || y < 0 || x >= n || y >= n {
		return maptile.Tile{}, errInvalid("tile_out_of_range", "tile %d/%d/%d is out of range; at zoom %d, x and y must be 0 to %d", z, x, y, z, n-1)
	}
	return maptile.New(uint32(x), uint32(y), maptile.Zoom(z)), nil
}

// cellGeom is a cell's boundary in lon/lat (closed ring) and its bound.
type cellGeom struct {
	ring  orb.Ring
	bound orb.Bound
}

// geomCache keeps cell boundaries across requests and data generations:
// h3's CellToBoundary costs about 2.5 us (a cgo call), and the same cells
// are published again and again. It stops growing at max entries.
type geomCache struct {
	mu  sync.RWMutex
	m   map[h3.Cell]cellGeom
	max int
}

func newGeomCache(max int) *geomCache {
	return &geomCache{m: make(map[h3.Cell]cellGeom), max: max}
}

func (g *geomCache) get(c h3.Cell) cellGeom {
	g.mu.RLock()
	cg, ok := g.m[c]
	g.mu.RUnlock()
	if ok {
		return cg
	}
	cg = boundaryOf(c)
	g.mu.Lock()
	if len(g.m) < g.max {
		g.m[c] = cg
	}
	g.mu.Unlock()
	return cg
}

// boundaryOf computes a cell's closed lon/lat ring. H3 lists the vertices
// counter-clockwise (north up); MVT v2 exterior rings must be clockwise as
// drawn (positive surveyor's area in y-down tile coordinates), so the ring
// is stored reversed.
func boundaryOf(c h3.Cell) cellGeom {
	b := h3.CellToBoundary(c)
	ring := make(orb.Ring, 0, len(b)+1)
	for i := len(b) - 1; i >= 0; i-- {
		ring = append(ring, orb.Point{b[i].Lng, b[i].Lat})
	}
	if len(ring) > 0 {
		ring = append(ring, ring[0])
	}
	return cellGeom{ring: ring, bound: ring.Bound()}
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
