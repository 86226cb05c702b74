package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/tiles"
)

func (s *Server) rateRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/rates", Tag: "heat",
		Summary: "Distinct young people with an active harm location in the whole partnership per month or quarter, harm and feels-unsafe side by side, as published by the current release; audit-logged",
		Params: []Param{Q("step", "month (default) or quarter"),
			Q("category", "one harm category code from /api/v1/taxonomy, "+ctxmap.AllCategories+" for all categories, or "+ctxmap.ExtraFamilial+" (the default: extra-familial harm)")},
		Errors: []int{400, 503}, Response: ratesJSON{}}, withTaxonomyHint(s.rates))
}

// ratesJSON is the partnership's rate series as the API shows it; a null
// value is absent (fewer than k young people, none, or held back so the
// total never says how many the published cells leave out).
type ratesJSON struct {
	Release      int64             `json:"release"`
	ReleaseLabel string            `json:"release_label"`
	DataTime     string            `json:"data_time"`
	K            int               `json:"k"`
	Caveat       string            `json:"caveat"`
	Unit         string            `json:"unit"`
	Step         string            `json:"step"`
	Category     string            `json:"category"`
	Points       []tiles.RatePoint `json:"points"`
}

// rates handles GET /api/v1/rates.
func (s *Server) rates(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := noFilterTricks(q); err != nil {
		return err
	}
	if q.Get("period") != "" {
		return badParam("period", "rates cover every month or quarter of the release: give step=month or step=quarter, not a period")
	}
	if q.Get("layer") != "" {
		return badParam("layer", "rates show both layers side by side; there is no layer to choose")
	}
	if len(q["step"]) > 1 {
		return badParam("step", "give it at most once")
	}
	rt, err := s.heat.Rates(r.Context(), tiles.RatesRequest{Step: q.Get("step"), Category: q.Get("category")})
	if err != nil {
		return err
	}
	if err := s.audit.Audit(r.Context(), actor(r), "heat.rates", fmt.Sprintf("release:%d", rt.Release.ID), "",
		map[string]any{"step": rt.Step, "category": categoryName(rt.Category), "points": len(rt.Points)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ratesJSON{
		Release: rt.Release.ID, ReleaseLabel: releaseLabel(rt.Release, time.Time{}), DataTime: rt.Release.DataTime.UTC().Format(time.RFC3339),
		K: s.heat.Policy().K(), Caveat: s.heat.Policy().Caveat(),
		Unit: "distinct young people with an active harm location anywhere in the partnership in the period", Step: rt.Step,
		Category: categoryName(rt.Category), Points: rt.Points,
	})
	return nil
}
