package web

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// A young person's contextual record beyond harm locations (issue 13):
// referral and outcome markers, relocations, contextual factors with their
// plan actions, read together with a purpose; and the partnership's rates
// of them, published only from releases (tiles/measures.go).

// youngPersonRoutes registers the contextual record's routes and the
// record rates.
func (s *Server) youngPersonRoutes(api *mux.Router) {
	idP := P("id", "marker id")
	fidP := P("id", "factor id")
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/markers", Tag: "records", Roles: practitionersOnly,
		Summary: "Add an extra-familial referral or outcome marker (kind referral or outcome; familial extra, intra, both or none; the date) to a young person's record. It counts in the partnership's rates from the next data release. A young person new to you counts towards your daily cap (429 subject_limit beyond it)",
		Body:    "{subject, kind, familial, date, note?}",
		Request: contexts.MarkerInput{}, Example: contexts.MarkerInput{Subject: "YP-1042", Kind: "referral", Familial: "extra", Date: "2026-03-02"},
		Errors: []int{400, 403, 413, 422, 429, 503}, Response: contexts.Marker{}}, s.addMarker)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/markers/{id:[0-9]+}/correct", Tag: "records", Roles: practitionersOnly,
		Summary: "Correct one of your team's markers with a reason: a new entry replaces it, the old one stays in the history marked corrected (409 marker_corrected if it was corrected already); audit-logged",
		Params:  []Param{idP}, Body: "{familial, date, note?, reason}",
		Request: contexts.MarkerCorrection{}, Example: contexts.MarkerCorrection{Familial: "both", Date: "2026-03-02", Reason: "The assessment found harm at home as well"},
		Errors: []int{400, 404, 409, 413, 422}, Response: contexts.Marker{}}, s.correctMarker)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/relocations", Tag: "records", Roles: practitionersOnly,
		Summary: "Record a relocation of a young person in response to extra-familial harm (out_of_area, within_area or secure). A young person new to you counts towards your daily cap",
		Body:    "{subject, date, kind, note?}",
		Request: contexts.RelocationInput{}, Example: contexts.RelocationInput{Subject: "YP-1042", Date: "2026-04-15", Kind: "out_of_area"},
		Errors: []int{400, 403, 413, 422, 429, 503}, Response: contexts.Relocation{}}, s.addRelocation)
	s.route(api, Op{Method: "POST", Path: "/relocations/{id:[0-9]+}/withdraw", Tag: "records", Roles: practitionersOnly,
		Summary: "Withdraw one of your team's relocations entered in error, with a reason: it stays in the history and leaves the rates from the next data release (409 already_withdrawn)",
		Params:  []Param{P("id", "relocation id")}, Body: "{reason}",
		Request: contexts.WithdrawInput{}, Example: contexts.WithdrawInput{Reason: "Entered on the wrong young person's record"},
		Errors: []int{400, 404, 409, 413, 422}, Response: contexts.Relocation{}}, s.withdrawRelocation)
	s.route(api, Op{Method: "POST", Path: "/factors/{id:[0-9]+}/withdraw", Tag: "records", Roles: practitionersOnly,
		Summary: "Withdraw one of your team's contextual factors entered in error, with a reason: it and its actions stay in the history, it is no longer flagged, and it leaves the rates from the next data release (409 already_withdrawn)",
		Params:  []Param{fidP}, Body: "{reason}",
		Request: contexts.WithdrawInput{}, Example: contexts.WithdrawInput{Reason: "A duplicate of the factor recorded at the review"},
		Errors: []int{400, 404, 409, 413, 422}, Response: contexts.Factor{}}, s.withdrawFactor)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/factors", Tag: "records", Roles: practitionersOnly,
		Summary: "Record a contextual factor an assessment identified: a context record (context_id), or a location type in an area (area_kind postcode_district with a district like E8, or ward with a ward of the imported boundary). Without a plan action it is flagged as not addressed",
		Body:    "{subject, identified_on, description, context_id? | location_type + area_kind + area}",
		Request: contexts.FactorInput{}, Example: contexts.FactorInput{Subject: "YP-1042", IdentifiedOn: "2026-03-10", Description: "Older peers recruit at the bus station after school",
			LocationType: "station", AreaKind: "postcode_district", Area: "E8"},
		Errors: []int{400, 403, 413, 422, 429, 503}, Response: contexts.Factor{}}, s.addFactor)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/factors/{id:[0-9]+}/actions", Tag: "records", Roles: practitionersOnly,
		Summary: "Plan an action addressing one of your team's factors, with a partner agency, status and dates",
		Params:  []Param{fidP}, Body: "{action, partner_agency, status?, due_date?, done_date?}",
		Request: contexts.FactorActionInput{}, Example: contexts.FactorActionInput{Action: "Transport police patrol the station 3-5 pm", PartnerAgency: "transport", DueDate: "2026-12-31"},
		Errors: []int{400, 404, 413, 422}, Response: contexts.FactorAction{}}, s.addFactorAction)
	s.route(api, Op{Method: "PATCH", Path: "/factors/{id:[0-9]+}/actions/{aid:[0-9]+}", Tag: "records", Roles: practitionersOnly,
		Summary: "Progress a plan action (status, dates, wording); dropped actions do not address a factor",
		Params:  []Param{fidP, P("aid", "plan action id")}, Body: "{action?, partner_agency?, status?, due_date?, done_date?}",
		Request: contexts.FactorActionUpdate{}, Example: contexts.FactorActionUpdate{Status: ptr("done"), DoneDate: ptr("2026-11-20")},
		Errors: []int{400, 404, 413, 422}, Response: contexts.FactorAction{}}, s.updateFactorAction)
	s.route(api, Op{Method: "GET", Path: "/subjects/{subject}/contextual-record", Tag: "records", Roles: practitionersOnly,
		Summary: "Your team's markers (with their history), relocations and contextual factors with plan actions for one young person, audited with why you read them (purpose, required); unaddressed counts the factors no action addresses",
		Params:  append([]Param{P("subject", "the case management system's person id")}, purposeParams()...),
		Errors:  []int{400, 422}, Response: contexts.ContextualRecord{}}, s.contextualRecord)
	s.route(api, Op{Method: "GET", Path: "/record-rates", Tag: "reports", Roles: reportReaders,
		Summary: "The partnership's rates of extra-familial referral and outcome markers, relocations and contextual factors with plan actions: distinct young people per month or quarter, as published by the current release (never counted live); audit-logged",
		Params:  []Param{Q("step", "month (default) or quarter")},
		Errors:  []int{400, 503}, Response: recordRatesJSON{}}, s.recordRates)
}

