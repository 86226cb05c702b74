package geo

import (
	"math"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"
)

// The H3 resolutions ctxmap stores and aggregates at. Res 8 cells (~0.74 km²,
// edge ~530 m) are the finest published: a finer grid would let a heat cell
// point at a single street. Res 6 (~36 km²) suits a whole-county view.
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
	return [3]h3.Cell{parent(c8, 6), parent(c8, 7), c8}
}

// parent is h3.Cell.Parent without the cgo call: an H3 cell index stores
// its resolution in bits 52-55 and one 3-bit digit per resolution below
// that, and a parent is the same index at a coarser resolution with the
// finer digits set to 7 ("unused"). res must not exceed c's resolution.
func parent(c h3.Cell, res int) h3.Cell {
	const resShift, resMask = 52, uint64(0xf) << 52
	v := uint64(c)
	cur := int((v & resMask) >> resShift)
	v = v&^resMask | uint64(res)<<resShift
	for r := res + 1; r <= cur; r++ {
		v |= 7 << ((15 - r) * 3)
	}
	return h3.Cell(v)
}

// ResForZoom picks the H3 resolution for a web-map zoom level: res 6 up to
// z9, res 7 at z10-11 and res 8 from z12. It never goes finer than MaxRes,
// however far the map zooms in, so zooming cannot de-anonymise a hotspot.
func ResForZoom(z int) int {
	switch {
	case z <= 9:
		return 6
	case z <= 11:
		return 7
	}
	return MaxRes
}

// CellPolygon returns a cell's hexagon (or pentagon) as a closed orb ring in
// lon/lat order, the orientation and order orb's GeoJSON and MVT encoders
// expect. It costs a cgo CellToBoundary call (~2.5 us); PolygonCache saves
// repeating it for the same cells on every tile.
func CellPolygon(c h3.Cell) orb.Polygon {
	b := h3.CellToBoundary(c)
	ring := make(orb.Ring, len(b)+1)
	for i, ll := range b {
		ring[i] = orb.Point{ll.Lng, ll.Lat}
	}
	ring[len(b)] = ring[0]
	return orb.Polygon{ring}
}

// CellCenter returns a cell's centre as latitude and longitude in degrees.
func CellCenter(c h3.Cell) (lat, lon float64) {
	ll := h3.CellToLatLng(c)
	return ll.Lat, ll.Lng
}

// PolygonCache remembers cell polygons so hot tiles do not pay the cgo
// boundary call per hexagon per request. It is safe for concurrent use and
// bounded: when it holds max cells it starts afresh, which is cheap and keeps
// memory predictable (the UK at res 8 is ~330,000 cells).
type PolygonCache struct {
	mu    sync.RWMutex
	max   int
	rings map[h3.Cell]orb.Ring
}

// NewPolygonCache returns a cache holding at most max cells (at least 1).
// Each costs ~250 bytes, so 100,000 is ~25 MB.
func NewPolygonCache(max int) *PolygonCache {
	if max < 1 {
		max = 1
	}
	return &PolygonCache{max: max, rings: make(map[h3.Cell]orb.Ring)}
}

// Polygon returns CellPolygon(c), from the cache when it can. The result is
// the caller's own copy, because orb's MVT projection rewrites geometry in
// place and a shared ring would be corrupted by the first tile encoded.
func (pc *PolygonCache) Polygon(c h3.Cell) orb.Polygon {
	pc.mu.RLock()
	r, ok := pc.rings[c]
	pc.mu.RUnlock()
	if !ok {
		r = CellPolygon(c)[0]
		pc.mu.Lock()
		if len(pc.rings) >= pc.max {
			clear(pc.rings)
		}
		pc.rings[c] = r
		pc.mu.Unlock()
	}
	out := make(orb.Ring, len(r))
	copy(out, r)
	return orb.Polygon{out}
}

// TileCells returns the cells at resolution res that overlap a web-map tile:
// those whose centres lie in the tile grown by one cell radius on each side,
// so hexagons straddling the tile edge are drawn on both tiles instead of
// leaving a gap. Heat queries use the result as `h3 = ANY($1)`.
func TileCells(t maptile.Tile, res int) []h3.Cell {
	b := t.Bound()
	// A hexagon's circumradius equals its edge length; pad by 1.5 edges so
	// the average-edge estimate cannot cut off a slightly larger cell.
	pad := 1.5 * h3.HexagonEdgeLengthAvgM(res)
	dLat := pad / 111_320
	cos := math.Cos(math.Max(math.Abs(b.Min.Lat()), math.Abs(b.Max.Lat())) * math.Pi / 180)
	dLon := pad / (111_320 * math.Max(cos, 0.01))
	minLat := math.Max(b.Min.Lat()-dLat, -89.9)
	maxLat := math.Min(b.Max.Lat()+dLat, 89.9)
	minLon, maxLon := b.Min.Lon()-dLon, b.Max.Lon()+dLon
	loop := h3.GeoLoop{
		{Lat: minLat, Lng: minLon},
		{Lat: minLat, Lng: maxLon},
		{Lat: maxLat, Lng: maxLon},
		{Lat: maxLat, Lng: minLon},
	}
	return h3.PolygonToCells(h3.GeoPolygon{GeoLoop: loop}, res)
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
