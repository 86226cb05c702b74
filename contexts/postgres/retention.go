package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
)

// retentionLock is the advisory lock key ("ctxretn" as a number) every
// process takes to run retention, so exactly one replica erases at a time
// and the schedule's "is a run due?" is answered under it.
const retentionLock int64 = 0x63_74_78_72_65_74_6e

// retentionEvery is how often the schedule runs retention: once a day, on
// whichever replica finds it due first.
const retentionEvery = 23 * time.Hour

// Retention erases what the retention policy says is past its time: each
// young person whose last record is older than the policy's years, and each
// context closed longer than its years, one transaction per record, each
// erasure audited in the transaction that makes it. The audit log is never
// touched. A crash mid-run leaves every finished erasure done and audited
// and the one in progress not begun, never half a young person.
type Retention struct {
	store     *Store
	pool      *pgxpool.Pool
	policy    contexts.RetentionPolicy
	scheduled bool
	log       *slog.Logger
}

// NewRetention runs policy over store's records on pool; scheduled says
// whether the server runs it on its schedule (RunSchedule).
func NewRetention(store *Store, pool *pgxpool.Pool, policy contexts.RetentionPolicy, scheduled bool) (*Retention, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	return &Retention{store: store, pool: pool, policy: policy, scheduled: scheduled, log: store.log}, nil
}

// Policy is the policy the runs apply.
func (r *Retention) Policy() contexts.RetentionPolicy { return r.policy }

// subjectsDueSQL lists young people whose last record is before $1 (and,
// when $2 is not null, only that one): the latest of their subject row's
// creation and every recording, archive, link and unlink of them by any
// team. GREATEST skips nulls.
const subjectsDueSQL = `SELECT s.id, s.hash, greatest(s.created_at, max(x.at)) AS last
	FROM subjects s LEFT JOIN (
		SELECT subject_id, greatest(created_at, archived_at) AS at FROM harm_locations
		UNION ALL
		SELECT subject_id, greatest(linked_at, unlinked_at) FROM context_links
		UNION ALL
		SELECT subject_id, greatest(created_at, corrected_at) FROM yp_markers
		UNION ALL
		SELECT subject_id, greatest(created_at, withdrawn_at) FROM yp_relocations
		UNION ALL
		SELECT f.subject_id, greatest(f.created_at, f.withdrawn_at, max(a.updated_at)) FROM yp_factors f
			LEFT JOIN yp_factor_actions a ON a.factor_id = f.id GROUP BY f.id) x ON x.subject_id = s.id
	WHERE ($2::bigint IS NULL OR s.id = $2)
	GROUP BY s.id
	HAVING greatest(s.created_at, max(x.at)) < $1
	ORDER BY last, s.id`

// contextsDueSQL lists contexts closed before $1, not reopened (and, when
// $2 is not null, only that one).
const contextsDueSQL = `SELECT id, closed_at FROM contexts
	WHERE status = 'closed' AND closed_at < $1 AND ($2::bigint IS NULL OR id = $2)
	ORDER BY closed_at, id`

// candidate is a record the policy makes due, as first listed.
type candidate struct {
	kind  string
	id    int64
	hash  []byte
	since time.Time
}

// due lists what the policy makes due at now, young people first.
func (r *Retention) due(ctx context.Context, now time.Time) ([]candidate, error) {
	ypCut, ctxCut := r.policy.Cutoffs(now)
	var out []candidate
	if !ypCut.IsZero() {
		rows, err := r.pool.Query(ctx, subjectsDueSQL, ypCut, nil)
		if err != nil {
			return nil, fmt.Errorf("retention: young people due: %w", err)
		}
		list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (candidate, error) {
			c := candidate{kind: contexts.ErasedYoungPerson}
			return c, row.Scan(&c.id, &c.hash, &c.since)
		})
		if err != nil {
			return nil, fmt.Errorf("retention: young people due: %w", err)
		}
		out = append(out, list...)
	}
	if !ctxCut.IsZero() {
		rows, err := r.pool.Query(ctx, contextsDueSQL, ctxCut, nil)
		if err != nil {
			return nil, fmt.Errorf("retention: contexts due: %w", err)
		}
		list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (candidate, error) {
			c := candidate{kind: contexts.ErasedContext}
			return c, row.Scan(&c.id, &c.since)
		})
		if err != nil {
			return nil, fmt.Errorf("retention: contexts due: %w", err)
		}
		out = append(out, list...)
	}
	return out, nil
}

