package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// The workspace list finds records by name, not only near a postcode, and
// filters them by kind, status, location type, review state and partner
// agency, with the review date and its state on every item.
func TestListContextsSearchAndFilters(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.store, context.Background()
	open := func(in contexts.ContextInput) *contexts.Context {
		return must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, in))
	}
	street := open(contexts.ContextInput{Kind: "location", LocationType: "street", Name: "Market Street", Postcode: "E8 3AA", ReviewDate: "2026-03-25"})
	park := open(contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AB", ReviewDate: "2026-09-01"})
	online := open(contexts.ContextInput{Kind: "group", Name: "Online group around a chat server"})
	if online.Lat != nil || online.Postcode != "" {
		t.Fatalf("an online group got a place: %+v", online)
	}
	must[*contexts.Intervention](t)(s.AddIntervention(ctx, f.lead, park.ID, contexts.InterventionInput{Action: "Lighting", PartnerAgency: "parks", Side: "environment"}))
	// Make the park's review overdue as if time had passed.
	if _, err := f.pool.Exec(ctx, `UPDATE contexts SET review_date = '2026-03-01' WHERE id = $1`, park.ID); err != nil {
		t.Fatal(err)
	}
	list := func(q contexts.ContextQuery) []int64 {
		t.Helper()
		var ids []int64
		for _, c := range must[[]contexts.ContextListItem](t)(s.ListContexts(ctx, f.analyst, q)) {
			ids = append(ids, c.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		q    contexts.ContextQuery
		want []int64
	}{
		{"all, overdue first", contexts.ContextQuery{}, []int64{park.ID, street.ID, online.ID}},
		{"by name", contexts.ContextQuery{Q: "market street"}, []int64{street.ID}},
		{"by a misspelt name", contexts.ContextQuery{Q: "Markett Stret"}, []int64{street.ID}},
		{"by postcode without its space", contexts.ContextQuery{Q: "e83ab"}, []int64{park.ID}},
		{"kind", contexts.ContextQuery{Kind: "group"}, []int64{online.ID}},
		{"location type", contexts.ContextQuery{LocationType: "park"}, []int64{park.ID}},
		{"overdue", contexts.ContextQuery{Review: "overdue"}, []int64{park.ID}},
		{"due", contexts.ContextQuery{Review: "due"}, []int64{street.ID}},
		{"partner agency", contexts.ContextQuery{PartnerAgency: "parks"}, []int64{park.ID}},
		{"closed", contexts.ContextQuery{Status: "closed"}, nil},
	} {
		if got := list(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	items := must[[]contexts.ContextListItem](t)(s.ListContexts(ctx, f.lead, contexts.ContextQuery{}))
	if items[0].ReviewDate != "2026-03-01" || items[0].Review != contexts.ReviewOverdue || items[0].OpenInterventions != 1 ||
		items[1].Review != contexts.ReviewDue || items[2].Lat != nil {
		t.Errorf("list items %+v", items)
	}
	near := must[[]contexts.ContextListItem](t)(s.Nearby(ctx, 51.543329, -0.066559, 1000, "", "", 10))
	if len(near) != 2 || near[0].ReviewDate != "2026-03-25" || near[0].Review != contexts.ReviewDue {
		t.Errorf("the nearby list shows no review dates: %+v", near)
	}
	for _, q := range []contexts.ContextQuery{{Kind: "planet"}, {Review: "soon"}, {LocationType: "moon"}, {PartnerAgency: "nasa"}, {Limit: 501}} {
		if _, err := s.ListContexts(ctx, f.lead, q); ctxmap.KindOf(err) != ctxmap.KindInvalid {
			t.Errorf("%+v: %v, want invalid", q, err)
		}
	}
}

// A record of the same location type within 100 m, or with a name that
// reads alike, is offered before a new one opens.
func TestSimilarContextsBeforeOpening(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.store, context.Background()
	takeaway := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "takeaway", Postcode: "E8 3AA"}))
	group := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "Market Street boys"}))

	sim := must[*contexts.Similar](t)(s.SimilarContexts(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "takeaway", Postcode: "E8 3AB"}))
	if sim.DisplayName != "Takeaway / fast-food outlet, E8 3AB" && !strings.HasSuffix(sim.DisplayName, "E8 3AB") {
		t.Errorf("display name %q", sim.DisplayName)
	}
	if len(sim.Similar) != 1 || sim.Similar[0].ID != takeaway.ID || !sim.Similar[0].Nearby || sim.Similar[0].DistanceM == nil ||
		*sim.Similar[0].DistanceM < 80 || *sim.Similar[0].DistanceM > 110 {
		t.Fatalf("the takeaway 94 m away is not offered: %+v", sim.Similar)
	}
	// Another type at the same distance is no duplicate.
	sim = must[*contexts.Similar](t)(s.SimilarContexts(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "bus_stop", Postcode: "E8 3AB"}))
	for _, x := range sim.Similar {
		if x.Nearby {
			t.Errorf("a bus stop is offered a takeaway as nearby: %+v", x)
		}
	}
	sim = must[*contexts.Similar](t)(s.SimilarContexts(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "market st boys"}))
	if len(sim.Similar) != 1 || sim.Similar[0].ID != group.ID || !sim.Similar[0].SimilarName {
		t.Fatalf("a group with a name like it is not offered: %+v", sim.Similar)
	}
	sim = must[*contexts.Similar](t)(s.SimilarContexts(ctx, f.lead, contexts.ContextInput{Kind: "school", Name: "Northfield Academy", Postcode: "N16 7AA"}))
	if len(sim.Similar) != 0 {
		t.Fatalf("unrelated records offered: %+v", sim.Similar)
	}
	// Offering writes nothing; the lead may still open the record.
	must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "takeaway", Postcode: "E8 3AB"}))
	_, err := s.SimilarContexts(ctx, f.pracA, contexts.ContextInput{Kind: "group", Name: "x"})
	if ctxmap.KindOf(err) != ctxmap.KindForbidden {
		t.Fatalf("a practitioner checked for duplicates: %v", err)
	}
}

