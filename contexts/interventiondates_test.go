package contexts

import (
	"errors"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
)

// TestADoneDateGoesWithAFinishedStatus: moving a done intervention back to
// planned drops its done date instead of keeping one that no longer says
// anything true, and a done date sent with an open status is refused.
func TestADoneDateGoesWithAFinishedStatus(t *testing.T) {
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	s := func(v string) *string { return &v }
	f := InterventionFields{Action: "Lighting", Agency: "parks", Side: "environment", Status: InterventionDone, Done: &day}
	if err := f.Apply(InterventionUpdate{Status: s(InterventionPlanned)}); err != nil || f.Done != nil {
		t.Fatalf("back to planned: %v, done date %v", err, f.Done)
	}
	g := InterventionFields{Action: "Lighting", Agency: "parks", Side: "environment", Status: InterventionDone, Done: &day}
	err := g.Apply(InterventionUpdate{Status: s(InterventionInProgress), DoneDate: s("2026-11-01")})
	var e *ctxmap.Error
	if !errors.As(err, &e) || e.Code != "done_date_not_finished" {
		t.Fatalf("in progress with a done date: %v", err)
	}
	h := InterventionFields{Action: "Lighting", Agency: "parks", Side: "environment", Status: InterventionDone, Done: &day}
	if err := h.Apply(InterventionUpdate{Notes: s("Council paid")}); err != nil || h.Done == nil {
		t.Fatalf("a note on a done intervention: %v, done date %v", err, h.Done)
	}
}
