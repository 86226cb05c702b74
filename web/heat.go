package web

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// heatTileRoute is the heat tile route's pattern, its name in logs and
// metrics.
var heatTileRoute = tileRoute.Replace(heatTilePath)

// heatTileCoords matches a path against heatTileRoute without a regexp:
// "/tiles/heat/", then z, x and y as runs of ASCII digits separated by "/",
// then ".mvt" and nothing after. It returns z, x and y as written; whether
// they name a tile is tiles.ParseTile's to say.
func heatTileCoords(path string) (zxy [3]string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/tiles/heat/")
	if !ok {
		return zxy, false
	}
	if rest, ok = strings.CutSuffix(rest, ".mvt"); !ok {
		return zxy, false
	}
	for i := range zxy {
		n := 0
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 0 {
			return zxy, false
		}
		zxy[i], rest = rest[:n], rest[n:]
		if i < len(zxy)-1 {
			if rest == "" || rest[0] != '/' {
				return zxy, false
			}
			rest = rest[1:]
		}
	}
	return zxy, rest == ""
}

// tileCoords are a tile route's z, x and y: from dispatch for a heat tile,
// else from the router.
func tileCoords(r *http.Request) (z, x, y string) {
	if c := info(r.Context()).tile; c[0] != "" {
		return c[0], c[1], c[2]
	}
	v := mux.Vars(r)
	return v["z"], v["x"], v["y"]
}

var filterParams = []Param{
	Q("layer", layerChoices()),
	Q("category", "one harm category code from /api/v1/taxonomy, or "+ctxmap.ExtraFamilial+" for the overarching extra-familial figure; omit for all categories"),
	Q("period", tiles.PeriodForms+" (default "+tiles.DefaultPeriod+"); whole complete months only"),
}

// layerWords put each layer in words, once, for the API document and the
// map (which reads them from /api/v1/config as layer_terms).
var layerWords = map[ctxmap.Layer]struct{ label, where string }{
	ctxmap.LayerHarm:   {"Harm happened", "where harm happened"},
	ctxmap.LayerUnsafe: {"Feels unsafe (safety mapping)", "places young people feel unsafe"},
	ctxmap.LayerSafe:   {"Safe places (a trusted adult there)", "safe places with a trusted adult, from safety maps"},
}

// layerTerm is one layer as the map offers it: its code, its words, and
// whether a harm category can filter it.
type layerTerm struct {
	Code        ctxmap.Layer `json:"code"`
	Label       string       `json:"label"`
	Where       string       `json:"where"`
	Categorised bool         `json:"categorised"`
}

// layerTerms lists the layers in display order with their words.
func layerTerms() []layerTerm {
	var out []layerTerm
	for _, l := range ctxmap.Layers() {
		w := layerWords[l]
		out = append(out, layerTerm{Code: l, Label: w.label, Where: w.where, Categorised: l.Categorised()})
	}
	return out
}

// layerChoices documents the layer parameter from the one list of layers.
func layerChoices() string {
	var parts []string
	for _, t := range layerTerms() {
		p := string(t.Code) + " (" + t.Where
		if !t.Categorised {
			p += "; no category filter"
		}
		if t.Code == tiles.DefaultLayer {
			p += ", default"
		}
		parts = append(parts, p+")")
	}
	return strings.Join(parts, ", ")
}

