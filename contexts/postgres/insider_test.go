package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// insiderStore is f's database under a store with a movable clock and the
// given options.
func insiderStore(t *testing.T, f *fixture, now *time.Time, opts ...Option) *Store {
	t.Helper()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return *now }
	s, err := NewStore(f.pool, testSecret, f.geo, append([]Option{WithClock(clock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSubjectDailyCapCountsYoungPeopleNewToTheUser: beyond the cap a young
// person new to this user is refused with 429 subject_limit, nothing is
// written, the refusal is audited, and the answer is the same whether or not
// anyone else has that young person on record (no membership probe).
func TestSubjectDailyCapCountsYoungPeopleNewToTheUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithSubjectDailyCap(3))
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	// Another team already has OTHER-1 on record.
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracB, harmInput("OTHER-1")))

	for _, id := range []string{"CAP-1", "CAP-2"} {
		must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput(id)))
	}
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "CAP-3", Reason: "Seen here"}))
	// Young people this user recorded before are not limited.
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("cap-1")))
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "CAP-2", Reason: "Seen here"}))

	refuse := func(name string, call func() error) *ctxmap.Error {
		t.Helper()
		before := f.counts(t)
		e := wantCode(t, call(), ctxmap.KindRateLimited, "subject_limit")
		d := f.wantAudited(t, before, f.counts(t), "subject_limit.refused")
		if d["limit"] != float64(3) {
			t.Errorf("%s: audit detail %v", name, d)
		}
		return e
	}
	// New to this user, on record elsewhere or nowhere: one answer.
	known := refuse("known elsewhere", func() error { _, err := s.CreateHarmLocation(ctx, f.pracA, harmInput("OTHER-1")); return err })
	unknown := refuse("unknown", func() error { _, err := s.CreateHarmLocation(ctx, f.pracA, harmInput("NOBODY-1")); return err })
	if known.Message != unknown.Message || known.Details["retry_at"] != unknown.Details["retry_at"] {
		t.Fatalf("the cap tells a known child from an unknown one:\n%s\n%s", known.Message, unknown.Message)
	}
	if !strings.Contains(known.Message, "3 young people") || !strings.Contains(known.Message, "2026-03-21 12:00 UTC") ||
		known.Details["retry_at"] != "2026-03-21T12:00:00Z" {
		t.Fatalf("message %q details %v", known.Message, known.Details)
	}
	refuse("link", func() error {
		_, err := s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "NOBODY-2", Reason: "Seen here"})
		return err
	})
	// The cap is per user: a colleague in the same team is not limited.
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA2, harmInput("NOBODY-1")))
	// A day later the window has moved on.
	now = testNow.Add(24*time.Hour + time.Second)
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("NOBODY-1")))
}

