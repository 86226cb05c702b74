package contexts

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
)

// This file holds the rules of the Level 2 work on a context record
// (assessments, interventions, closing, reopening, links, edits) and of the
// taxonomy's administration: everything that can be decided without the
// database, so the store only reads, locks and writes.

// CheckSide validates a triangle side for a context of kind.
func CheckSide(field, kind, side string) (string, error) {
	for _, k := range contextKinds {
		if k.Code == kind {
			return checkTerm(field, "invalid_side", k.Sides, side)
		}
	}
	return "", fmt.Errorf("context of unknown kind %q", kind)
}

// Validate checks an assessment's note; its side is checked against the
// context's kind with CheckSide once the context is known.
func (in AssessmentInput) Validate() (AssessmentInput, error) {
	var err error
	in.Note, err = CheckText("note", in.Note, MaxNote, true)
	return in, err
}

// InterventionFields is a validated intervention, new or updated.
type InterventionFields struct {
	Action, Agency, Side, Status string
	Due, Done                    *time.Time
	// Outcome is what the action achieved; Notes anything else the
	// partnership should know. Both thematic, both screened.
	Outcome, Notes string
}

// NewIntervention reads a new intervention's dates and defaults a status
// left out to planned (a status given empty is refused); Check validates
// the rest once the context's kind is known.
func NewIntervention(in InterventionInput) (InterventionFields, error) {
	f := InterventionFields{Action: in.Action, Agency: in.PartnerAgency, Side: in.Side, Status: InterventionPlanned,
		Outcome: in.Outcome, Notes: in.Notes}
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
	if f.Done, err = parseOptionalDate("done_date", in.DoneDate); err != nil {
		return f, err
	}
	return f, f.checkDone()
}

// Apply changes the stored intervention f by an update; Check validates
// the result.
func (f *InterventionFields) Apply(in InterventionUpdate) error {
	for _, g := range []struct {
		field, code, codes string
		v                  *string
	}{
		{"partner_agency", "invalid_partner_agency", termCodes(partnerAgencies), in.PartnerAgency},
		{"side", "invalid_side", strings.Join(SideCodes, ", "), in.Side},
		{"status", "invalid_status", termCodes(interventionStatusTerms), in.Status},
	} {
		if g.v != nil {
			if err := refuseBlank(g.field, g.code, g.codes, *g.v); err != nil {
				return err
			}
		}
	}
	var err error
	if in.Action != nil {
		f.Action = *in.Action
	}
	if in.PartnerAgency != nil {
		f.Agency = *in.PartnerAgency
	}
	if in.Side != nil {
		f.Side = *in.Side
	}
	if in.Status != nil {
		f.Status = *in.Status
	}
	if in.Outcome != nil {
		f.Outcome = *in.Outcome
	}
	if in.Notes != nil {
		f.Notes = *in.Notes
	}
	if in.DueDate != nil {
		if f.Due, err = parseOptionalDate("due_date", *in.DueDate); err != nil {
			return err
		}
	}
	if in.DoneDate != nil {
		if f.Done, err = parseOptionalDate("done_date", *in.DoneDate); err != nil {
			return err
		}
	} else if in.Status != nil && !f.Finished() {
		// Back to planned or in progress: the old completion date no
		// longer says anything true.
		f.Done = nil
	}
	return f.checkDone()
}

// checkDone refuses a done date on an intervention still planned or in
// progress.
func (f *InterventionFields) checkDone() error {
	if f.Done != nil && !f.Finished() {
		return ctxmap.Errorf(ctxmap.KindInvalid, "done_date_not_finished",
			"done_date is for a done or dropped intervention, and this one is %s; send done_date \"\" or a finished status", f.Status).
			WithDetail("field", "done_date")
	}
	return nil
}

// Finished reports whether the intervention's status ends the work (done
// or dropped), the only statuses that carry a done date.
func (f *InterventionFields) Finished() bool {
	return f.Status == InterventionDone || f.Status == InterventionDropped
}

