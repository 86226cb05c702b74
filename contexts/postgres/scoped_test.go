package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// TestRefusalsNeverReachOtherTeamsRecords is the timing probe of the insider
// review made structural: while another session holds the global subjects,
// harm_locations and context_links tables locked, a write the daily cap
// refuses and free-text screening still answer, so neither can read those
// tables, and no answer or timing can depend on whether another team has an
// id on record. (A test of "takes the same time" would be a timed test; a
// lock that would block forever is not.)
func TestRefusalsNeverReachOtherTeamsRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithSubjectDailyCap(1))
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracB, harmInput("OTHER-1")))
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("OWN-1"))) // alice is at her cap

	lock, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(ctx) }()
	if _, err := lock.Exec(ctx, `LOCK TABLE subjects, harm_locations, context_links IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	// A deadline only so that a regression fails instead of hanging.
	bounded, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()

	for _, id := range []string{"OTHER-1", "NOBODY-1"} {
		_, err := s.CreateHarmLocation(bounded, f.pracA, harmInput(id))
		wantCode(t, err, ctxmap.KindRateLimited, "subject_limit")
		_, err = s.LinkYoungPerson(bounded, f.pracA, park.ID, contexts.LinkInput{Subject: id, Reason: "Seen here"})
		wantCode(t, err, ctxmap.KindRateLimited, "subject_limit")
	}
	// Screening: the team's own young person is refused, another team's and
	// an unknown one pass, all without the locked tables.
	th := s.thematic(s.db, f.pracA)
	wantCode(t, th.Check(bounded, contexts.TextField{Name: "notes", Text: "gathers with own-1 after school"}),
		ctxmap.KindUnprocessable, "personal_data")
	for _, text := range []string{"gathers with OTHER-1 after school", "gathers with NOBODY-1 after school"} {
		if err := th.Check(bounded, contexts.TextField{Name: "notes", Text: text}); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
	if err := bounded.Err(); err != nil {
		t.Fatalf("a refusal waited for the locked tables: %v", err)
	}
}

// TestScreeningComparesIdsOnlyForPractitioners: a context lead (or analyst,
// or admin) who may not read the team's records must not learn from a
// refusal which ids the team's practitioners hold (insider review, finding
// 2); a practitioner, who may read them, is stopped from pasting one.
func TestScreeningComparesIdsOnlyForPractitioners(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("AB123")))
	// A lead in the same team as alice.
	lead := &contexts.Actor{Name: "lena", Role: contexts.RoleContextLead, TeamID: f.pracA.TeamID, Team: f.pracA.Team}
	if err := f.pool.QueryRow(ctx, `INSERT INTO users (name, role, team_id) VALUES ('lena', 'context_lead', $1) RETURNING id`,
		lead.TeamID).Scan(&lead.UserID); err != nil {
		t.Fatal(err)
	}
	note := contexts.TextField{Name: "notes", Text: "Young people gather here; AB123 was seen"}
	wantCode(t, s.thematic(s.db, f.pracA2).Check(ctx, note), ctxmap.KindUnprocessable, "personal_data")
	for _, a := range []*contexts.Actor{lead, f.lead, f.analyst, f.admin} {
		if err := s.thematic(s.db, a).Check(ctx, note); err != nil {
			t.Errorf("%s (%s): %v", a.Name, a.Role, err)
		}
	}
	// The other checks hold for every role.
	for _, a := range []*contexts.Actor{lead, f.pracA} {
		wantCode(t, s.thematic(s.db, a).Check(ctx, contexts.TextField{Name: "notes", Text: "ref 1234567"}),
			ctxmap.KindUnprocessable, "personal_data")
	}
}

// TestTeamLedgerFollowsEveryWritePath: team_subjects, which screening reads,
// holds what the team recorded one by one, linked, and bulk-imported.
func TestTeamLedgerFollowsEveryWritePath(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("REC-1")))
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "LNK-1", Reason: "Seen here"}))
	th := s.thematic(s.db, f.pracA2)
	for _, id := range []string{"REC-1", "LNK-1"} {
		wantCode(t, th.Check(ctx, contexts.TextField{Name: "notes", Text: "seen with " + id}), ctxmap.KindUnprocessable, "personal_data")
		if err := s.thematic(s.db, f.pracB).Check(ctx, contexts.TextField{Name: "notes", Text: "seen with " + id}); err != nil {
			t.Errorf("another team's young person %s compared: %v", id, err)
		}
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM team_subjects WHERE team_id = $1`, f.pracA.TeamID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("team ledger holds %d young people, want 2", n)
	}
}

