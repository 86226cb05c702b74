package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/tiles"
)

// appRoutes registers the API areas; each area lives in its own file.
func (s *Server) appRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/config", Summary: "Map settings: centre, zoom, optional basemap, attribution", Tag: "map",
		Response: Fields{"basemap": Nullable{basemapConfig{}}, "attribution": "", "center": []float64{}, "zoom": 0.0,
			"k": 0, "release": configRelease{}, "periods": []map[string]string{}, "default_period": "", "layers": []ctxmap.Layer{}, "layer_terms": []layerTerm{}, "extra_familial": "",
			"resolutions": []resolution{}, "zoom_resolutions": []zoomResolution{}, "heat_zoom": map[string]int{}, "trend": map[string]string{},
			"hotspots": hotspotOptions{}, "places": placesConfig{}}}, s.mapConfig)
	s.route(api, Op{Method: "GET", Path: "/boundary", Summary: "The partnership's area as GeoJSON (imported with ctxmap import boundary)", Tag: "map",
		Response: Fields{"type": "", "features": []json.RawMessage{}}}, s.boundary)
	s.recordRoutes(api)
	s.youngPersonRoutes(api)
	s.postcodeRoutes(api)
}

// mapConfig handles GET /api/v1/config.
func (s *Server) mapConfig(w http.ResponseWriter, r *http.Request) error {
	basemap := s.basemapOf()
	// The map shows the current release; its periods and trend range are
	// resolved as of the release's data time, so every one it offers is in it.
	rel, err := s.heat.Release(r.Context())
	if err != nil {
		return err
	}
	next := s.releases.NextDue(rel, time.Now())
	cr := configRelease{releaseJSON: toReleaseJSON(rel), Label: releaseLabel(rel, next)}
	if !next.IsZero() {
		cr.NextDue = next.UTC().Format(time.RFC3339)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"basemap":     basemap,
		"attribution": geo.PostcodeAttribution,
		"center":      []float64{s.cfg.CenterLon, s.cfg.CenterLat},
		"zoom":        s.cfg.Zoom,
		"k":           s.heat.Policy().K(),
		"release":     cr,
		"periods":     tiles.PeriodPresets(rel.DataTime),
		// The rules the map UI follows, from the packages that own them,
		// so the JS repeats none of them.
		"default_period":   tiles.DefaultPeriod,
		"layers":           ctxmap.Layers(),
		"layer_terms":      layerTerms(),
		"extra_familial":   ctxmap.ExtraFamilial,
		"resolutions":      resolutions(),
		"zoom_resolutions": zoomResolutions(),
		"heat_zoom":        map[string]int{"min": tiles.TileJSONMinZoom, "max": tiles.TileJSONMaxZoom},
		"trend":            trendRange(rel.DataTime),
		"hotspots":         hotspotConfig(),
		"places":           placesConfig{Tiles: placesTilePath, MinZoom: geo.PlacesMinZoom, MaxZoom: geo.PlacesMaxZoom, SectorMinZoom: geo.SectorMinZoom, Fonts: labelFonts},
	})
	return nil
}

// configRelease is the release the map shows, with its description in words.
type configRelease struct {
	releaseJSON
	Label   string `json:"label"`
	NextDue string `json:"next_due,omitempty"`
}

// trendMonths is how many months the map's trend chart spans.
const trendMonths = 24

// trendRange is the span of the map's trend chart: the trendMonths months
// up to the last complete one, as the "from" and "to" of GET /api/v1/trends.
func trendRange(now time.Time) map[string]string {
	last := tiles.MonthOf(now).Add(-1)
	return map[string]string{"from": last.Add(-(trendMonths - 1)).String(), "to": last.String()}
}

// resolution is one H3 resolution heat is published at, with the average
// area of its cells.
type resolution struct {
	Res     int     `json:"res"`
	AreaKm2 float64 `json:"area_km2"`
}

// resolutions lists the H3 resolutions heat is published at, coarsest first.
func resolutions() []resolution {
	var out []resolution
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		out = append(out, resolution{Res: r, AreaKm2: geo.AvgCellAreaKm2(r)})
	}
	return out
}

// zoomResolution is one run of map zooms drawn at one H3 resolution.
type zoomResolution struct {
	Res     int `json:"res"`
	MinZoom int `json:"min_zoom"`
	MaxZoom int `json:"max_zoom"`
}

// zoomResolutions writes geo.ResForZoom as runs of zooms, so the map can
// say which resolution it shows without its own copy of the rule.
func zoomResolutions() []zoomResolution {
	var out []zoomResolution
	for z := 0; z <= tiles.MaxZoom; z++ {
		r := geo.ResForZoom(z)
		if n := len(out); n > 0 && out[n-1].Res == r {
			out[n-1].MaxZoom = z
			continue
		}
		out = append(out, zoomResolution{Res: r, MinZoom: z, MaxZoom: z})
	}
	return out
}

// boundary handles GET /api/v1/boundary: every imported boundary merged
// into one FeatureCollection.
func (s *Server) boundary(w http.ResponseWriter, r *http.Request) error {
	docs, err := s.boundaries.Boundaries(r.Context())
	if err != nil {
		return err
	}
	features := []json.RawMessage{}
	for _, raw := range docs {
		var fc struct {
			Type     string            `json:"type"`
			Features []json.RawMessage `json:"features"`
		}
		if err := json.Unmarshal(raw, &fc); err != nil {
			return err
		}
		if fc.Type == "FeatureCollection" {
			features = append(features, fc.Features...)
		} else {
			features = append(features, raw)
		}
	}
	w.Header().Set("Cache-Control", "private, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{"type": "FeatureCollection", "features": features})
	return nil
}

// csp is the page's Content-Security-Policy: our own origin only, plus the
// configured basemap's origin when there is one, so the browser itself
// enforces "no request leaves the server".
func (s *Server) csp() string {
	extra := ""
	if u, err := url.Parse(s.cfg.Basemap); err == nil && s.cfg.Basemap != "" && u.Host != "" {
		extra = " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'self'; img-src 'self' data: blob:" + extra + "; worker-src 'self' blob:; child-src blob:; " +
		"style-src 'self' 'unsafe-inline'; connect-src 'self'" + extra + "; frame-ancestors 'none'"
}
