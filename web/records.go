package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap/contexts"
)

// Who may use the records routes. Reads of context records are open to
// every signed-in role (nil); individual records only to practitioners.
var (
	practitionersOnly = []contexts.Role{contexts.RolePractitioner}
	contextLeadsOnly  = []contexts.Role{contexts.RoleContextLead}
)

// recordRoutes registers the records API: the taxonomy, harm locations on
// young people's records, and context records with their Level 2 work.
func (s *Server) recordRoutes(api *mux.Router) {
	idP := P("id", "context record id")
	s.route(api, Op{Method: "GET", Path: "/taxonomy", Tag: "records",
		Summary:  "Harm categories (with census codes, extra-familial flag, retired ones), location types, context kinds with their triangle sides, and every other controlled list",
		Response: contexts.Taxonomy{}}, s.getTaxonomy)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/taxonomy/categories", Tag: "records", Roles: adminOnly,
		Summary: "Add a harm category (a new taxonomy version)", Body: "{code, label, census_code?, extra_familial}",
		Request: contexts.CategoryInput{}, Example: contexts.CategoryInput{Code: "knife_crime", Label: "Knife crime", ExtraFamilial: true},
		Errors: []int{400, 409, 413, 422}, Response: contexts.Taxonomy{}}, s.addCategory)
	s.route(api, Op{Method: "POST", Path: "/taxonomy/categories/{code}/retire", Tag: "records", Roles: adminOnly,
		Summary: "Retire a harm category (a new taxonomy version); old records keep it",
		Params:  []Param{P("code", "category code")}, Errors: []int{404, 409}, Response: contexts.Taxonomy{}}, s.retireCategory)

	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/harm-locations", Tag: "records", Roles: practitionersOnly,
		Summary: "Record a location of harm (layer harm) or a place a young person feels unsafe (layer unsafe) on a young person's record; it shows on the map from the next data release. A young person new to you counts towards your daily cap (429 subject_limit beyond it)",
		Body:    "{subject, categories[], familial, layer, occurred (YYYY-MM-DD or YYYY-MM), source, postcode | lat+lon, location_type, context_id?}",
		Request: contexts.HarmLocationInput{}, Example: contexts.HarmLocationInput{Subject: "YP-1042", Categories: []string{"cce", "county_lines"},
			Familial: "extra", Layer: "harm", Occurred: "2026-03", Source: "referral", Postcode: "E8 3AA", LocationType: "park"},
		Errors: []int{400, 404, 413, 422, 429, 503}, Response: contexts.HarmLocation{}}, s.createHarmLocation)
	s.route(api, Op{Method: "GET", Path: "/subjects/{subject}/harm-locations", Tag: "records", Roles: practitionersOnly,
		Summary: "Your team's records for one young person, audited with why you read them (purpose, required: 400 purpose_required or invalid_purpose naming the allowed values)",
		Params:  append([]Param{P("subject", "the case management system's person id")}, purposeParams()...), Errors: []int{400, 422}, Response: Fields{"harm_locations": []contexts.HarmLocation{}}}, s.subjectHarmLocations)
	s.route(api, Op{Method: "POST", Path: "/harm-locations/{id:[0-9]+}/archive", Tag: "records", Roles: practitionersOnly,
		Summary: "Archive a harm location (no_longer_an_issue or never_an_issue, with a note): it leaves every aggregate",
		Params:  []Param{P("id", "harm location id")}, Body: "{reason, note}",
		Request: contexts.ArchiveInput{}, Example: contexts.ArchiveInput{Reason: "no_longer_an_issue", Note: "Moved out of the area; reviewed at supervision"}, Errors: []int{400, 404, 409, 413, 422}, Response: contexts.HarmLocation{}}, s.archiveHarmLocation)

	s.route(api, Op{Method: "POST", Path: "/harm-locations/{id:[0-9]+}/types/{category}/archive", Tag: "records", Roles: practitionersOnly,
		Summary: "Archive one harm type of a record (no_longer_an_issue or never_an_issue, with a note): its other types stay on the record and in the next release; archiving the last active type archives the record",
		Params:  []Param{P("id", "harm location id"), P("category", "the harm type's category code")}, Body: "{reason, note}",
		Request: contexts.ArchiveInput{}, Example: contexts.ArchiveInput{Reason: "never_an_issue", Note: "Reviewed at the strategy meeting: county lines was never a concern"},
		Errors: []int{400, 404, 409, 413, 422}, Response: contexts.HarmLocation{}}, s.archiveHarmType)
	s.route(api, Op{Method: "POST", Path: "/harm-locations/{id:[0-9]+}/categories", Tag: "records", Roles: practitionersOnly,
		Summary: "Correct a record's harm types: add types (each with its start) and remove types recorded in error, with a note; audited with the old and new categories, and kept in the record's history",
		Params:  []Param{P("id", "harm location id")}, Body: "{add?: [{category, started}], remove?: [category], note}",
		Request: contexts.CategoryCorrection{}, Example: contexts.CategoryCorrection{Add: []contexts.TypeInput{{Category: "cce", Started: "2026-03"}},
			Remove: []string{"cse"}, Note: "Criminal, not sexual, exploitation: the referral form was misread"},
		Errors: []int{400, 404, 409, 413, 422}, Response: contexts.HarmLocation{}}, s.correctCategories)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/safety-places", Tag: "records", Roles: practitionersOnly,
		Summary: "Record a place from a young person's safety map, without a harm category: red (unsafe; counts in the unsafe layer), amber (sometimes unsafe; on the record only) or green (safe, with a trusted adult; counts in the safe layer), from the next data release. A young person new to you counts towards your daily cap (429 subject_limit beyond it)",
		Body:    "{subject, rating, mapped (YYYY-MM-DD or YYYY-MM), trusted_adult (green only), postcode | lat+lon, location_type, context_id?}",
		Request: contexts.SafetyPlaceInput{}, Example: contexts.SafetyPlaceInput{Subject: "YP-1042", Rating: "green", Mapped: "2026-03",
			TrustedAdult: "youth_worker", Postcode: "E8 3AA", LocationType: "youth_club"},
		Errors: []int{400, 404, 413, 422, 429, 503}, Response: contexts.HarmLocation{}}, s.createSafetyPlace)

	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/contexts", Tag: "contexts", Roles: contextLeadsOnly,
		Summary: "Open a context record (location, group or school); a duplicate is 409 with details.existing_id (code context_closed_exists: reopen it instead)",
		Body:    "{kind, location_type?, name?, postcode? | lat+lon, description?, review_date?}",
		Request: contexts.ContextInput{}, Example: contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA",
			Description: "Evening gatherings by the skate park", ReviewDate: "2027-03-31"},
		Errors: []int{400, 409, 413, 422, 503}, Response: contexts.Context{}}, s.createContext)
	s.route(api, Op{Method: "GET", Path: "/contexts", Tag: "contexts",
		Summary: "Context records near a postcode or point, nearest first, with distance_m",
		Params: []Param{RQ("near", `a postcode ("E8 3AA", "E8 3", "E8") or "lat,lon"`),
			{Name: "radius_m", In: "query", Type: "number", Desc: "metres, 1..50000, default 1000"},
			Q("kind", "location, group or school"), Q("status", "open, closed or all (default all)"),
			{Name: "limit", In: "query", Type: "integer", Desc: "1..500, default 50"}},
		Errors: []int{400, 422, 503}, Response: Fields{"contexts": []contexts.NearbyContext{}, "lat": 0.0, "lon": 0.0, "radius_m": 0.0}}, s.nearbyContexts)
	s.route(api, Op{Method: "GET", Path: "/contexts/{id:[0-9]+}", Tag: "contexts",
		Summary: "A context record with its assessments, interventions, closures and link summary",
		Params:  []Param{idP}, Errors: []int{404}, Response: contexts.Context{}}, s.getContext)
	s.route(api, Op{Method: "PATCH", Path: "/contexts/{id:[0-9]+}", Tag: "contexts", Roles: contextLeadsOnly,
		Summary: "Change a context's name, description or review date", Params: []Param{idP},
		Body:    "{name?, description?, review_date?}",
		Request: contexts.ContextUpdate{}, Example: contexts.ContextUpdate{ReviewDate: ptr("2027-06-30")}, Errors: []int{400, 404, 409, 413, 422}, Response: contexts.Context{}}, s.updateContext)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/contexts/{id:[0-9]+}/assessments", Tag: "contexts", Roles: contextLeadsOnly,
		Summary: "Add a thematic assessment note under one triangle side", Params: []Param{idP},
		Body:    "{side, note}",
		Request: contexts.AssessmentInput{}, Example: contexts.AssessmentInput{Side: "guardianship", Note: "No staff presence after 6 pm; CCTV covers the entrance only"}, Errors: []int{400, 404, 409, 413, 422}, Response: contexts.Assessment{}}, s.addAssessment)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/contexts/{id:[0-9]+}/interventions", Tag: "contexts", Roles: contextLeadsOnly,
		Summary: "Plan an intervention with a partner agency", Params: []Param{idP},
		Body:    "{action, partner_agency, side, status?, due_date?, done_date?}",
		Request: contexts.InterventionInput{}, Example: contexts.InterventionInput{Action: "Detached youth work on Friday evenings", PartnerAgency: "youth_services",
			Side: "guardianship", DueDate: "2027-01-31"}, Errors: []int{400, 404, 409, 413, 422}, Response: contexts.Intervention{}}, s.addIntervention)
	s.route(api, Op{Method: "PATCH", Path: "/contexts/{id:[0-9]+}/interventions/{iid:[0-9]+}", Tag: "contexts", Roles: contextLeadsOnly,
		Summary: "Progress an intervention (status, dates, wording)", Params: []Param{idP, P("iid", "intervention id")},
		Body:    "{action?, partner_agency?, side?, status?, due_date?, done_date?}",
		Request: contexts.InterventionUpdate{}, Example: contexts.InterventionUpdate{Status: ptr("done"), DoneDate: ptr("2027-01-20")}, Errors: []int{400, 404, 413, 422}, Response: contexts.Intervention{}}, s.updateIntervention)
	s.route(api, Op{Method: "POST", Status: 201, Idempotent: true, Path: "/contexts/{id:[0-9]+}/links", Tag: "contexts", Roles: practitionersOnly,
		Summary: "Link one of your young people to a context, with a reason; you will be notified of changes. A young person new to you counts towards your daily cap (429 subject_limit beyond it)", Params: []Param{idP},
		Body:    "{subject, reason}",
		Request: contexts.LinkInput{}, Example: contexts.LinkInput{Subject: "YP-1042", Reason: "Seen here with older peers"}, Errors: []int{400, 404, 409, 413, 422, 429}, Response: contexts.Link{}}, s.linkYoungPerson)
	s.route(api, Op{Method: "GET", Path: "/contexts/{id:[0-9]+}/links", Tag: "contexts", Roles: practitionersOnly,
		Summary: "Your team's current links to a context (ids only, to unlink)", Params: []Param{idP}, Response: Fields{"links": []contexts.Link{}}}, s.teamLinks)
	s.route(api, Op{Method: "DELETE", Path: "/contexts/{id:[0-9]+}/links/{lid:[0-9]+}", Tag: "contexts", Roles: practitionersOnly,
		Summary: "Unlink your team's young person, with a reason (JSON body or ?reason=); the context stays open",
		Params:  []Param{idP, P("lid", "link id"), Q("reason", "why, if there is no body")},
		Body:    "{reason}, or none with ?reason=", OptionalBody: true, Request: contexts.UnlinkInput{}, Example: contexts.UnlinkInput{Reason: "No longer attends"}, Errors: []int{400, 404, 409, 413, 422}, Response: Fields{"id": int64(0), "unlinked": true}}, s.unlinkYoungPerson)
	s.route(api, Op{Method: "GET", Path: "/contexts/{id:[0-9]+}/links/summary", Tag: "contexts",
		Summary: "How many young people are linked, in total and by team, and which teams work with them; never who. Counts are {count} exactly for practitioners; for every other role a count under k is {count: null, fewer_than: k}, and a total that holds a hidden team count is {count: null, at_least: n}", Params: []Param{idP},
		Errors: []int{404}, Response: contexts.LinkSummary{}}, s.linkSummary)
	s.route(api, Op{Method: "POST", Path: "/contexts/{id:[0-9]+}/close", Tag: "contexts", Roles: contextLeadsOnly,
		Summary: "Close with evidence under each triangle side and a reason", Params: []Param{idP},
		Body:    `{reason, evidence: {"needs": ..., "guardianship": ..., "environment": ...}}`,
		Request: contexts.CloseInput{}, Example: contexts.CloseInput{Reason: "Gatherings stopped after the park's lighting was fixed",
			Evidence: map[string]string{"needs": "No referrals since June", "guardianship": "Park warden patrols nightly", "environment": "Lighting and CCTV installed"}}, Errors: []int{400, 404, 409, 413, 422}, Response: contexts.Context{}}, s.closeContext)
	s.route(api, Op{Method: "POST", Path: "/contexts/{id:[0-9]+}/reopen", Tag: "contexts", Roles: contextLeadsOnly,
		Summary: "Reopen a closed context with a reason; its chronology continues", Params: []Param{idP},
		Body:    "{reason}",
		Request: contexts.ReopenInput{}, Example: contexts.ReopenInput{Reason: "Two new referrals name the park"}, Errors: []int{400, 404, 409, 413, 422}, Response: contexts.Context{}}, s.reopenContext)
	s.route(api, Op{Method: "GET", Path: "/contexts/{id:[0-9]+}/chronology", Tag: "contexts",
		Summary: "Every change to a context in order, with who and when (links by team only; for every role but practitioners, link events are one per team and month, at YYYY-MM)", Params: []Param{idP},
		Errors: []int{404}, Response: Fields{"events": []contexts.ChronologyEntry{}}}, s.chronology)
	s.route(api, Op{Method: "GET", Path: "/me/notifications", Tag: "contexts",
		Summary: "Your notifications about contexts your young people are linked to, newest first", Response: Fields{"notifications": []contexts.Notification{}}}, s.notifications)
	s.route(api, Op{Method: "POST", Path: "/me/notifications/read", Tag: "contexts",
		Summary: "Mark your notifications up to an id as read", Body: "{up_to}",
		Request: markReadRequest{}, Example: markReadRequest{UpTo: 42}, Errors: []int{400, 413}, Response: Fields{"marked": 0}}, s.markNotificationsRead)
}

