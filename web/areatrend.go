package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/tiles"
)

// Area trends: the published series of several hexagons, or of a ward of
// the imported boundary taken as the whole cells whose centres fall inside
// it, by month or by quarter, from one release.

// trendJSON is the answer of GET /api/v1/trends.
type trendJSON struct {
	Release int64      `json:"release"`
	K       int        `json:"k"`
	Step    tiles.Step `json:"step"`
	Area    trendArea  `json:"area"`
	// PublishedSteps counts the points with a value, so a client sees at
	// once that every month is suppressed and quarters may say more.
	PublishedSteps int                `json:"published_steps"`
	Points         []tiles.TrendPoint `json:"points"`
}

// trendArea is what the series is for: the cells asked for, or a ward.
type trendArea struct {
	Kind  string    `json:"kind"` // "cells" or "ward"
	Ward  *geo.Area `json:"ward,omitempty"`
	Res   int       `json:"res"`
	Cells []string  `json:"cells"`
}

func (s *Server) areaTrendRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/trends", Tag: "heat",
		Summary: "Monthly or quarterly published series for an area of whole cells: hexagons (h3) or a ward (ward and res). " +
			"Each step is that month's or quarter's published set; an area's value is the sum of its published cells " +
			"(published_cells says how many), null when none is published, never 0",
		Params: []Param{Q("h3", "one or more H3 cells of one resolution, comma-separated (or give ward)"),
			Q("ward", "a ward's id or name from /api/v1/boundary/wards: the whole cells at res whose centres fall inside it"),
			Q("res", "with ward: "+tiles.ResList()),
			Q("step", "month (default) or quarter"), filterParams[0], filterParams[1],
			Q("from", "first month YYYY-MM (quarter steps: or YYYY-Qn); default 11 months before to"),
			Q("to", "last month YYYY-MM (quarter steps: or YYYY-Qn); default the release's last month")},
		Errors: []int{400}, Response: trendJSON{}}, withTaxonomyHint(s.trends))
	s.route(api, Op{Method: "GET", Path: "/boundary/wards", Tag: "map",
		Summary:  "The wards (named polygons) of the imported boundary, for area trends; empty without a boundary",
		Response: Fields{"wards": []geo.Area{}}}, s.wards)
}

// trends handles GET /api/v1/trends.
func (s *Server) trends(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := noFilterTricks(q, "from", "to"); err != nil {
		return err
	}
	if q.Get("period") != "" {
		return badParam("period", "trends take from and to months (YYYY-MM), not a period")
	}
	area := trendArea{Kind: "cells"}
	for _, c := range strings.Split(q.Get("h3"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			area.Cells = append(area.Cells, c)
		}
	}
	ward := strings.TrimSpace(q.Get("ward"))
	switch {
	case ward != "" && len(area.Cells) > 0:
		return badParam("ward", "give h3 or ward, not both")
	case ward != "":
		a, cells, err := s.wardCells(r, ward, q.Get("res"))
		if err != nil {
			return err
		}
		area.Kind, area.Ward, area.Cells = "ward", &a, cells
	case q.Get("res") != "":
		return badParam("res", "goes with ward; the cells in h3 carry their own resolution")
	case len(area.Cells) == 0:
		return ctxmap.Errorf(ctxmap.KindInvalid, "cells_required", "give h3 (one or more H3 cells of one resolution) or ward (and res)")
	}
	tr, err := s.heat.Trend(r.Context(), tiles.TrendRequest{Cells: area.Cells, Layer: ctxmap.Layer(q.Get("layer")), Category: q.Get("category"),
		Step: tiles.Step(q.Get("step")), From: q.Get("from"), To: q.Get("to")})
	if err != nil {
		return err
	}
	area.Res, area.Cells = tr.Res, tr.Cells
	if err := s.audit.Audit(r.Context(), actor(r), "heat.trend", fmt.Sprintf("release:%d", tr.Release.ID), "",
		map[string]any{"layer": q.Get("layer"), "category": q.Get("category"), "from": q.Get("from"), "to": q.Get("to"),
			"step": tr.Step, "ward": ward, "res": tr.Res, "cells": len(tr.Cells)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, trendJSON{Release: tr.Release.ID, K: s.heat.Policy().K(), Step: tr.Step, Area: area,
		PublishedSteps: tr.Published(), Points: tr.Points})
	return nil
}

// wardCells finds a ward of the imported boundary and its whole cells at
// the resolution asked.
func (s *Server) wardCells(r *http.Request, ward, resParam string) (geo.Area, []string, error) {
	if resParam == "" {
		return geo.Area{}, nil, badParam("res", "required with ward: %s", tiles.ResList())
	}
	res, err := strconv.Atoi(resParam)
	if err != nil || res < geo.MinRes || res > geo.MaxRes {
		return geo.Area{}, nil, badParam("res", "must be %s", tiles.ResList())
	}
	areas, err := s.boundaryAreas(r)
	if err != nil {
		return geo.Area{}, nil, err
	}
	a, err := geo.FindArea(areas, ward)
	if err != nil {
		var e *ctxmap.Error
		if errors.As(err, &e) {
			hinted := *e
			hinted.Message += " (see /api/v1/boundary/wards)"
			return geo.Area{}, nil, &hinted
		}
		return geo.Area{}, nil, err
	}
	var cells []string
	for _, c := range geo.CellsInArea(a.Geom, res) {
		cells = append(cells, c.String())
	}
	if len(cells) == 0 {
		return geo.Area{}, nil, ctxmap.Errorf(ctxmap.KindInvalid, "ward_no_cells",
			"no H3 cell at resolution %d has its centre inside ward %s: the ward is smaller than its hexagons; choose a finer resolution", res, a.Name)
	}
	if len(cells) > tiles.MaxTrendCells {
		return geo.Area{}, nil, ctxmap.Errorf(ctxmap.KindInvalid, "cells_too_many",
			"ward %s holds %d cells at resolution %d; an area has at most %d; choose a coarser resolution", a.Name, len(cells), res, tiles.MaxTrendCells)
	}
	return a, cells, nil
}

// boundaryAreas reads the named polygons of every imported boundary.
func (s *Server) boundaryAreas(r *http.Request) ([]geo.Area, error) {
	docs, err := s.boundaries.Boundaries(r.Context())
	if err != nil {
		return nil, err
	}
	return geo.BoundaryAreas(docs)
}

// wards handles GET /api/v1/boundary/wards.
func (s *Server) wards(w http.ResponseWriter, r *http.Request) error {
	areas, err := s.boundaryAreas(r)
	if err != nil {
		return err
	}
	if areas == nil {
		areas = []geo.Area{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"wards": areas})
	return nil
}