// record is the audit log's name for a candidate.
func (c candidate) record() string {
	if c.kind == contexts.ErasedContext {
		return fmt.Sprintf("context:%d", c.id)
	}
	var h [32]byte
	copy(h[:], c.hash)
	return contexts.AuditSubject(h)
}

func (r *Retention) erasure(c candidate) contexts.Erasure {
	return contexts.Erasure{Kind: c.kind, Record: c.record(), Since: c.since, Why: r.policy.Why(c.kind)}
}

// Run applies the policy now. A real run takes the retention lock first
// (waiting for another replica's run to finish, unless scheduled, which
// gives up at once and also skips when a run finished within a day); a dry
// run lists and counts the same erasures, each in a transaction that is
// rolled back, takes no lock and erases nothing. Each run is recorded in
// retention_runs, and a dry run's listing is itself audited. ran is false
// when a scheduled run found nothing to do (locked elsewhere or not due).
func (r *Retention) Run(ctx context.Context, by *contexts.Actor, req contexts.RetentionRequest) (rep *contexts.RetentionReport, ran bool, err error) {
	if req.How != contexts.RetentionScheduled && req.How != contexts.RetentionOperator {
		return nil, false, fmt.Errorf("retention: unknown run %q", req.How)
	}
	if !req.DryRun {
		_, unlock, locked, err := sessionLock(ctx, r.pool, retentionLock, req.How != contexts.RetentionScheduled)
		if err != nil || !locked {
			return nil, false, err
		}
		defer unlock()
		if req.How == contexts.RetentionScheduled {
			var recent bool
			if err := r.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM retention_runs
					WHERE NOT dry_run AND finished_at > now() - $1::interval)`, retentionEvery.String()).Scan(&recent); err != nil {
				return nil, false, fmt.Errorf("retention: %w", err)
			}
			if recent {
				return nil, false, nil
			}
		}
	}
	now := r.store.now()
	rep = &contexts.RetentionReport{How: req.How, DryRun: req.DryRun, Policy: r.policy, At: now, Erasures: []contexts.Erasure{}}
	if err := r.pool.QueryRow(ctx, `INSERT INTO retention_runs (how, dry_run, young_person_years, closed_context_years)
		VALUES ($1, $2, $3, $4) RETURNING id`, req.How, req.DryRun, r.policy.YoungPersonYears, r.policy.ClosedContextYears).Scan(&rep.RunID); err != nil {
		return nil, false, fmt.Errorf("retention: %w", err)
	}
	due, err := r.due(ctx, now)
	if err != nil {
		return nil, true, r.finish(ctx, rep, err)
	}
	ypCut, ctxCut := r.policy.Cutoffs(now)
	counted := map[string]int{}
	for _, c := range due {
		if err := ctx.Err(); err != nil {
			return rep, true, r.finish(ctx, rep, err)
		}
		e := r.erasure(c)
		var done bool
		var rows map[string]int64
		if c.kind == contexts.ErasedContext {
			done, rows, err = r.eraseContext(ctx, by, rep, c, ctxCut, e)
		} else {
			done, rows, err = r.eraseYoungPerson(ctx, by, rep, c, ypCut, e)
		}
		if err != nil {
			if ctx.Err() != nil {
				return rep, true, r.finish(ctx, rep, ctx.Err())
			}
			rep.Failed++
			r.log.ErrorContext(ctx, "retention: an erasure failed and was rolled back", "kind", c.kind, "record", e.Record, "err", err)
			continue
		}
		if done {
			e.Rows = rows
			rep.Erasures = append(rep.Erasures, e)
			counted[c.kind]++
		}
	}
	if req.DryRun {
		if err := audit(ctx, r.pool, by, "retention.dry_run", fmt.Sprintf("retention-run:%d", rep.RunID), "",
			map[string]any{"young_people": counted[contexts.ErasedYoungPerson], "contexts": counted[contexts.ErasedContext],
				"policy": r.policy, "how": req.How}); err != nil {
			return rep, true, r.finish(ctx, rep, err)
		}
	}
	return rep, true, r.finish(ctx, rep, nil)
}

// finish records the run's outcome and returns err.
func (r *Retention) finish(ctx context.Context, rep *contexts.RetentionReport, err error) error {
	var yp, cx int
	for _, e := range rep.Erasures {
		if e.Kind == contexts.ErasedContext {
			cx++
		} else {
			yp++
		}
	}
	var msg *string
	if err != nil {
		m := err.Error()
		msg = &m
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, ferr := r.pool.Exec(uctx, `UPDATE retention_runs SET finished_at = clock_timestamp(), young_people = $2, contexts = $3,
			failed = $4, error = $5 WHERE id = $1`, rep.RunID, yp, cx, rep.Failed, msg); ferr != nil {
		return errors.Join(err, fmt.Errorf("retention: recording the run: %w", ferr))
	}
	return err
}

// inErasure runs erase in one transaction that commits, or for a dry run
// is rolled back after erase counted what it would delete.
func (r *Retention) inErasure(ctx context.Context, dry bool, erase func(tx pgx.Tx) (bool, error)) (bool, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	done, err := erase(tx)
	if err != nil || !done || dry {
		return done, err
	}
	return true, tx.Commit(ctx)
}

// deleteAll runs each statement (with id as $1) in tx and counts its rows
// under its table's name.
func deleteAll(ctx context.Context, tx pgx.Tx, rows map[string]int64, stmts [][2]string, args ...any) error {
	for _, st := range stmts {
		tag, err := tx.Exec(ctx, st[1], args...)
		if err != nil {
			return fmt.Errorf("%s: %w", st[0], err)
		}
		rows[st[0]] += tag.RowsAffected()
	}
	return nil
}

// eraseYoungPerson erases one young person: every team's records of them,
// their links, markers, relocations, factors and plan actions, the ledgers
// that name them and their subject row. It first
// locks the subject row (FOR UPDATE) and then asks again whether they are
// due: a write for them either holds the row's key-share lock already (and
// commits first, so the second look sees it and nothing is erased) or waits
// until the erasure committed and then records them as a new subject, so no
// acknowledged write is ever erased or orphaned.
func (r *Retention) eraseYoungPerson(ctx context.Context, by *contexts.Actor, rep *contexts.RetentionReport, c candidate,
	cut time.Time, e contexts.Erasure) (bool, map[string]int64, error) {
	rows := map[string]int64{}
	done, err := r.inErasure(ctx, rep.DryRun, func(tx pgx.Tx) (bool, error) {
		var hash []byte
		err := tx.QueryRow(ctx, `SELECT hash FROM subjects WHERE id = $1 FOR UPDATE`, c.id).Scan(&hash)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var since time.Time
		err = tx.QueryRow(ctx, `SELECT last FROM (`+subjectsDueSQL+`) d`, cut, c.id).Scan(&since)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil // recorded again since the listing
		}
		if err != nil {
			return false, err
		}
		e.Since = since
		if err := deleteAll(ctx, tx, rows, [][2]string{
			{"harm_location_types", `DELETE FROM harm_location_types WHERE harm_location_id IN (SELECT id FROM harm_locations WHERE subject_id = $1)`},
			{"harm_locations", `DELETE FROM harm_locations WHERE subject_id = $1`},
			{"context_links", `DELETE FROM context_links WHERE subject_id = $1`},
			{"yp_markers", `DELETE FROM yp_markers WHERE subject_id = $1`},
			{"yp_relocations", `DELETE FROM yp_relocations WHERE subject_id = $1`},
			{"yp_factor_actions", `DELETE FROM yp_factor_actions WHERE factor_id IN (SELECT id FROM yp_factors WHERE subject_id = $1)`},
			{"yp_factors", `DELETE FROM yp_factors WHERE subject_id = $1`},
			{"user_subjects", `DELETE FROM user_subjects WHERE subject_id = $1`},
			{"team_subjects", `DELETE FROM team_subjects WHERE hash = (SELECT hash FROM subjects WHERE id = $1)`},
			{"subjects", `DELETE FROM subjects WHERE id = $1`},
		}, c.id); err != nil {
			return false, err
		}
		return true, r.auditErasure(ctx, tx, by, rep, e, rows)
	})
	return done, rows, err
}

// eraseContext erases one closed context with its chronology, work,
// closures, links and notifications; the young people's harm locations
// that named it keep their records and lose the reference. It locks the
// context row and checks again that it is still closed and due, so a
// reopening, a link or a note committed meanwhile keeps it.
func (r *Retention) eraseContext(ctx context.Context, by *contexts.Actor, rep *contexts.RetentionReport, c candidate,
	cut time.Time, e contexts.Erasure) (bool, map[string]int64, error) {
	rows := map[string]int64{}
	done, err := r.inErasure(ctx, rep.DryRun, func(tx pgx.Tx) (bool, error) {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM contexts WHERE id = $1 FOR UPDATE`, c.id).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var since time.Time
		err = tx.QueryRow(ctx, `SELECT closed_at FROM (`+contextsDueSQL+`) d`, cut, c.id).Scan(&since)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil // reopened since the listing
		}
		if err != nil {
			return false, err
		}
		e.Since = since
		if err := deleteAll(ctx, tx, rows, [][2]string{
			{"notifications", `DELETE FROM notifications WHERE context_id = $1`},
			{"context_links", `DELETE FROM context_links WHERE context_id = $1`},
			{"context_closures", `DELETE FROM context_closures WHERE context_id = $1`},
			{"context_interventions", `DELETE FROM context_interventions WHERE context_id = $1`},
			{"context_assessments", `DELETE FROM context_assessments WHERE context_id = $1`},
			{"context_events", `DELETE FROM context_events WHERE context_id = $1`},
			{"harm_locations_unlinked", `UPDATE harm_locations SET context_id = NULL WHERE context_id = $1`},
			{"yp_factors_unlinked", `UPDATE yp_factors SET context_id = NULL, context_erased = true WHERE context_id = $1`},
			{"contexts", `DELETE FROM contexts WHERE id = $1`},
		}, c.id); err != nil {
			return false, err
		}
		return true, r.auditErasure(ctx, tx, by, rep, e, rows)
	})
	return done, rows, err
}