// An update takes an outcome and notes; closing asks what happens to each
// open intervention and records it; the chronology says it in words.
func TestInterventionsReportableAndClosingDecisions(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.store, context.Background()
	c := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA", ReviewDate: "2027-01-01"}))
	add := func(action, status string) *contexts.Intervention {
		return must[*contexts.Intervention](t)(s.AddIntervention(ctx, f.lead, c.ID, contexts.InterventionInput{Action: action, PartnerAgency: "parks", Side: "environment", Status: &status}))
	}
	light, patrol, cctv, done := add("Lighting", "planned"), add("Patrols", "in_progress"), add("CCTV", "planned"), add("Clear bushes", "done")
	up := must[*contexts.Intervention](t)(s.UpdateIntervention(ctx, f.lead, c.ID, light.ID, contexts.InterventionUpdate{
		Status: ptr("done"), Outcome: ptr("No gatherings after dark since the lights were fixed"), Notes: ptr("Council paid")}))
	if up.Outcome != "No gatherings after dark since the lights were fixed" || up.Notes != "Council paid" || up.Status != "done" {
		t.Fatalf("update %+v", up)
	}
	_, err := s.UpdateIntervention(ctx, f.lead, c.ID, light.ID, contexts.InterventionUpdate{Outcome: ptr("call 07700 900123")})
	if err == nil {
		t.Fatal("an outcome with a phone number was stored")
	}
	must[*contexts.Context](t)(s.UpdateContext(ctx, f.lead, c.ID, contexts.ContextUpdate{ReviewDate: ptr("2027-03-01")}))

	evidence := map[string]string{"needs": "Safer", "guardianship": "Wardens", "environment": "Lights"}
	_, err = s.CloseContext(ctx, f.lead, c.ID, contexts.CloseInput{Reason: "Safer", Evidence: evidence})
	e := wantCode(t, err, ctxmap.KindConflict, "open_interventions")
	b, _ := json.Marshal(e.Details["interventions"])
	if !strings.Contains(string(b), `"Patrols"`) || !strings.Contains(string(b), `"CCTV"`) || strings.Contains(string(b), "Lighting") {
		t.Fatalf("the open interventions listed: %s", b)
	}
	_, err = s.CloseContext(ctx, f.lead, c.ID, contexts.CloseInput{Reason: "Safer", Evidence: evidence,
		Interventions: []contexts.ClosingDecision{{ID: patrol.ID, Decision: "complete"}, {ID: cctv.ID, Decision: "cancel"}, {ID: done.ID, Decision: "cancel"}}})
	wantCode(t, err, ctxmap.KindUnprocessable, "not_open_intervention")
	_, err = s.CloseContext(ctx, f.lead, c.ID, contexts.CloseInput{Reason: "Safer", Evidence: evidence,
		Interventions: []contexts.ClosingDecision{{ID: patrol.ID, Decision: "forget"}, {ID: cctv.ID, Decision: "cancel"}}})
	wantCode(t, err, ctxmap.KindInvalid, "invalid_decision")
	closed := must[*contexts.Context](t)(s.CloseContext(ctx, f.lead, c.ID, contexts.CloseInput{Reason: "Safer", Evidence: evidence,
		Interventions: []contexts.ClosingDecision{{ID: patrol.ID, Decision: "carry_over"}, {ID: cctv.ID, Decision: "cancel"}}}))
	status := map[int64]string{}
	for _, iv := range closed.Interventions {
		status[iv.ID] = iv.Status
	}
	if status[patrol.ID] != "in_progress" || status[cctv.ID] != "dropped" || closed.Status != "closed" {
		t.Fatalf("after closing: %v", status)
	}
	// What the closure decided stays decided: a cancelled intervention of a
	// closed context cannot be set back to planned; a carried-over one goes
	// on and is finished later, and its done date goes with its status.
	_, err = s.UpdateIntervention(ctx, f.lead, c.ID, cctv.ID, contexts.InterventionUpdate{Status: ptr("planned")})
	wantCode(t, err, ctxmap.KindConflict, "context_closed")
	finished := must[*contexts.Intervention](t)(s.UpdateIntervention(ctx, f.lead, c.ID, patrol.ID, contexts.InterventionUpdate{Status: ptr("done")}))
	if finished.Status != "done" || finished.DoneDate == "" {
		t.Fatalf("carried over, then done: %+v", finished)
	}
	_, err = s.UpdateIntervention(ctx, f.lead, c.ID, light.ID, contexts.InterventionUpdate{Status: ptr("planned")})
	wantCode(t, err, ctxmap.KindConflict, "context_closed")

	var words []string
	for _, ev := range must[[]contexts.ChronologyEntry](t)(s.Chronology(ctx, f.lead, c.ID)) {
		words = append(words, ev.Summary)
	}
	all := strings.Join(words, "\n")
	for _, want := range []string{
		"Intervention ‘Lighting’ status Planned → Done; done date none → 20 Mar 2026; outcome recorded; notes updated",
		"Review date changed from 1 Jan 2027 to 1 Mar 2027",
		"Intervention ‘Patrols’ carried over at closing: stays in progress with the partner",
		"Intervention ‘CCTV’ cancelled at closing: status Planned → Dropped",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the chronology lacks %q:\n%s", want, all)
		}
	}
	for _, raw := range []string{"planned -> done", "in_progress", "Updated review date"} {
		if strings.Contains(all, raw) {
			t.Errorf("the chronology shows the code %q:\n%s", raw, all)
		}
	}
}

