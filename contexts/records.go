package contexts

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap/geo"
)

// ContextInput opens a context record. A location needs a location type and
// a postcode (or lat/lon), optionally a building or organisation name; a
// school a name and a postcode; a group a name around an incident or
// association, and optionally where it spends its time.
type ContextInput struct {
	Kind         string   `json:"kind" vocab:"context_kinds"`
	LocationType string   `json:"location_type,omitempty" vocab:"location_types"`
	Name         string   `json:"name,omitempty"`
	Postcode     string   `json:"postcode,omitempty"`
	Lat          *float64 `json:"lat,omitempty"`
	Lon          *float64 `json:"lon,omitempty"`
	Description  string   `json:"description,omitempty"`
	ReviewDate   string   `json:"review_date,omitempty"` // "2026-06-30"
}

// ContextUpdate changes what may change without splitting a record's
// identity: the name, description and review date. A nil field is left as
// it is; an empty review date clears it.
type ContextUpdate struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	ReviewDate  *string `json:"review_date,omitempty"`
}

// Context is a Level 2 record about a place, group or school. It is
// thematic: nothing in it identifies a young person.
type Context struct {
	ID           int64      `json:"id"`
	Kind         string     `json:"kind"`
	LocationType string     `json:"location_type,omitempty"`
	Name         string     `json:"name,omitempty"`
	Postcode     string     `json:"postcode,omitempty"`
	DisplayName  string     `json:"display_name"`
	Description  string     `json:"description"`
	Status       string     `json:"status"`
	ReviewDate   string     `json:"review_date,omitempty"`
	Lat          *float64   `json:"lat,omitempty"`
	Lon          *float64   `json:"lon,omitempty"`
	Match        string     `json:"match,omitempty"`
	Team         string     `json:"team"`
	CreatedBy    string     `json:"created_by"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	Demo         bool       `json:"demo,omitempty"`
	// The Level 2 work, filled in by (*Store).Context.
	Assessments   []Assessment   `json:"assessments"`
	Interventions []Intervention `json:"interventions"`
	Closures      []Closure      `json:"closures"`
	Links         LinkSummary    `json:"links"`
}

// ContextListItem is one context in a list: found near a point (nearest
// first, with DistanceM), or in the context lead's workspace (by name,
// kind, status, review and partner agency). Every list shows the review
// date and its state, so what is due is seen wherever a record is listed.
type ContextListItem struct {
	ID           int64  `json:"id"`
	Kind         string `json:"kind"`
	LocationType string `json:"location_type,omitempty"`
	DisplayName  string `json:"display_name"`
	Postcode     string `json:"postcode,omitempty"`
	Status       string `json:"status"`
	Team         string `json:"team"`
	ReviewDate   string `json:"review_date,omitempty"`
	// Review is "overdue" or "due" (within ReviewDueDefaultDays) for an
	// open record, empty otherwise.
	Review string `json:"review,omitempty"`
	// OpenInterventions counts the planned and in-progress interventions.
	OpenInterventions int       `json:"open_interventions"`
	UpdatedAt         time.Time `json:"updated_at"`
	// Lat and Lon are absent for a group with no place (an online group).
	Lat       *float64 `json:"lat,omitempty"`
	Lon       *float64 `json:"lon,omitempty"`
	DistanceM *float64 `json:"distance_m,omitempty"`
}

// ContextFeature is what the map's context layer draws for one record.
type ContextFeature struct {
	ID           int64   `json:"id"`
	Kind         string  `json:"kind"`
	LocationType string  `json:"location_type,omitempty"`
	DisplayName  string  `json:"display_name"`
	Status       string  `json:"status"`
	Lon          float64 `json:"lon"`
	Lat          float64 `json:"lat"`
}

// AssessmentInput is a thematic note under one side of the triangle.
type AssessmentInput struct {
	Side string `json:"side"`
	Note string `json:"note"`
}

// Assessment is a stored assessment note.
type Assessment struct {
	ID        int64     `json:"id"`
	Side      string    `json:"side"`
	SideLabel string    `json:"side_label"`
	Note      string    `json:"note"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// InterventionInput plans an action with a partner agency.
type InterventionInput struct {
	Action        string  `json:"action"`
	PartnerAgency string  `json:"partner_agency" vocab:"partner_agencies"`
	Side          string  `json:"side"`
	Status        *string `json:"status,omitempty" vocab:"intervention_statuses"` // planned when left out; never empty
	DueDate       string  `json:"due_date,omitempty"`                             // "2026-05-01"
	DoneDate      string  `json:"done_date,omitempty"`                            // defaults to today when status is done
	Outcome       string  `json:"outcome,omitempty"`                              // what it achieved, thematic
	Notes         string  `json:"notes,omitempty"`
}

// InterventionUpdate progresses an intervention. Nil fields are unchanged;
// an empty due or done date clears it.
type InterventionUpdate struct {
	Action        *string `json:"action,omitempty"`
	PartnerAgency *string `json:"partner_agency,omitempty" vocab:"partner_agencies"`
	Side          *string `json:"side,omitempty"`
	Status        *string `json:"status,omitempty" vocab:"intervention_statuses"`
	DueDate       *string `json:"due_date,omitempty"`
	DoneDate      *string `json:"done_date,omitempty"`
	Outcome       *string `json:"outcome,omitempty"`
	Notes         *string `json:"notes,omitempty"`
}

// Intervention is an action on a context, in a reportable form.
type Intervention struct {
	ID            int64     `json:"id"`
	Action        string    `json:"action"`
	PartnerAgency string    `json:"partner_agency"`
	Side          string    `json:"side"`
	Status        string    `json:"status"`
	DueDate       string    `json:"due_date,omitempty"`
	DoneDate      string    `json:"done_date,omitempty"`
	Outcome       string    `json:"outcome"`
	Notes         string    `json:"notes"`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// CloseInput closes a context: not "risk eradicated" but evidence, under
// every side of the triangle, that safety increased.
type CloseInput struct {
	Reason   string            `json:"reason"`
	Evidence map[string]string `json:"evidence"` // side code -> evidence
	// Interventions says what happens to each planned or in-progress
	// intervention; a close that leaves one out is refused (409
	// open_interventions, listing them).
	Interventions []ClosingDecision `json:"interventions,omitempty"`
}

// ClosingDecision is what happens to one open intervention when its
// context closes: complete (done today), cancel (dropped) or carry_over
// (it stays open, for the partner to finish). Each is recorded in the
// chronology.
type ClosingDecision struct {
	ID       int64  `json:"id"`
	Decision string `json:"decision" vocab:"closing_decisions"`
}

// ReopenInput reopens a closed context; its chronology continues.
type ReopenInput struct {
	Reason string `json:"reason"`
}

// Closure is one closing of a context, with its reopening if any.
type Closure struct {
	ID           int64             `json:"id"`
	Reason       string            `json:"reason"`
	Evidence     map[string]string `json:"evidence"`
	ClosedBy     string            `json:"closed_by"`
	ClosedAt     time.Time         `json:"closed_at"`
	ReopenedBy   string            `json:"reopened_by,omitempty"`
	ReopenedAt   *time.Time        `json:"reopened_at,omitempty"`
	ReopenReason string            `json:"reopen_reason,omitempty"`
}

// LinkInput links a practitioner's young person to a context.
type LinkInput struct {
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
	// Label is the linking team's own reference for the link ("referral
	// of 3 Nov, school nurse"): shown to that team only, so its
	// practitioners can tell their links apart; never a name or an id.
	Label string `json:"label,omitempty"`
}

// LinkLabelInput changes the linking team's own label of a link; an
// empty label clears it, a missing one is refused.
type LinkLabelInput struct {
	Label *string `json:"label"`
}

// UnlinkInput detaches a young person while the context stays open.
type UnlinkInput struct {
	Reason string `json:"reason"`
}

// Link is a link as the linking team sees it: no subject is echoed. Its
// label and reason are the team's own words, shown to nobody else.
type Link struct {
	ID        int64     `json:"id"`
	ContextID int64     `json:"context_id"`
	Team      string    `json:"team"`
	LinkedAt  time.Time `json:"linked_at"`
	LinkedBy  string    `json:"linked_by"`
	Label     string    `json:"label"`
	Reason    string    `json:"reason"`
}

// LinkSummary is all anyone but the linking team learns about links: how
// many distinct young people, in total and by team, and which teams, never
// who. Counts are exact for practitioners and "fewer than k" below the
// disclosure threshold for every other role (see ForRole).
type LinkSummary struct {
	YoungPeople LinkCount   `json:"young_people"`
	Teams       []string    `json:"teams"`
	ByTeam      []TeamCount `json:"by_team"`
}

// ChronologyEntry is one change to a context. Links and unlinks are shown
// by team only: naming the practitioner would narrow down the child.
type ChronologyEntry struct {
	ID      int64           `json:"id"`
	At      EventTime       `json:"at"`
	Event   string          `json:"event"`
	Actor   string          `json:"actor,omitempty"`
	Team    string          `json:"team,omitempty"`
	Summary string          `json:"summary"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// Chronology event names.
const (
	EventOpened              = "opened"
	EventUpdated             = "updated"
	EventAssessmentAdded     = "assessment_added"
	EventInterventionAdded   = "intervention_added"
	EventInterventionUpdated = "intervention_updated"
	EventLinked              = "young_person_linked"
	EventUnlinked            = "young_person_unlinked"
	EventClosed              = "closed"
	EventReopened            = "reopened"
)

// Notification tells a linked practitioner that a context changed.
type Notification struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	ContextID   int64     `json:"context_id"`
	DisplayName string    `json:"display_name"`
	Event       string    `json:"event"`
	Summary     string    `json:"summary"`
	Read        bool      `json:"read"`
}

// ContextFields is a validated ContextInput before geocoding.
type ContextFields struct {
	Kind, LocationType, Name, Description string
	ReviewDate                            *time.Time
	Postcode                              geo.Postcode
	Lat, Lon                              float64
	LatLon, HasPlace                      bool
}

// Validate checks everything about a new context that needs no database;
// a review date is a planned date, judged on the UK calendar day of now.
func (in *ContextInput) Validate(now time.Time) (ContextFields, error) {
	var f ContextFields
	var err error
	kinds := make([]Term, len(contextKinds))
	for i, k := range contextKinds {
		kinds[i] = Term{Code: k.Code, Label: k.Label}
	}
	if f.Kind, err = checkTerm("kind", "invalid_kind", kinds, in.Kind); err != nil {
		return f, err
	}
	if f.Name, err = CheckText("name", in.Name, MaxName, f.Kind != KindLocation); err != nil {
		return f, err
	}
	if f.Description, err = CheckText("description", in.Description, MaxNote, false); err != nil {
		return f, err
	}
	if f.ReviewDate, err = parseOptionalDate("review_date", in.ReviewDate); err != nil {
		return f, err
	}
	if err = checkOptionalDate("review_date", f.ReviewDate, planned, UKDay(now)); err != nil {
		return f, err
	}
	switch f.Kind {
	case KindLocation:
		if f.LocationType, err = checkTerm("location_type", "invalid_location_type", locationTypes, in.LocationType); err != nil {
			return f, err
		}
	default:
		if strings.TrimSpace(in.LocationType) != "" {
			return f, InvalidField("location_type", "invalid_location_type", "only location contexts have a location type")
		}
	}
	hasPlace := strings.TrimSpace(in.Postcode) != "" || in.Lat != nil || in.Lon != nil
	if f.Kind == KindGroup && !hasPlace {
		return f, nil
	}
	f.Postcode, f.Lat, f.Lon, f.LatLon, err = checkPlace(in.Postcode, in.Lat, in.Lon, true)
	f.HasPlace = err == nil
	return f, err
}

// DedupeKey is the identity that makes a second record for the same thing
// a conflict: a place is its type and postcode, a school its name and
// postcode, a group its name. Places given only by a coordinate have none
// (they are checked by distance instead).
func DedupeKey(kind, locationType, name, postcode string) *string {
	var k string
	switch kind {
	case KindLocation:
		if postcode == "" {
			return nil
		}
		k = "location|" + locationType + "|" + postcode
	case KindSchool:
		k = "school|" + postcode + "|" + strings.ToLower(strings.Join(strings.Fields(name), " "))
	case KindGroup:
		k = "group|" + strings.ToLower(strings.Join(strings.Fields(name), " "))
	}
	return &k
}