// auditErasure writes retention.erase for e in the erasure's transaction:
// what kind, which record, why and since when; the entry's time is when.
func (r *Retention) auditErasure(ctx context.Context, tx pgx.Tx, by *contexts.Actor, rep *contexts.RetentionReport,
	e contexts.Erasure, rows map[string]int64) error {
	return audit(ctx, tx, by, "retention.erase", e.Record, e.Why, map[string]any{
		"kind": e.Kind, "since": e.Since.UTC().Format(time.RFC3339), "rows": rows, "run": rep.RunID, "how": rep.How, "policy": r.policy})
}

// RunSchedule runs retention every `every` until ctx ends; the run itself
// happens on one replica, at most once a day (Run with RetentionScheduled).
func (r *Retention) RunSchedule(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if rep, ran, err := r.Run(ctx, nil, contexts.RetentionRequest{How: contexts.RetentionScheduled}); err != nil && ctx.Err() == nil {
			r.log.Error("scheduled retention run", "err", err)
		} else if ran {
			r.log.Info("scheduled retention run", "run", rep.RunID, "erased", len(rep.Erasures), "failed", rep.Failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Status is the retention screen for an administrator: the policy, the
// schedule, the latest runs and what is due now (listed, not counted), the
// read audited as retention.read.
func (r *Retention) Status(ctx context.Context, a *contexts.Actor) (*contexts.RetentionStatus, error) {
	if err := contexts.Require(a, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	rows, err := r.pool.Query(ctx, `SELECT id, how, dry_run, started_at, finished_at, young_people, contexts, failed,
			young_person_years, closed_context_years
		FROM retention_runs ORDER BY id DESC LIMIT 20`)
	if err != nil {
		return nil, fmt.Errorf("retention runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (contexts.RetentionRun, error) {
		var x contexts.RetentionRun
		err := row.Scan(&x.ID, &x.How, &x.DryRun, &x.StartedAt, &x.FinishedAt, &x.YoungPeople, &x.Contexts, &x.Failed,
			&x.YoungPersonY, &x.ContextY)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("retention runs: %w", err)
	}
	due, err := r.due(ctx, r.store.now())
	if err != nil {
		return nil, err
	}
	st := &contexts.RetentionStatus{Policy: r.policy, Scheduled: r.scheduled, Runs: runs, Due: make([]contexts.Erasure, 0, len(due))}
	if st.Runs == nil {
		st.Runs = []contexts.RetentionRun{}
	}
	for _, c := range due {
		st.Due = append(st.Due, r.erasure(c))
	}
	if err := audit(ctx, r.pool, a, "retention.read", "", "", map[string]any{"due": len(st.Due)}); err != nil {
		return nil, err
	}
	return st, nil
}