// TestSubjectDailyCapHoldsUnderConcurrency: many simultaneous requests of
// one user get exactly the cap's worth through.
func TestSubjectDailyCapHoldsUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithSubjectDailyCap(5))
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, limited := 0, 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateHarmLocation(ctx, f.pracA, harmInput("RACE-"+string(rune('A'+i))))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case contexts.IsSubjectLimit(err):
				limited++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 5 || limited != 15 {
		t.Fatalf("%d accepted, %d limited; want 5 and 15", ok, limited)
	}
	var rows int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM harm_locations WHERE created_by = $1`, f.pracA.UserID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 5 {
		t.Fatalf("%d harm locations written, want 5", rows)
	}
}

// TestAdminAlerts: a burst of young people new to one user at one cell or
// context, and a record archived within 24 hours of creation, each raise one
// alert per kind, user, place and day; admins read them (audited) and mark
// them read; the alerts carry no subject.
func TestAdminAlerts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithBurstAlert(3))
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AB"}))
	list := func() []contexts.AdminAlert {
		t.Helper()
		return must[[]contexts.AdminAlert](t)(s.AdminAlerts(ctx, f.admin, contexts.AlertQuery{}))
	}
	var recs []*contexts.HarmLocation
	for _, id := range []string{"BURST-1", "BURST-2"} {
		recs = append(recs, must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput(id))))
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("alerts below the threshold: %+v", got)
	}
	// Someone else's young people at the same place do not add up with hers.
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracB, harmInput("BURST-9")))
	for _, id := range []string{"BURST-3", "BURST-4", "burst-1"} {
		recs = append(recs, must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput(id))))
	}
	got := list()
	if len(got) != 1 || got[0].Kind != contexts.AlertSubjectBurst || got[0].UserID != f.pracA.UserID || got[0].Count != 4 ||
		got[0].Day != "2026-03-20" || !strings.HasPrefix(got[0].Place, "cell:88") || got[0].ReadAt != nil || got[0].Team != "Hackney North" {
		t.Fatalf("burst alerts %+v", got)
	}
	// Links to one context.
	for _, id := range []string{"BURST-1", "LINK-1", "LINK-2"} {
		must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: id, Reason: "Seen here"}))
	}
	got = list()
	if len(got) != 2 || got[0].Place != contexts.ContextPlace(park.ID) || got[0].Count != 3 {
		t.Fatalf("context burst %+v", got)
	}
	// Two quick archives at one place are one alert.
	for _, r := range recs[:2] {
		must[*contexts.HarmLocation](t)(s.ArchiveHarmLocation(ctx, f.pracA, r.ID, contexts.ArchiveInput{Reason: contexts.ArchiveNeverAnIssue, Note: "Entered by mistake"}))
	}
	got = list()
	if len(got) != 3 || got[0].Kind != contexts.AlertQuickArchive || got[0].Count != 2 {
		t.Fatalf("quick archive alerts %+v", got)
	}
	var d map[string]any
	if err := json.Unmarshal(got[0].Detail, &d); err != nil || len(d["harm_location_ids"].([]any)) != 2 {
		t.Fatalf("quick archive detail %s", got[0].Detail)
	}
	b, _ := json.Marshal(got)
	if strings.Contains(strings.ToUpper(string(b)), "BURST-") || strings.Contains(string(b), "LINK-") || strings.Contains(string(b), "mistake") {
		t.Fatalf("alerts carry a subject or free text: %s", b)
	}
	// Reading is admin only and audited; marking read keeps the alert.
	if _, err := s.AdminAlerts(ctx, f.analyst, contexts.AlertQuery{}); err == nil {
		t.Fatal("an analyst read the alerts")
	}
	before := f.counts(t)
	list()
	f.wantAudited(t, before, f.counts(t), "admin_alerts.read")
	read := must[*contexts.AdminAlert](t)(s.MarkAlertRead(ctx, f.admin, got[1].ID))
	if read.ReadAt == nil || read.ReadBy != "ada" {
		t.Fatalf("marked %+v", read)
	}
	if unread := must[[]contexts.AdminAlert](t)(s.AdminAlerts(ctx, f.admin, contexts.AlertQuery{UnreadOnly: true})); len(unread) != 2 {
		t.Fatalf("unread %+v", unread)
	}
	_, err := s.MarkAlertRead(ctx, f.admin, 999999)
	wantCode(t, err, ctxmap.KindNotFound, "not_found")
	// A record archived a day or more after creation raises nothing.
	old := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracB, harmInput("OLD-1")))
	if _, err := f.pool.Exec(ctx, `UPDATE harm_locations SET created_at = now() - interval '25 hours' WHERE id = $1`, old.ID); err != nil {
		t.Fatal(err)
	}
	must[*contexts.HarmLocation](t)(s.ArchiveHarmLocation(ctx, f.pracB, old.ID, contexts.ArchiveInput{Reason: contexts.ArchiveNoLongerAnIssue, Note: "Resolved"}))
	if n := len(list()); n != 3 {
		t.Fatalf("%d alerts after a late archive, want 3", n)
	}
}

// TestLinkCountsUnderK: a context lead, analyst and admin see one linked
// young person as "fewer than k"; practitioners see exact counts by team.
func TestLinkCountsUnderK(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := testNow
	s := insiderStore(t, f, &now, WithDisclosureThreshold(5))
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracB, park.ID, contexts.LinkInput{Subject: "ONE-1", Reason: "Seen here"}))
	f.markReleased(t)
	for _, a := range []*contexts.Actor{f.lead, f.analyst, f.admin} {
		sum := must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, a, park.ID))
		if b, _ := json.Marshal(sum); string(b) != `{"young_people":{"count":null,"fewer_than":5},"teams":["Hackney South"],`+
			`"by_team":[{"team":"Hackney South","young_people":{"count":null,"fewer_than":5}}]}` {
			t.Errorf("%s: %s", a.Role, b)
		}
	}
	sum := must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.pracA, park.ID))
	if sum.YoungPeople.Count == nil || *sum.YoungPeople.Count != 1 || *sum.ByTeam[0].YoungPeople.Count != 1 {
		t.Fatalf("practitioner %+v", sum)
	}
	for i := range 6 {
		must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "MANY-" + string(rune('A'+i)), Reason: "Seen here"}))
	}
	// Roles other than practitioners see links as of the latest release:
	// the six new links are not there yet.
	b, _ := json.Marshal(must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.analyst, park.ID)))
	if string(b) != `{"young_people":{"count":null,"fewer_than":5},"teams":["Hackney South"],`+
		`"by_team":[{"team":"Hackney South","young_people":{"count":null,"fewer_than":5}}]}` {
		t.Fatalf("analyst before the next release: %s", b)
	}
	f.markReleased(t)
	// 7 in all, 6 by Hackney North: Hackney South's 1 is hidden, so the
	// total is only a lower bound, or 7 - 6 would give it away.
	b, _ = json.Marshal(must[*contexts.LinkSummary](t)(s.LinkSummary(ctx, f.analyst, park.ID)))
	if string(b) != `{"young_people":{"count":null,"at_least":7},"teams":["Hackney North","Hackney South"],`+
		`"by_team":[{"team":"Hackney North","young_people":{"count":6}},{"team":"Hackney South","young_people":{"count":null,"fewer_than":5}}]}` {
		t.Fatalf("analyst %s", b)
	}
	// The chronology: one month-only entry per team and kind for the lead.
	chron := must[[]contexts.ChronologyEntry](t)(s.Chronology(ctx, f.lead, park.ID))
	var links int
	for _, e := range chron {
		if e.Event == contexts.EventLinked {
			links++
			if !e.At.Month || e.Actor != "" {
				t.Errorf("lead's link event %+v", e)
			}
		}
	}
	if links != 2 {
		t.Fatalf("lead sees %d link entries for 7 links by 2 teams, want 2", links)
	}
	if n := len(must[[]contexts.ChronologyEntry](t)(s.Chronology(ctx, f.pracA, park.ID))); n != 8 {
		t.Fatalf("practitioner sees %d events, want 8", n)
	}
}
