package postgres

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap/contexts"
)

// The reports for commissioning (contexts/reports.go), read from the
// context records. Months are UK calendar months: a record belongs to the
// month its time falls in in Europe/London.

// reportRoles may read reports: the partnership's roles. Practitioners work
// with their own young people and are offered none.
var reportRoles = []contexts.Role{contexts.RoleContextLead, contexts.RoleAnalyst, contexts.RoleAdmin}

// ReportCatalogue describes the reports as of the store's today.
func (s *Store) ReportCatalogue(ctx context.Context, a *contexts.Actor) (*contexts.ReportCatalogue, error) {
	if err := contexts.Require(a, reportRoles...); err != nil {
		return nil, err
	}
	c := contexts.NewReportCatalogue(s.now(), s.k)
	return &c, nil
}

// Report answers report name with query parameters q (without the web
// layer's own, such as format). Reading it is audited by the caller, which
// knows the format it is sent in.
func (s *Store) Report(ctx context.Context, a *contexts.Actor, name string, q url.Values) (contexts.ReportAnswer, error) {
	if err := contexts.Require(a, reportRoles...); err != nil {
		return nil, err
	}
	rq, err := contexts.ParseReportQuery(name, q, s.now())
	if err != nil {
		return nil, err
	}
	switch name {
	case contexts.ReportInterventions:
		return s.interventionsReport(ctx, rq)
	case contexts.ReportOverdue:
		return s.overdueReport(ctx, a, rq)
	case contexts.ReportContextActivity:
		return s.contextActivityReport(ctx, rq)
	case contexts.ReportTimeToClose:
		return s.timeToCloseReport(ctx, rq)
	case contexts.ReportReviews:
		return s.reviewsReport(ctx, a, rq)
	}
	return nil, fmt.Errorf("report %s has no query", name)
}

