package geo

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Layer names of the places tile (geo/postcodes Store.PlacesTile), part of the map's style
// contract: outlines are polygons with code and postcodes, labels points with
// the same properties.
const (
	DistrictsLayer      = "districts"
	DistrictLabelsLayer = "district_labels"
	SectorsLayer        = "sectors"
	SectorLabelsLayer   = "sector_labels"
)

// Zooms of the places tile. Districts (a few km across) are drawn from
// PlacesMinZoom, sectors (a few hundred metres to a km or two) only from
// SectorMinZoom, where they are big enough to read; past PlacesMaxZoom the
// map overzooms the last tile.
const (
	PlacesMinZoom = 9
	SectorMinZoom = 12
	PlacesMaxZoom = 15
)

// PostcodePlace is where a postcode, sector or district is, with the
// sector and district around it: what the map shows for a searched
// postcode.
type PostcodePlace struct {
	// Postcode is the normalised query: "E8 3AA", "E8 3" or "E8".
	Postcode string `json:"postcode"`
	// Match says how precisely the point was found (unit, sector, district).
	Match Match `json:"match"`
	// Lat and Lon are the postcode's point (WGS84).
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	// Sector and District are the outlines around it; nil where the
	// directory draws none (a district-level query has no sector).
	Sector   *PlaceOutline `json:"sector"`
	District *PlaceOutline `json:"district"`
}

// PlaceOutline names one outline and its extent, so the map can highlight
// it in the places tile (by code) and fit it in view.
type PlaceOutline struct {
	Code      string     `json:"code"`
	Postcodes int        `json:"postcodes"`
	BBox      [4]float64 `json:"bbox"` // min_lon, min_lat, max_lon, max_lat
}

// LabelPoint is where a polygon's name goes: its pole of inaccessibility,
// the inside point farthest from the edge (Mapbox's polylabel, to within
// precision degrees), so a ward's name sits well inside even a C-shaped
// ward, where the centroid may fall outside. For a MultiPolygon, the
// largest polygon's. Lon/lat are taken as planar, ample at ward scale.
func LabelPoint(g orb.Geometry, precision float64) (orb.Point, bool) {
	var poly orb.Polygon
	switch t := g.(type) {
	case orb.Polygon:
		poly = t
	case orb.MultiPolygon:
		best := -1.0
		for _, p := range t {
			if a := math.Abs(planar.Area(p)); a > best {
				best, poly = a, p
			}
		}
	}
	if len(poly) == 0 || len(poly[0]) < 4 {
		return orb.Point{}, false
	}
	b := poly[0].Bound()
	size := math.Min(b.Max[0]-b.Min[0], b.Max[1]-b.Min[1])
	if size <= 0 {
		return b.Center(), true
	}
	h := size / 2
	var queue []labelCell
	for x := b.Min[0]; x < b.Max[0]; x += size {
		for y := b.Min[1]; y < b.Max[1]; y += size {
			queue = append(queue, newLabelCell(orb.Point{x + h, y + h}, h, poly))
		}
	}
	best := newLabelCell(b.Center(), 0, poly)
	c, _ := planar.CentroidArea(poly)
	if cc := newLabelCell(c, 0, poly); cc.d > best.d {
		best = cc
	}
	for len(queue) > 0 {
		// The cell that could hold the farthest point first.
		i := 0
		for j := range queue {
			if queue[j].max > queue[i].max {
				i = j
			}
		}
		c := queue[i]
		queue[i] = queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if c.d > best.d {
			best = c
		}
		if c.max-best.d <= precision {
			continue
		}
		h := c.h / 2
		for _, d := range [][2]float64{{-h, -h}, {h, -h}, {-h, h}, {h, h}} {
			queue = append(queue, newLabelCell(orb.Point{c.p[0] + d[0], c.p[1] + d[1]}, h, poly))
		}
	}
	return best.p, true
}

// labelCell is a square of LabelPoint's search: its centre, half its side,
// the centre's signed distance to the polygon's edge (negative outside) and
// the most any point in the square could have.
type labelCell struct {
	p    orb.Point
	h, d float64
	max  float64
}

func newLabelCell(p orb.Point, h float64, poly orb.Polygon) labelCell {
	d := edgeDistance(p, poly)
	return labelCell{p: p, h: h, d: d, max: d + h*math.Sqrt2}
}

// edgeDistance is the distance from p to the nearest ring of poly, negative
// when p lies outside the polygon.
func edgeDistance(p orb.Point, poly orb.Polygon) float64 {
	min := math.Inf(1)
	for _, r := range poly {
		for i := 0; i+1 < len(r); i++ {
			min = math.Min(min, segmentDistance(p, r[i], r[i+1]))
		}
	}
	if !planar.PolygonContains(poly, p) {
		return -min
	}
	return min
}

func segmentDistance(p, a, b orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/l))
	}
	return math.Hypot(p[0]-a[0]-t*dx, p[1]-a[1]-t*dy)
}
