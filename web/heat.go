package web

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/tiles"
)

const mvtType = "application/vnd.mapbox-vector-tile"

// heatTilePath is the heat tile route as a URL template: TileJSON hands it
// to map clients, and the route pattern is made from it.
const heatTilePath = "/tiles/heat/{z}/{x}/{y}.mvt"

// tileRoute turns a {z}/{x}/{y} template into a route pattern of digits.
var tileRoute = strings.NewReplacer("{z}", "{z:[0-9]+}", "{x}", "{x:[0-9]+}", "{y}", "{y:[0-9]+}")

var filterParams = []Param{
	Q("layer", layerChoices()),
	Q("category", "one harm category code from /api/v1/taxonomy, or "+ctxmap.ExtraFamilial+" for the overarching extra-familial figure; omit for all categories"),
	Q("period", tiles.PeriodForms+" (default "+tiles.DefaultPeriod+"); whole complete months only"),
}

// layerChoices documents the layer parameter from the one list of layers.
func layerChoices() string {
	words := map[ctxmap.Layer]string{ctxmap.LayerHarm: "harm happened", ctxmap.LayerUnsafe: "places young people feel unsafe"}
	var parts []string
	for _, l := range ctxmap.Layers() {
		p := string(l)
		if w := words[l]; w != "" {
			p += " (" + w
			if l == tiles.DefaultLayer {
				p += ", default"
			}
			p += ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " or ")
}

func (s *Server) heatRoutes(root, api *mux.Router) {
	tileParams := append([]Param{P("z", "zoom 0.."+strconv.Itoa(tiles.MaxZoom)), P("x", "tile column"), P("y", "tile row")}, filterParams...)
	s.route(root, Op{Method: "GET", Path: tileRoute.Replace(heatTilePath), Tag: "heat",
		Summary: "Anonymised heat tile (MVT layer heat: one polygon per published H3 cell with h3, res, value)",
		Params:  tileParams, Produces: mvtType, NotModified: true, Errors: []int{400}}, withTaxonomyHint(s.heatTile))
	s.route(root, Op{Method: "GET", Path: tileRoute.Replace("/tiles/contexts/{z}/{x}/{y}.mvt"), Tag: "contexts",
		Summary:  "Context records tile (MVT layer contexts: points with id, kind, location_type, display_name, status)",
		Params:   []Param{P("z", "zoom 0.."+strconv.Itoa(tiles.MaxZoom)), P("x", "tile column"), P("y", "tile row"), Q("status", "open, closed or all (default)")},
		Produces: mvtType, NotModified: true, Errors: []int{400}}, s.contextsTile)
	s.route(root, Op{Method: "GET", Path: "/tiles/heat.json", Tag: "heat", Summary: "TileJSON 3.0.0 for the heat layer",
		Params: filterParams, Errors: []int{400}}, withTaxonomyHint(s.heatTileJSON))
	s.route(api, Op{Method: "GET", Path: "/heat/cells", Tag: "heat", Summary: "Published cells as JSON: the same values as the tiles",
		Params: append([]Param{RQ("res", tiles.ResList()), Q("bbox", "min_lon,min_lat,max_lon,max_lat")}, filterParams...), Errors: []int{400}}, withTaxonomyHint(s.heatCells))
	s.areaTrendRoutes(api)
	s.exportRoutes(api)
}

// withTaxonomyHint points a refused category at the route that lists the
// codes. tiles knows no routes, so the hint is added here, by error code.
func withTaxonomyHint(h apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		var e *ctxmap.Error
		if errors.As(err, &e) && e.Code == "category_unsupported" {
			hinted := *e
			hinted.Message += " (see /api/v1/taxonomy)"
			return &hinted
		}
		return err
	}
}

// noFilterTricks refuses parameters that would ask for more than PRIVACY.md
// allows (date ranges, negations, polygons) and repeated filter
// parameters, so a caller is told plainly rather than silently ignored.
// Other unknown parameters (cache busters) are ignored: they cannot change
// the answer.
func noFilterTricks(q url.Values, allowed ...string) error {
	refused := []string{"from", "to", "start", "end", "since", "until", "date", "days", "weeks", "exclude", "except", "not",
		"categories", "polygon", "geometry", "within", "radius", "point", "subject", "k", "threshold", "res_override",
		"familial", "extra_familial", "source", "location_type", "team", "context", "context_id", "kind", "status",
		"age", "gender", "ethnicity", "school", "group"}
	for _, name := range refused {
		if _, ok := q[name]; ok && !slices.Contains(allowed, name) {
			return ctxmap.Errorf(ctxmap.KindInvalid, "filter_unsupported",
				"%q is not a supported filter: heat data is available by layer, one category (or all) and period (%s) only", name, tiles.PeriodForms)
		}
	}
	for _, name := range []string{"layer", "category", "period", "res", "bbox", "h3", "ward", "step", "from", "to", "status"} {
		if len(q[name]) > 1 {
			return ctxmap.Errorf(ctxmap.KindInvalid, "filter_unsupported", "give %q at most once", name)
		}
	}
	return nil
}