// TestBurstAlertCatchesSpreadBursts: young people new to one user recorded
// each in a different resolution-8 cell of one resolution-7 cell raise one
// alert there (insider review, finding 6); a burst inside one resolution-8
// cell still raises one alert, at that cell.
func TestBurstAlertCatchesSpreadBursts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithBurstAlert(3))
	parent := h3.LatLngToCell(h3.NewLatLng(51.545, -0.055), 7)
	kids := parent.Children(8)
	for i, kid := range kids[:3] {
		ll := kid.LatLng()
		in := harmInput(fmt.Sprintf("SPREAD-%d", i))
		in.Postcode, in.Lat, in.Lon = "", &ll.Lat, &ll.Lng
		must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	}
	got := must[[]contexts.AdminAlert](t)(s.AdminAlerts(ctx, f.admin, contexts.AlertQuery{}))
	if len(got) != 1 || got[0].Place != contexts.CellPlace(int64(parent)) || got[0].Count != 3 {
		t.Fatalf("spread burst: %+v, want one alert at %s", got, contexts.CellPlace(int64(parent)))
	}
	// Three more at one resolution-8 cell: one alert at that cell, not three.
	ll := kids[4].LatLng()
	for i := 0; i < 3; i++ {
		in := harmInput(fmt.Sprintf("DENSE-%d", i))
		in.Postcode, in.Lat, in.Lon = "", &ll.Lat, &ll.Lng
		must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	}
	got = must[[]contexts.AdminAlert](t)(s.AdminAlerts(ctx, f.admin, contexts.AlertQuery{}))
	if len(got) != 2 || got[0].Place != contexts.CellPlace(int64(kids[4])) || got[0].Count != 3 {
		t.Fatalf("dense burst: %+v", got)
	}
}

// TestScreeningRefusalsInVolumeAlertAdmins: screening is an oracle only if
// it can be asked often; each refusal is audited, and the burst threshold's
// worth in a day raises one admin alert about the user, never the text.
func TestScreeningRefusalsInVolumeAlertAdmins(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithBurstAlert(3))
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	for i := 0; i < 4; i++ {
		_, err := s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "P-1", Reason: fmt.Sprintf("ref 9876%d5", i)})
		wantCode(t, err, ctxmap.KindUnprocessable, "personal_data")
		alerts := must[[]contexts.AdminAlert](t)(s.AdminAlerts(ctx, f.admin, contexts.AlertQuery{}))
		switch {
		case i < 2 && len(alerts) != 0:
			t.Fatalf("alert after %d refusals: %+v", i+1, alerts)
		case i >= 2 && (len(alerts) != 1 || alerts[0].Kind != contexts.AlertScreeningRefusals || alerts[0].Count != i+1 ||
			alerts[0].Place != contexts.UserPlace(f.pracA.UserID) || strings.Contains(string(alerts[0].Detail), "9876")):
			t.Fatalf("after %d refusals: %+v", i+1, alerts)
		}
	}
}

// TestCategoryLabelsAreScreened: a label is on every legend; it is screened
// like any free text (insider review, finding 6), and the refusal audited.
func TestCategoryLabelsAreScreened(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := f.counts(t)
	_, err := f.store.AddCategory(ctx, f.admin, contexts.CategoryInput{Code: "named", Label: "Case 12345678 only"})
	wantCode(t, err, ctxmap.KindUnprocessable, "personal_data")
	f.wantAudited(t, before, f.counts(t), "screening.refused")
	must[*contexts.Taxonomy](t)(f.store.AddCategory(ctx, f.admin, contexts.CategoryInput{Code: "named", Label: "Exploitation online"}))
}

// TestLinkViewsMoveOnlyAtReleases: insider review 2, F3. A context lead
// re-reading the summary and chronology after every link would see a team's
// count cross k (so it was k-1 a moment before) and time each link; for
// every role but practitioners both stand as of the latest release.
func TestLinkViewsMoveOnlyAtReleases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithDisclosureThreshold(5))
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	for i := range 4 {
		must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracB, park.ID, contexts.LinkInput{Subject: fmt.Sprintf("B-%d", i), Reason: "Seen here"}))
	}
	f.markReleased(t)
	view := func() string {
		sum := must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.lead, park.ID))
		chron := must[[]contexts.ChronologyEntry](t)(s.Chronology(ctx, f.lead, park.ID))
		return fmt.Sprintf("%+v %d", sum, len(chron))
	}
	before := view()
	// The fifth link takes Hackney South to k; Hackney North's first link
	// adds a chronology entry. Neither shows before the next release.
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracB, park.ID, contexts.LinkInput{Subject: "B-4", Reason: "Seen here"}))
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "A-1", Reason: "Seen here"}))
	if got := view(); got != before {
		t.Fatalf("the lead's view moved with a link:\n%s\n%s", before, got)
	}
	// Practitioners see their links at once.
	if sum := must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.pracA, park.ID)); sum.YoungPeople.Count == nil || *sum.YoungPeople.Count != 6 {
		t.Fatalf("practitioner %+v", sum)
	}
	f.markReleased(t)
	sum := must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.lead, park.ID))
	if sum.YoungPeople.AtLeast != 6 || sum.ByTeam[1].YoungPeople.Count == nil || *sum.ByTeam[1].YoungPeople.Count != 5 {
		t.Fatalf("after the release %+v", sum)
	}
}

