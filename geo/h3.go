package geo

import (
	"sync"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// The H3 resolutions ctxmap stores, aggregates and publishes at (PRIVACY.md
// rule 3); the one home of the range for storage, tiles and the API. Res 8
// cells (~0.74 km², edge ~530 m) are the finest published: a finer grid
// would let a heat cell point at a single street. Res 6 (~36 km²) suits a
// whole-county view.
const (
	MinRes = 6
	MaxRes = 8
)

// CellsFor returns the res 6, 7 and 8 cells containing a WGS84 point, in
// that order, ready to store as three BIGINT columns. It indexes once at res
// 8 and derives the parents from the index bits, which is several times
// cheaper than three LatLngToCell calls (each a cgo call).
func CellsFor(lat, lon float64) [3]h3.Cell {
	c8 := h3.LatLngToCell(h3.NewLatLng(lat, lon), 8)
	return [3]h3.Cell{Parent(c8, 6), Parent(c8, 7), c8}
}

// ResForZoom is the H3 resolution the heat layer shows at a web-map zoom
// (PRIVACY.md rule 3): res 6 up to z9, res 7 at z10-11 and res 8 from z12.
// It never goes finer than MaxRes, however far the map zooms in, so zooming
// cannot de-anonymise a hotspot. This is the rule's only home: the tiles,
// TileJSON and the map (through /api/v1/config) all read it from here.
func ResForZoom(z int) int {
	switch {
	case z <= 9:
		return 6
	case z <= 11:
		return 7
	}
	return MaxRes
}

// CellCenter returns a cell's centre as latitude and longitude in degrees.
func CellCenter(c h3.Cell) (lat, lon float64) {
	ll := h3.CellToLatLng(c)
	return ll.Lat, ll.Lng
}

// CellBoundary is a cell's hexagon (or pentagon) in lon/lat: a closed ring
// in H3's vertex order (counter-clockwise, north up) and its bound.
type CellBoundary struct {
	Ring  orb.Ring
	Bound orb.Bound
}

// BoundaryOf computes a cell's boundary. It costs a cgo CellToBoundary call
// (about 2.5 us); BoundaryCache saves repeating it for the same cells.
func BoundaryOf(c h3.Cell) CellBoundary {
	b := h3.CellToBoundary(c)
	ring := make(orb.Ring, len(b), len(b)+1)
	for i, ll := range b {
		ring[i] = orb.Point{ll.Lng, ll.Lat}
	}
	if len(ring) > 0 {
		ring = append(ring, ring[0])
	}
	return CellBoundary{Ring: ring, Bound: ring.Bound()}
}

// BoundaryCache keeps cell boundaries across requests, so hot tiles do not
// pay the cgo boundary call per hexagon per request. It is safe for
// concurrent use and bounded: once it holds max cells it stops growing
// (the UK at res 8 is about 330,000 cells, about 250 bytes each).
type BoundaryCache struct {
	mu  sync.RWMutex
	m   map[h3.Cell]CellBoundary
	max int
}

// NewBoundaryCache returns a cache holding at most max cells (at least 1).
func NewBoundaryCache(n int) *BoundaryCache {
	return &BoundaryCache{m: make(map[h3.Cell]CellBoundary), max: max(n, 1)}
}

// Boundary returns BoundaryOf(c), from the cache when it can. The ring is
// shared between callers: they must not modify it.
func (bc *BoundaryCache) Boundary(c h3.Cell) CellBoundary {
	bc.mu.RLock()
	cb, ok := bc.m[c]
	bc.mu.RUnlock()
	if ok {
		return cb
	}
	cb = BoundaryOf(c)
	bc.mu.Lock()
	if len(bc.m) < bc.max {
		bc.m[c] = cb
	}
	bc.mu.Unlock()
	return cb
}

// Len is the number of cells cached, for metrics.
func (bc *BoundaryCache) Len() int {
	bc.mu.RLock()
	defer bc.mu.RUnlock()
	return len(bc.m)
}

// UK bounds, generous on purpose: they include Northern Ireland, Shetland,
// the Channel Islands and Scilly, with a margin, because InUK guards against
// swapped or garbage coordinates, not against a point just off the coast.
const (
	ukMinLat, ukMaxLat = 49.0, 61.0
	ukMinLon, ukMaxLon = -8.8, 2.1
)

// InUK reports whether a WGS84 point is in the United Kingdom or the Crown
// dependencies, coarsely: a bounding box with the neighbours' land cut out
// by a few straight lines (the Republic of Ireland south of Northern
// Ireland and west of its border, the French coast at Calais and the
// Cotentin). A false result usually means swapped coordinates, a default of
// (0, 0), or a place abroad; points just off the coast still pass.
func InUK(lat, lon float64) bool {
	if lat < ukMinLat || lat > ukMaxLat || lon < ukMinLon || lon > ukMaxLon {
		return false
	}
	switch {
	case lat >= 51.3 && lat < 54.0 && lon < -5.9: // Ireland south of Northern Ireland (Dublin, Cork)
		return false
	case lat >= 54.0 && lat < 54.6 && lon < -8.0: // Sligo, Leitrim (Fermanagh ends east of 8°W)
		return false
	case lat >= 54.6 && lat < 55.5 && lon < -7.4: // Donegal (Derry lies east of 7.4°W)
		return false
	case lat < 51.3 && lon > 1.5: // Calais and the French coast
		return false
	case lat < 49.8 && lon > -2.0: // the Cotentin (Cherbourg); the Channel Islands lie west of 2°W
		return false
	case lat < 49.15: // Brittany's north coast, south of Jersey
		return false
	}
	return true
}

// AvgCellAreaKm2 is the average area of an H3 cell at res in km², which the
// map shows beside each resolution so people know what a hexagon covers.
func AvgCellAreaKm2(res int) float64 { return h3.HexagonAreaAvgKm2(res) }
