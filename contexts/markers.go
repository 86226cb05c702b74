package contexts

import (
	"slices"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap/geo"
)

// A young person's contextual record beyond harm locations (issue 13; the
// briefing's recommendations 1-3): the overarching extra-familial referral
// and outcome markers, relocations in response to extra-familial harm, and
// the contextual factors an assessment found with the plan actions that
// address them (like Asset Plus's external controls), so a reviewer sees
// whether the plan attends to context and the partnership can report rates
// without a manual case review. Like harm locations, every entry belongs to
// the team that wrote it and names the young person only by the keyed hash.

// Marker kinds: a referral and its outcome are distinct markers.
const (
	MarkerReferral = "referral"
	MarkerOutcome  = "outcome"
)

var markerKindTerms = []Term{
	{Code: MarkerReferral, Label: "Referral"},
	{Code: MarkerOutcome, Label: "Outcome"},
}

// Marker values: the familial context of the harm a referral or outcome
// concerns. "none" is neither (the marker says the case is not about
// extra- or intra-familial harm), which is not the same as not yet marked.
const (
	MarkExtra = "extra"
	MarkIntra = "intra"
	MarkBoth  = "both"
	MarkNone  = "none"
)

var markerValueTerms = []Term{
	{Code: MarkExtra, Label: "Extra-familial"},
	{Code: MarkIntra, Label: "Intra-familial"},
	{Code: MarkBoth, Label: "Both extra- and intra-familial"},
	{Code: MarkNone, Label: "Neither"},
}

// MarkExtraFamilial says whether a marker value counts towards the
// extra-familial rate: extra or both. The one home of that rule; the
// release reads it through this function.
func MarkExtraFamilial(v string) bool { return v == MarkExtra || v == MarkBoth }

// Relocation kinds.
var relocationKindTerms = []Term{
	{Code: "out_of_area", Label: "Out of area"},
	{Code: "within_area", Label: "Within area"},
	{Code: "secure", Label: "Secure accommodation"},
}

// RelocationKinds returns the kinds of relocation, codes and labels in
// their fixed order (the release's measures follow it).
func RelocationKinds() (codes, labels []string) {
	for _, t := range relocationKindTerms {
		codes = append(codes, t.Code)
		labels = append(labels, t.Label)
	}
	return codes, labels
}

// Factor area kinds: where a factor not tied to a context record is.
const (
	AreaPostcodeDistrict = "postcode_district"
	AreaWard             = "ward"
)

var factorAreaTerms = []Term{
	{Code: AreaPostcodeDistrict, Label: "Postcode district"},
	{Code: AreaWard, Label: "Ward"},
}

// MarkerInput adds a referral or outcome marker to a young person's record.
type MarkerInput struct {
	Subject  string `json:"subject"`
	Kind     string `json:"kind" vocab:"marker_kinds"`
	Familial string `json:"familial" vocab:"marker_values"`
	Date     string `json:"date"` // YYYY-MM-DD
	Note     string `json:"note,omitempty"`
}

// MarkerCorrection replaces a marker's value and date with a reason; the
// corrected entry stays in the history.
type MarkerCorrection struct {
	Familial string `json:"familial" vocab:"marker_values"`
	Date     string `json:"date"`
	Note     string `json:"note,omitempty"`
	Reason   string `json:"reason"`
}

// MarkerFields is a validated marker.
type MarkerFields struct {
	Subject, Kind, Familial, Note string
	Date                          time.Time
}

// Validate checks a new marker on today (the UK day).
func (in MarkerInput) Validate(today time.Time) (MarkerFields, error) {
	var f MarkerFields
	var err error
	if f.Subject, err = NormalizeSubject(in.Subject); err != nil {
		return f, err
	}
	if f.Kind, err = checkTerm("kind", "invalid_marker_kind", markerKindTerms, in.Kind); err != nil {
		return f, err
	}
	if f.Familial, f.Date, f.Note, err = markerValue(in.Familial, in.Date, in.Note, today); err != nil {
		return f, err
	}
	return f, nil
}

