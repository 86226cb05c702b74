package contexts

import (
	"errors"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
)

func TestReviewState(t *testing.T) {
	today := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	day := func(d int) *time.Time { x := today.AddDate(0, 0, d); return &x }
	for _, tc := range []struct {
		review *time.Time
		status string
		want   string
	}{
		{nil, StatusOpen, ""},
		{day(-1), StatusOpen, ReviewOverdue},
		{day(0), StatusOpen, ReviewDue},
		{day(ReviewDueDefaultDays), StatusOpen, ReviewDue},
		{day(ReviewDueDefaultDays + 1), StatusOpen, ""},
		{day(-30), StatusClosed, ""},
	} {
		if got := ReviewState(tc.review, tc.status, today); got != tc.want {
			t.Errorf("ReviewState(%v, %s) = %q, want %q", tc.review, tc.status, got, tc.want)
		}
	}
}

func TestDecideClosing(t *testing.T) {
	open := []OpenIntervention{{ID: 1, Action: "Lighting", Status: InterventionPlanned}, {ID: 2, Action: "Patrols", Status: InterventionInProgress}}
	for _, tc := range []struct {
		name      string
		decisions []ClosingDecision
		kind      ctxmap.Kind
		code      string
	}{
		{"none", nil, ctxmap.KindConflict, "open_interventions"},
		{"one missing", []ClosingDecision{{1, DecisionComplete}}, ctxmap.KindConflict, "open_interventions"},
		{"unknown decision", []ClosingDecision{{1, "forget"}, {2, DecisionCancel}}, ctxmap.KindInvalid, "invalid_decision"},
		{"not open", []ClosingDecision{{1, DecisionComplete}, {2, DecisionCancel}, {3, DecisionCancel}}, ctxmap.KindUnprocessable, "not_open_intervention"},
		{"twice", []ClosingDecision{{1, DecisionComplete}, {1, DecisionCancel}, {2, DecisionCancel}}, ctxmap.KindInvalid, "duplicate_decision"},
	} {
		_, err := DecideClosing(open, tc.decisions)
		var e *ctxmap.Error
		if !errors.As(err, &e) || e.Kind != tc.kind || e.Code != tc.code {
			t.Errorf("%s: %v, want %v %s", tc.name, err, tc.kind, tc.code)
		}
	}
	got, err := DecideClosing(open, []ClosingDecision{{2, DecisionCarryOver}, {1, DecisionComplete}})
	if err != nil || got[1] != DecisionComplete || got[2] != DecisionCarryOver {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := DecideClosing(nil, nil); err != nil || len(got) != 0 {
		t.Fatalf("nothing open: %v %v", got, err)
	}
}

func TestChronologyWords(t *testing.T) {
	d := func(s string) *time.Time { x, _ := time.Parse(time.DateOnly, s); return &x }
	before := InterventionFields{Action: "Lighting", Agency: "parks", Side: SideEnvironment, Status: InterventionPlanned, Due: d("2027-01-01")}
	after := before
	after.Status, after.Due, after.Side, after.Agency = InterventionDone, d("2027-02-01"), SideGuardianship, "police"
	if got, want := InterventionChanges(KindLocation, before, after, true, false),
		"Intervention ‘Lighting’ status Planned → Done; partner Parks and open spaces → Police; triangle side Environment and wider systems → Guardianship capacity; due date 1 Jan 2027 → 1 Feb 2027; outcome recorded"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	c := &Context{Name: ""}
	if got, want := ContextChanges(c, "", d("2027-01-01"), ContextChange{ReviewDate: d("2027-03-01"), ReviewSet: true}),
		"Review date changed from 1 Jan 2027 to 1 Mar 2027"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := ContextChanges(c, "", d("2027-01-01"), ContextChange{ReviewSet: true}); got != "Review date cleared (was 1 Jan 2027)" {
		t.Errorf("cleared: %q", got)
	}
	// A description saved as it was is not a change, beside one that is.
	same, renamed := "Evenings mostly", "Chicken Palace"
	if got := ContextChanges(c, same, nil, ContextChange{Name: &renamed, Description: &same}); got != "Name set to ‘Chicken Palace’" {
		t.Errorf("unchanged description: %q", got)
	}
	if got := ClosingSummary("CCTV", InterventionInProgress, DecisionComplete); got != "Intervention ‘CCTV’ completed at closing: status In progress → Done" {
		t.Errorf("closing: %q", got)
	}
}
