package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
)

// retentionFixture is the fixture's records as retention sees them on
// testNow (2026-03-20) under the default policy: young people with no
// record since before 2019-03-20 and contexts closed before 2020-03-20 are
// due.
type retentionFixture struct {
	*fixture
	ret                           *Retention
	oldCtx, recentClosed, openCtx int64
	newRecordOnOldCtx             int64
	subjects                      map[string]int64
	auditBefore, auditMaxIDBefore int
	oldSubjectName                string
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func newRetentionFixture(t *testing.T) *retentionFixture {
	t.Helper()
	f := &retentionFixture{fixture: newFixture(t), subjects: map[string]int64{}}
	ctx := context.Background()
	s := f.store
	f.ret = must[*Retention](t)(NewRetention(s, f.pool, contexts.DefaultRetention, false))
	rec := func(a *contexts.Actor, subject string, ctxID int64) int64 {
		in := harmInput(subject)
		in.ContextID = ctxID
		return must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, a, in)).ID
	}
	mkCtx := func(pc string) int64 {
		return must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: pc})).ID
	}
	f.oldCtx, f.recentClosed, f.openCtx = mkCtx("E8 3AA"), mkCtx("E8 3AB"), mkCtx("N16 7AA")
	rec(f.pracA, "RET-OLD", 0)
	rec(f.pracB, "RET-OLD", 0) // two teams: every team's records go
	rec(f.pracA, "RET-ARCHIVED", 0)
	rec(f.pracA, "RET-LINKED", 0)
	f.newRecordOnOldCtx = rec(f.pracA, "RET-NEW", f.oldCtx)
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, f.openCtx, contexts.LinkInput{Subject: "RET-LINKED", Reason: "named in safety mapping"}))
	must[*contexts.Link](t)(s.LinkYoungPerson(ctx, f.pracA, f.oldCtx, contexts.LinkInput{Subject: "RET-NEW", Reason: "named the park"}))
	evidence := map[string]string{"needs": "Safer evenings", "guardianship": "Wardens", "environment": "New lights"}
	for _, id := range []int64{f.oldCtx, f.recentClosed} {
		must[*contexts.Context](t)(s.CloseContext(ctx, f.lead, id, contexts.CloseInput{Reason: "Safer", Evidence: evidence}))
	}
	h := contexts.NewSubjectHasher(testSecret)
	for _, name := range []string{"RET-OLD", "RET-ARCHIVED", "RET-LINKED", "RET-NEW"} {
		sh := h.Hash(name)
		var id int64
		if err := f.pool.QueryRow(ctx, `SELECT id FROM subjects WHERE hash = $1`, sh[:]).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.subjects[name] = id
	}
	f.oldSubjectName = contexts.AuditSubject(h.Hash("RET-OLD"))
	// Back-date: every record made in 2018, then the late events that keep
	// two of them (an archive in 2025, a link in 2024).
	f.exec(t, `UPDATE subjects SET created_at = '2018-01-10' WHERE id <> $1`, f.subjects["RET-NEW"])
	f.exec(t, `UPDATE harm_locations SET created_at = '2018-01-10' WHERE subject_id <> $1`, f.subjects["RET-NEW"])
	f.exec(t, `UPDATE harm_locations SET archived_at = '2025-06-01', archived_by = $2, archive_reason = 'no_longer_an_issue'
		WHERE subject_id = $1`, f.subjects["RET-ARCHIVED"], f.pracA.UserID)
	f.exec(t, `UPDATE context_links SET linked_at = '2024-05-01' WHERE subject_id = $1`, f.subjects["RET-LINKED"])
	f.exec(t, `UPDATE contexts SET closed_at = '2019-01-01', created_at = '2017-01-01' WHERE id = $1`, f.oldCtx)
	f.exec(t, `UPDATE contexts SET closed_at = '2021-01-01', created_at = '2017-01-01' WHERE id = $1`, f.recentClosed)
	f.exec(t, `UPDATE contexts SET created_at = '2015-01-01', review_date = '2016-01-01' WHERE id = $1`, f.openCtx)
	if err := f.pool.QueryRow(ctx, `SELECT count(*), max(id) FROM audit_log`).Scan(&f.auditBefore, &f.auditMaxIDBefore); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *retentionFixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// auditKept fails unless every entry written before the run is still there.