func (s *Server) heatRoutes(root, api *mux.Router) {
	tileParams := append([]Param{P("z", "zoom 0.."+strconv.Itoa(tiles.MaxZoom)), P("x", "tile column"), P("y", "tile row")}, filterParams...)
	s.tileHandler = s.route(root, Op{Method: "GET", Path: heatTileRoute, Tag: "heat",
		Summary: "Anonymised heat tile (MVT layer heat: one polygon per published H3 cell with h3, res, value)",
		Params:  tileParams, Produces: mvtType, NotModified: true, Errors: []int{400}}, withTaxonomyHint(s.heatTile))
	s.route(root, Op{Method: "GET", Path: tileRoute.Replace("/tiles/contexts/{z}/{x}/{y}.mvt"), Tag: "contexts",
		Summary:  "Context records tile (MVT layer contexts: points with id, kind, location_type, display_name, status)",
		Params:   []Param{P("z", "zoom 0.."+strconv.Itoa(tiles.MaxZoom)), P("x", "tile column"), P("y", "tile row"), Q("status", "open, closed or all (default)")},
		Produces: mvtType, NotModified: true, Errors: []int{400}}, s.contextsTile)
	s.route(root, Op{Method: "GET", Path: "/tiles/heat.json", Tag: "heat", Summary: "TileJSON 3.0.0 for the heat layer",
		Params: filterParams, Errors: []int{400}, Response: tiles.TileJSON{}}, withTaxonomyHint(s.heatTileJSON))
	s.route(api, Op{Method: "GET", Path: "/heat/cells", Tag: "heat", Summary: "Published cells as JSON: the same values as the tiles",
		Params: append([]Param{RQ("res", tiles.ResList()), Q("bbox", "min_lon,min_lat,max_lon,max_lat")}, filterParams...), Errors: []int{400},
		Response: Fields{"cells": []tiles.Cell{}, "k": 0, "release": int64(0)}}, withTaxonomyHint(s.heatCells))
	s.areaTrendRoutes(api)
	s.exportRoutes(api)
}

// withTaxonomyHint points a refused category at the route that lists the
// codes. tiles knows no routes, so the hint is added here, by error code.
func withTaxonomyHint(h apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if err == nil {
			return nil // without the errors.As below, whose target escapes
		}
		var e *ctxmap.Error
		if errors.As(err, &e) && e.Code == "category_unsupported" {
			hinted := *e
			hinted.Message += " (see /api/v1/taxonomy)"
			return &hinted
		}
		return err
	}
}

// heatTile handles GET /tiles/heat/{z}/{x}/{y}.mvt.
func (s *Server) heatTile(w http.ResponseWriter, r *http.Request) error {
	f, err := tileFilter(r)
	if err != nil {
		return err
	}
	tile, err := tiles.ParseTile(tileCoords(r))
	if err != nil {
		return err
	}
	t, err := s.heat.HeatTile(r.Context(), tiles.TileRequest{Tile: tile, Filter: f})
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

// Header values every tile response shares, assigned rather than Set so a
// cached tile allocates no slices for them. net/http only reads header
// values, and each slice has a capacity of one, so an Add copies it.
var (
	tileContentType  = []string{mvtType}
	tileCacheControl = []string{"private, no-cache"}
	tileVary         = []string{"Accept-Encoding, Cookie, Authorization"}
	gzipEncoding     = []string{"gzip"}
)

// serveEncodedTile serves a tile in the encoding the client accepts, from
// bytes already encoded both ways (cached heat tiles), with its ETag so a
// revalidation gets a 304.
func serveEncodedTile(w http.ResponseWriter, r *http.Request, gz []byte, etag string, raw []byte, rawETag string) {
	h := w.Header()
	h["Content-Type"] = tileContentType
	// Private: tiles need a sign-in; revalidate so a new release shows at once.
	h["Cache-Control"] = tileCacheControl
	h["Vary"] = tileVary
	body := gz
	if acceptsGzip(r) || raw == nil {
		h["Content-Encoding"] = gzipEncoding
	} else {
		body, etag = raw, rawETag
	}
	h["Etag"] = []string{etag} // Set("ETag") would canonicalise the key each time
	if r.Header.Get("Range") != "" {
		http.ServeContent(w, r, "", timeZero, bytes.NewReader(body))
		return
	}
	// The cached path, written directly: http.ServeContent would copy the
	// body through a buffer on every request.
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		delete(h, "Content-Encoding")
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
	t, err := tiles.ParseTile(tileCoords(r))
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
