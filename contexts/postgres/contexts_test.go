package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// TestContextLifecycle walks one location context through its whole life,
// as the issue's acceptance test describes.
func TestContextLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store

	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park",
		Postcode: "e83aa", Description: "Poorly lit path along the north edge."}))
	if park.DisplayName != "Park, E8 3AA" || park.Status != contexts.StatusOpen || park.Lat == nil {
		t.Fatalf("created %+v", park)
	}

	// A duplicate (same type and postcode) is refused with the existing id.
	_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA", Name: "London Fields"})
	e := wantCode(t, err, ctxmap.KindConflict, "context_exists")
	if e.Details["existing_id"] != park.ID {
		t.Fatalf("existing_id = %v, want %d", e.Details["existing_id"], park.ID)
	}

	// Assessments on all three sides.
	for _, side := range contexts.SideCodes {
		a := must[*contexts.Assessment](t)(s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: side, Note: "Thematic note on " + side}))
		if a.Side != side || a.SideLabel == "" {
			t.Fatalf("assessment %+v", a)
		}
	}

	// Two young people linked by different teams.
	l1 := must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "MOSAIC-1001", Reason: "Named the park in safety mapping"}))
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracB, park.ID, contexts.LinkInput{Subject: "LCS-2002", Reason: "Referral mentions the park"}))
	_, err = s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: " mosaic-1001 ", Reason: "again"})
	wantCode(t, err, ctxmap.KindConflict, "already_linked")
	// Rule 14: the analyst sees the teams but, under k, only "fewer than
	// k"; a practitioner sees the exact counts by team. The analyst sees
	// links as of the latest release.
	f.markReleased(t)
	sum := must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.analyst, park.ID))
	if sum.YoungPeople.Count != nil || sum.YoungPeople.FewerThan != 10 || strings.Join(sum.Teams, ",") != "Hackney North,Hackney South" {
		t.Fatalf("analyst's summary %+v", sum)
	}
	b, _ := json.Marshal(sum)
	if strings.Contains(string(b), "1001") || strings.Contains(string(b), "2002") {
		t.Fatalf("summary leaks a subject: %s", b)
	}
	if want := `{"young_people":{"count":null,"fewer_than":10},"teams":["Hackney North","Hackney South"],` +
		`"by_team":[{"team":"Hackney North","young_people":{"count":null,"fewer_than":10}},` +
		`{"team":"Hackney South","young_people":{"count":null,"fewer_than":10}}]}`; string(b) != want {
		t.Fatalf("analyst's summary\n got %s\nwant %s", b, want)
	}
	sum = must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.pracA, park.ID))
	if b, _ := json.Marshal(sum); string(b) != `{"young_people":{"count":2},"teams":["Hackney North","Hackney South"],`+
		`"by_team":[{"team":"Hackney North","young_people":{"count":1}},{"team":"Hackney South","young_people":{"count":1}}]}` {
		t.Fatalf("practitioner's summary %s", b)
	}

	// Two interventions, progressed.
	i1 := must[*contexts.Intervention](t)(s.AddIntervention(ctx, f.lead, park.ID, contexts.InterventionInput{Action: "Replace broken lighting on the north path",
		PartnerAgency: "parks", Side: "environment", DueDate: "2026-04-30"}))
	i2 := must[*contexts.Intervention](t)(s.AddIntervention(ctx, f.lead, park.ID, contexts.InterventionInput{Action: "Detached youth work sessions on Friday evenings",
		PartnerAgency: "youth_services", Side: "guardianship", Status: ptr("in_progress")}))
	if i1.Status != "planned" || i2.Status != "in_progress" {
		t.Fatalf("interventions %+v %+v", i1, i2)
	}
	i1 = must[*contexts.Intervention](t)(s.UpdateIntervention(ctx, f.lead, park.ID, i1.ID, contexts.InterventionUpdate{Status: ptr("in_progress")}))
	i1 = must[*contexts.Intervention](t)(s.UpdateIntervention(ctx, f.lead, park.ID, i1.ID, contexts.InterventionUpdate{Status: ptr("done")}))
	if i1.Status != "done" || i1.DoneDate != "2026-03-20" {
		t.Fatalf("done intervention %+v", i1)
	}
	i2 = must[*contexts.Intervention](t)(s.UpdateIntervention(ctx, f.lead, park.ID, i2.ID, contexts.InterventionUpdate{Status: ptr("done"), DoneDate: ptr("2026-03-18")}))
	if i2.DoneDate != "2026-03-18" {
		t.Fatalf("done date %+v", i2)
	}

	// One young person unlinked; the context stays open for the other.
	if err := s.UnlinkYoungPerson(ctx, f.pracB, park.ID, l1.ID, contexts.UnlinkInput{Reason: "x"}); err == nil {
		t.Fatal("another team unlinked a link that is not theirs")
	}
	if err := s.UnlinkYoungPerson(ctx, f.pracA, park.ID, l1.ID, contexts.UnlinkInput{Reason: "Moved out of the area"}); err != nil {
		t.Fatal(err)
	}
	// The lead sees the unlink once a release is made, not before.
	sum = must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.lead, park.ID))
	if strings.Join(sum.Teams, ",") != "Hackney North,Hackney South" {
		t.Fatalf("context lead's summary right after the unlink %+v", sum)
	}
	f.markReleased(t)
	sum = must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.lead, park.ID))
	if sum.YoungPeople.Count != nil || sum.YoungPeople.FewerThan != 10 || strings.Join(sum.Teams, ",") != "Hackney South" {
		t.Fatalf("context lead's summary after unlink %+v", sum)
	}
	sum = must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.pracB, park.ID))
	if sum.YoungPeople.Count == nil || *sum.YoungPeople.Count != 1 || strings.Join(sum.Teams, ",") != "Hackney South" {
		t.Fatalf("practitioner's summary after unlink %+v", sum)
	}

	// Closure needs evidence under each side.
	_, err = s.CloseContext(ctx, f.lead, park.ID, contexts.CloseInput{Reason: "Safer", Evidence: map[string]string{"needs": "a", "guardianship": "b"}})
	wantCode(t, err, ctxmap.KindInvalid, "missing_field")
	closed := must[*contexts.Context](t)(s.CloseContext(ctx, f.lead, park.ID, contexts.CloseInput{Reason: "Safety increased",
		Evidence: map[string]string{"needs": "Young people report feeling safer", "guardianship": "Park wardens on site evenings",
			"environment": "Lighting replaced, sightlines cleared"}}))
	if closed.Status != contexts.StatusClosed || closed.ClosedAt == nil || len(closed.Closures) != 1 {
		t.Fatalf("closed %+v", closed)
	}
	_, err = s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "needs", Note: "late note"})
	wantCode(t, err, ctxmap.KindConflict, "context_closed")

	// A new record for the closed place is offered for reopening.
	_, err = s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"})
	e = wantCode(t, err, ctxmap.KindConflict, "context_closed_exists")
	if e.Details["existing_id"] != park.ID {
		t.Fatalf("existing_id = %v", e.Details["existing_id"])
	}
	reopened := must[*contexts.Context](t)(s.ReopenContext(ctx, f.lead, park.ID, contexts.ReopenInput{Reason: "New referrals name the park again"}))
	if reopened.Status != contexts.StatusOpen || reopened.Closures[0].ReopenReason == "" {
		t.Fatalf("reopened %+v", reopened)
	}

	// The chronology lists every step in order.
	chron := must[[]contexts.ChronologyEntry](t)(s.Chronology(ctx, f.analyst, park.ID))
	var events []string
	for _, c := range chron {
		events = append(events, c.Event)
		if (c.Event == contexts.EventLinked || c.Event == contexts.EventUnlinked) && c.Actor != "" {
			t.Errorf("link event names the practitioner: %+v", c)
		}
		if c.Event == contexts.EventOpened && c.Actor != "lee" {
			t.Errorf("opened by %q", c.Actor)
		}
	}
	// The month's link entries come after its other events, so their place
	// says nothing finer than the month.
	want := []string{contexts.EventOpened, contexts.EventAssessmentAdded, contexts.EventAssessmentAdded, contexts.EventAssessmentAdded,
		contexts.EventInterventionAdded, contexts.EventInterventionAdded, contexts.EventInterventionUpdated, contexts.EventInterventionUpdated, contexts.EventInterventionUpdated,
		contexts.EventClosed, contexts.EventReopened, contexts.EventLinked, contexts.EventLinked, contexts.EventUnlinked}
	if strings.Join(events, " ") != strings.Join(want, " ") {
		t.Fatalf("chronology\n got %v\nwant %v", events, want)
	}
	// The analyst sees link events by month only (rule 14); the linking
	// practitioner sees every event at its time, in order.
	for _, c := range chron {
		isLink := c.Event == contexts.EventLinked || c.Event == contexts.EventUnlinked
		at, _ := json.Marshal(c.At)
		if isLink != c.At.Month || isLink && !regexp.MustCompile(`^"\d{4}-\d{2}"$`).Match(at) {
			t.Errorf("analyst's %s event at %s", c.Event, at)
		}
	}
	exact := must[[]contexts.ChronologyEntry](t)(s.Chronology(ctx, f.pracA, park.ID))
	if len(exact) != len(chron) {
		t.Fatalf("practitioner's chronology has %d events, analyst's %d", len(exact), len(chron))
	}
	for i := 1; i < len(exact); i++ {
		if exact[i].At.Month || exact[i].At.Before(exact[i-1].At) {
			t.Fatalf("chronology out of order at %d", i)
		}
	}
	bs, _ := json.Marshal(chron)
	for _, leak := range []string{"1001", "2002", "alice", "bola", "Moved out"} {
		// As a token of its own: a timestamp's fraction of a second may
		// hold the digits 1001 without saying anything about anyone.
		if regexp.MustCompile(`(^|[^0-9A-Za-z])` + leak + `($|[^0-9A-Za-z])`).Match(bs) {
			t.Errorf("chronology leaks %q", leak)
		}
	}

	// Linked practitioners were notified of changes made by others, and
	// never of their own.
	na := must[[]contexts.Notification](t)(s.Notifications(ctx, f.pracA))
	nb := must[[]contexts.Notification](t)(s.Notifications(ctx, f.pracB))
	if len(na) == 0 || len(nb) == 0 {
		t.Fatalf("notifications: alice %d, bola %d", len(na), len(nb))
	}
	for _, n := range na {
		if n.Event == contexts.EventClosed || n.Event == contexts.EventReopened {
			t.Errorf("alice (unlinked before closure) notified of %s", n.Event)
		}
	}
	var sawClose bool
	for _, n := range nb {
		sawClose = sawClose || n.Event == contexts.EventClosed
		if n.DisplayName != "Park, E8 3AA" {
			t.Errorf("notification %+v", n)
		}
	}
	if !sawClose {
		t.Errorf("bola not notified of closure: %+v", nb)
	}
	if n := must[[]contexts.Notification](t)(s.Notifications(ctx, f.lead)); len(n) != 0 {
		t.Errorf("the actor got notifications: %+v", n)
	}
	if changed := must[int64](t)(s.MarkNotificationsRead(ctx, f.pracB, nb[0].ID, 0)); changed != int64(len(nb)) {
		t.Errorf("marked %d read, want %d", changed, len(nb))
	}

	// The full record.
	full := must[*contexts.Context](t)(s.Context(ctx, f.analyst, park.ID))
	if len(full.Assessments) != 3 || len(full.Interventions) != 2 || full.Links.YoungPeople.FewerThan != 10 || full.Links.YoungPeople.Count != nil {
		t.Fatalf("full record %+v", full)
	}
	full = must[*contexts.Context](t)(s.Context(ctx, f.pracB, park.ID))
	if full.Links.YoungPeople.Count == nil || *full.Links.YoungPeople.Count != 1 {
		t.Fatalf("practitioner's full record %+v", full.Links)
	}
}