func filterOf(q url.Values) tiles.Filter {
	return tiles.Filter{Layer: ctxmap.Layer(q.Get("layer")), Category: q.Get("category"), Period: q.Get("period")}
}

// heatTile handles GET /tiles/heat/{z}/{x}/{y}.mvt.
func (s *Server) heatTile(w http.ResponseWriter, r *http.Request) error {
	q := query(r)
	if err := noFilterTricks(q); err != nil {
		return err
	}
	v := mux.Vars(r)
	tile, err := tiles.ParseTile(v["z"], v["x"], v["y"])
	if err != nil {
		return err
	}
	t, err := s.heat.HeatTile(r.Context(), tiles.TileRequest{Tile: tile, Filter: filterOf(q)})
	if err != nil {
		return err
	}
	serveEncodedTile(w, r, t.Bytes, t.ETag, t.Raw, t.RawETag)
	// A map view asks for dozens of tiles: /metrics counts and times them,
	// and the access log keeps its lines for what people do.
	info(r.Context()).quiet = true
	return nil
}

// serveTile sends a gzipped tile with its ETag; http.ServeContent answers
// If-None-Match with 304. Clients that refuse gzip get it decompressed.
func serveTile(w http.ResponseWriter, r *http.Request, gz []byte, etag string) {
	var raw []byte
	if !acceptsGzip(r) {
		if zr, err := gzip.NewReader(bytes.NewReader(gz)); err == nil {
			raw, _ = io.ReadAll(zr)
		}
	}
	serveEncodedTile(w, r, gz, etag, raw, tiles.IdentityETag(etag))
}

