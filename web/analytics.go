package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/tiles"
)

// Analytics on published values (issue 12; PRIVACY.md rule 9): emerging hot
// spots as JSON, CSV, GeoJSON and an MVT layer. Every answer names the
// release it was computed from.

// hotspotTilePath is the hot spot tile route as a URL template.
const hotspotTilePath = "/tiles/hotspots/{z}/{x}/{y}.mvt"

var hotspotParams = []Param{
	filterParams[0], filterParams[1],
	Q("step", tiles.StepMonth+" (default) or "+tiles.StepQuarter+" (whole quarters)"),
	Q("from", "first step: YYYY-MM, or YYYY-Qn for quarters (default: the first of the release)"),
	Q("to", "last step: YYYY-MM, or YYYY-Qn for quarters (default: the last of the release)"),
	Q("alpha", fmt.Sprintf("significance level for Gi* and the trend, above 0 and at most 0.5 (default %g)", tiles.DefaultHotspotAlpha)),
}

func (s *Server) analyticsRoutes(root, api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/hotspots", Tag: "analytics",
		Summary: "Emerging hot spot analysis (Gi* per step, Mann-Kendall trend, ArcGIS Pro's patterns) of the current release's published values; JSON, CSV (format=csv) or GeoJSON (format=geojson); audit-logged",
		Params:  append([]Param{RQ("res", tiles.ResList()+" (8 where anything is published)"), Q("format", "json (default), csv or geojson; or ask by Accept")}, hotspotParams...),
		Errors:  []int{400}, Response: hotspotsJSON{}}, withTaxonomyHint(s.hotspots))
	s.route(root, Op{Method: "GET", Path: tileRoute.Replace(hotspotTilePath), Tag: "analytics",
		Summary: "Hot spot tile (MVT layer hotspots: one polygon per study-area cell with h3, res, category)",
		Params: append([]Param{P("z", "zoom 0.."+strconv.Itoa(tiles.MaxZoom)), P("x", "tile column"), P("y", "tile row"),
			Q("res", tiles.ResList()+" (default: the heat layer's resolution for the zoom)")}, hotspotParams...),
		Produces: mvtType, NotModified: true, Errors: []int{400}}, withTaxonomyHint(s.hotspotTile))
}

// hotspotOptions is what the map's hot spot view may ask for, so the JS
// holds no list of its own: the resolutions and steps the analysis
// accepts, with the defaults the view starts from.
type hotspotOptions struct {
	Resolutions []int         `json:"resolutions"`
	DefaultRes  int           `json:"default_res"`
	Steps       []hotspotStep `json:"steps"`
	Alpha       float64       `json:"alpha"`
	Tiles       string        `json:"tiles"`
	Layer       string        `json:"layer"`
}

type hotspotStep struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// hotspotDefaultRes is the resolution the map's view starts at: about
// 5 km² cells, fine enough to name a place, coarse enough that most
// months publish.
const hotspotDefaultRes = 7

func hotspotConfig() hotspotOptions {
	o := hotspotOptions{DefaultRes: hotspotDefaultRes, Alpha: tiles.DefaultHotspotAlpha, Tiles: hotspotTilePath, Layer: tiles.HotspotsLayer,
		Steps: []hotspotStep{{tiles.StepMonth, "Months"}, {tiles.StepQuarter, "Quarters (whole quarters only)"}}}
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		o.Resolutions = append(o.Resolutions, r)
	}
	return o
}

// hotspotsJSON is the JSON answer of GET /api/v1/hotspots.
type hotspotsJSON struct {
	Release   releaseJSON `json:"release"`
	Layer     string      `json:"layer"`
	Category  string      `json:"category"`
	Res       int         `json:"res"`
	Step      string      `json:"step"`
	From      string      `json:"from"`
	To        string      `json:"to"`
	Alpha     float64     `json:"alpha"`
	StudyArea struct {
		Kind  string `json:"kind"`
		Cells int    `json:"cells"`
	} `json:"study_area"`
	Steps      []hotspotStepJSON           `json:"steps"`
	Categories []tiles.HotspotCategoryInfo `json:"categories"`
	Cells      []hotspotCellJSON           `json:"cells"`
}

type hotspotStepJSON struct {
	Label      string `json:"label"`
	FirstMonth string `json:"first_month"`
	LastMonth  string `json:"last_month"`
}

type hotspotCellJSON struct {
	H3       string                `json:"h3"`
	Category tiles.HotspotCategory `json:"category"`
	TrendZ   float64               `json:"trend_z"`
	TrendP   float64               `json:"trend_p"`
	Gi       []tiles.GiStar        `json:"gi"`
}