func TestContextKindsAndUpdate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	school := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "school", Name: "Stoke Newington School", Postcode: "N16 7AA"}))
	if school.DisplayName != "Stoke Newington School, N16 7AA" {
		t.Fatalf("school %q", school.DisplayName)
	}
	_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "school", Name: "stoke  newington school", Postcode: "N16 7AA"})
	wantCode(t, err, ctxmap.KindConflict, "context_exists")
	group := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "Young people around the March bus-stop incident"}))
	if group.Lat != nil || group.DisplayName != "Young people around the March bus-stop incident" {
		t.Fatalf("group %+v", group)
	}
	shop := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "takeaway", Name: "Chicken Shop", Postcode: "E8 3AB"}))
	if shop.DisplayName != "Chicken Shop, E8 3AB" {
		t.Fatalf("shop %q", shop.DisplayName)
	}
	// Coordinate-only places are de-duplicated by distance.
	bus := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "bus_stop", Lat: ptr(51.5500), Lon: ptr(-0.0600)}))
	if bus.DisplayName != "Bus stop near 51.55000, -0.06000" {
		t.Fatalf("bus %q", bus.DisplayName)
	}
	_, err = s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "bus_stop", Lat: ptr(51.55005), Lon: ptr(-0.06005)})
	wantCode(t, err, ctxmap.KindConflict, "context_exists")
	// A sector-only postcode cannot name a context.
	_, err = s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 4"})
	wantCode(t, err, ctxmap.KindUnprocessable, "postcode_incomplete")
	_, err = s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 4ZZ"})
	wantCode(t, err, ctxmap.KindUnprocessable, "postcode_not_found")

	upd := must[*contexts.Context](t)(s.UpdateContext(ctx, f.lead, shop.ID, contexts.ContextUpdate{Name: ptr("Chicken Palace"), ReviewDate: ptr("2026-06-30"),
		Description: ptr("Young people gather after school")}))
	if upd.DisplayName != "Chicken Palace, E8 3AB" || upd.ReviewDate != "2026-06-30" || upd.Description == "" {
		t.Fatalf("updated %+v", upd)
	}
	upd = must[*contexts.Context](t)(s.UpdateContext(ctx, f.lead, shop.ID, contexts.ContextUpdate{ReviewDate: ptr("")}))
	if upd.ReviewDate != "" || upd.Description == "" {
		t.Fatalf("cleared review date %+v", upd)
	}
	// Saving the form again as it stands changes nothing: no chronology
	// entry, no notification, no audit line.
	before := f.counts(t)
	upd = must[*contexts.Context](t)(s.UpdateContext(ctx, f.lead, shop.ID, contexts.ContextUpdate{Name: ptr("Chicken Palace"), ReviewDate: ptr(""),
		Description: ptr("Young people gather after school")}))
	if after := f.counts(t); !maps.Equal(before, after) || upd.DisplayName != "Chicken Palace, E8 3AB" {
		t.Fatalf("an unchanged save wrote: %v -> %v", before, after)
	}
	_, err = s.UpdateContext(ctx, f.lead, shop.ID, contexts.ContextUpdate{})
	wantCode(t, err, ctxmap.KindInvalid, "nothing_to_update")
	_, err = s.UpdateContext(ctx, f.pracA, shop.ID, contexts.ContextUpdate{Name: ptr("x")})
	wantCode(t, err, ctxmap.KindForbidden, "forbidden")
	_, err = s.Context(ctx, f.analyst, 999999)
	wantCode(t, err, ctxmap.KindNotFound, "not_found")
	// Side labels follow the kind.
	a := must[*contexts.Assessment](t)(s.AddAssessment(ctx, f.lead, group.ID, contexts.AssessmentInput{Side: "needs", Note: "They see themselves as a crew"}))
	if a.SideLabel != "Group functioning" {
		t.Fatalf("side label %q", a.SideLabel)
	}
}