// TestBurstAlertCountsReusedIds: a probe that reuses the same synthetic ids
// at place after place adds no young person new to the user, yet is a burst
// at each place (insider review 2, F1).
func TestBurstAlertCountsReusedIds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithBurstAlert(3))
	for i := range 3 {
		must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput(fmt.Sprintf("REUSE-%d", i))))
	}
	// Two days later the ids are no longer new to her; she records them again elsewhere.
	now = testNow.Add(48 * time.Hour)
	for i := range 3 {
		in := harmInput(fmt.Sprintf("REUSE-%d", i))
		in.Postcode = "E9 6EE"
		must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	}
	got := must[[]contexts.AdminAlert](t)(s.AdminAlerts(ctx, f.admin, contexts.AlertQuery{}))
	places := map[string]bool{}
	for _, a := range got {
		if a.Kind == contexts.AlertSubjectBurst {
			places[a.Place] = true
		}
	}
	if len(places) != 2 {
		t.Fatalf("burst alerts at %d places, want 2 (the second place reuses ids): %+v", len(places), got)
	}
}

// TestRevisionBurstAlertsBackDatedRecordsAcrossReleases: insider review 2,
// F1. The probe that outlives the daily cap adds a few back-dated young
// people to an already released month at one place before each release;
// once the burst threshold's worth of them is recorded there within the
// revision window, admins are told, whether the ids are new or reused.
// Records for months not yet released, and records made before the
// release, are ordinary and do not count.
func TestRevisionBurstAlertsBackDatedRecordsAcrossReleases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithBurstAlert(3))
	revisions := func() []contexts.AdminAlert {
		var got []contexts.AdminAlert
		for _, a := range must[[]contexts.AdminAlert](t)(s.AdminAlerts(ctx, f.admin, contexts.AlertQuery{})) {
			if a.Kind == contexts.AlertRevisionBurst {
				got = append(got, a)
			}
		}
		return got
	}
	for i := range 2 {
		must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput(fmt.Sprintf("REV-%d", i))))
	}
	f.markReleased(t) // publishes months up to February 2026
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("REV-2")))
	march := harmInput("REV-3")
	march.Occurred = "2026-03-05" // not yet released: not a revision
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, march))
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("REV-0")))
	if got := revisions(); len(got) != 0 {
		t.Fatalf("alert after 2 back-dated young people: %+v", got)
	}
	// A colleague's back-dated record there is hers, not the probe's.
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracB, harmInput("OTHER-1")))
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("REV-1")))
	got := revisions()
	if len(got) != 1 || got[0].Count != 3 || got[0].UserID != f.pracA.UserID || !strings.HasPrefix(got[0].Place, "cell:") ||
		strings.Contains(string(got[0].Detail), "REV") {
		t.Fatalf("revision alerts %+v, want one for 3 young people at one cell naming none", got)
	}
}

// TestCapRefusalsInVolumeAlertAdmins: insider review 2, F7. Hundreds of
// 429s over the daily cap were audit rows only; the burst threshold's worth
// in a day now raises one alert about the user, naming no young person.
func TestCapRefusalsInVolumeAlertAdmins(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithSubjectDailyCap(1), WithBurstAlert(3))
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("CAP-0")))
	for i := 1; i <= 4; i++ {
		_, err := s.CreateHarmLocation(ctx, f.pracA, harmInput(fmt.Sprintf("TRY-%d", i)))
		wantCode(t, err, ctxmap.KindRateLimited, "subject_limit")
		var got []contexts.AdminAlert
		for _, a := range must[[]contexts.AdminAlert](t)(s.AdminAlerts(ctx, f.admin, contexts.AlertQuery{})) {
			if a.Kind == contexts.AlertSubjectLimitRefusals {
				got = append(got, a)
			}
		}
		switch {
		case i < 3 && len(got) != 0:
			t.Fatalf("alert after %d refusals: %+v", i, got)
		case i >= 3 && (len(got) != 1 || got[0].Count != i || got[0].Place != contexts.UserPlace(f.pracA.UserID) ||
			strings.Contains(string(got[0].Detail), "TRY")):
			t.Fatalf("after %d refusals: %+v", i, got)
		}
	}
}
