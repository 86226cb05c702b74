package contexts

import (
	"fmt"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
)

// This file holds the rules of the context lead's workspace (issue 14): the
// list and its filters, near-duplicates offered before a record is opened,
// what happens to open interventions when a context closes, and the
// chronology in words rather than codes.

// Limits of the workspace list and its name search.
const (
	MaxListLimit     = 500
	DefaultListLimit = 100
	MaxSearchText    = 100
	// SimilarRadiusM is how near another record of the same location type
	// must be to be offered as a possible duplicate before a new one opens.
	SimilarRadiusM = 100
	// SimilarName is the pg_trgm similarity of two names (0..1) from which
	// they are offered as possibly the same record.
	SimilarName = 0.5
)

// ContextQuery is the workspace list: a name search and filters, each
// empty for "any".
type ContextQuery struct {
	// Q is matched against the display name, the name and the postcode.
	Q            string
	Kind         string
	Status       string
	LocationType string
	// Review is "due" (within ReviewDueDefaultDays) or "overdue".
	Review        string
	PartnerAgency string
	Limit         int
	// Today is the UK calendar day the review states are judged on.
	Today time.Time
}

// Validate checks the filters against the controlled lists and trims the
// search text.
func (q *ContextQuery) Validate(now time.Time) error {
	var err error
	if q.Q, err = CheckText("q", q.Q, MaxSearchText, false); err != nil {
		return err
	}
	if q.Kind != "" && q.Kind != KindLocation && q.Kind != KindGroup && q.Kind != KindSchool {
		return InvalidField("kind", "invalid_kind", "kind must be location, group or school")
	}
	if q.Status == "all" {
		q.Status = ""
	}
	if err := CheckStatusFilter(q.Status); err != nil {
		return err
	}
	if q.LocationType != "" {
		if _, err := checkTerm("location_type", "invalid_location_type", locationTypes, q.LocationType); err != nil {
			return err
		}
	}
	if q.Review != "" && q.Review != ReviewDue && q.Review != ReviewOverdue {
		return InvalidField("review", "invalid_review", "review must be due or overdue")
	}
	if q.PartnerAgency != "" {
		if _, err := checkTerm("partner_agency", "invalid_partner_agency", partnerAgencies, q.PartnerAgency); err != nil {
			return err
		}
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultListLimit
	case q.Limit < 0 || q.Limit > MaxListLimit:
		return InvalidField("limit", "invalid_limit", "limit must be 1..%d", MaxListLimit)
	}
	q.Today = UKDay(now)
	return nil
}

// ReviewState is the state of a context's review date on today: "overdue"
// once it has passed, "due" within ReviewDueDefaultDays, else empty. A
// closed context has no review due.
func ReviewState(review *time.Time, status string, today time.Time) string {
	if review == nil || status != StatusOpen {
		return ""
	}
	switch {
	case review.Before(today):
		return ReviewOverdue
	case !review.After(today.AddDate(0, 0, ReviewDueDefaultDays)):
		return ReviewDue
	}
	return ""
}

// SimilarContext is an existing record that may be the one about to be
// opened: the same location type within SimilarRadiusM, or a similar name.
type SimilarContext struct {
	ContextListItem
	// Nearby: of the same location type within SimilarRadiusM.
	Nearby bool `json:"nearby"`
	// SimilarName: its name reads like the new one's.
	SimilarName bool `json:"similar_name"`
}

// Similar is what POST /api/v1/contexts/similar answers: the name the new
// record would have, and the records it may duplicate, nearest first.
type Similar struct {
	DisplayName string           `json:"display_name"`
	Similar     []SimilarContext `json:"similar"`
}

// Decisions on an open intervention when its context closes.
const (
	DecisionComplete  = "complete"
	DecisionCancel    = "cancel"
	DecisionCarryOver = "carry_over"
)

var closingDecisionTerms = []Term{
	{Code: DecisionComplete, Label: "Complete it (done today)"},
	{Code: DecisionCancel, Label: "Cancel it (dropped)"},
	{Code: DecisionCarryOver, Label: "Carry it over (it stays open with the partner)"},
}

// OpenIntervention is a planned or in-progress intervention as the closing
// rules need it.
type OpenIntervention struct {
	ID     int64  `json:"id"`
	Action string `json:"action"`
	Status string `json:"status"`
}

// IsOpenIntervention tells whether an intervention in status is still to be
// done (planned or in progress).
func IsOpenIntervention(status string) bool {
	return status == InterventionPlanned || status == InterventionInProgress
}