// pathID reads a numeric path variable; the route pattern already refused
// non-digits, so only overflow is left to catch.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(mux.Vars(r)[name], 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam(name, "must be a positive id")
	}
	return id, nil
}

// purposeParams document the purpose of a read of a young person's
// records, from the one list of purposes.
func purposeParams() []Param {
	var codes []string
	for _, t := range contexts.ReadPurposes() {
		codes = append(codes, t.Code)
	}
	return []Param{
		RQ("purpose", "why you read these records: "+strings.Join(codes, ", ")+" (the taxonomy's read_purposes); logged with the read"),
		Q("purpose_note", fmt.Sprintf("for purpose other: a short reason, at most %d characters, no names or ids (screened)", contexts.PurposeNoteMax)),
	}
}

// readPurpose reads the purpose of a read of a young person's records from
// the query (purpose, purpose_note), each at most once.
func readPurpose(r *http.Request) (contexts.ReadPurpose, error) {
	q := r.URL.Query()
	if len(q["purpose"]) > 1 || len(q["purpose_note"]) > 1 {
		return contexts.ReadPurpose{}, badParam("purpose", "give purpose and purpose_note once")
	}
	return contexts.ParseReadPurpose(q.Get("purpose"), q.Get("purpose_note"))
}

// getTaxonomy handles GET /api/v1/taxonomy.
func (s *Server) getTaxonomy(w http.ResponseWriter, r *http.Request) error {
	t, err := s.records.Taxonomy(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// addCategory handles POST /api/v1/taxonomy/categories.
func (s *Server) addCategory(w http.ResponseWriter, r *http.Request) error {
	var in contexts.CategoryInput
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.records.AddCategory(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

// retireCategory handles POST /api/v1/taxonomy/categories/{code}/retire.
func (s *Server) retireCategory(w http.ResponseWriter, r *http.Request) error {
	t, err := s.records.RetireCategory(r.Context(), actor(r), mux.Vars(r)["code"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// createHarmLocation handles POST /api/v1/harm-locations.
func (s *Server) createHarmLocation(w http.ResponseWriter, r *http.Request) error {
	var in contexts.HarmLocationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	h, err := s.records.CreateHarmLocation(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h)
	return nil
}

// subjectHarmLocations handles GET /api/v1/subjects/{subject}/harm-locations.
func (s *Server) subjectHarmLocations(w http.ResponseWriter, r *http.Request) error {
	subject, err := url.PathUnescape(mux.Vars(r)["subject"])
	if err != nil {
		return badParam("subject", "not a valid path segment")
	}
	purpose, err := readPurpose(r)
	if err != nil {
		return err
	}
	list, err := s.records.SubjectHarmLocations(r.Context(), actor(r), subject, purpose)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"harm_locations": list})
	return nil
}

// archiveHarmLocation handles POST /api/v1/harm-locations/{id}/archive.
func (s *Server) archiveHarmLocation(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.ArchiveInput
	if err := decode(r, &in); err != nil {
		return err
	}
	h, err := s.records.ArchiveHarmLocation(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// archiveHarmType handles POST /api/v1/harm-locations/{id}/types/{category}/archive.
func (s *Server) archiveHarmType(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.ArchiveInput
	if err := decode(r, &in); err != nil {
		return err
	}
	h, err := s.records.ArchiveHarmType(r.Context(), actor(r), id, mux.Vars(r)["category"], in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// correctCategories handles POST /api/v1/harm-locations/{id}/categories.
func (s *Server) correctCategories(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.CategoryCorrection
	if err := decode(r, &in); err != nil {
		return err
	}
	h, err := s.records.CorrectCategories(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// createSafetyPlace handles POST /api/v1/safety-places.
func (s *Server) createSafetyPlace(w http.ResponseWriter, r *http.Request) error {
	var in contexts.SafetyPlaceInput
	if err := decode(r, &in); err != nil {
		return err
	}
	h, err := s.records.CreateSafetyPlace(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h)
	return nil
}

// createContext handles POST /api/v1/contexts.
func (s *Server) createContext(w http.ResponseWriter, r *http.Request) error {
	var in contexts.ContextInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := s.records.CreateContext(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

// nearbyContexts handles GET /api/v1/contexts?near=&radius_m=&kind=&status=.
func (s *Server) nearbyContexts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	near := strings.TrimSpace(q.Get("near"))
	if near == "" {
		return badParam("near", `required: a postcode or "lat,lon"`)
	}
	var lat, lon float64
	if a, b, ok := strings.Cut(near, ","); ok {
		var err1, err2 error
		lat, err1 = strconv.ParseFloat(strings.TrimSpace(a), 64)
		lon, err2 = strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err1 != nil || err2 != nil || !finite(lat) || !finite(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			return badParam("near", `give "lat,lon" in decimal degrees, or a postcode`)
		}
	} else {
		var err error
		if lat, lon, err = s.records.PlacePostcode(r.Context(), near); err != nil {
			return err
		}
	}
	radius := 1000.0
	if v, ok, err := floatParam(q, "radius_m", false); err != nil {
		return err
	} else if ok {
		radius = v
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > contexts.MaxNearbyLimit {
			return badParam("limit", "must be 1..%d", contexts.MaxNearbyLimit)
		}
		limit = n
	}
	status := q.Get("status")
	if status == "all" {
		status = ""
	}
	list, err := s.records.Nearby(r.Context(), lat, lon, radius, q.Get("kind"), status, limit)
	if err != nil {
		return err
	}
	if list == nil {
		list = []contexts.NearbyContext{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"contexts": list, "lat": lat, "lon": lon, "radius_m": radius})
	return nil
}

// getContext handles GET /api/v1/contexts/{id}.
func (s *Server) getContext(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.records.Context(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// updateContext handles PATCH /api/v1/contexts/{id}.
func (s *Server) updateContext(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.ContextUpdate
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := s.records.UpdateContext(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
