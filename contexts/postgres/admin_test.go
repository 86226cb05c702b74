package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// auditRow is what the tests read back of the newest entry with an action.
func (f *fixture) newestAudit(t *testing.T, action string) (record, reason string, detail map[string]any) {
	t.Helper()
	var d []byte
	if err := f.pool.QueryRow(context.Background(), `SELECT coalesce(record, ''), coalesce(reason, ''), coalesce(detail, '{}')
		FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1`, action).Scan(&record, &reason, &d); err != nil {
		t.Fatalf("no %s entry: %v", action, err)
	}
	if err := json.Unmarshal(d, &detail); err != nil {
		t.Fatal(err)
	}
	return record, reason, detail
}

// TestReadPurposeIsRequiredAndLogged: a read of a young person's records
// says why; the why is in the audit log beside the read (reason in words,
// the code in detail), and an "other" reason is screened like free text.
func TestReadPurposeIsRequiredAndLogged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("PURPOSE-1")))

	_, err := s.SubjectHarmLocations(ctx, f.pracA, "PURPOSE-1", contexts.ReadPurpose{})
	wantCode(t, err, ctxmap.KindInvalid, "purpose_required")
	_, err = s.SubjectHarmLocations(ctx, f.pracA, "PURPOSE-1", contexts.ReadPurpose{Code: "curiosity"})
	wantCode(t, err, ctxmap.KindInvalid, "purpose_required")

	got := must[[]contexts.HarmLocation](t)(s.SubjectHarmLocations(ctx, f.pracA, "PURPOSE-1", contexts.ReadPurpose{Code: contexts.PurposePanel}))
	if len(got) != 1 {
		t.Fatalf("%d records", len(got))
	}
	record, reason, detail := f.newestAudit(t, "harm_locations.read")
	if !strings.HasPrefix(record, "subject-records:") || reason != "panel" || detail["purpose"] != "panel" {
		t.Fatalf("read logged as %q %q %v", record, reason, detail)
	}
	other := must[contexts.ReadPurpose](t)(contexts.ParseReadPurpose("other", "checking the chronology before supervision"))
	must[[]contexts.HarmLocation](t)(s.SubjectHarmLocations(ctx, f.pracA, "PURPOSE-1", other))
	_, reason, detail = f.newestAudit(t, "harm_locations.read")
	if reason != "other: checking the chronology before supervision" || detail["purpose"] != "other" ||
		detail["purpose_note"] != "checking the chronology before supervision" {
		t.Fatalf("other purpose logged as %q %v", reason, detail)
	}
	// The note never carries the young person's id or other personal data.
	for _, note := range []string{"asked about PURPOSE-1 by mum", "call 07700 900123"} {
		p := must[contexts.ReadPurpose](t)(contexts.ParseReadPurpose("other", note))
		before := f.counts(t)
		_, err := s.SubjectHarmLocations(ctx, f.pracA, "PURPOSE-1", p)
		wantCode(t, err, ctxmap.KindUnprocessable, "personal_data")
		f.wantAudited(t, before, f.counts(t), "screening.refused")
	}
}

// TestParseReadPurpose: the API's 400s name the allowed values.
func TestParseReadPurpose(t *testing.T) {
	for _, tc := range []struct{ code, note, want string }{
		{"", "", "purpose_required"}, {"gossip", "", "invalid_purpose"}, {"other", "", "purpose_note_required"},
		{"review", "because", "purpose_note_unexpected"}, {"other", strings.Repeat("x", contexts.PurposeNoteMax+1), "too_long"},
	} {
		_, err := contexts.ParseReadPurpose(tc.code, tc.note)
		e, ok := err.(*ctxmap.Error)
		if !ok || e.Code != tc.want {
			t.Errorf("%q/%q: %v, want %s", tc.code, tc.note, err, tc.want)
			continue
		}
		if tc.want == "purpose_required" || tc.want == "invalid_purpose" {
			if !strings.Contains(e.Message, "assessment, review, panel, other") {
				t.Errorf("%s does not name the allowed values: %s", tc.want, e.Message)
			}
		}
	}
	for _, code := range []string{"assessment", "review", "panel"} {
		if _, err := contexts.ParseReadPurpose(code, ""); err != nil {
			t.Errorf("%s: %v", code, err)
		}
	}
}