// addMarker handles POST /api/v1/markers.
func (s *Server) addMarker(w http.ResponseWriter, r *http.Request) error {
	var in contexts.MarkerInput
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := s.records.AddMarker(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

// correctMarker handles POST /api/v1/markers/{id}/correct.
func (s *Server) correctMarker(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.MarkerCorrection
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := s.records.CorrectMarker(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

// addRelocation handles POST /api/v1/relocations.
func (s *Server) addRelocation(w http.ResponseWriter, r *http.Request) error {
	var in contexts.RelocationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rel, err := s.records.AddRelocation(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rel)
	return nil
}

// withdrawRelocation handles POST /api/v1/relocations/{id}/withdraw.
func (s *Server) withdrawRelocation(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.WithdrawInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rel, err := s.records.WithdrawRelocation(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rel)
	return nil
}

// withdrawFactor handles POST /api/v1/factors/{id}/withdraw.
func (s *Server) withdrawFactor(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.WithdrawInput
	if err := decode(r, &in); err != nil {
		return err
	}
	f, err := s.records.WithdrawFactor(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

// addFactor handles POST /api/v1/factors.
func (s *Server) addFactor(w http.ResponseWriter, r *http.Request) error {
	var in contexts.FactorInput
	if err := decode(r, &in); err != nil {
		return err
	}
	f, err := s.records.AddFactor(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, f)
	return nil
}

// addFactorAction handles POST /api/v1/factors/{id}/actions.
func (s *Server) addFactorAction(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.FactorActionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	x, err := s.records.AddFactorAction(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, x)
	return nil
}

// updateFactorAction handles PATCH /api/v1/factors/{id}/actions/{aid}.
func (s *Server) updateFactorAction(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	var in contexts.FactorActionUpdate
	if err := decode(r, &in); err != nil {
		return err
	}
	x, err := s.records.UpdateFactorAction(r.Context(), actor(r), id, aid, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

// contextualRecord handles GET /api/v1/subjects/{subject}/contextual-record.
func (s *Server) contextualRecord(w http.ResponseWriter, r *http.Request) error {
	subject, err := url.PathUnescape(mux.Vars(r)["subject"])
	if err != nil {
		return badParam("subject", "not a valid path segment")
	}
	purpose, err := readPurpose(r)
	if err != nil {
		return err
	}
	rec, err := s.records.ContextualRecord(r.Context(), actor(r), subject, purpose)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// recordRatesJSON is the record rate series as the API shows it.
type recordRatesJSON struct {
	Release      int64                   `json:"release"`
	ReleaseLabel string                  `json:"release_label"`
	DataTime     string                  `json:"data_time"`
	K            int                     `json:"k"`
	Caveat       string                  `json:"caveat"`
	Unit         string                  `json:"unit"`
	Step         string                  `json:"step"`
	Measures     []tiles.MeasureDef      `json:"measures"`
	Points       []tiles.RecordRatePoint `json:"points"`
}

// recordRates handles GET /api/v1/record-rates.
func (s *Server) recordRates(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k, v := range q {
		if k != "step" {
			return badParam(k, "record rates take only step (month or quarter): they cover every month or quarter of the release")
		}
		if len(v) > 1 {
			return badParam("step", "give it at most once")
		}
	}
	codes, labels := contexts.RelocationKinds()
	rt, err := s.heat.RecordRates(r.Context(), tiles.Step(q.Get("step")), codes, labels)
	if err != nil {
		return err
	}
	if err := s.audit.Audit(r.Context(), actor(r), "report.record_rates", fmt.Sprintf("release:%d", rt.Release.ID), "",
		map[string]any{"step": rt.Step, "points": len(rt.Points)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recordRatesJSON{
		Release: rt.Release.ID, ReleaseLabel: releaseLabel(rt.Release, time.Time{}), DataTime: rt.Release.DataTime.UTC().Format(time.RFC3339),
		K: s.heat.Policy().K(), Caveat: s.heat.Policy().Caveat(),
		Unit: "distinct young people in the whole partnership with such an entry dated in the period, as the records stood at the release's data time",
		Step: rt.Step, Measures: rt.Measures, Points: rt.Points,
	})
	return nil
}