// serveEncodedTile serves a tile in the encoding the client accepts, from
// bytes already encoded both ways (cached heat tiles), with its ETag so a
// revalidation gets a 304.
func serveEncodedTile(w http.ResponseWriter, r *http.Request, gz []byte, etag string, raw []byte, rawETag string) {
	h := w.Header()
	h.Set("Content-Type", mvtType)
	// Private: tiles need a sign-in; revalidate so a new release shows at once.
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Vary", "Accept-Encoding, Cookie, Authorization")
	body := gz
	if acceptsGzip(r) || raw == nil {
		h.Set("Content-Encoding", "gzip")
	} else {
		body, etag = raw, rawETag
	}
	h.Set("ETag", etag)
	if r.Header.Get("Range") != "" {
		http.ServeContent(w, r, "", timeZero, bytes.NewReader(body))
		return
	}
	// The cached path, written directly: http.ServeContent would copy the
	// body through a buffer on every request.
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (RFC 9110:
// a weak comparison, "*" matching any).
func etagMatch(header, etag string) bool {
	for header != "" {
		var tag string
		tag, header, _ = strings.Cut(header, ",")
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
}

// maxContextsPerTile keeps a tile readable and bounded in size.
const maxContextsPerTile = 2000

// contextsTile handles GET /tiles/contexts/{z}/{x}/{y}.mvt. Context records
// are thematic (places, groups, schools), so every signed-in role sees
// them; nothing about linked young people is in the tile.
func (s *Server) contextsTile(w http.ResponseWriter, r *http.Request) error {
	v := mux.Vars(r)
	t, err := tiles.ParseTile(v["z"], v["x"], v["y"])
	if err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	if status == "all" {
		status = ""
	}
	// A small margin so symbols on tile edges are not cut.
	b := t.Bound(0.05)
	feats, err := s.records.ContextsInBounds(r.Context(), b, status, maxContextsPerTile)
	if err != nil {
		return err
	}
	tf := make([]tiles.ContextFeature, len(feats))
	for i, f := range feats {
		tf[i] = tiles.ContextFeature{ID: f.ID, Kind: f.Kind, LocationType: f.LocationType, DisplayName: f.DisplayName, Status: f.Status, Lon: f.Lon, Lat: f.Lat}
	}
	gz, err := tiles.EncodeContexts(t, tf)
	if err != nil {
		return err
	}
	serveTile(w, r, gz, tiles.ETag(gz))
	return nil
}

// heatTileJSON handles GET /tiles/heat.json.
func (s *Server) heatTileJSON(w http.ResponseWriter, r *http.Request) error {
	if err := noFilterTricks(r.URL.Query()); err != nil {
		return err
	}
	tj, err := s.heat.TileJSON(r.Context(), s.baseURL(r)+heatTilePath, filterOf(r.URL.Query()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tj)
	return nil
}

// baseURL is the origin the client used, for absolute tile URLs.
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if s.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func parseRes(q url.Values, required bool) (int, error) {
	v := q.Get("res")
	if v == "" {
		if required {
			return 0, badParam("res", "required: %s", tiles.ResList())
		}
		return 0, nil
	}
	res, err := strconv.Atoi(v)
	if err != nil {
		return 0, badParam("res", "must be %s", tiles.ResList())
	}
	return res, nil
}

// cellArea reads what the cells and the export are asked for besides the
// filter: res (required for cells, optional for the export) and bbox, after
// refusing the filters no heat output allows.
func cellArea(q url.Values, resRequired bool) (res int, bbox *orb.Bound, err error) {
	if err := noFilterTricks(q); err != nil {
		return 0, nil, err
	}
	if res, err = parseRes(q, resRequired); err != nil {
		return 0, nil, err
	}
	if bbox, err = tiles.ParseBBox(q.Get("bbox")); err != nil {
		return 0, nil, err
	}
	return res, bbox, nil
}

// heatCells handles GET /api/v1/heat/cells.
func (s *Server) heatCells(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	res, bbox, err := cellArea(q, true)
	if err != nil {
		return err
	}
	f := filterOf(q)
	cells, rel, err := s.heat.Cells(r.Context(), tiles.CellsRequest{Res: res, Filter: f, BBox: bbox})
	if err != nil {
		return err
	}
	// A bulk read of published values (PRIVACY.md rule 11).
	if err := s.audit.Audit(r.Context(), actor(r), "heat.cells", fmt.Sprintf("release:%d", rel.ID), "",
		map[string]any{"layer": f.Layer, "category": f.Category, "period": f.Period, "res": res, "bbox": q.Get("bbox"), "cells": len(cells)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"cells": cells, "k": s.heat.Policy().K(), "release": rel.ID})
	return nil
}

// heatMetrics exports the heat service's cache counters (tiles.Stats), for
// capacity planning, and its data generation, so an operator (or a test)
// sees when a write's invalidation has arrived.
func heatMetrics(heat *tiles.Service) []prometheus.Collector {
	counter := func(name, help string, v func(tiles.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(heat.Stats()) })
	}
	gauge := func(name, help string, v func(tiles.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(heat.Stats()) })
	}
	return []prometheus.Collector{
		gauge("ctxmap_heat_release", "The data release served (its id).",
			func(st tiles.Stats) float64 { return float64(st.Release) }),
		gauge("ctxmap_heat_tile_cache_entries", "Encoded heat tiles cached.", func(st tiles.Stats) float64 { return float64(st.TileEntries) }),
		gauge("ctxmap_heat_tile_cache_bytes", "Bytes of encoded heat tiles cached.", func(st tiles.Stats) float64 { return float64(st.TileBytes) }),
		counter("ctxmap_heat_tile_cache_hits_total", "Heat tile cache hits.", func(st tiles.Stats) float64 { return float64(st.TileHits) }),
		counter("ctxmap_heat_tile_cache_misses_total", "Heat tile cache misses.", func(st tiles.Stats) float64 { return float64(st.TileMisses) }),
		gauge("ctxmap_heat_set_cache_entries", "Published sets cached.", func(st tiles.Stats) float64 { return float64(st.SetEntries) }),
		gauge("ctxmap_heat_set_cache_bytes", "Estimated bytes of published sets cached.", func(st tiles.Stats) float64 { return float64(st.SetBytes) }),
		counter("ctxmap_heat_set_cache_hits_total", "Published set cache hits.", func(st tiles.Stats) float64 { return float64(st.SetHits) }),
		counter("ctxmap_heat_set_cache_misses_total", "Published set cache misses.", func(st tiles.Stats) float64 { return float64(st.SetMisses) }),
		gauge("ctxmap_heat_cell_geometries", "Hexagon boundaries kept across releases.", func(st tiles.Stats) float64 { return float64(st.CellGeometries) }),
	}
}
