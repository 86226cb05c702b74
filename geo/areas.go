package geo

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
)

// Area is one named polygon of the partnership's imported boundary,
// usually a ward. Area queries never use its outline directly: they use
// the whole H3 cells whose centres fall inside it (CellsInArea), so an
// area's figures are sums of published cells (PRIVACY.md rule 5).
type Area struct {
	ID   string       `json:"id"`
	Name string       `json:"name"`
	Geom orb.Geometry `json:"-"` // orb.Polygon or orb.MultiPolygon, lon/lat
}

// ONS boundary files name their code and name properties after the
// geography and its year (WD25CD, WD25NM; LAD24CD...); other sources use
// plain names. The first present wins, in this order.
var (
	onsCode = regexp.MustCompile(`^[A-Z]{2,5}[0-9]{2}CD$`)
	onsName = regexp.MustCompile(`^[A-Z]{2,5}[0-9]{2}NM$`)
)

// BoundaryAreas reads the named polygons of boundary documents (GeoJSON
// Features or FeatureCollections, as `ctxmap import boundary` stores
// them), in document and feature order. A feature without a polygon or
// without any name or code is not an area and is left out. Ids are made
// unique: a repeated code gets "-2", "-3"...
func BoundaryAreas(docs []json.RawMessage) ([]Area, error) {
	var out []Area
	seen := map[string]int{}
	for i, raw := range docs {
		var feats []*geojson.Feature
		if fc, err := geojson.UnmarshalFeatureCollection(raw); err == nil && fc.Type == "FeatureCollection" {
			feats = fc.Features
		} else if f, err := geojson.UnmarshalFeature(raw); err == nil {
			feats = []*geojson.Feature{f}
		} else {
			return nil, fmt.Errorf("geo: boundary document %d: %w", i+1, err)
		}
		codeKey, nameKey := distinctKey(feats, onsCode), distinctKey(feats, onsName)
		for _, f := range feats {
			switch f.Geometry.(type) {
			case orb.Polygon, orb.MultiPolygon:
			default:
				continue
			}
			id, name := areaNames(f, codeKey, nameKey)
			if id == "" && name == "" {
				continue
			}
			if id == "" {
				id = name
			}
			if name == "" {
				name = id
			}
			seen[id]++
			if n := seen[id]; n > 1 {
				id = fmt.Sprintf("%s-%d", id, n)
			}
			out = append(out, Area{ID: id, Name: name, Geom: f.Geometry})
		}
	}
	return out, nil
}

// distinctKey picks, among the property names matching re, the one with
// the most distinct values over a document's features: in a ward file
// every feature has the same district code (LAD25CD) but its own ward
// code (WD25CD), whatever else the file carries.
func distinctKey(feats []*geojson.Feature, re *regexp.Regexp) string {
	values := map[string]map[string]bool{}
	for _, f := range feats {
		for k, v := range f.Properties {
			if s, ok := v.(string); ok && re.MatchString(k) && strings.TrimSpace(s) != "" {
				if values[k] == nil {
					values[k] = map[string]bool{}
				}
				values[k][s] = true
			}
		}
	}
	best := ""
	for k, vs := range values {
		if len(vs) > len(values[best]) || len(vs) == len(values[best]) && k < best {
			best = k
		}
	}
	return best
}

// areaNames finds a feature's code and name: the document's ONS code and
// name properties when it has them, else plain ones.
func areaNames(f *geojson.Feature, codeKey, nameKey string) (id, name string) {
	keys := make([]string, 0, len(f.Properties))
	for k := range f.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	str := func(k string) string {
		s, _ := f.Properties[k].(string)
		return strings.TrimSpace(s)
	}
	pick := func(key string, plain ...string) string {
		if v := str(key); key != "" && v != "" {
			return v
		}
		for _, p := range plain {
			for _, k := range keys {
				if strings.EqualFold(k, p) && str(k) != "" {
					return str(k)
				}
			}
		}
		return ""
	}
	id = pick(codeKey, "code", "id", "gss_code")
	if id == "" {
		switch v := f.ID.(type) {
		case string:
			id = v
		case float64:
			id = fmt.Sprint(v)
		}
	}
	return id, pick(nameKey, "name", "ward_name", "ward")
}

// FindArea picks an area by its id, or else by its name (ignoring case).
// An unknown or ambiguous choice is a KindInvalid error.
func FindArea(areas []Area, key string) (Area, error) {
	key = strings.TrimSpace(key)
	for _, a := range areas {
		if a.ID == key {
			return a, nil
		}
	}
	var found []Area
	for _, a := range areas {
		if strings.EqualFold(a.Name, key) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Area{}, ctxmap.Errorf(ctxmap.KindInvalid, "ward_unknown", "%q is not a ward of the imported boundary", ctxmap.Truncate(key, 80))
	}
	return Area{}, ctxmap.Errorf(ctxmap.KindInvalid, "ward_ambiguous", "%d wards are called %q; give the ward's id instead", len(found), ctxmap.Truncate(key, 80))
}

// CellsInArea returns the H3 cells at res whose centres fall inside g (a
// Polygon or MultiPolygon in lon/lat), in id order: the whole cells that
// stand for the area. H3's polygon fill decides by the cell centre, so each
// cell is counted for at most one of several areas that tile the map.
func CellsInArea(g orb.Geometry, res int) []h3.Cell {
	var polys []orb.Polygon
	switch v := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{v}
	case orb.MultiPolygon:
		polys = v
	}
	seen := map[h3.Cell]bool{}
	var out []h3.Cell
	for _, p := range polys {
		if len(p) == 0 {
			continue
		}
		gp := h3.GeoPolygon{GeoLoop: loopOf(p[0])}
		for _, hole := range p[1:] {
			gp.Holes = append(gp.Holes, loopOf(hole))
		}
		for _, c := range h3.PolygonToCells(gp, res) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out
}

func loopOf(r orb.Ring) h3.GeoLoop {
	loop := make(h3.GeoLoop, 0, len(r))
	for _, p := range r {
		loop = append(loop, h3.LatLng{Lat: p[1], Lng: p[0]})
	}
	return loop
}
