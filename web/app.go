package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/tiles"
)

// appRoutes registers the API areas; each area lives in its own file.
func (s *Server) appRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/config", Summary: "Map settings: centre, zoom, optional basemap, attribution", Tag: "map"}, s.mapConfig)
	s.route(api, Op{Method: "GET", Path: "/boundary", Summary: "The partnership's area as GeoJSON (imported with ctxmap import boundary)", Tag: "map"}, s.boundary)
	s.recordRoutes(api)
	s.postcodeRoutes(api)
}

// mapConfig handles GET /api/v1/config.
func (s *Server) mapConfig(w http.ResponseWriter, r *http.Request) error {
	var basemap any
	if s.cfg.Basemap != "" {
		basemap = map[string]any{"tiles": []string{s.cfg.Basemap}, "attribution": s.cfg.BasemapAttribution}
	}
	// The data time is when the default published set was read: what the
	// map shows is at least that fresh.
	pub, err := s.heat.Published(r.Context(), tiles.Filter{})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"basemap":     basemap,
		"attribution": geo.PostcodeAttribution,
		"center":      []float64{s.cfg.CenterLon, s.cfg.CenterLat},
		"zoom":        s.cfg.Zoom,
		"k":           s.heat.Policy().K(),
		"data_time":   pub.DataTime.UTC().Format(time.RFC3339),
		"periods":     tiles.PeriodPresets(time.Now()),
		"resolutions": map[string]any{"min": geo.MinRes, "max": geo.MaxRes, "by_zoom": resForZoom()},
	})
	return nil
}

// resForZoom is geo.ResForZoom for every zoom a tile is served at (index =
// zoom), so the map reads the rule instead of repeating it.
func resForZoom() []int {
	out := make([]int, tiles.MaxZoom+1)
	for z := range out {
		out[z] = geo.ResForZoom(z)
	}
	return out
}

// boundary handles GET /api/v1/boundary: every imported boundary merged
// into one FeatureCollection.
func (s *Server) boundary(w http.ResponseWriter, r *http.Request) error {
	rows, err := s.pool.Query(r.Context(), `SELECT geojson FROM boundaries ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	features := []json.RawMessage{}
	for rows.Next() {
		var fc struct {
			Type     string            `json:"type"`
			Features []json.RawMessage `json:"features"`
		}
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return err
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
	if err := rows.Err(); err != nil {
		return err
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
