package contexts

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
)

// Harm types as entries of their own (the briefing's first lesson): a harm
// location holds several harm types at once, each with its own start,
// status and history. One can be archived (no longer / never an issue, with
// a note) while the others stay on the record and in the next release, and
// a wrong one can be corrected. HarmLocation.Categories are always the
// active types, which is what every release counts.

// The statuses of a harm type on a record.
const (
	TypeActive   = "active"
	TypeArchived = "archived" // with an archive reason
	TypeRemoved  = "removed"  // corrected: recorded in error
)

// EndCorrected is the end reason of a type removed by a correction.
const EndCorrected = "corrected"

var typeStatusTerms = []Term{
	{Code: TypeActive, Label: "Active"},
	{Code: TypeArchived, Label: "Archived"},
	{Code: TypeRemoved, Label: "Removed (recorded in error)"},
}

// HarmType is one harm type on a harm location.
type HarmType struct {
	Category string `json:"category"`
	// Started is when this type began for the young person here, a date or
	// a month; a type recorded with the location starts at its occurred date.
	Started string    `json:"started"`
	Status  string    `json:"status"`
	AddedAt time.Time `json:"added_at"`
	AddedBy string    `json:"added_by"`
	// Ended says why the type is no longer active: an archive reason, or
	// "corrected" for a type removed as recorded in error.
	Ended *Archive `json:"ended,omitempty"`
}

// The events of a harm location's history.
const (
	EventRecorded     = "recorded"
	EventTypeAdded    = "type_added"
	EventTypeArchived = "type_archived"
	EventTypeRemoved  = "type_removed"
	EventArchived     = "archived"
)