func (f *retentionFixture) auditKept(t *testing.T) {
	t.Helper()
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE id <= $1`, f.auditMaxIDBefore); n != f.auditBefore {
		t.Fatalf("the audit log lost entries: %d of %d left", n, f.auditBefore)
	}
}

func records(es []contexts.Erasure) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Kind+" "+e.Record)
	}
	return out
}

// TestRetentionErasesExactlyWhatThePolicySays: a dry run lists the one young
// person with no record for more than 7 years and the one context closed
// more than 6 years ago, and erases nothing; the run erases exactly those
// (every team's records of the young person, the context's chronology and
// work), audits each erasure with kind, record, why and since when, keeps
// everyone else, and leaves every audit entry, about the erased too.
func TestRetentionErasesExactlyWhatThePolicySays(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := context.Background()
	want := "young_person " + f.oldSubjectName + ",context context:" + itoa(f.oldCtx)

	before := f.counts(t)
	dry, ran, err := f.ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator, DryRun: true})
	if err != nil || !ran {
		t.Fatalf("dry run: %v %v", ran, err)
	}
	if got := strings.Join(records(dry.Erasures), ","); got != want {
		t.Fatalf("dry run lists %s, want %s", got, want)
	}
	if dry.Erasures[0].Rows["harm_locations"] != 2 || dry.Erasures[1].Rows["context_events"] == 0 {
		t.Errorf("dry run counts %v / %v", dry.Erasures[0].Rows, dry.Erasures[1].Rows)
	}
	after := f.counts(t)
	after["audit_log"]--
	if !equalCounts(before, after) {
		t.Fatalf("the dry run changed something: %v -> %v", before, after)
	}
	f.newestAudit(t, "retention.dry_run")
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'retention.erase'`); n != 0 {
		t.Fatalf("a dry run audited %d erasures", n)
	}

	rep, ran, err := f.ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
	if err != nil || !ran || rep.Failed != 0 {
		t.Fatalf("run: %v %v %+v", ran, err, rep)
	}
	if got := strings.Join(records(rep.Erasures), ","); got != want {
		t.Fatalf("run erased %s, want %s", got, want)
	}
	old := f.subjects["RET-OLD"]
	for _, q := range []string{`SELECT count(*) FROM harm_locations WHERE subject_id = $1`, `SELECT count(*) FROM subjects WHERE id = $1`,
		`SELECT count(*) FROM user_subjects WHERE subject_id = $1`, `SELECT count(*) FROM context_links WHERE subject_id = $1`} {
		if n := f.count(t, q, old); n != 0 {
			t.Errorf("%s: %d left", q, n)
		}
	}
	sh := contexts.NewSubjectHasher(testSecret).Hash("RET-OLD")
	if n := f.count(t, `SELECT count(*) FROM team_subjects WHERE hash = $1`, sh[:]); n != 0 {
		t.Errorf("the team ledgers still name the erased young person (%d)", n)
	}
	for _, tbl := range []string{"contexts WHERE id", "context_events WHERE context_id", "context_closures WHERE context_id",
		"context_links WHERE context_id", "notifications WHERE context_id"} {
		if n := f.count(t, `SELECT count(*) FROM `+tbl+` = $1`, f.oldCtx); n != 0 {
			t.Errorf("%s: %d left", tbl, n)
		}
	}
	// Everyone and everything else stays; a record that named the erased
	// context keeps its place and loses the reference.
	for _, name := range []string{"RET-ARCHIVED", "RET-LINKED", "RET-NEW"} {
		if n := f.count(t, `SELECT count(*) FROM harm_locations WHERE subject_id = $1`, f.subjects[name]); n != 1 {
			t.Errorf("%s lost records: %d left", name, n)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM harm_locations WHERE id = $1 AND context_id IS NULL`, f.newRecordOnOldCtx); n != 1 {
		t.Error("the record that named the erased context still names it")
	}
	if n := f.count(t, `SELECT count(*) FROM contexts WHERE id = ANY($1)`, []int64{f.recentClosed, f.openCtx}); n != 2 {
		t.Errorf("kept contexts: %d of 2", n)
	}
	// Each erasure is audited; the audit log keeps every earlier entry,
	// including those about the erased young person.
	f.auditKept(t)
	rec, why, detail := f.newestAudit(t, "retention.erase")
	if rec != "context:"+itoa(f.oldCtx) || !strings.Contains(why, "6 years") || detail["kind"] != "context" ||
		!strings.HasPrefix(detail["since"].(string), "2019-01-01") || detail["run"] != float64(rep.RunID) {
		t.Errorf("context erasure logged as %q %q %v", rec, why, detail)
	}
	page := must[*contexts.AuditPage](t)(f.store.SearchAudit(ctx, f.admin, contexts.AuditQuery{Subject: "RET-OLD"}, false))
	var acts []string
	for _, e := range page.Entries {
		acts = append(acts, e.Action)
		if e.Action == "retention.erase" && (e.Reason != contexts.DefaultRetention.Why(contexts.ErasedYoungPerson) || !strings.Contains(e.Reason, "7 years")) {
			t.Errorf("young person erasure logged with why %q", e.Reason)
		}
	}
	if got := strings.Join(acts, ","); got != "retention.erase,harm_location.create,harm_location.create" {
		t.Errorf("the log about the erased young person: %s", got)
	}
	if n := f.count(t, `SELECT count(*) FROM retention_runs WHERE id = $1 AND finished_at IS NOT NULL AND young_people = 1 AND contexts = 1`, rep.RunID); n != 1 {
		t.Error("the run is not recorded as finished with its counts")
	}
	// Nothing more is due.
	again, _, err := f.ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
	if err != nil || len(again.Erasures) != 0 {
		t.Fatalf("second run: %v %v", records(again.Erasures), err)
	}
	// The screen's status shows the policy, the runs and nothing due.
	st := must[*contexts.RetentionStatus](t)(f.ret.Status(ctx, f.admin))
	if st.Policy != contexts.DefaultRetention || len(st.Runs) != 3 || len(st.Due) != 0 {
		t.Errorf("status %+v", st)
	}
	if _, err := f.ret.Status(ctx, f.lead); err == nil {
		t.Error("a context lead read the retention status")
	}
}

// TestRetentionErasesAYoungPersonWholeOrNotAtAll: when one young person's
// erasure fails (here a row elsewhere still refers to them), that
// erasure is rolled back whole, the others go ahead, and the run says how
// many failed; the next run, with the obstacle gone, erases them.
func TestRetentionErasesAYoungPersonWholeOrNotAtAll(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := context.Background()
	f.exec(t, `CREATE TABLE test_holds (subject_id bigint REFERENCES subjects(id))`)
	f.exec(t, `INSERT INTO test_holds VALUES ($1)`, f.subjects["RET-OLD"])
	rep, _, err := f.ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
	if err != nil || rep.Failed != 1 || strings.Join(records(rep.Erasures), ",") != "context context:"+itoa(f.oldCtx) {
		t.Fatalf("run: %v %+v", err, rep)
	}
	if n := f.count(t, `SELECT count(*) FROM harm_locations WHERE subject_id = $1`, f.subjects["RET-OLD"]); n != 2 {
		t.Fatalf("a failed erasure left %d of 2 records: a partial erasure", n)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'retention.erase' AND record = $1`, f.oldSubjectName); n != 0 {
		t.Fatal("a rolled-back erasure is in the audit log")
	}
	f.exec(t, `DROP TABLE test_holds`)
	rep, _, err = f.ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
	if err != nil || rep.Failed != 0 || len(rep.Erasures) != 1 || rep.Erasures[0].Record != f.oldSubjectName {
		t.Fatalf("second run: %v %+v", err, rep)
	}
	f.auditKept(t)
}