// hotspotRequest reads a hot spot request from the query, refusing the
// filters no heat output allows; the study area is the partnership's
// boundary at the request's resolution when one is imported.
func (s *Server) hotspotRequest(ctx context.Context, q url.Values, res int) (tiles.HotspotRequest, error) {
	req := tiles.HotspotRequest{Layer: ctxmap.Layer(q.Get("layer")), Category: q.Get("category"), Res: res,
		Step: q.Get("step"), From: q.Get("from"), To: q.Get("to")}
	if err := noFilterTricks(q, "from", "to"); err != nil {
		return req, err
	}
	for _, name := range []string{"step", "alpha", "format"} {
		if len(q[name]) > 1 {
			return req, badParam(name, "give it at most once")
		}
	}
	if q.Get("period") != "" {
		return req, badParam("period", "hot spots take step, from and to, not a period")
	}
	if v := q.Get("alpha"); v != "" {
		a, err := strconv.ParseFloat(v, 64)
		if err != nil || a == 0 {
			return req, badParam("alpha", "must be a number above 0 and at most 0.5")
		}
		req.Alpha = a
	}
	if res != 0 {
		area, err := s.studyArea(ctx, res)
		if err != nil {
			return req, err
		}
		req.Area = area
	}
	return req, nil
}

// studyArea is the boundary's cells at res, or nil without a boundary.
func (s *Server) studyArea(ctx context.Context, res int) ([]h3.Cell, error) {
	if res < geo.MinRes || res > geo.MaxRes || s.boundaries == nil {
		return nil, nil // the service refuses the resolution
	}
	return s.areas.cells(ctx, s.boundaries, res)
}

// areaCache keeps the boundary's cells per resolution for a short while:
// a map view asks for dozens of hot spot tiles, and a boundary is imported
// once in a deployment's life. The zero value is ready to use.
type areaCache struct {
	mu      sync.Mutex
	entries map[int]areaEntry
}

type areaEntry struct {
	cells []h3.Cell
	at    time.Time
}

const areaCacheTTL = 30 * time.Second

func (a *areaCache) cells(ctx context.Context, b Boundaries, res int) ([]h3.Cell, error) {
	a.mu.Lock()
	e, ok := a.entries[res]
	a.mu.Unlock()
	if ok && time.Since(e.at) < areaCacheTTL {
		return e.cells, nil
	}
	docs, err := b.Boundaries(ctx)
	if err != nil {
		return nil, err
	}
	var cells []h3.Cell
	if len(docs) > 0 {
		if cells, err = geo.AreaCells(docs, res); err != nil {
			return nil, err
		}
		if cells == nil {
			cells = []h3.Cell{} // a boundary without whole cells: an empty study area, not "none"
		}
	}
	a.mu.Lock()
	if a.entries == nil {
		a.entries = map[int]areaEntry{}
	}
	a.entries[res] = areaEntry{cells, time.Now()}
	a.mu.Unlock()
	return cells, nil
}

// hotspotFormat picks the representation: format= wins, then Accept.
func hotspotFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "json", "csv", "geojson":
		return f, nil
	case "":
	default:
		return "", badParam("format", "must be json, csv or geojson")
	}
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "application/geo+json"):
		return "geojson", nil
	case strings.Contains(accept, "text/csv"):
		return "csv", nil
	}
	return "json", nil
}