// HarmEvent is one change to a harm location, as its history shows it.
type HarmEvent struct {
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Event    string    `json:"event"`
	Category string    `json:"category,omitempty"`
	Started  string    `json:"started,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// DefaultTypes are the types of a location whose types were never changed:
// its categories, each active since its occurred date, added when it was
// made (the store keeps no rows for them until a first change).
func DefaultTypes(h *HarmLocation) []HarmType {
	out := make([]HarmType, 0, len(h.Categories))
	for _, c := range h.Categories {
		out = append(out, HarmType{Category: c, Started: h.Occurred, Status: TypeActive, AddedAt: h.CreatedAt, AddedBy: h.CreatedBy})
	}
	return out
}

// HarmHistory derives a record's history from the record and its types:
// its recording, every type added after it, every type ended, and the
// archive of the whole record, in time order. A type ended by the archive
// of the whole record is told once, as the archive.
func HarmHistory(h *HarmLocation) []HarmEvent {
	ev := []HarmEvent{{At: h.CreatedAt, By: h.CreatedBy, Event: EventRecorded}}
	for _, t := range h.Types {
		if t.AddedAt.After(h.CreatedAt) {
			ev = append(ev, HarmEvent{At: t.AddedAt, By: t.AddedBy, Event: EventTypeAdded, Category: t.Category, Started: t.Started})
		}
		if t.Ended == nil {
			continue
		}
		if h.Archived != nil && t.Ended.At.Equal(h.Archived.At) {
			continue
		}
		e := HarmEvent{At: t.Ended.At, By: t.Ended.By, Event: EventTypeArchived, Category: t.Category, Reason: t.Ended.Reason, Note: t.Ended.Note}
		if t.Status == TypeRemoved {
			e.Event, e.Reason = EventTypeRemoved, ""
		}
		ev = append(ev, e)
	}
	if a := h.Archived; a != nil {
		ev = append(ev, HarmEvent{At: a.At, By: a.By, Event: EventArchived, Reason: a.Reason, Note: a.Note})
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At.Before(ev[j].At) })
	return ev
}

// TypeInput is a harm type to add to a record, with its start.
type TypeInput struct {
	Category string `json:"category"`
	Started  string `json:"started"`
}

// CategoryCorrection corrects a harm location's categories: types to add
// (each with its start), types to remove as recorded in error, and a note
// saying why. Fixing a wrong type is one correction that removes it and adds
// the right one. A type that was real but is no longer (or never was) an
// issue is archived instead, which says so.
type CategoryCorrection struct {
	Add    []TypeInput `json:"add,omitempty"`
	Remove []string    `json:"remove,omitempty"`
	Note   string      `json:"note"`
}

// NewType is a validated type to add.
type NewType struct {
	Category string
	Started  Occurred
}

// Correction is a validated CategoryCorrection.
type Correction struct {
	Add    []NewType
	Remove []string
	Note   string
}

// Validate checks a correction without I/O: known, current categories to
// add, each with a start; codes to remove; no code both added and removed
// or given twice; and a note. Whether the codes are active on the record is
// the store's to check.
func (in *CategoryCorrection) Validate(tax *Taxonomy, now time.Time) (Correction, error) {
	var c Correction
	if len(in.Add) == 0 && len(in.Remove) == 0 {
		return c, ctxmap.Errorf(ctxmap.KindInvalid, "empty_correction", "give the types to add, to remove, or both").WithDetail("field", "add")
	}
	codes := make([]string, len(in.Add))
	for i, t := range in.Add {
		codes[i] = t.Category
	}
	if len(in.Add) > 0 {
		checked, err := checkCategories(tax, codes)
		if err != nil {
			var e *ctxmap.Error
			if errors.As(err, &e) {
				return c, e.WithDetail("field", "add")
			}
			return c, err
		}
		for i, code := range checked {
			o, err := parseHappened("started", in.Add[i].Started, now)
			if err != nil {
				return c, err
			}
			c.Add = append(c.Add, NewType{Category: code, Started: o})
		}
	}
	for _, r := range in.Remove {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" {
			return c, InvalidField("remove", "invalid_category", "a category to remove is empty")
		}
		if slices.Contains(c.Remove, r) {
			return c, InvalidField("remove", "duplicate_category", "category %q is given twice; give each category once", Trunc(r, 40))
		}
		if slices.ContainsFunc(c.Add, func(t NewType) bool { return t.Category == r }) {
			return c, InvalidField("remove", "add_and_remove", "category %q is both added and removed", Trunc(r, 40))
		}
		c.Remove = append(c.Remove, r)
	}
	var err error
	c.Note, err = CheckText("note", in.Note, MaxNote, true)
	return c, err
}

// Safety mapping's ratings (DOMAIN.md: red, amber and green places on a
// map, with the young person).
const (
	SafetyRed   = "red"   // unsafe
	SafetyAmber = "amber" // sometimes unsafe
	SafetyGreen = "green" // safe, with a trusted adult
)

var safetyRatingTerms = []Term{
	{Code: SafetyRed, Label: "Red: unsafe", Description: "Counts in the feels-unsafe layer (all categories) from the next release"},
	{Code: SafetyAmber, Label: "Amber: sometimes unsafe", Description: "Stays on the young person's record and safety plan; not published"},
	{Code: SafetyGreen, Label: "Green: safe, with a trusted adult", Description: "Counts in the safe places layer from the next release"},
}

// trustedAdultTerms are the kinds of adult that make a place safe: the
// guardianship a partnership can build on. Never who: a name of an adult is
// personal data of someone else, and free text is screened for it.
var trustedAdultTerms = []Term{
	{Code: "family_member", Label: "Family member"},
	{Code: "school_staff", Label: "School or college staff"},
	{Code: "youth_worker", Label: "Youth worker"},
	{Code: "sports_coach", Label: "Sports coach"},
	{Code: "faith_leader", Label: "Faith group leader"},
	{Code: "business_staff", Label: "Shop or business staff"},
	{Code: "transport_staff", Label: "Transport staff"},
	{Code: "resident", Label: "Resident or neighbour"},
	{Code: "health_worker", Label: "Health worker"},
	{Code: "other", Label: "Other"},
}

// SafetyPlaceInput records a place from a young person's safety map: red
// (unsafe), amber (sometimes unsafe) or green (safe, with a trusted adult),
// without a harm category. Mapped is when the young person mapped it.
type SafetyPlaceInput struct {
	Subject      string   `json:"subject"`
	Rating       string   `json:"rating" vocab:"safety_ratings"`
	Mapped       string   `json:"mapped"` // "2026-03-14" or "2026-03"
	TrustedAdult string   `json:"trusted_adult,omitempty" vocab:"trusted_adults"`
	Postcode     string   `json:"postcode,omitempty"`
	Lat          *float64 `json:"lat,omitempty"`
	Lon          *float64 `json:"lon,omitempty"`
	LocationType string   `json:"location_type" vocab:"location_types"`
	ContextID    int64    `json:"context_id,omitempty"`
}

// Validate checks a safety-map place without I/O, in the form's order, and
// returns it as the harm fields the store writes: green is the safe layer,
// red and amber the unsafe (perception) layer; the source is the safety map.
func (in *SafetyPlaceInput) Validate(now time.Time) (HarmFields, error) {
	var f HarmFields
	var err error
	if f.Subject, err = NormalizeSubject(in.Subject); err != nil {
		return f, err
	}
	if f.Safety, err = checkTerm("rating", "invalid_rating", safetyRatingTerms, in.Rating); err != nil {
		return f, err
	}
	f.Layer = ctxmap.LayerUnsafe
	if f.Safety == SafetyGreen {
		f.Layer = ctxmap.LayerSafe
		if f.TrustedAdult, err = checkTerm("trusted_adult", "invalid_trusted_adult", trustedAdultTerms, in.TrustedAdult); err != nil {
			return f, err
		}
	} else if strings.TrimSpace(in.TrustedAdult) != "" {
		return f, InvalidField("trusted_adult", "trusted_adult_not_green", "a trusted adult is given for green (safe) places only")
	}
	if f.Occurred, err = parseHappened("mapped", in.Mapped, now); err != nil {
		return f, err
	}
	f.Source = SourceSafetyMap
	if f.LocationType, err = checkTerm("location_type", "invalid_location_type", locationTypes, in.LocationType); err != nil {
		return f, err
	}
	if in.ContextID < 0 {
		return f, InvalidField("context_id", "invalid_context_id", "context_id must be a context record's id")
	}
	f.ContextID = in.ContextID
	f.Postcode, f.Lat, f.Lon, f.LatLon, err = checkPlace(in.Postcode, in.Lat, in.Lon, false)
	return f, err
}
