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
	Kind         string   `json:"kind"`
	LocationType string   `json:"location_type,omitempty"`
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

// NearbyContext is a context found near a point, nearest first.
type NearbyContext struct {
	ID           int64   `json:"id"`
	Kind         string  `json:"kind"`
	LocationType string  `json:"location_type,omitempty"`
	DisplayName  string  `json:"display_name"`
	Status       string  `json:"status"`
	Lat          float64 `json:"lat"`
	Lon          float64 `json:"lon"`
	DistanceM    float64 `json:"distance_m"`
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
	PartnerAgency string  `json:"partner_agency"`
	Side          string  `json:"side"`
	Status        *string `json:"status,omitempty"`    // planned when left out; never empty
	DueDate       string  `json:"due_date,omitempty"`  // "2026-05-01"
	DoneDate      string  `json:"done_date,omitempty"` // defaults to today when status is done
}

// InterventionUpdate progresses an intervention. Nil fields are unchanged;
// an empty due or done date clears it.
type InterventionUpdate struct {
	Action        *string `json:"action,omitempty"`
	PartnerAgency *string `json:"partner_agency,omitempty"`
	Side          *string `json:"side,omitempty"`
	Status        *string `json:"status,omitempty"`
	DueDate       *string `json:"due_date,omitempty"`
	DoneDate      *string `json:"done_date,omitempty"`
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
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// CloseInput closes a context: not "risk eradicated" but evidence, under
// every side of the triangle, that safety increased.
type CloseInput struct {
	Reason   string            `json:"reason"`
	Evidence map[string]string `json:"evidence"` // side code -> evidence
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
}

// UnlinkInput detaches a young person while the context stays open.
type UnlinkInput struct {
	Reason string `json:"reason"`
}

// Link is a link as the linking team sees it: no subject is echoed.
type Link struct {
	ID        int64     `json:"id"`
	ContextID int64     `json:"context_id"`
	Team      string    `json:"team"`
	LinkedAt  time.Time `json:"linked_at"`
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
