package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap/tiles"
)

// appRoutes registers the API areas; each area lives in its own file.
func (s *Server) appRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/config", Summary: "Map settings: centre, zoom, optional basemap, attribution", Tag: "map"}, s.mapConfig)
	s.route(api, Op{Method: "GET", Path: "/boundary", Summary: "The partnership's area as GeoJSON (imported with ctxmap import boundary)", Tag: "map"}, s.boundary)
	s.recordRoutes(api)
	s.postcodeRoutes(api)
}

// attribution is shown wherever postcode-derived data is displayed.
const attribution = "Contains OS data © Crown copyright and database right; Contains Royal Mail data © Royal Mail copyright and database right; Contains National Statistics data © Crown copyright and database right."

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
		"attribution": attribution,
		"center":      []float64{s.cfg.CenterLon, s.cfg.CenterLat},
		"zoom":        s.cfg.Zoom,
		"k":           s.heat.Policy().K(),
		"data_time":   pub.DataTime.UTC().Format(time.RFC3339),
		"periods":     periodPresets(time.Now()),
	})
	return nil
}

// periodPresets are the periods the map offers: the rolling windows, the
// last four complete quarters, the last six complete months and the last two
// complete years. Every one is a whole-month period PRIVACY.md allows.
func periodPresets(now time.Time) []map[string]string {
	out := []map[string]string{
		{"value": "last-3m", "label": "Last 3 complete months"},
		{"value": "last-6m", "label": "Last 6 complete months"},
		{"value": "last-12m", "label": "Last 12 complete months"},
	}
	last := tiles.MonthOf(now).Add(-1)
	q := last
	for (int(q.Month)-1)%3 != 2 { // back to the last month that ends a quarter
		q = q.Add(-1)
	}
	for i := 0; i < 4; i++ {
		v := fmt.Sprintf("%d-Q%d", q.Year, (int(q.Month)-1)/3+1)
		out = append(out, map[string]string{"value": v, "label": v})
		q = q.Add(-3)
	}
	m := last
	for i := 0; i < 6; i++ {
		out = append(out, map[string]string{"value": m.String(), "label": m.Start().Format("January 2006")})
		m = m.Add(-1)
	}
	y := last.Year
	if last.Month != time.December {
		y--
	}
	for i := 0; i < 2; i++ {
		v := fmt.Sprint(y - i)
		out = append(out, map[string]string{"value": v, "label": v})
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