// A link carries its team's own label, which only that team reads; other
// outputs never carry it. Notifications are read one by one or by context.
func TestLinkLabelsAndNotificationReads(t *testing.T) {
	f := newFixture(t)
	s, ctx := f.store, context.Background()
	c := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	c2 := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AB"}))
	l := must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, c.ID, contexts.LinkInput{Subject: "LBL-1", Reason: "Seen here", Label: "Referral of 3 Nov"}))
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, c2.ID, contexts.LinkInput{Subject: "LBL-1", Reason: "Seen here"}))
	if l.Label != "Referral of 3 Nov" {
		t.Fatalf("link %+v", l)
	}
	_, err := s.LinkYoungPerson(ctx, f.pracA, c.ID, contexts.LinkInput{Subject: "LBL-2", Reason: "Seen here", Label: "about LBL-2"})
	if err == nil {
		t.Fatal("a label holding the young person's id was stored")
	}
	mine := must[[]contexts.Link](t)(s.TeamLinks(ctx, f.pracA2, c.ID))
	if len(mine) != 1 || mine[0].Label != "Referral of 3 Nov" || mine[0].LinkedBy != "alice" {
		t.Fatalf("the team's links %+v", mine)
	}
	if theirs := must[[]contexts.Link](t)(s.TeamLinks(ctx, f.pracB, c.ID)); len(theirs) != 0 {
		t.Fatalf("another team sees the links: %+v", theirs)
	}
	_, err = s.LabelLink(ctx, f.pracB, c.ID, l.ID, contexts.LinkLabelInput{Label: ptr("mine now")})
	wantCode(t, err, ctxmap.KindNotFound, "not_found")
	l2 := must[*contexts.Link](t)(s.LabelLink(ctx, f.pracA2, c.ID, l.ID, contexts.LinkLabelInput{Label: ptr("School nurse referral")}))
	if l2.Label != "School nurse referral" {
		t.Fatalf("relabelled %+v", l2)
	}
	// The label is nowhere else: not in the chronology, the summary or the audit log.
	var leaks int
	if err := f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM context_events WHERE summary || coalesce(detail::text, '') LIKE '%nurse%')
		+ (SELECT count(*) FROM audit_log WHERE coalesce(detail::text, '') || coalesce(reason, '') LIKE '%nurse%')`).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Fatalf("the label reached %d other rows", leaks)
	}

	for _, cid := range []int64{c.ID, c.ID, c2.ID} {
		must[*contexts.Assessment](t)(s.AddAssessment(ctx, f.lead, cid, contexts.AssessmentInput{Side: "needs", Note: "Note"}))
	}
	ns := must[[]contexts.Notification](t)(s.Notifications(ctx, f.pracA))
	if len(ns) != 3 {
		t.Fatalf("notifications %+v", ns)
	}
	if err := s.MarkNotificationRead(ctx, f.pracA, ns[0].ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.MarkNotificationRead(ctx, f.pracB, ns[1].ID), ctxmap.KindNotFound, "not_found")
	if n := must[int64](t)(s.MarkNotificationsRead(ctx, f.pracA, ns[0].ID, c.ID)); n != 2 {
		t.Fatalf("marked %d of the park's, want 2", n)
	}
	unread := 0
	for _, n := range must[[]contexts.Notification](t)(s.Notifications(ctx, f.pracA)) {
		if !n.Read {
			unread++
		}
	}
	if unread != 0 {
		t.Fatalf("%d unread", unread)
	}
}