// interventionsReport counts interventions by the month they were added
// and, as grouped, their agency, current status and side.
func (s *Store) interventionsReport(ctx context.Context, rq contexts.ReportQuery) (*contexts.InterventionsReport, error) {
	rows, err := s.db.Query(ctx, `SELECT to_char(i.created_at AT TIME ZONE 'Europe/London', 'YYYY-MM'),
			CASE WHEN $3 THEN i.partner_agency ELSE '' END, CASE WHEN $4 THEN i.status ELSE '' END,
			CASE WHEN $5 THEN i.side ELSE '' END, count(*)
		FROM context_interventions i
		WHERE i.created_at >= $1 AND i.created_at < $2
		GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, rq.From, rq.End,
		rq.Grouped("partner_agency"), rq.Grouped("status"), rq.Grouped("side"))
	if err != nil {
		return nil, fmt.Errorf("interventions report: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.InterventionCount, error) {
		var x contexts.InterventionCount
		err := r.Scan(&x.Month, &x.PartnerAgency, &x.Status, &x.Side, &x.Interventions)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("interventions report: %w", err)
	}
	return contexts.NewInterventionsReport(rq, s.k, out), nil
}

// overdueReport lists the interventions on open contexts still planned or
// in progress after their due date (before today), most overdue first.
func (s *Store) overdueReport(ctx context.Context, a *contexts.Actor, rq contexts.ReportQuery) (*contexts.OverdueReport, error) {
	rows, err := s.db.Query(ctx, `SELECT c.id, c.display_name, c.kind, coalesce(c.location_type, ''), i.id, i.action,
			i.partner_agency, i.side, i.status, i.due_date, $1::date - i.due_date
		FROM context_interventions i JOIN contexts c ON c.id = i.context_id
		WHERE c.status = 'open' AND i.status IN ('planned', 'in_progress') AND i.due_date < $1::date
		ORDER BY i.due_date, i.id`, rq.Today)
	if err != nil {
		return nil, fmt.Errorf("overdue report: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.OverdueIntervention, error) {
		var x contexts.OverdueIntervention
		var due time.Time
		err := r.Scan(&x.ContextID, &x.DisplayName, &x.Kind, &x.LocationType, &x.InterventionID, &x.Action,
			&x.PartnerAgency, &x.Side, &x.Status, &due, &x.DaysOverdue)
		x.DueDate = due.Format(time.DateOnly)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("overdue report: %w", err)
	}
	if err := withLinkCounts(ctx, s, a, out, func(x *contexts.OverdueIntervention) int64 { return x.ContextID },
		func(x *contexts.OverdueIntervention, l contexts.LinkSummary) {
			x.YoungPeople, x.Teams = l.YoungPeople, l.Teams
		}); err != nil {
		return nil, err
	}
	return contexts.NewOverdueReport(rq, s.k, out), nil
}

// contextActivityReport counts openings (the record's creation), closures
// and reopenings by month and, as grouped, kind and location type.
func (s *Store) contextActivityReport(ctx context.Context, rq contexts.ReportQuery) (*contexts.ContextActivityReport, error) {
	rows, err := s.db.Query(ctx, `WITH ev AS (
			SELECT created_at AS at, id AS context_id, 1 AS opened, 0 AS closed, 0 AS reopened
			FROM contexts WHERE created_at >= $1 AND created_at < $2
			UNION ALL
			SELECT closed_at, context_id, 0, 1, 0 FROM context_closures WHERE closed_at >= $1 AND closed_at < $2
			UNION ALL
			SELECT reopened_at, context_id, 0, 0, 1 FROM context_closures WHERE reopened_at >= $1 AND reopened_at < $2)
		SELECT to_char(ev.at AT TIME ZONE 'Europe/London', 'YYYY-MM'),
			CASE WHEN $3 THEN x.kind ELSE '' END, CASE WHEN $4 THEN coalesce(x.location_type, '') ELSE '' END,
			sum(ev.opened)::int, sum(ev.closed)::int, sum(ev.reopened)::int
		FROM ev JOIN contexts x ON x.id = ev.context_id
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, rq.From, rq.End, rq.Grouped("kind"), rq.Grouped("location_type"))
	if err != nil {
		return nil, fmt.Errorf("contexts report: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.ContextActivity, error) {
		var x contexts.ContextActivity
		err := r.Scan(&x.Month, &x.Kind, &x.LocationType, &x.Opened, &x.Closed, &x.Reopened)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("contexts report: %w", err)
	}
	return contexts.NewContextActivityReport(rq, s.k, out), nil
}

// timeToCloseReport measures each closure in the window from the context's
// opening, or from its reopening after the previous closure, in UK calendar
// days; grouped rows and one overall row (GROUPING SETS).
func (s *Store) timeToCloseReport(ctx context.Context, rq contexts.ReportQuery) (*contexts.TimeToCloseReport, error) {
	rows, err := s.db.Query(ctx, `WITH episodes AS (
			SELECT k.closed_at, c.kind, coalesce(c.location_type, '') AS location_type,
				(k.closed_at AT TIME ZONE 'Europe/London')::date
				- (coalesce(lag(k.reopened_at) OVER (PARTITION BY k.context_id ORDER BY k.id), c.created_at)
					AT TIME ZONE 'Europe/London')::date AS days
			FROM context_closures k JOIN contexts c ON c.id = k.context_id),
		chosen AS (
			SELECT CASE WHEN $3 THEN kind ELSE '' END AS kind, CASE WHEN $4 THEN location_type ELSE '' END AS location_type, days
			FROM episodes WHERE closed_at >= $1 AND closed_at < $2)
		SELECT GROUPING(kind, location_type) = 3, coalesce(kind, ''), coalesce(location_type, ''), count(*)::int,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY days), avg(days)::float8
		FROM chosen GROUP BY GROUPING SETS ((kind, location_type), ())
		ORDER BY 1, 2, 3`, rq.From, rq.End, rq.Grouped("kind"), rq.Grouped("location_type"))
	if err != nil {
		return nil, fmt.Errorf("time to close report: %w", err)
	}
	var out []contexts.CloseTime
	var all contexts.CloseTime
	var total bool
	var x contexts.CloseTime
	if _, err := pgx.ForEachRow(rows, []any{&total, &x.Kind, &x.LocationType, &x.Closures, &x.MedianDays, &x.MeanDays}, func() error {
		row := x
		if row.MeanDays != nil {
			row.MeanDays = ptrTo(contexts.RoundDays(*row.MeanDays))
		}
		if row.MedianDays != nil {
			row.MedianDays = ptrTo(contexts.RoundDays(*row.MedianDays))
		}
		if total {
			all = row
		} else {
			out = append(out, row)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("time to close report: %w", err)
	}
	return contexts.NewTimeToCloseReport(rq, s.k, out, all), nil
}

// reviewsReport lists open contexts whose review date is before today
// (overdue) or within DueWithin days of it (due), soonest first, and counts
// every open context by kind and review state.
func (s *Store) reviewsReport(ctx context.Context, a *contexts.Actor, rq contexts.ReportQuery) (*contexts.ReviewsReport, error) {
	horizon := rq.Today.AddDate(0, 0, rq.DueWithin)
	rows, err := s.db.Query(ctx, `SELECT c.id, c.display_name, c.kind, coalesce(c.location_type, ''), t.name, c.review_date,
			CASE WHEN c.review_date < $1::date THEN 'overdue' ELSE 'due' END, c.review_date - $1::date
		FROM contexts c JOIN teams t ON t.id = c.team_id
		WHERE c.status = 'open' AND c.review_date <= $2::date
		ORDER BY c.review_date, c.id`, rq.Today, horizon)
	if err != nil {
		return nil, fmt.Errorf("reviews report: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.ReviewRow, error) {
		var x contexts.ReviewRow
		var review time.Time
		err := r.Scan(&x.ContextID, &x.DisplayName, &x.Kind, &x.LocationType, &x.Team, &review, &x.State, &x.Days)
		x.ReviewDate = review.Format(time.DateOnly)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("reviews report: %w", err)
	}
	if err := withLinkCounts(ctx, s, a, out, func(x *contexts.ReviewRow) int64 { return x.ContextID },
		func(x *contexts.ReviewRow, l contexts.LinkSummary) { x.YoungPeople, x.Teams = l.YoungPeople, l.Teams }); err != nil {
		return nil, err
	}
	rows, err = s.db.Query(ctx, `SELECT kind,
			count(*) FILTER (WHERE review_date < $1::date)::int,
			count(*) FILTER (WHERE review_date >= $1::date AND review_date <= $2::date)::int,
			count(*) FILTER (WHERE review_date > $2::date)::int,
			count(*) FILTER (WHERE review_date IS NULL)::int
		FROM contexts WHERE status = 'open' GROUP BY kind ORDER BY kind`, rq.Today, horizon)
	if err != nil {
		return nil, fmt.Errorf("reviews report: %w", err)
	}
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.ReviewCounts, error) {
		var x contexts.ReviewCounts
		err := r.Scan(&x.Kind, &x.Overdue, &x.Due, &x.Later, &x.None)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("reviews report: %w", err)
	}
	return contexts.NewReviewsReport(rq, s.k, out, counts), nil
}

func ptrTo[T any](v T) *T { return &v }

// withLinkCounts fills each row's link counts as a may see them (rule 14,
// as of the latest release for roles other than practitioners), for every
// row's context in one query; id names a row's context, set stores its
// counts.
func withLinkCounts[T any](ctx context.Context, s *Store, a *contexts.Actor, rows []T,
	id func(*T) int64, set func(*T, contexts.LinkSummary)) error {
	ids := make([]int64, len(rows))
	for i := range rows {
		ids[i] = id(&rows[i])
	}
	sums, err := s.linkSummaries(ctx, s.db, a, ids)
	if err != nil {
		return err
	}
	for i := range rows {
		set(&rows[i], sums[ids[i]])
	}
	return nil
}