// Validate checks a correction; Subject and Kind stay the corrected one's.
func (in MarkerCorrection) Validate(today time.Time) (MarkerFields, string, error) {
	var f MarkerFields
	var err error
	if f.Familial, f.Date, f.Note, err = markerValue(in.Familial, in.Date, in.Note, today); err != nil {
		return f, "", err
	}
	reason, err := CheckText("reason", in.Reason, MaxReason, true)
	return f, reason, err
}

func markerValue(familial, date, note string, today time.Time) (string, time.Time, string, error) {
	v, err := checkTerm("familial", "invalid_marker_value", markerValueTerms, familial)
	if err != nil {
		return "", time.Time{}, "", err
	}
	d, err := requiredDate("date", date, today)
	if err != nil {
		return "", time.Time{}, "", err
	}
	n, err := CheckText("note", note, MaxNote, false)
	return v, d, n, err
}

// requiredDate reads a date of something that happened.
func requiredDate(field, s string, today time.Time) (time.Time, error) {
	t, err := parseOptionalDate(field, s)
	if err != nil {
		return time.Time{}, err
	}
	if t == nil {
		return time.Time{}, MissingField(field)
	}
	return *t, checkDate(field, s, *t, happened, today)
}

// Marker is one marker entry as its team sees it. Corrected says when, by
// whom and why it was replaced (by the entry whose Corrects is its id);
// only entries without it are current and count.
type Marker struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Familial  string    `json:"familial"`
	Date      string    `json:"date"`
	Note      string    `json:"note"`
	Team      string    `json:"team"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Corrects  *int64    `json:"corrects,omitempty"`
	Corrected *Replaced `json:"corrected,omitempty"`
}

// Replaced says a marker entry was replaced: when, by whom, why.
type Replaced struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
}

// RelocationInput records a relocation in response to extra-familial harm.
type RelocationInput struct {
	Subject string `json:"subject"`
	Date    string `json:"date"`
	Kind    string `json:"kind" vocab:"relocation_kinds"`
	Note    string `json:"note,omitempty"`
}

// RelocationFields is a validated relocation.
type RelocationFields struct {
	Subject, Kind, Note string
	Date                time.Time
}

// Validate checks a relocation on today.
func (in RelocationInput) Validate(today time.Time) (RelocationFields, error) {
	var f RelocationFields
	var err error
	if f.Subject, err = NormalizeSubject(in.Subject); err != nil {
		return f, err
	}
	if f.Date, err = requiredDate("date", in.Date, today); err != nil {
		return f, err
	}
	if f.Kind, err = checkTerm("kind", "invalid_relocation_kind", relocationKindTerms, in.Kind); err != nil {
		return f, err
	}
	f.Note, err = CheckText("note", in.Note, MaxNote, false)
	return f, err
}

// Relocation is one relocation as its team sees it; Withdrawn when it
// was entered in error.
type Relocation struct {
	ID        int64       `json:"id"`
	Date      string      `json:"date"`
	Kind      string      `json:"kind"`
	Note      string      `json:"note"`
	Team      string      `json:"team"`
	CreatedBy string      `json:"created_by"`
	CreatedAt time.Time   `json:"created_at"`
	Withdrawn *Withdrawal `json:"withdrawn,omitempty"`
}

// WithdrawInput withdraws a relocation or a factor entered in error.
type WithdrawInput struct {
	Reason string `json:"reason"`
}

// Validate checks the reason.
func (in WithdrawInput) Validate() (string, error) {
	return CheckText("reason", in.Reason, MaxReason, true)
}

// Withdrawal says an entry was withdrawn: it stays on the record for the
// history and leaves every rate from the next release.
type Withdrawal struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
}

// FactorInput records a contextual factor an assessment identified: a
// context record (context_id), or a location type in an area (area_kind
// postcode_district with a district such as "E8", or ward with a ward of
// the imported boundary, by id or name).
type FactorInput struct {
	Subject      string `json:"subject"`
	IdentifiedOn string `json:"identified_on"`
	Description  string `json:"description"`
	ContextID    int64  `json:"context_id,omitempty"`
	LocationType string `json:"location_type,omitempty" vocab:"location_types"`
	AreaKind     string `json:"area_kind,omitempty" vocab:"factor_area_kinds"`
	Area         string `json:"area,omitempty"`
}

// FactorFields is a validated factor; a ward is checked by the store
// against the imported boundary.
type FactorFields struct {
	Subject, Description         string
	IdentifiedOn                 time.Time
	ContextID                    int64
	LocationType, AreaKind, Area string
}

// Validate checks a factor on today: exactly one of a context record and a
// location type with an area.
func (in FactorInput) Validate(today time.Time) (FactorFields, error) {
	var f FactorFields
	var err error
	if f.Subject, err = NormalizeSubject(in.Subject); err != nil {
		return f, err
	}
	if f.IdentifiedOn, err = requiredDate("identified_on", in.IdentifiedOn, today); err != nil {
		return f, err
	}
	if f.Description, err = CheckText("description", in.Description, MaxReason, true); err != nil {
		return f, err
	}
	place := in.LocationType != "" || in.AreaKind != "" || in.Area != ""
	switch {
	case in.ContextID < 0:
		return f, InvalidField("context_id", "invalid_id", "context_id must be a positive id")
	case in.ContextID > 0 && place:
		return f, InvalidField("context_id", "factor_place_twice", "give a context record (context_id) or a location type with an area, not both")
	case in.ContextID > 0:
		f.ContextID = in.ContextID
		return f, nil
	case !place:
		return f, InvalidField("context_id", "factor_place_missing", "say where the factor is: a context record (context_id), or a location_type with area_kind and area")
	}
	if f.LocationType, err = checkTerm("location_type", "invalid_location_type", locationTypes, in.LocationType); err != nil {
		return f, err
	}
	if f.AreaKind, err = checkTerm("area_kind", "invalid_area_kind", factorAreaTerms, in.AreaKind); err != nil {
		return f, err
	}
	area := strings.TrimSpace(in.Area)
	if area == "" {
		return f, MissingField("area")
	}
	if f.AreaKind == AreaPostcodeDistrict {
		p, err := geo.ParsePostcode(area)
		if err != nil || p.Precision != geo.PrecisionDistrict {
			return f, Unprocessable("area", "area_not_district", "area must be a postcode district such as \"E8\" (a factor names an area, not an address), not %q", Trunc(area, 40))
		}
		area = p.String()
	} else if area, err = CheckText("area", area, MaxName, true); err != nil {
		return f, err
	}
	f.Area = area
	return f, nil
}

// Factor is one contextual factor as its team sees it, with its plan
// actions. Addressed is false (the reviewer's flag) while no action
// addresses it.
type Factor struct {
	ID           int64  `json:"id"`
	IdentifiedOn string `json:"identified_on"`
	Description  string `json:"description"`
	ContextID    *int64 `json:"context_id,omitempty"`
	ContextName  string `json:"context_name,omitempty"`
	// ContextErased: the context record was erased by retention.
	ContextErased bool           `json:"context_erased,omitempty"`
	LocationType  string         `json:"location_type,omitempty"`
	AreaKind      string         `json:"area_kind,omitempty"`
	Area          string         `json:"area,omitempty"`
	AreaName      string         `json:"area_name,omitempty"`
	Team          string         `json:"team"`
	CreatedBy     string         `json:"created_by"`
	CreatedAt     time.Time      `json:"created_at"`
	Actions       []FactorAction `json:"actions"`
	Addressed     bool           `json:"addressed"`
	Withdrawn     *Withdrawal    `json:"withdrawn,omitempty"`
}

// FactorAddressed is the rule a reviewer and the release both apply: a
// factor is addressed when at least one of its plan actions is not
// dropped. statuses are its actions' statuses.
func FactorAddressed(statuses []string) bool {
	return slices.ContainsFunc(statuses, func(s string) bool { return s != InterventionDropped })
}

// FactorActionInput plans an action addressing a factor.
type FactorActionInput struct {
	Action        string  `json:"action"`
	PartnerAgency string  `json:"partner_agency" vocab:"partner_agencies"`
	Status        *string `json:"status,omitempty" vocab:"intervention_statuses"`
	DueDate       string  `json:"due_date,omitempty"`
	DoneDate      string  `json:"done_date,omitempty"`
}

// FactorActionUpdate progresses an action; absent fields stay.
type FactorActionUpdate struct {
	Action        *string `json:"action,omitempty"`
	PartnerAgency *string `json:"partner_agency,omitempty" vocab:"partner_agencies"`
	Status        *string `json:"status,omitempty" vocab:"intervention_statuses"`
	DueDate       *string `json:"due_date,omitempty"`
	DoneDate      *string `json:"done_date,omitempty"`
}

// Closes reports whether u only ends a plan action: a finished status
// (done or dropped), with its done date at most. A team may still close
// its own actions after the case system has moved the young person to
// another team; any other change is recording for them.
func (u FactorActionUpdate) Closes() bool {
	return u.Action == nil && u.PartnerAgency == nil && u.DueDate == nil && u.Status != nil &&
		(*u.Status == InterventionDone || *u.Status == InterventionDropped)
}

// FactorActionFields is a plan action being validated.
type FactorActionFields struct {
	Action, Agency, Status string
	Due, Done              *time.Time
}

// NewFactorAction reads a new action; Check validates it.
func NewFactorAction(in FactorActionInput) (FactorActionFields, error) {
	f := FactorActionFields{Action: in.Action, Agency: in.PartnerAgency, Status: InterventionPlanned}
	if in.Status != nil {
		if err := refuseBlank("status", "invalid_status", termCodes(interventionStatusTerms), *in.Status); err != nil {
			return f, err
		}
		f.Status = *in.Status
	}
	var err error
	if f.Due, err = parseOptionalDate("due_date", in.DueDate); err != nil {
		return f, err
	}
	f.Done, err = parseOptionalDate("done_date", in.DoneDate)
	return f, err
}

// Apply changes a stored action by an update; Check validates the result.
func (f *FactorActionFields) Apply(in FactorActionUpdate) error {
	for _, g := range []struct {
		field, code, codes string
		v                  *string
	}{
		{"partner_agency", "invalid_partner_agency", termCodes(partnerAgencies), in.PartnerAgency},
		{"status", "invalid_status", termCodes(interventionStatusTerms), in.Status},
	} {
		if g.v != nil {
			if err := refuseBlank(g.field, g.code, g.codes, *g.v); err != nil {
				return err
			}
		}
	}
	if in.Action != nil {
		f.Action = *in.Action
	}
	if in.PartnerAgency != nil {
		f.Agency = *in.PartnerAgency
	}
	if in.Status != nil {
		f.Status = *in.Status
	}
	var err error
	if in.DueDate != nil {
		if f.Due, err = parseOptionalDate("due_date", *in.DueDate); err != nil {
			return err
		}
	}
	if in.DoneDate != nil {
		if f.Done, err = parseOptionalDate("done_date", *in.DoneDate); err != nil {
			return err
		}
	}
	return nil
}

// Check validates an action as interventions on contexts are validated:
// a done action gets today's date if it has none, the due date is planned
// and the done date one of what happened.
func (f *FactorActionFields) Check(today time.Time) error {
	var err error
	if f.Action, err = CheckText("action", f.Action, MaxReason, true); err != nil {
		return err
	}
	if f.Agency, err = checkTerm("partner_agency", "invalid_partner_agency", partnerAgencies, f.Agency); err != nil {
		return err
	}
	if f.Status, err = checkTerm("status", "invalid_status", interventionStatusTerms, f.Status); err != nil {
		return err
	}
	if f.Status == InterventionDone && f.Done == nil {
		f.Done = &today
	}
	if err := checkOptionalDate("due_date", f.Due, planned, today); err != nil {
		return err
	}
	return checkOptionalDate("done_date", f.Done, happened, today)
}

// FactorAction is one plan action as its team sees it.
type FactorAction struct {
	ID            int64     `json:"id"`
	FactorID      int64     `json:"factor_id"`
	Action        string    `json:"action"`
	PartnerAgency string    `json:"partner_agency"`
	Status        string    `json:"status"`
	DueDate       string    `json:"due_date,omitempty"`
	DoneDate      string    `json:"done_date,omitempty"`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ContextualRecord is a young person's markers (history included),
// relocations and factors with their actions, as the actor's team holds
// them. Unaddressed counts the factors (not withdrawn) no action
// addresses.
type ContextualRecord struct {
	Markers     []Marker     `json:"markers"`
	Relocations []Relocation `json:"relocations"`
	Factors     []Factor     `json:"factors"`
	Unaddressed int          `json:"unaddressed"`
}