// DecideClosing matches the decisions of a close with the context's open
// interventions: every open one needs exactly one decision (else 409
// open_interventions, listing what is missing, so the client can ask), and
// a decision may name only an open intervention of this context (422).
func DecideClosing(open []OpenIntervention, decisions []ClosingDecision) (map[int64]string, error) {
	byID := make(map[int64]OpenIntervention, len(open))
	for _, o := range open {
		byID[o.ID] = o
	}
	out := make(map[int64]string, len(decisions))
	for _, d := range decisions {
		if _, err := checkTerm("interventions.decision", "invalid_decision", closingDecisionTerms, d.Decision); err != nil {
			return nil, err
		}
		if _, ok := byID[d.ID]; !ok {
			return nil, Unprocessable("interventions", "not_open_intervention",
				"intervention %d is not a planned or in-progress intervention of this context", d.ID)
		}
		if _, dup := out[d.ID]; dup {
			return nil, InvalidField("interventions", "duplicate_decision", "intervention %d has two decisions", d.ID)
		}
		out[d.ID] = d.Decision
	}
	var missing []OpenIntervention
	for _, o := range open {
		if _, ok := out[o.ID]; !ok {
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 {
		return nil, ctxmap.Errorf(ctxmap.KindConflict, "open_interventions",
			"%d planned or in-progress intervention(s) are still open: say for each whether to complete, cancel or carry it over", len(missing)).
			WithDetail("interventions", missing)
	}
	return out, nil
}

// ClosingSummary is the chronology's words for a decision at closing.
func ClosingSummary(action, oldStatus, decision string) string {
	from := StatusLabel(oldStatus)
	switch decision {
	case DecisionComplete:
		return fmt.Sprintf("Intervention %s completed at closing: status %s → Done", Quote(action), from)
	case DecisionCancel:
		return fmt.Sprintf("Intervention %s cancelled at closing: status %s → Dropped", Quote(action), from)
	}
	return fmt.Sprintf("Intervention %s carried over at closing: stays %s with the partner", Quote(action), strings.ToLower(from))
}

// StatusLabel is an intervention status in words.
func StatusLabel(code string) string {
	if l, ok := termLabel(interventionStatusTerms, code); ok {
		return l
	}
	return code
}

// HumanDate writes a date as people read it: "1 Mar 2027", or "none".
func HumanDate(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.Format("2 Jan 2006")
}

// Quote puts an action or name in quotation marks for the chronology,
// shortened to 80 characters.
func Quote(s string) string { return "‘" + Trunc(s, 80) + "’" }

// InterventionChanges are the chronology's words for an update of an
// intervention of a context of kind: which one, and each changed value
// from old to new, as labels, never codes.
func InterventionChanges(kind string, before, after InterventionFields, outcomeChanged, notesChanged bool) string {
	var parts []string
	if before.Status != after.Status {
		parts = append(parts, fmt.Sprintf("status %s → %s", StatusLabel(before.Status), StatusLabel(after.Status)))
	}
	if before.Agency != after.Agency {
		from, _ := PartnerAgencyLabel(before.Agency)
		to, _ := PartnerAgencyLabel(after.Agency)
		parts = append(parts, fmt.Sprintf("partner %s → %s", from, to))
	}
	if before.Side != after.Side {
		from, _ := SideLabel(kind, before.Side)
		to, _ := SideLabel(kind, after.Side)
		parts = append(parts, fmt.Sprintf("triangle side %s → %s", from, to))
	}
	if !sameDate(before.Due, after.Due) {
		parts = append(parts, fmt.Sprintf("due date %s → %s", HumanDate(before.Due), HumanDate(after.Due)))
	}
	if !sameDate(before.Done, after.Done) {
		parts = append(parts, fmt.Sprintf("done date %s → %s", HumanDate(before.Done), HumanDate(after.Done)))
	}
	if before.Action != after.Action {
		parts = append(parts, fmt.Sprintf("action renamed from %s", Quote(before.Action)))
	}
	if outcomeChanged {
		parts = append(parts, "outcome recorded")
	}
	if notesChanged {
		parts = append(parts, "notes updated")
	}
	if len(parts) == 0 {
		parts = append(parts, "saved with no change")
	}
	return fmt.Sprintf("Intervention %s %s", Quote(after.Action), strings.Join(parts, "; "))
}

// ContextChanges are the chronology's words for an update of a context:
// each changed field, with the dates of a review date change.
func ContextChanges(c *Context, oldDescription string, oldReview *time.Time, ch ContextChange) string {
	parts := contextChangeParts(c, oldDescription, oldReview, ch)
	if len(parts) == 0 {
		return "Saved with no change"
	}
	return strings.Join(parts, "; ")
}

// ContextUnchanged reports whether ch would leave c as it is: its name, its
// description (oldDescription) and its review date (oldReview) already
// hold what ch sets. Saving an unchanged form is then no change at all: no
// chronology entry, no notification to the linked teams, no webhook.
func ContextUnchanged(c *Context, oldDescription string, oldReview *time.Time, ch ContextChange) bool {
	return len(contextChangeParts(c, oldDescription, oldReview, ch)) == 0
}

// contextChangeParts words each field ch changes, so that what counts as a
// change and what the chronology says are one decision.
func contextChangeParts(c *Context, oldDescription string, oldReview *time.Time, ch ContextChange) []string {
	var parts []string
	if ch.Name != nil && *ch.Name != c.Name {
		if c.Name == "" {
			parts = append(parts, fmt.Sprintf("Name set to %s", Quote(*ch.Name)))
		} else {
			parts = append(parts, fmt.Sprintf("Name changed from %s to %s", Quote(c.Name), Quote(*ch.Name)))
		}
	}
	if ch.Description != nil && *ch.Description != oldDescription {
		parts = append(parts, "Description updated")
	}
	if ch.ReviewSet && !sameDate(oldReview, ch.ReviewDate) {
		switch {
		case oldReview == nil:
			parts = append(parts, "Review date set to "+HumanDate(ch.ReviewDate))
		case ch.ReviewDate == nil:
			parts = append(parts, "Review date cleared (was "+HumanDate(oldReview)+")")
		default:
			parts = append(parts, fmt.Sprintf("Review date changed from %s to %s", HumanDate(oldReview), HumanDate(ch.ReviewDate)))
		}
	}
	return parts
}

func sameDate(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