// waitForLockWait blocks until some session waits on a row or advisory lock
// with a query containing what: a structural wait, not a timed one.
func (f *fixture) waitForLockWait(t *testing.T, what string) {
	t.Helper()
	for range 3000 {
		var n int
		if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%'||$1||'%'`, what).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nobody waited on a lock for %q", what)
}

// TestRetentionNeverErasesAWriteInFlight: a write for a young person who is
// due holds their subject row (upsertSubject), so the erasure waits for it,
// then finds them recorded again and keeps them: an acknowledged write is
// never erased, nor left pointing at an erased subject.
func TestRetentionNeverErasesAWriteInFlight(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	h := contexts.NewSubjectHasher(testSecret)
	sh := h.Hash("RET-OLD")
	sid, err := f.store.upsertSubject(ctx, tx, sh, h.CellKey(sh))
	if err != nil || sid != f.subjects["RET-OLD"] {
		t.Fatalf("upsert: %d %v", sid, err)
	}
	done := make(chan *contexts.RetentionReport, 1)
	go func() {
		rep, _, err := f.ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	f.waitForLockWait(t, "FOR UPDATE")
	// The write goes on and commits: a new record of the young person today.
	if _, err := tx.Exec(ctx, `INSERT INTO harm_locations (subject_id, subject_key, team_id, created_by, layer, categories, familial,
			occurred_on, occurred_precision, source, location_type, match, precision_m, lat, lon, h3_r6, taxonomy_version)
		SELECT subject_id, subject_key, team_id, created_by, layer, categories, familial, occurred_on, occurred_precision, source,
			location_type, match, precision_m, lat, lon, h3_r6, taxonomy_version FROM harm_locations WHERE subject_id = $1 LIMIT 1`, sid); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rep := <-done
	if rep == nil {
		t.Fatal("no report")
	}
	for _, e := range rep.Erasures {
		if e.Record == f.oldSubjectName {
			t.Fatal("the young person recorded during the run was erased")
		}
	}
	if n := f.count(t, `SELECT count(*) FROM harm_locations h JOIN subjects s ON s.id = h.subject_id WHERE s.id = $1`, sid); n != 3 {
		t.Fatalf("%d records of the young person, want 3", n)
	}
}

// TestRetentionRunsOnOneReplica: the schedule runs only where it holds the
// retention lock, and only when no run finished within a day; an operator's
// run waits for the lock instead.
func TestRetentionRunsOnOneReplica(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := context.Background()
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, retentionLock); err != nil {
		t.Fatal(err)
	}
	rep, ran, err := f.ret.Run(ctx, nil, contexts.RetentionRequest{How: contexts.RetentionScheduled})
	if err != nil || ran || rep != nil {
		t.Fatalf("scheduled run while another replica runs: %v %v", ran, err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err = f.ret.Run(short, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the operator's run did not wait for the lock: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM retention_runs`); n != 0 {
		t.Fatalf("%d runs recorded while the lock was held elsewhere", n)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, retentionLock); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	rep, ran, err = f.ret.Run(ctx, nil, contexts.RetentionRequest{How: contexts.RetentionScheduled})
	if err != nil || !ran || len(rep.Erasures) != 2 {
		t.Fatalf("scheduled run: %v %v %v", ran, err, rep)
	}
	if _, ran, err = f.ret.Run(ctx, nil, contexts.RetentionRequest{How: contexts.RetentionScheduled}); err != nil || ran {
		t.Fatalf("a second scheduled run within a day: %v %v", ran, err)
	}
	// The policy's zero years erase nothing of that kind.
	never := must[*Retention](t)(NewRetention(f.store, f.pool, contexts.RetentionPolicy{}, false))
	if rep, _, err := never.Run(ctx, nil, contexts.RetentionRequest{How: contexts.RetentionOperator, DryRun: true}); err != nil || len(rep.Erasures) != 0 {
		t.Fatalf("a policy of zeros: %v %v", err, rep)
	}
	if _, err := NewRetention(f.store, f.pool, contexts.RetentionPolicy{YoungPersonYears: -1}, false); err == nil {
		t.Error("a negative period was accepted")
	}
}