func TestNearbyAndBounds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	near := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	mid := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "shop", Postcode: "E8 3AB"}))
	far := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "school", Name: "N16 School", Postcode: "N16 7AA"}))
	must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "No place"}))

	got := must[[]contexts.ContextListItem](t)(s.Nearby(ctx, 51.543329, -0.066559, 1000, "", "", 10))
	if len(got) != 2 || got[0].ID != near.ID || got[1].ID != mid.ID {
		t.Fatalf("nearby 1 km %+v", got)
	}
	if *got[0].DistanceM > 1 || *got[1].DistanceM < 80 || *got[1].DistanceM > 110 {
		t.Fatalf("distances %+v", got)
	}
	got = must[[]contexts.ContextListItem](t)(s.Nearby(ctx, 51.543329, -0.066559, 5000, "", "", 10))
	if len(got) != 3 || got[2].ID != far.ID {
		t.Fatalf("nearby 5 km %+v", got)
	}
	got = must[[]contexts.ContextListItem](t)(s.Nearby(ctx, 51.543329, -0.066559, 5000, "school", "open", 10))
	if len(got) != 1 || got[0].ID != far.ID {
		t.Fatalf("schools %+v", got)
	}
	_, err := s.Nearby(ctx, 51.5, -0.06, 0, "", "", 10)
	wantCode(t, err, ctxmap.KindInvalid, "invalid_radius")

	feats := must[[]contexts.ContextFeature](t)(s.ContextsInBounds(ctx, orb.Bound{Min: orb.Point{-0.07, 51.54}, Max: orb.Point{-0.06, 51.55}}, "open", 100))
	if len(feats) != 2 || feats[0].DisplayName != "Park, E8 3AA" || feats[0].Lon != -0.066559 {
		t.Fatalf("in bounds %+v", feats)
	}
}