// hotspots handles GET /api/v1/hotspots.
func (s *Server) hotspots(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	res, err := parseRes(q, true)
	if err != nil {
		return err
	}
	format, err := hotspotFormat(r)
	if err != nil {
		return err
	}
	req, err := s.hotspotRequest(r.Context(), q, res)
	if err != nil {
		return err
	}
	out, err := s.heat.Hotspots(r.Context(), req)
	if err != nil {
		return err
	}
	// A bulk read of values derived from published ones (PRIVACY.md rule 11).
	if err := s.audit.Audit(r.Context(), actor(r), "hotspots.read", fmt.Sprintf("release:%d", out.Release.ID), "",
		map[string]any{"layer": out.Layer, "category": out.Category, "res": out.Res, "step": out.Step, "from": out.Steps[0].Label,
			"to": out.Steps[len(out.Steps)-1].Label, "alpha": out.Alpha, "study_area": out.AreaKind, "cells": len(out.Cells), "format": format}); err != nil {
		return err
	}
	name := fmt.Sprintf("ctxmap-hotspots-release-%d-res%d-%s", out.Release.ID, out.Res, out.Step)
	var body []byte
	switch format {
	case "csv":
		body, err = hotspotsCSV(out)
		name += ".csv"
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	case "geojson":
		body, err = hotspotsGeoJSON(out)
		name += ".geojson"
		w.Header().Set("Content-Type", "application/geo+json")
	default:
		writeJSON(w, http.StatusOK, toHotspotsJSON(out))
		return nil
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	setReleaseHeaders(w.Header(), out.Release.Ref())
	_, err = w.Write(body)
	return err
}

func toHotspotsJSON(r *tiles.HotspotResult) hotspotsJSON {
	out := hotspotsJSON{Release: toReleaseJSON(r.Release), Layer: string(r.Layer), Category: r.Category, Res: r.Res, Step: r.Step,
		From: r.Steps[0].Label, To: r.Steps[len(r.Steps)-1].Label, Alpha: r.Alpha, Categories: tiles.HotspotCategories()}
	out.StudyArea.Kind, out.StudyArea.Cells = r.AreaKind, len(r.Cells)
	for _, st := range r.Steps {
		out.Steps = append(out.Steps, hotspotStepJSON{st.Label, st.First.String(), st.Last.String()})
	}
	out.Cells = make([]hotspotCellJSON, len(r.Cells))
	for i, c := range r.Cells {
		out.Cells[i] = hotspotCellJSON{H3: c.Cell.String(), Category: c.Category, TrendZ: c.Trend.Z, TrendP: c.Trend.P, Gi: c.Gi}
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// hotspotsCSV writes one row per cell; the first line is the header, and
// every row names its release so a saved file stays traceable.
func hotspotsCSV(r *tiles.HotspotResult) ([]byte, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	head := []string{"h3", "res", "category", "category_label", "trend_z", "trend_p"}
	for _, st := range r.Steps {
		head = append(head, "gi_z_"+st.Label, "gi_p_"+st.Label)
	}
	head = append(head, "study_area", "release", "release_data_time")
	if err := cw.Write(head); err != nil {
		return nil, err
	}
	labels := map[tiles.HotspotCategory]string{}
	for _, c := range tiles.HotspotCategories() {
		labels[c.Code] = c.Label
	}
	dataTime := r.Release.DataTime.UTC().Format(time.RFC3339)
	for _, c := range r.Cells {
		row := []string{c.Cell.String(), strconv.Itoa(r.Res), string(c.Category), labels[c.Category], num(c.Trend.Z), num(c.Trend.P)}
		for _, g := range c.Gi {
			row = append(row, num(g.Z), num(g.P))
		}
		row = append(row, r.AreaKind, strconv.FormatInt(r.Release.ID, 10), dataTime)
		if err := cw.Write(row); err != nil {
			return nil, err
		}
	}
	cw.Flush()
	return buf.Bytes(), cw.Error()
}

// hotspotsGeoJSON is an RFC 7946 FeatureCollection of hexagons (exterior
// rings counter-clockwise, as H3 gives them), with the release, steps and
// study area as foreign members.
func hotspotsGeoJSON(r *tiles.HotspotResult) ([]byte, error) {
	fc := geojson.NewFeatureCollection()
	for _, c := range r.Cells {
		f := geojson.NewFeature(orb.Polygon{geo.BoundaryOf(c.Cell).Ring})
		f.ID = c.Cell.String()
		f.Properties = geojson.Properties{"h3": c.Cell.String(), "res": r.Res, "category": string(c.Category),
			"trend_z": c.Trend.Z, "trend_p": c.Trend.P, "gi": c.Gi}
		fc.Append(f)
	}
	j := toHotspotsJSON(r)
	fc.ExtraMembers = geojson.Properties{"release": j.Release, "layer": j.Layer, "category": j.Category, "res": j.Res,
		"step": j.Step, "alpha": j.Alpha, "study_area": j.StudyArea, "steps": j.Steps}
	return json.Marshal(fc)
}

// hotspotTile handles GET /tiles/hotspots/{z}/{x}/{y}.mvt.
func (s *Server) hotspotTile(w http.ResponseWriter, r *http.Request) error {
	q := query(r)
	v := mux.Vars(r)
	tile, err := tiles.ParseTile(v["z"], v["x"], v["y"])
	if err != nil {
		return err
	}
	res, err := parseRes(q, false)
	if err != nil {
		return err
	}
	if res == 0 {
		res = geo.ResForZoom(int(tile.Z))
	}
	req, err := s.hotspotRequest(r.Context(), q, res)
	if err != nil {
		return err
	}
	t, err := s.heat.HotspotTile(r.Context(), tile, req)
	if err != nil {
		return err
	}
	// Unlike a heat tile (a view of the cells /heat/cells serves, audited
	// there), one low-zoom hot spot tile can carry a whole study area's
	// analysis, so each is a bulk read of analytics (PRIVACY.md rule 11;
	// insider review 2, F4). The layer is asked for a few tiles a view.
	if err := s.audit.Audit(r.Context(), actor(r), "hotspots.tile", "", "", map[string]any{
		"z": tile.Z, "x": tile.X, "y": tile.Y, "res": res, "layer": req.Layer, "category": req.Category, "step": req.Step}); err != nil {
		return err
	}
	serveEncodedTile(w, r, t)
	info(r.Context()).quiet = true
	return nil
}