// TestAuditSearchFilters: every filter narrows to what it names, pages go
// back in time without gaps or repeats, and every search (and export) is
// itself in the log with its filters, a young person only by their hash.
func TestAuditSearchFilters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	h1 := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("FILTER-1")))
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracB, harmInput("FILTER-2")))
	must[[]contexts.HarmLocation](t)(s.SubjectHarmLocations(ctx, f.pracA, "FILTER-1", contexts.ReadPurpose{Code: contexts.PurposeReview}))
	must[[]contexts.HarmLocation](t)(s.SubjectHarmLocations(ctx, f.pracB, "FILTER-2", forAssessment))
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "FILTER-1", Reason: "named the park"}))
	var mid time.Time
	if err := f.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&mid); err != nil {
		t.Fatal(err)
	}
	must[*contexts.Context](t)(s.UpdateContext(ctx, f.lead, park.ID, contexts.ContextUpdate{Description: ptr("Evenings mostly")}))

	search := func(q contexts.AuditQuery) []contexts.AuditEntry {
		t.Helper()
		return must[*contexts.AuditPage](t)(s.SearchAudit(ctx, f.admin, q, false)).Entries
	}
	actions := func(es []contexts.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Action)
		}
		return out
	}
	all := func(es []contexts.AuditEntry, ok func(contexts.AuditEntry) bool) bool {
		for _, e := range es {
			if !ok(e) {
				return false
			}
		}
		return len(es) > 0
	}
	if es := search(contexts.AuditQuery{UserID: f.pracB.UserID}); !all(es, func(e contexts.AuditEntry) bool { return *e.UserID == f.pracB.UserID }) || len(es) != 2 {
		t.Errorf("user filter: %v", actions(es))
	}
	if es := search(contexts.AuditQuery{Action: "harm_locations.read"}); len(es) != 2 || es[0].Reason != "assessment" || es[1].Purpose != "review" {
		t.Errorf("action filter: %v", es)
	}
	if es := search(contexts.AuditQuery{Action: "context."}); !all(es, func(e contexts.AuditEntry) bool { return strings.HasPrefix(e.Action, "context.") }) || len(es) != 3 {
		t.Errorf("action prefix filter: %v", actions(es))
	}
	if es := search(contexts.AuditQuery{Record: "context:" + itoa(park.ID)}); len(es) != 3 {
		t.Errorf("record filter: %v", actions(es))
	}
	// A young person's entries, by their case system id or their hashed
	// name: the recording, the read and the link (two teams' young person
	// FILTER-2 stays out).
	bySubject := search(contexts.AuditQuery{Subject: "filter-1"})
	if got := strings.Join(actions(bySubject), ","); got != "context.link,harm_locations.read,harm_location.create" {
		t.Errorf("subject filter: %s", got)
	}
	if es := search(contexts.AuditQuery{Subject: bySubject[1].Record}); len(es) != 3 {
		t.Errorf("subject filter by hashed name: %v", actions(es))
	}
	if es := search(contexts.AuditQuery{Purpose: "review"}); len(es) != 1 || *es[0].UserID != f.pracA.UserID {
		t.Errorf("purpose filter: %v", es)
	}
	if es := search(contexts.AuditQuery{From: mid, Action: "context."}); len(es) != 1 || es[0].Action != "context.update" {
		t.Errorf("from filter: %v", actions(es))
	}
	if es := search(contexts.AuditQuery{To: mid, Action: "context."}); len(es) != 2 {
		t.Errorf("to filter: %v", actions(es))
	}
	if es := search(contexts.AuditQuery{Record: "harm-location:" + itoa(h1.ID), UserID: f.pracB.UserID}); len(es) != 0 {
		t.Errorf("filters are ANDed: %v", actions(es))
	}

	// Paging: pages of two, newest first, cover what one big page does.
	whole := search(contexts.AuditQuery{Limit: 1000, To: mid})
	var paged []contexts.AuditEntry
	q := contexts.AuditQuery{Limit: 2, To: mid}
	for range 100 {
		p := must[*contexts.AuditPage](t)(s.SearchAudit(ctx, f.admin, q, false))
		paged = append(paged, p.Entries...)
		if p.Next == 0 {
			break
		}
		q.Before = p.Next
	}
	if len(paged) != len(whole) || len(whole) < 6 {
		t.Fatalf("paged %d entries, one page %d", len(paged), len(whole))
	}
	for i := range whole {
		if paged[i].ID != whole[i].ID {
			t.Fatalf("page order differs at %d: %d vs %d", i, paged[i].ID, whole[i].ID)
		}
	}

	// The search is audited, the young person by their hash only.
	search(contexts.AuditQuery{Subject: "FILTER-1", Purpose: "review"})
	record, _, detail := f.newestAudit(t, "audit.search")
	filters, _ := detail["filters"].(map[string]any)
	if record != "" || filters["purpose"] != "review" || filters["subject"] != bySubject[1].Record || detail["entries"] != 1.0 {
		t.Errorf("search logged as %q %v", record, detail)
	}
	if es := search(contexts.AuditQuery{Purpose: "review"}); len(es) != 1 {
		t.Errorf("a search by purpose is not a read with that purpose: %v", actions(es))
	}
	var leaked int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE detail::text ILIKE '%filter-1%'`).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("a raw subject id reached the audit log (%d entries, %v)", leaked, err)
	}
	must[*contexts.AuditPage](t)(s.SearchAudit(ctx, f.admin, contexts.AuditQuery{Limit: contexts.AuditExportMax}, true))
	if _, _, d := f.newestAudit(t, "export.audit_csv"); d["filters"].(map[string]any)["limit"] != float64(contexts.AuditExportMax) {
		t.Errorf("export logged as %v", d)
	}
	// Bad filters are 400s; other roles may not search.
	for _, q := range []contexts.AuditQuery{{Purpose: "nosy"}, {Limit: contexts.AuditPageMax + 1}, {From: mid, To: mid}} {
		_, err := s.SearchAudit(ctx, f.admin, q, false)
		if ctxmap.KindOf(err) != ctxmap.KindInvalid {
			t.Errorf("%+v: %v", q, err)
		}
	}
	for _, a := range []*contexts.Actor{f.pracA, f.lead, f.analyst} {
		_, err := s.SearchAudit(ctx, a, contexts.AuditQuery{}, false)
		wantCode(t, err, ctxmap.KindForbidden, "forbidden")
	}
	acts := must[[]string](t)(s.AuditActions(ctx, f.admin))
	for _, want := range []string{"audit.search", "context.create", "harm_locations.read", "export.audit_csv"} {
		if !strings.Contains(","+strings.Join(acts, ",")+",", ","+want+",") {
			t.Errorf("actions %v lack %s", acts, want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestUsersAddDisableReset: an admin adds a user and sees their password
// and token once; they are stored only as hashes; a reset replaces both
// and ends the old ones; a disabled user cannot sign in and their sessions
// end; each change is audited, and no secret ever reaches the log.
func TestUsersAddDisableReset(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := NewUsers(f.pool)
	c := must[*contexts.Credentials](t)(u.CreateUser(ctx, f.admin, contexts.UserInput{Name: "new.worker", Role: "practitioner", Team: "Hackney North"}))
	if c.User.Name != "new.worker" || c.User.Role != contexts.RolePractitioner || c.User.Team != "Hackney North" || len(c.Password) < 20 || !strings.HasPrefix(c.Token, "ctxm_") {
		t.Fatalf("credentials %+v", c)
	}
	if _, err := u.TokenActor(ctx, c.Token); err != nil {
		t.Fatalf("new token: %v", err)
	}
	if _, err := u.CheckPassword(ctx, "new.worker", c.Password); err != nil {
		t.Fatalf("new password: %v", err)
	}
	secretsStored := func(secrets ...string) int {
		var n int
		for _, sec := range secrets {
			var k int
			if err := f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users WHERE password_hash LIKE '%'||$1||'%')
				+ (SELECT count(*) FROM api_tokens WHERE encode(token_hash, 'escape') LIKE '%'||$1||'%')
				+ (SELECT count(*) FROM audit_log WHERE detail::text LIKE '%'||$1||'%' OR reason LIKE '%'||$1||'%')`, sec).Scan(&k); err != nil {
				t.Fatal(err)
			}
			n += k
		}
		return n
	}
	if n := secretsStored(c.Password, c.Token); n != 0 {
		t.Fatalf("a secret is stored in plain text %d times", n)
	}
	for _, l := range must[[]contexts.User](t)(u.ListUsers(ctx)) {
		b, _ := json.Marshal(l)
		if strings.Contains(string(b), c.Password) || strings.Contains(string(b), c.Token) {
			t.Fatal("the list shows a secret")
		}
	}
	if rec, _, d := f.newestAudit(t, "user.add"); rec != "user:"+itoa(c.User.UserID) || d["role"] != "practitioner" {
		t.Errorf("user.add logged as %q %v", rec, d)
	}
	sess := must[*contexts.Session](t)(u.CreateSession(ctx, &c.User.Actor, time.Hour))

	// Reset: new secrets work, the old ones and the session do not.
	r := must[*contexts.Credentials](t)(u.ResetUser(ctx, f.admin, c.User.UserID))
	if r.Password == c.Password || r.Token == c.Token {
		t.Fatal("reset gave the same secrets")
	}
	if _, err := u.TokenActor(ctx, c.Token); err == nil {
		t.Error("the old token still works")
	}
	if _, err := u.CheckPassword(ctx, "new.worker", c.Password); err == nil {
		t.Error("the old password still works")
	}
	if _, _, err := u.SessionActor(ctx, sess.ID); err == nil {
		t.Error("the session survived the reset")
	}
	if _, err := u.TokenActor(ctx, r.Token); err != nil {
		t.Errorf("reset token: %v", err)
	}
	if _, err := u.CheckPassword(ctx, "new.worker", r.Password); err != nil {
		t.Errorf("reset password: %v", err)
	}
	if n := secretsStored(r.Password, r.Token); n != 0 {
		t.Fatalf("a reset secret is stored in plain text %d times", n)
	}
	f.newestAudit(t, "user.reset")

	// Disable: no sign-in, sessions end, tokens revoked; not oneself.
	sess = must[*contexts.Session](t)(u.CreateSession(ctx, &c.User.Actor, time.Hour))
	d := must[*contexts.User](t)(u.DisableUser(ctx, f.admin, c.User.UserID))
	if !d.Disabled || d.DisabledAt == nil {
		t.Fatalf("disabled user %+v", d)
	}
	if _, err := u.CheckPassword(ctx, "new.worker", r.Password); err == nil {
		t.Error("a disabled user signed in")
	}
	if _, err := u.TokenActor(ctx, r.Token); err == nil {
		t.Error("a disabled user's token works")
	}
	if _, _, err := u.SessionActor(ctx, sess.ID); err == nil {
		t.Error("a disabled user's session goes on")
	}
	if rec, _, _ := f.newestAudit(t, "user.disable"); rec != "user:"+itoa(c.User.UserID) {
		t.Errorf("user.disable logged as %q", rec)
	}
	_, err := u.ResetUser(ctx, f.admin, c.User.UserID)
	wantCode(t, err, ctxmap.KindConflict, "user_disabled")
	_, err = u.DisableUser(ctx, f.admin, f.admin.UserID)
	wantCode(t, err, ctxmap.KindConflict, "cannot_disable_self")
	_, err = u.DisableUser(ctx, f.admin, 999999)
	wantCode(t, err, ctxmap.KindNotFound, "not_found")
	_, err = u.CreateUser(ctx, f.admin, contexts.UserInput{Name: "new.worker", Role: "analyst", Team: "x"})
	wantCode(t, err, ctxmap.KindConflict, "user_exists")
	_, err = u.CreateUser(ctx, f.admin, contexts.UserInput{Name: "someone", Role: "superuser", Team: "x"})
	wantCode(t, err, ctxmap.KindInvalid, "invalid_role")
	_, err = u.CreateUser(ctx, f.admin, contexts.UserInput{Name: "two words", Role: "analyst", Team: "x"})
	wantCode(t, err, ctxmap.KindInvalid, "invalid_name")
	for _, a := range []*contexts.Actor{f.pracA, f.lead, f.analyst} {
		_, err := u.CreateUser(ctx, a, contexts.UserInput{Name: "sneaky", Role: "admin", Team: "x"})
		wantCode(t, err, ctxmap.KindForbidden, "forbidden")
		_, err = u.ResetUser(ctx, a, f.pracA2.UserID)
		wantCode(t, err, ctxmap.KindForbidden, "forbidden")
		_, err = u.DisableUser(ctx, a, f.pracA2.UserID)
		wantCode(t, err, ctxmap.KindForbidden, "forbidden")
	}
}