func TestThematicNotesRefusePersonalData(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	// Make "AB12" a known subject id of Hackney North's: too short to look
	// like a reference number, so only the subjects table can recognise it.
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("ab12")))
	before := f.counts(t)
	refused := 0
	for _, tc := range []struct{ note, text string }{
		{"Contact the warden on warden.smith@example.org", "warden.smith@example.org"},
		{"Call 07700 900123 after 6pm", "07700 900123"},
		{"Call +44 (0)20 7946 0018", "+44 (0)20 7946 0018"},
		{"Girl seen there, DOB 03/04/2011", "03/04/2011"},
		{"Young person born 4 March 2012 attends", "4 March 2012"},
		{"Mosaic ref 1234567 mentions the park", "1234567"},
	} {
		_, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "needs", Note: tc.note})
		e := wantCode(t, err, ctxmap.KindUnprocessable, "personal_data")
		refused++
		if !strings.Contains(e.Message, tc.text) || e.Details["text"] != tc.text {
			t.Errorf("%q: message %q details %v", tc.note, e.Message, e.Details)
		}
	}
	// Each refusal is audited with the field, never the text; nothing else
	// is written.
	after := f.counts(t)
	if after["audit_log"] != before["audit_log"]+refused {
		t.Fatalf("audit entries %d -> %d, want %d refusals", before["audit_log"], after["audit_log"], refused)
	}
	rows, err := f.pool.Query(ctx, `SELECT detail::text FROM audit_log WHERE action = 'screening.refused' AND record = $1`,
		fmt.Sprintf("context:%d", park.ID))
	if err != nil {
		t.Fatal(err)
	}
	details := must[[]string](t)(pgx.CollectRows(rows, pgx.RowTo[string]))
	if len(details) != refused {
		t.Fatalf("screening.refused entries %v", details)
	}
	for _, d := range details {
		if !strings.Contains(d, `"field": "note"`) || strings.Contains(d, "07700") || strings.Contains(d, "example.org") || strings.Contains(d, "1234567") {
			t.Errorf("refusal audit detail %s", d)
		}
	}
	after["audit_log"] = before["audit_log"]
	if !equalCounts(before, after) {
		t.Fatalf("refused notes wrote something: %v -> %v", before, after)
	}
	// Thematic notes with ordinary dates, times and bus routes pass.
	for _, note := range []string{
		"MACE panel on 12/03/2026 agreed extra patrols from 6pm",
		"Route 38 bus stop is unlit; shop owner is supportive",
		"Park opened in 1891; the 2019 refurbishment removed the CCTV",
	} {
		if _, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "environment", Note: note}); err != nil {
			t.Errorf("%q refused: %v", note, err)
		}
	}
	// Other free text is checked too.
	_, err = s.AddIntervention(ctx, f.lead, park.ID, contexts.InterventionInput{Action: "Ring 07700900123", PartnerAgency: "police", Side: "guardianship"})
	wantCode(t, err, ctxmap.KindUnprocessable, "personal_data")
	_, err = s.CloseContext(ctx, f.lead, park.ID, contexts.CloseInput{Reason: "ok", Evidence: map[string]string{"needs": "a", "guardianship": "b", "environment": "mail x@y.co.uk"}})
	e := wantCode(t, err, ctxmap.KindUnprocessable, "personal_data")
	if e.Details["field"] != "evidence.environment" {
		t.Errorf("field %v", e.Details["field"])
	}
}