// Check validates the whole intervention after a create or an update has
// been applied: a done intervention gets today's date if it has none, the
// due date is a planned date and the done date one of what happened, inside
// the date window (dates.go) on today.
func (f *InterventionFields) Check(kind string, today time.Time) error {
	var err error
	if f.Action, err = CheckText("action", f.Action, MaxReason, true); err != nil {
		return err
	}
	if f.Outcome, err = CheckText("outcome", f.Outcome, MaxNote, false); err != nil {
		return err
	}
	if f.Notes, err = CheckText("notes", f.Notes, MaxNote, false); err != nil {
		return err
	}
	if f.Agency, err = checkTerm("partner_agency", "invalid_partner_agency", partnerAgencies, f.Agency); err != nil {
		return err
	}
	if f.Side, err = CheckSide("side", kind, f.Side); err != nil {
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

// Texts are the intervention's free-text fields, to screen for personal
// data.
func (f InterventionFields) Texts() []TextField {
	return []TextField{{"action", f.Action}, {"outcome", f.Outcome}, {"notes", f.Notes}}
}

// Closing is a validated CloseInput: the reason and the evidence under
// each side, in SideCodes order.
type Closing struct {
	Reason   string
	Evidence []string
}

// Validate checks a closure: a reason and evidence under every side of the
// triangle, and nothing keyed by an unknown side.
func (in CloseInput) Validate() (Closing, error) {
	var c Closing
	var err error
	if c.Reason, err = CheckText("reason", in.Reason, MaxReason, true); err != nil {
		return c, err
	}
	for side := range in.Evidence {
		if side != SideNeeds && side != SideGuardianship && side != SideEnvironment {
			return c, InvalidField("evidence", "invalid_side", "evidence is keyed by side: needs, guardianship, environment; not %q", Trunc(side, 40))
		}
	}
	c.Evidence = make([]string, len(SideCodes))
	for i, side := range SideCodes {
		if c.Evidence[i], err = CheckText("evidence."+side, in.Evidence[side], MaxNote, true); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Texts are the closure's free-text fields, to screen for personal data.
func (c Closing) Texts() []TextField {
	fields := []TextField{{"reason", c.Reason}}
	for i, side := range SideCodes {
		fields = append(fields, TextField{"evidence." + side, c.Evidence[i]})
	}
	return fields
}

// Validate checks the reason for reopening a context.
func (in ReopenInput) Validate() (ReopenInput, error) {
	var err error
	in.Reason, err = CheckText("reason", in.Reason, MaxReason, true)
	return in, err
}

// Validate checks a link: the young person's id (normalised) and a reason.
func (in LinkInput) Validate() (LinkInput, error) {
	var err error
	if in.Subject, err = NormalizeSubject(in.Subject); err != nil {
		return in, err
	}
	if in.Label, err = CheckText("label", in.Label, MaxLinkLabel, false); err != nil {
		return in, err
	}
	in.Reason, err = CheckText("reason", in.Reason, MaxReason, true)
	return in, err
}

// MaxLinkLabel is the length of a link's team label in characters.
const MaxLinkLabel = 100

// Validate checks a link's new label (empty clears it) and returns it.
func (in LinkLabelInput) Validate() (string, error) {
	if in.Label == nil {
		return "", MissingField("label")
	}
	return CheckText("label", *in.Label, MaxLinkLabel, false)
}

// Validate checks the reason for removing a link.
func (in UnlinkInput) Validate() (UnlinkInput, error) {
	var err error
	in.Reason, err = CheckText("reason", in.Reason, MaxReason, true)
	return in, err
}

// Validate checks why a harm location is archived and the note saying so.
func (in ArchiveInput) Validate() (ArchiveInput, error) {
	var err error
	if in.Reason, err = checkTerm("reason", "invalid_archive_reason", archiveReasonTerms, in.Reason); err != nil {
		return in, err
	}
	in.Note, err = CheckText("note", in.Note, MaxNote, true)
	return in, err
}

// ContextChange is a validated ContextUpdate: nil fields stay as they are.
type ContextChange struct {
	Name, Description *string
	ReviewDate        *time.Time
	ReviewSet         bool
	// Changed names what changes, for the chronology.
	Changed []string
}

// Validate checks a context update; at least one field must change. A
// review date is a planned date, judged on the UK calendar day of now.
func (in ContextUpdate) Validate(now time.Time) (ContextChange, error) {
	var ch ContextChange
	if in.Name != nil {
		v, err := CheckText("name", *in.Name, MaxName, false)
		if err != nil {
			return ch, err
		}
		ch.Name, ch.Changed = &v, append(ch.Changed, "name")
	}
	if in.Description != nil {
		v, err := CheckText("description", *in.Description, MaxNote, false)
		if err != nil {
			return ch, err
		}
		ch.Description, ch.Changed = &v, append(ch.Changed, "description")
	}
	if in.ReviewDate != nil {
		v, err := parseOptionalDate("review_date", *in.ReviewDate)
		if err == nil {
			err = checkOptionalDate("review_date", v, planned, UKDay(now))
		}
		if err != nil {
			return ch, err
		}
		ch.ReviewDate, ch.ReviewSet, ch.Changed = v, true, append(ch.Changed, "review date")
	}
	if len(ch.Changed) == 0 {
		return ch, ctxmap.Errorf(ctxmap.KindInvalid, "nothing_to_update", "give at least one of name, description, review_date")
	}
	return ch, nil
}

// Texts are the changed free-text fields, to screen for personal data.
func (ch ContextChange) Texts() []TextField {
	var fields []TextField
	if ch.Name != nil {
		fields = append(fields, TextField{"name", *ch.Name})
	}
	if ch.Description != nil {
		fields = append(fields, TextField{"description", *ch.Description})
	}
	return fields
}

// Rename works out a context's new name, display name and identity key:
// only locations may be nameless, and a location known by a coordinate
// alone has no key.
func (ch ContextChange) Rename(c *Context) (name, display string, key *string, err error) {
	name = c.Name
	if ch.Name != nil {
		name = *ch.Name
	}
	if c.Kind != KindLocation && name == "" {
		return "", "", nil, MissingField("name")
	}
	display = DisplayName(c.LocationType, name, c.Postcode, c.Lat, c.Lon)
	key = DedupeKey(c.Kind, c.LocationType, name, c.Postcode)
	if c.Kind == KindLocation && c.Postcode == "" {
		key = nil
	}
	return name, display, key, nil
}

var (
	categoryCodeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)
	censusCodeRE   = regexp.MustCompile(`^[0-9]{1,2}[A-Z]$`)
)

// CategoryInput adds a harm category to the deployment's taxonomy.
type CategoryInput struct {
	Code          string `json:"code"`
	Label         string `json:"label"`
	CensusCode    string `json:"census_code,omitempty"`
	ExtraFamilial bool   `json:"extra_familial"`
}

// Validate checks a new harm category: a permanent code, a label and
// optionally a CIN census code.
func (in CategoryInput) Validate() (CategoryInput, error) {
	in.Code = strings.TrimSpace(in.Code)
	if !categoryCodeRE.MatchString(in.Code) {
		return in, InvalidField("code", "invalid_code", "code must be 2-40 lower-case letters, digits or underscores, starting with a letter")
	}
	if ctxmap.ReservedCategory(in.Code) {
		return in, InvalidField("code", "reserved_code", "code %q is reserved: the map uses it as a filter of its own", in.Code)
	}
	var err error
	if in.Label, err = CheckText("label", in.Label, 100, true); err != nil {
		return in, err
	}
	in.CensusCode = strings.ToUpper(strings.TrimSpace(in.CensusCode))
	if in.CensusCode != "" && !censusCodeRE.MatchString(in.CensusCode) {
		return in, InvalidField("census_code", "invalid_census_code", "census_code must look like 11A")
	}
	return in, nil
}

// Limits of the nearby search. A radius beyond 50 km is no longer "near"
// and would turn the search into a listing.
const (
	MaxNearbyRadiusM = 50_000
	MaxNearbyLimit   = 500
)

// CheckNearby validates a nearby search and returns the limit to use.
func CheckNearby(radiusM float64, kind, status string, limit int) (int, error) {
	if radiusM <= 0 || radiusM > MaxNearbyRadiusM {
		return 0, InvalidField("radius_m", "invalid_radius", "radius_m must be between 1 and %d", MaxNearbyRadiusM)
	}
	if kind != "" && kind != KindLocation && kind != KindGroup && kind != KindSchool {
		return 0, InvalidField("kind", "invalid_kind", "kind must be location, group or school")
	}
	if err := CheckStatusFilter(status); err != nil {
		return 0, err
	}
	if limit <= 0 || limit > MaxNearbyLimit {
		limit = 50
	}
	return limit, nil
}

// CheckStatusFilter validates a status filter: open, closed or "" for both.
func CheckStatusFilter(status string) error {
	if status != "" && status != StatusOpen && status != StatusClosed {
		return InvalidField("status", "invalid_status", "status must be open or closed")
	}
	return nil
}
