package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// TestAllocationsDecideWhoAPractitionerMayRecord: with allocations required
// (issue 15), a practitioner records for and links only young people the
// case system's latest feed allocates to their team; anyone else is 403
// not_allocated and nothing is written, whether or not the young person is
// allocated elsewhere. A new feed replaces the old one.
func TestAllocationsDecideWhoAPractitionerMayRecord(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithAllocationsRequired(true))

	_, err := s.CreateHarmLocation(ctx, f.pracA, harmInput("ALLOC-1"))
	wantCode(t, err, ctxmap.KindForbidden, "no_allocations")

	rep := must[*contexts.AllocationReport](t)(s.ReplaceAllocations(ctx, f.admin, []contexts.Allocation{
		{Subject: "alloc-1", Team: "Hackney North"}, {Subject: " ALLOC-2 ", Team: "Hackney South"},
		{Subject: "ALLOC-1", Team: "Hackney North"}, // a repeat is one allocation
	}))
	if rep.Rows != 3 || rep.YoungPeople != 2 || rep.Teams != 2 {
		t.Fatalf("report %+v", rep)
	}
	mine := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("ALLOC-1")))
	marker := must[*contexts.Marker](t)(s.AddMarker(ctx, f.pracA, contexts.MarkerInput{Subject: "ALLOC-1", Kind: "referral", Familial: "extra", Date: "2026-01-05"}))
	factor := must[*contexts.Factor](t)(s.AddFactor(ctx, f.pracA, contexts.FactorInput{Subject: "ALLOC-1", IdentifiedOn: "2026-01-07", Description: "Gathering at the park",
		LocationType: "park", AreaKind: contexts.AreaPostcodeDistrict, Area: "E8"}))
	before := f.counts(t)
	for _, subject := range []string{"ALLOC-2", "NOBODY-9"} { // another team's, and nobody's: the same answer
		_, err := s.CreateHarmLocation(ctx, f.pracA, harmInput(subject))
		e := wantCode(t, err, ctxmap.KindForbidden, "not_allocated")
		if strings.Contains(e.Message, "Hackney South") || strings.Contains(e.Message, subject) {
			t.Fatalf("the refusal names another team or the id: %s", e.Message)
		}
	}
	if after := f.counts(t); after["harm_locations"] != before["harm_locations"] || after["subjects"] != before["subjects"] {
		t.Fatalf("a refused record wrote: %v -> %v", before, after)
	}
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Lat: ptr(51.545), Lon: ptr(-0.055)}))
	before = f.counts(t)
	_, err = s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "ALLOC-2", Reason: "Seen here"})
	wantCode(t, err, ctxmap.KindForbidden, "not_allocated")
	if after := f.counts(t); after["context_links"] != before["context_links"] || after["subjects"] != before["subjects"] {
		t.Fatalf("a refused link wrote: %v -> %v", before, after)
	}
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracB, park.ID, contexts.LinkInput{Subject: "ALLOC-2", Reason: "Seen here"}))
	myLink := must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "ALLOC-1", Reason: "Seen here"}))
	lighting := must[*contexts.FactorAction](t)(s.AddFactorAction(ctx, f.pracA, factor.ID, contexts.FactorActionInput{Action: "Lighting", PartnerAgency: "parks"}))
	cctv := must[*contexts.FactorAction](t)(s.AddFactorAction(ctx, f.pracA, factor.ID, contexts.FactorActionInput{Action: "CCTV", PartnerAgency: "parks"}))

	// Tonight's feed moves ALLOC-1 to Hackney South.
	must[*contexts.AllocationReport](t)(s.ReplaceAllocations(ctx, nil, []contexts.Allocation{{Subject: "ALLOC-1", Team: "Hackney South"}}))
	_, err = s.CreateHarmLocation(ctx, f.pracA, harmInput("ALLOC-1"))
	wantCode(t, err, ctxmap.KindForbidden, "not_allocated")
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracB, harmInput("ALLOC-1")))
	// Correcting what the team recorded, or planning work for it, is
	// recording for the young person too; taking a wrong entry out is not.
	entries := func() (n int) {
		if err := f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM harm_location_types) + (SELECT count(*) FROM yp_markers)
			+ (SELECT count(*) FROM yp_factor_actions)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	was := entries()
	_, err = s.CorrectCategories(ctx, f.pracA, mine.ID, contexts.CategoryCorrection{
		Add: []contexts.TypeInput{{Category: "cse", Started: "2026-01"}}, Note: "Also sexual exploitation"})
	wantCode(t, err, ctxmap.KindForbidden, "not_allocated")
	_, err = s.CorrectMarker(ctx, f.pracA, marker.ID, contexts.MarkerCorrection{Familial: "both", Date: "2026-01-05", Reason: "Reviewed"})
	wantCode(t, err, ctxmap.KindForbidden, "not_allocated")
	_, err = s.AddFactorAction(ctx, f.pracA, factor.ID, contexts.FactorActionInput{Action: "Street lighting", PartnerAgency: "parks"})
	wantCode(t, err, ctxmap.KindForbidden, "not_allocated")
	_, err = s.UpdateFactorAction(ctx, f.pracA, factor.ID, lighting.ID, contexts.FactorActionUpdate{Status: ptr("in_progress")})
	wantCode(t, err, ctxmap.KindForbidden, "not_allocated")
	if now := entries(); now != was {
		t.Fatalf("a refused correction wrote: %d -> %d entries", was, now)
	}
	_, err = s.LabelLink(ctx, f.pracA, park.ID, myLink.ID, contexts.LinkLabelInput{Label: ptr("Older peers")})
	wantCode(t, err, ctxmap.KindForbidden, "not_allocated")
	// Ending its own entries stays open to the old team: removing a type
	// recorded in error, closing a plan action, archiving, withdrawing.
	must[*contexts.HarmLocation](t)(s.CorrectCategories(ctx, f.pracA, mine.ID, contexts.CategoryCorrection{Remove: []string{"county_lines"}, Note: "Not county lines"}))
	must[*contexts.FactorAction](t)(s.UpdateFactorAction(ctx, f.pracA, factor.ID, cctv.ID, contexts.FactorActionUpdate{Status: ptr("dropped")}))
	must[*contexts.HarmLocation](t)(s.ArchiveHarmLocation(ctx, f.pracA, mine.ID, contexts.ArchiveInput{Reason: contexts.ArchiveNeverAnIssue, Note: "Wrong young person"}))
	must[*contexts.Factor](t)(s.WithdrawFactor(ctx, f.pracA, factor.ID, contexts.WithdrawInput{Reason: "Entered in error"}))

	st := must[*contexts.AllocationStatus](t)(s.AllocationStatus(ctx))
	if !st.Required || st.Latest == nil || st.Latest.YoungPeople != 1 {
		t.Fatalf("status %+v", st)
	}
	var ids int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'allocations.replace'
		AND detail::text NOT LIKE '%ALLOC%'`).Scan(&ids); err != nil || ids != 2 {
		t.Fatalf("feeds audited without ids: %d %v", ids, err)
	}
}

// TestABadAllocationsFeedLoadsNothing: one unknown team or bad id refuses
// the whole feed with every bad line, and the previous feed stays.
func TestABadAllocationsFeedLoadsNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	must[*contexts.AllocationReport](t)(s.ReplaceAllocations(ctx, f.admin, []contexts.Allocation{{Subject: "KEEP-1", Team: "Hackney North"}}))
	rep, err := s.ReplaceAllocations(ctx, f.admin, []contexts.Allocation{
		{Subject: "NEW-1", Team: "Hackney North"}, {Subject: "", Team: "Hackney North"}, {Subject: "NEW-3", Team: "Hackney East"}, {Subject: "NEW 4", Team: "Hackney North"}})
	e := wantCode(t, err, ctxmap.KindUnprocessable, "allocations_invalid")
	if rep == nil || len(rep.Errors) != 3 || e.Details["errors"] == nil {
		t.Fatalf("errors %+v", rep)
	}
	// A JSON feed's errors count its items from 1; an unknown team is
	// reported at the first item naming it.
	lines := map[string]int{}
	for _, re := range rep.Errors {
		lines[re.Code] = re.Line
	}
	if lines["unknown_team"] != 3 || lines["missing_field"] != 2 {
		t.Fatalf("error lines %+v", rep.Errors)
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM allocations`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("allocations after a refused feed: %d %v", n, err)
	}
	_, err = s.ReplaceAllocations(ctx, f.admin, nil)
	wantCode(t, err, ctxmap.KindInvalid, "missing_field")
	// Without allocations required, nothing is checked.
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("NOT-FED")))
}