// TestOverdueReviews lists the open contexts whose review date is before
// today, most overdue first, with how many days; closed, due-today, future
// and undated reviews stay off it.
func TestOverdueReviews(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	mk := func(pc, review string) int64 {
		c := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: pc}))
		if review != "" {
			if _, err := f.pool.Exec(ctx, `UPDATE contexts SET review_date = $2 WHERE id = $1`, c.ID, review); err != nil {
				t.Fatal(err)
			}
		}
		return c.ID
	}
	// Today is 2026-03-20 (testNow).
	long := mk("E8 3AA", "2026-01-19")
	short := mk("E8 3AB", "2026-03-19")
	mk("N16 7AA", "2026-03-20")
	mk("N16 7AB", "2026-04-01")
	closed := mk("E1 6AW", "2025-12-01")
	if _, err := f.pool.Exec(ctx, `UPDATE contexts SET status = 'closed', closed_at = now() WHERE id = $1`, closed); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*contexts.Actor{f.lead, f.admin} {
		got := must[*contexts.OverdueReviews](t)(s.OverdueReviews(ctx, a))
		if got.Today != "2026-03-20" || len(got.Contexts) != 2 {
			t.Fatalf("%s: %+v", a.Role, got)
		}
		if c := got.Contexts[0]; c.ContextID != long || c.ReviewDate != "2026-01-19" || c.DaysOverdue != 60 || c.DisplayName != "Park, E8 3AA" || c.Team != "Partnership" {
			t.Errorf("most overdue first: %+v", c)
		}
		if c := got.Contexts[1]; c.ContextID != short || c.DaysOverdue != 1 {
			t.Errorf("one day overdue: %+v", c)
		}
	}
	f.newestAudit(t, "reviews.overdue.read")
	for _, a := range []*contexts.Actor{f.pracA, f.analyst} {
		_, err := s.OverdueReviews(ctx, a)
		wantCode(t, err, ctxmap.KindForbidden, "forbidden")
	}
}
