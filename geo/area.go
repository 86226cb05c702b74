package geo

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/uber/h3-go/v4"
)

// AreaCells returns the H3 cells at res whose centres lie inside the
// polygons of the given GeoJSON documents (each a Feature or a
// FeatureCollection, as boundaries are imported), sorted and without
// duplicates: the whole cells of an area, the only kind of area an output
// may sum (PRIVACY.md rule 5). Geometries other than polygons are ignored.
func AreaCells(docs []json.RawMessage, res int) ([]h3.Cell, error) {
	var out []h3.Cell
	for i, raw := range docs {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("geo: area document %d: %w", i, err)
		}
		var geoms []orb.Geometry
		switch head.Type {
		case "FeatureCollection":
			fc, err := geojson.UnmarshalFeatureCollection(raw)
			if err != nil {
				return nil, fmt.Errorf("geo: area document %d: %w", i, err)
			}
			for _, f := range fc.Features {
				geoms = append(geoms, f.Geometry)
			}
		case "Feature":
			f, err := geojson.UnmarshalFeature(raw)
			if err != nil {
				return nil, fmt.Errorf("geo: area document %d: %w", i, err)
			}
			geoms = append(geoms, f.Geometry)
		default:
			g, err := geojson.UnmarshalGeometry(raw)
			if err != nil {
				return nil, fmt.Errorf("geo: area document %d: %w", i, err)
			}
			geoms = append(geoms, g.Geometry())
		}
		for _, g := range geoms {
			switch p := g.(type) {
			case orb.Polygon:
				out = append(out, polygonCells(p, res)...)
			case orb.MultiPolygon:
				for _, q := range p {
					out = append(out, polygonCells(q, res)...)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func polygonCells(p orb.Polygon, res int) []h3.Cell {
	if len(p) == 0 || len(p[0]) < 4 {
		return nil
	}
	loop := func(r orb.Ring) h3.GeoLoop {
		l := make(h3.GeoLoop, 0, len(r))
		for _, pt := range r {
			l = append(l, h3.LatLng{Lat: pt[1], Lng: pt[0]})
		}
		return l
	}
	gp := h3.GeoPolygon{GeoLoop: loop(p[0])}
	for _, hole := range p[1:] {
		gp.Holes = append(gp.Holes, loop(hole))
	}
	return h3.PolygonToCells(gp, res)
}