// TestScreeningComparesOnlyTheWritersTeam: a short id is refused only when
// it is one of the writer's own team's young people, and then exactly like
// any reference number, so screening never tells anyone that another team
// has a young person with that id on record (PRIVACY.md rule 13). Before,
// the context lead's note naming Hackney North's "AB12" was refused, which
// confirmed the child was on record.
func TestScreeningComparesOnlyTheWritersTeam(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	rec := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("ab12")))

	// Another team's young person's id and an id nobody has: the same
	// answer (both pass), for the lead and for the other team.
	for _, id := range []string{"AB12", "ZZ98"} {
		if _, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "needs", Note: "Concerns raised about " + id + " and friends"}); err != nil {
			t.Errorf("lead's note naming %s: %v", id, err)
		}
		if _, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "Friends of " + strings.ToLower(id)}); err != nil {
			t.Errorf("group named after %s: %v", id, err)
		}
		if _, err := s.LinkYoungPerson(ctx, f.pracB, park.ID, contexts.LinkInput{Subject: "S-" + id, Reason: "Seen here with " + id}); err != nil {
			t.Errorf("other team's reason naming %s: %v", id, err)
		}
	}

	// The writer's own team's young person (also by a colleague): refused
	// with the wording and details of any reference number.
	known := func(a *contexts.Actor, subject, reason string) *ctxmap.Error {
		t.Helper()
		_, err := s.LinkYoungPerson(ctx, a, park.ID, contexts.LinkInput{Subject: subject, Reason: reason})
		return wantCode(t, err, ctxmap.KindUnprocessable, "personal_data")
	}
	own := known(f.pracA2, "P-77", "Concerns raised about AB12 and friends")
	number := known(f.pracA2, "P-78", "Concerns raised about 123456 and friends")
	strip := func(e *ctxmap.Error, text string) string {
		return strings.ReplaceAll(e.Message, `"`+text+`"`, `"X"`) + fmt.Sprint(e.Details["what"], e.Details["field"])
	}
	if own.Details["text"] != "AB12" || strip(own, "AB12") != strip(number, "123456") {
		t.Fatalf("a known id is told apart from a reference number:\n%q %v\n%q %v", own.Message, own.Details, number.Message, number.Details)
	}
	before := f.counts(t)
	_, err := s.ArchiveHarmLocation(ctx, f.pracA, rec.ID, contexts.ArchiveInput{Reason: contexts.ArchiveNeverAnIssue, Note: "Duplicate of ab12's other record"})
	wantCode(t, err, ctxmap.KindUnprocessable, "personal_data")
	d := f.wantAudited(t, before, f.counts(t), "screening.refused")
	if d["field"] != "note" || d["what"] != "a case or reference number" || strings.Contains(fmt.Sprint(d), "ab12") {
		t.Fatalf("refusal audit detail %v", d)
	}
	// Postcodes in place notes stay allowed.
	if _, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "environment", Note: "Entrances on E8 3AA and AB12 3CD are unlit"}); err != nil {
		t.Errorf("postcodes refused: %v", err)
	}
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}
