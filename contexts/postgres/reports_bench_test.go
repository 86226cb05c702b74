package postgres

import (
	"context"
	"net/url"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
)

// seedReportVolume loads a large partnership's context work in bulk: 2,000
// contexts opened over three years (70% locations, 15% groups, 15%
// schools; 30% closed, a tenth of those reopened and closed again; review
// dates past, near and far), 10,000 interventions and 6,000 links of 3,000
// young people to 600 of the contexts. The rows are written with SQL, not
// through the store's methods, so the benchmark's set-up takes seconds;
// the reports only read them.
func seedReportVolume(tb testing.TB, f *fixture) {
	tb.Helper()
	ctx := context.Background()
	team, user := f.lead.TeamID, f.lead.UserID
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`SELECT setseed(0.42)`, nil},
		{`INSERT INTO contexts (kind, location_type, name, display_name, review_date, lat, lon, team_id, created_by, created_at, updated_at, status, closed_at)
		 SELECT kind, CASE WHEN kind = 'location' THEN (ARRAY['park','street','bus_stop','station','shop','takeaway','estate','stairwell'])[1 + i % 8] END,
			'Bench ' || i, 'Bench context ' || i,
			CASE WHEN i % 5 = 0 THEN NULL ELSE date '2026-03-20' + (random() * 240 - 60)::int END,
			CASE WHEN kind = 'group' THEN NULL ELSE 51.53 + random() * 0.04 END,
			CASE WHEN kind = 'group' THEN NULL ELSE -0.08 + random() * 0.05 END,
			$1, $2, opened, opened, CASE WHEN i % 10 < 3 THEN 'closed' ELSE 'open' END,
			CASE WHEN i % 10 < 3 THEN opened + interval '1 day' * (20 + i % 200) END
		 FROM (SELECT i, CASE WHEN i % 20 < 14 THEN 'location' WHEN i % 20 < 17 THEN 'group' ELSE 'school' END AS kind,
				timestamptz '2023-03-01' + random() * interval '1080 days' AS opened
			FROM generate_series(1, 2000) i) x`, []any{team, user}},
		{`INSERT INTO context_closures (context_id, reason, evidence_needs, evidence_guardianship, evidence_environment, closed_by, closed_at,
			reopened_by, reopened_at, reopen_reason)
		 SELECT id, 'Safer', 'a', 'b', 'c', $1, closed_at - interval '40 days', $1, closed_at - interval '30 days', 'Back'
		 FROM contexts WHERE status = 'closed' AND id % 10 = 0 AND closed_at - interval '40 days' > created_at`, []any{user}},
		{`INSERT INTO context_closures (context_id, reason, evidence_needs, evidence_guardianship, evidence_environment, closed_by, closed_at)
		 SELECT id, 'Safer', 'a', 'b', 'c', $1, closed_at FROM contexts WHERE status = 'closed'`, []any{user}},
		{`INSERT INTO context_interventions (context_id, action, partner_agency, side, status, due_date, created_by, updated_by, created_at, updated_at)
		 SELECT c.id, 'Bench action', (ARRAY['police','housing','transport','licensing','school','youth_services','local_business',
				'community_safety','parks','health','social_care','voluntary_sector','other'])[1 + i % 13],
			(ARRAY['needs','guardianship','environment'])[1 + i % 3], (ARRAY['planned','in_progress','done','dropped'])[1 + (i / 3) % 4],
			(c.created_at + interval '1 day' * (30 + i % 300))::date, $1, $1, c.created_at + interval '1 day' * (i % 60), c.created_at
		 FROM generate_series(1, 10000) i JOIN contexts c ON c.id = 1 + (i * 7919) % 2000`, []any{user}},
		{`INSERT INTO subjects (hash, cell_key) SELECT sha256(('bench-' || i)::bytea), i % 256 FROM generate_series(1, 3000) i`, nil},
		{`INSERT INTO context_links (context_id, subject_id, team_id, linked_by, reason)
		 SELECT DISTINCT ON (cid, sid, tid) cid, sid, tid, $1, 'Bench'
		 FROM (SELECT 1 + (i * 31) % 600 * 3 AS cid, (SELECT min(id) FROM subjects) + i % 3000 AS sid,
				(SELECT id FROM teams ORDER BY id LIMIT 1) + i % 2 AS tid FROM generate_series(1, 6000) i) x`, []any{user}},
		{`ANALYZE`, nil},
	} {
		if _, err := f.pool.Exec(ctx, st.sql, st.args...); err != nil {
			tb.Fatalf("%.60s...: %v", st.sql, err)
		}
	}
}

// BenchmarkReports answers each report for an analyst over the widest
// window (36 months) of the volume above, as the handler does (the store
// call and the CSV table). The target is under 200 ms a report.
func BenchmarkReports(b *testing.B) {
	f := newFixture(b)
	seedReportVolume(b, f)
	ctx := context.Background()
	for _, name := range []string{contexts.ReportInterventions, contexts.ReportOverdue, contexts.ReportContextActivity,
		contexts.ReportTimeToClose, contexts.ReportReviews} {
		q := url.Values{}
		switch name {
		case contexts.ReportOverdue:
		case contexts.ReportReviews:
			q.Set("due_within", "365")
		default:
			q.Set("from", "2023-03")
			q.Set("to", "2026-02")
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				r, err := f.store.Report(ctx, f.analyst, name, q)
				if err != nil {
					b.Fatal(err)
				}
				rows = len(r.Table()) - 1
			}
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
