package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// How the month of a before/after comparison was chosen.
const (
	monthFromRequest      = "request"
	monthFromIntervention = "first_intervention"
)

func (s *Server) beforeAfterRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/before-after", Tag: "heat",
		Summary: "Published monthly values of an area for 3, 6 or 12 months before and after a month, from the current release; audit-logged",
		Params: []Param{
			Q("context", "a context record's id: the area is the resolution 8 cell holding its place and that cell's ring of 6 neighbours; give this or cells"),
			Q("cells", "an area of whole cells: H3 ids of one resolution, comma-separated; give this or context"),
			Q("month", "the month of interest YYYY-MM (default for a context: the month its first intervention was recorded)"),
			Q("window", "months before and after: 3, 6 (default) or 12"), filterParams[0], filterParams[1]},
		Errors: []int{400, 404, 422}, Response: beforeAfterJSON{}}, withTaxonomyHint(s.beforeAfter))
}

// beforeAfterJSON is a comparison as the API shows it. Each point's value
// is the sum of the area's published cells that month, null when none is
// published or the month is outside the release.
type beforeAfterJSON struct {
	Release      int64                    `json:"release"`
	ReleaseLabel string                   `json:"release_label"`
	DataTime     string                   `json:"data_time"`
	K            int                      `json:"k"`
	Caveat       string                   `json:"caveat"`
	Layer        string                   `json:"layer"`
	Category     string                   `json:"category"`
	Month        string                   `json:"month"`
	MonthFrom    string                   `json:"month_from"`
	Window       int                      `json:"window"`
	Area         beforeAfterArea          `json:"area"`
	Points       []tiles.BeforeAfterPoint `json:"points"`
}

// beforeAfterArea says which whole cells were summed, and why those.
type beforeAfterArea struct {
	Context *int64   `json:"context"`
	Basis   string   `json:"basis"`
	Res     int      `json:"res"`
	Cells   []string `json:"cells"`
}

// beforeAfter handles GET /api/v1/before-after.
func (s *Server) beforeAfter(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := noFilterTricks(q, "context"); err != nil {
		return err
	}
	if q.Get("period") != "" {
		return badParam("period", "before/after takes a month (YYYY-MM) and a window, not a period")
	}
	for _, name := range []string{"context", "cells", "month", "window"} {
		if len(q[name]) > 1 {
			return badParam(name, "give it at most once")
		}
	}
	ctxParam, cellsParam := q.Get("context"), q.Get("cells")
	if (ctxParam == "") == (cellsParam == "") {
		return badParam("context", "give either context (a context record's id) or cells (H3 ids of one resolution), one of the two")
	}
	req := tiles.BeforeAfterRequest{Layer: ctxmap.Layer(q.Get("layer")), Category: q.Get("category"), Month: q.Get("month")}
	if v := q.Get("window"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return badParam("window", "must be 3, 6 or 12 (months before and after)")
		}
		req.Window = n
	}
	monthFrom := monthFromRequest
	area := beforeAfterArea{Basis: "the cells asked for"}
	if ctxParam != "" {
		id, err := strconv.ParseInt(ctxParam, 10, 64)
		if err != nil || id <= 0 {
			return badParam("context", "must be a context record's id")
		}
		c, err := s.records.Context(r.Context(), actor(r), id)
		if err != nil {
			return err
		}
		if c.Lat == nil || c.Lon == nil {
			return ctxmap.Errorf(ctxmap.KindUnprocessable, "context_without_place",
				"context %d has no place on the map, so it has no area; give cells instead", id)
		}
		req.Place = &[2]float64{*c.Lat, *c.Lon}
		area.Context = &id
		area.Basis = fmt.Sprintf("the resolution 8 cell holding the context's place and its ring of %d neighbours", len(tiles.PlaceCells(*c.Lat, *c.Lon))-1)
		if req.Month == "" {
			m, ok := firstIntervention(c)
			if !ok {
				return ctxmap.Errorf(ctxmap.KindInvalid, "month_required",
					"context %d has no intervention yet; give the month of interest as month=YYYY-MM", id)
			}
			req.Month, monthFrom = m, monthFromIntervention
		}
	} else {
		for _, c := range strings.Split(cellsParam, ",") {
			if c = strings.TrimSpace(c); c != "" {
				req.Cells = append(req.Cells, c)
			}
		}
	}
	ba, err := s.heat.BeforeAfter(r.Context(), req)
	if err != nil {
		return err
	}
	detail := map[string]any{"layer": q.Get("layer"), "category": q.Get("category"), "month": ba.Month.String(), "window": ba.Window, "cells": len(ba.Cells)}
	if area.Context != nil {
		detail["context"] = *area.Context
	}
	// A bulk read of published values (PRIVACY.md rule 11), like a trend.
	if err := s.audit.Audit(r.Context(), actor(r), "heat.before_after", fmt.Sprintf("release:%d", ba.Release.ID), "", detail); err != nil {
		return err
	}
	area.Cells = make([]string, len(ba.Cells))
	for i, c := range ba.Cells {
		area.Cells[i] = c.String()
	}
	if len(ba.Cells) > 0 {
		area.Res = ba.Cells[0].Resolution()
	}
	writeJSON(w, http.StatusOK, beforeAfterJSON{
		Release: ba.Release.ID, ReleaseLabel: releaseLabel(ba.Release, time.Time{}), DataTime: ba.Release.DataTime.UTC().Format(time.RFC3339),
		K: s.heat.Policy().K(), Caveat: s.heat.Policy().Caveat(), Layer: string(ba.Layer), Category: categoryName(ba.Category),
		Month: ba.Month.String(), MonthFrom: monthFrom, Window: ba.Window, Area: area, Points: ba.Points,
	})
	return nil
}

// firstIntervention is the month the context's first intervention was
// recorded: interventions carry no start date of their own, and recording
// one is when the partnership began to act on the place.
func firstIntervention(c *contexts.Context) (string, bool) {
	var first time.Time
	for _, iv := range c.Interventions {
		if first.IsZero() || iv.CreatedAt.Before(first) {
			first = iv.CreatedAt
		}
	}
	if first.IsZero() {
		return "", false
	}
	return tiles.MonthOf(first).String(), true
}

// categoryName is a filter's category as answers name it: "all" for all
// categories.
func categoryName(c string) string {
	if c == "" {
		return ctxmap.AllCategories
	}
	return c
}
