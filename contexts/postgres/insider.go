package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap/contexts"
)

// The insider limits (PRIVACY.md rule 13): the daily cap on young people new
// to a user, and the alerts administrators get about bursts of them at one
// place and about records archived soon after creation.

// subjectCapLock is the first key of the per-user advisory transaction lock
// (pg_advisory_xact_lock(int, int), the user id the second) that makes the
// cap's count and insert one step per user, however many requests race.
const subjectCapLock = 0x63617073 // "caps"

// capSubject refuses with contexts.SubjectLimitError, in tx and before the
// young person with hash sh is looked up or written anywhere else, when sh
// is new to a (never recorded by a before) and a already recorded the cap's
// worth of young people new to them in the last 24 hours. It reads only a's
// own ledger by hash, so neither the answer nor the work done to reach it
// depends on whether anyone else has this young person on record. It
// returns whether sh is new to a, for noteSubject. Seeding demo data
// neither counts nor is counted.
func (s *Store) capSubject(ctx context.Context, tx pgx.Tx, a *contexts.Actor, sh [32]byte) (bool, error) {
	if s.demo {
		return false, nil
	}
	var known bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_subjects WHERE user_id = $1 AND hash = $2)`,
		a.UserID, sh[:]).Scan(&known); err != nil {
		return false, fmt.Errorf("daily cap: %w", err)
	}
	if known {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(subjectCapLock), int32(a.UserID)); err != nil {
		return false, fmt.Errorf("daily cap lock: %w", err)
	}
	now := s.now()
	var n int
	var oldest *time.Time
	if err := tx.QueryRow(ctx, `SELECT count(*), min(first_at) FROM user_subjects WHERE user_id = $1 AND first_at > $2`,
		a.UserID, now.Add(-contexts.SubjectWindow)).Scan(&n, &oldest); err != nil {
		return false, fmt.Errorf("daily cap: %w", err)
	}
	if n >= s.subjectCap && oldest != nil {
		return false, contexts.SubjectLimitError(s.subjectCap, oldest.Add(contexts.SubjectWindow), now)
	}
	return true, nil
}

// noteSubject adds the young person sid (hash sh), whom capSubject found
// new to a, to a's ledger in tx.
func (s *Store) noteSubject(ctx context.Context, tx pgx.Tx, a *contexts.Actor, sid int64, sh [32]byte) error {
	if _, err := tx.Exec(ctx, `INSERT INTO user_subjects (user_id, subject_id, hash, first_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, a.UserID, sid, sh[:], s.now()); err != nil {
		return fmt.Errorf("daily cap: %w", err)
	}
	return nil
}

// subjectFor is the one way a write reaches a young person's subject row:
// the allocation check first (when allocations are required), then the cap
// (which touches nothing outside a's ledger), then the subject, then a's
// ledger.
func (s *Store) subjectFor(ctx context.Context, tx pgx.Tx, a *contexts.Actor, h *contexts.SubjectHasher, sh [32]byte) (int64, error) {
	if err := s.allocated(ctx, tx, a, sh); err != nil {
		return 0, err
	}
	isNew, err := s.capSubject(ctx, tx, a, sh)
	if err != nil {
		return 0, err
	}
	sid, err := s.upsertSubject(ctx, tx, sh, h.CellKey(sh))
	if err != nil {
		return 0, err
	}
	if isNew {
		if err := s.noteSubject(ctx, tx, a, sid, sh); err != nil {
			return 0, err
		}
	}
	return sid, nil
}

// auditSubjectLimit writes the cap's refusal on the pool, after the refused
// write rolled back, and returns err.
func (s *Store) auditSubjectLimit(ctx context.Context, a *contexts.Actor, op string, err error) error {
	if !contexts.IsSubjectLimit(err) {
		return err
	}
	if aerr := audit(ctx, s.db, a, "subject_limit.refused", fmt.Sprintf("user:%d", a.UserID), "",
		map[string]any{"operation": op, "limit": s.subjectCap}); aerr != nil {
		return errors.Join(err, aerr)
	}
	if aerr := s.refusalAlert(ctx, a, "subject_limit.refused", contexts.AlertSubjectLimitRefusals); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// burstAtCell raises (or brings up to date) the day's burst alert when a has
// recorded at least the threshold of young people new to them within 24
// hours at one of the record's cells: the finest where the threshold is
// reached, so a burst spread over neighbouring resolution-8 cells is caught
// at resolution 7 or 6, and one burst raises one alert. Call it in the
// transaction of the write.
func (s *Store) burstAtCell(ctx context.Context, tx pgx.Tx, a *contexts.Actor, r6 int64, r7, r8 *int64) error {
	if s.demo {
		return nil
	}
	return s.burstAtFinestCell(r6, r7, r8, func(column string, cell int64) (int, error) {
		var n int
		// Young people new to the user in the window, or recorded by the
		// user at this place in the window (on the database's clock, which
		// stamps the records): a probe that reuses the same synthetic ids
		// place after place is a burst too (insider review 2, F1).
		err := tx.QueryRow(ctx, `SELECT count(DISTINCT h.subject_id) FROM harm_locations h
			WHERE h.created_by = $1 AND h.`+column+` = $3 AND (h.created_at > now() - interval '24 hours'
				OR EXISTS (SELECT 1 FROM user_subjects us WHERE us.user_id = $1 AND us.subject_id = h.subject_id AND us.first_at > $2))`,
			a.UserID, s.now().Add(-contexts.SubjectWindow), cell).Scan(&n)
		if err != nil || n < s.burstAlert {
			return n, err
		}
		return n, s.raiseBurst(ctx, tx, a, contexts.AlertSubjectBurst, contexts.CellPlace(cell), n, contexts.SubjectWindow,
			map[string]any{"cell": fmt.Sprintf("%x", cell)})
	})
}

// revisionBurstAtCell raises the day's revision alert when a has recorded, within
// contexts.RevisionWindow, at least the burst threshold of young people at one
// of the record's cells (the finest reaching it) in months a release had
// already published when each record was made. That is the signature of the
// probe that outlives the daily cap and the 24-hour burst (insider review 2,
// F1): back-dated synthetic young people at one quiet place, a few more before
// each release, watching when the cell appears. Late records are ordinary in
// casework, so this alerts rather than refuses. Call it in the write's
// transaction, after the insert.
func (s *Store) revisionBurstAtCell(ctx context.Context, tx pgx.Tx, a *contexts.Actor, r6 int64, r7, r8 *int64) error {
	if s.demo {
		return nil
	}
	return s.burstAtFinestCell(r6, r7, r8, func(column string, cell int64) (int, error) {
		var n int
		err := tx.QueryRow(ctx, `SELECT count(DISTINCT h.subject_id) FROM harm_locations h
			WHERE h.created_by = $1 AND h.`+column+` = $2 AND h.created_at > now() - make_interval(secs => $3)
			  AND h.occurred_on < (SELECT r.last_month + interval '1 month' FROM releases r
			                       WHERE r.made_at <= h.created_at ORDER BY r.id DESC LIMIT 1)`,
			a.UserID, cell, contexts.RevisionWindow.Seconds()).Scan(&n)
		if err != nil || n < s.burstAlert {
			return n, err
		}
		return n, s.raiseBurst(ctx, tx, a, contexts.AlertRevisionBurst, contexts.CellPlace(cell), n, contexts.RevisionWindow,
			map[string]any{"cell": fmt.Sprintf("%x", cell), "released_months": true})
	})
}

// burstAtFinestCell asks count about a record's cells from the finest to
// the coarsest and stops at the first that reaches the burst threshold, so
// one burst raises one alert, at the most precise place that shows it.
func (s *Store) burstAtFinestCell(r6 int64, r7, r8 *int64, count func(column string, cell int64) (int, error)) error {
	type level struct {
		column string
		cell   *int64
	}
	for _, l := range []level{{"h3_r8", r8}, {"h3_r7", r7}, {"h3_r6", &r6}} {
		if l.cell == nil {
			continue
		}
		n, err := count(l.column, *l.cell)
		if err != nil {
			return fmt.Errorf("burst alert: %w", err)
		}
		if n >= s.burstAlert {
			return nil
		}
	}
	return nil
}

// burstAtContext is burstAtCell for the young people a recorded at, or
// linked to, one context.
func (s *Store) burstAtContext(ctx context.Context, tx pgx.Tx, a *contexts.Actor, contextID int64) error {
	if s.demo {
		return nil
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(DISTINCT us.subject_id) FROM user_subjects us
		WHERE us.user_id = $1 AND us.first_at > $2 AND (
			EXISTS (SELECT 1 FROM harm_locations h WHERE h.subject_id = us.subject_id AND h.created_by = us.user_id AND h.context_id = $3)
			OR EXISTS (SELECT 1 FROM context_links l WHERE l.subject_id = us.subject_id AND l.linked_by = us.user_id AND l.context_id = $3))`,
		a.UserID, s.now().Add(-contexts.SubjectWindow), contextID).Scan(&n)
	if err != nil {
		return fmt.Errorf("burst alert: %w", err)
	}
	return s.raiseBurst(ctx, tx, a, contexts.AlertSubjectBurst, contexts.ContextPlace(contextID), n, contexts.SubjectWindow,
		map[string]any{"context_id": contextID})
}

// raiseBurst raises (or brings up to date) the day's alert of kind about a's
// n young people at place within window.
func (s *Store) raiseBurst(ctx context.Context, tx pgx.Tx, a *contexts.Actor, kind, place string, n int, window time.Duration, detail map[string]any) error {
	if n < s.burstAlert {
		return nil
	}
	now := s.now()
	detail["young_people"] = n
	detail["within_hours"] = int(window.Hours())
	_, err := tx.Exec(ctx, `INSERT INTO admin_alerts (kind, user_id, place, day, count, detail, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
		ON CONFLICT (kind, user_id, place, day) DO UPDATE SET count = greatest(admin_alerts.count, excluded.count),
			detail = excluded.detail, updated_at = excluded.updated_at`,
		kind, a.UserID, place, contexts.UKDay(now), n, detail, now)
	if err != nil {
		return fmt.Errorf("burst alert: %w", err)
	}
	return nil
}

// refusalAlert raises (or brings up to date) the day's alert of kind when
// the audit log holds the burst threshold's worth of a's refusals with
// action in the last 24 hours (on the log's clock, which wrote them): a
// refusal is an oracle only if it can be asked often, so asking often is
// itself what administrators are told about.
func (s *Store) refusalAlert(ctx context.Context, a *contexts.Actor, action, kind string) error {
	if a == nil || a.UserID == 0 {
		return nil
	}
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE user_id = $1 AND action = $2
		AND at > clock_timestamp() - interval '24 hours'`, a.UserID, action).Scan(&n); err != nil {
		return fmt.Errorf("refusal alert: %w", err)
	}
	if n < s.burstAlert {
		return nil
	}
	now := s.now()
	_, err := s.db.Exec(ctx, `INSERT INTO admin_alerts (kind, user_id, place, day, count, detail, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, jsonb_build_object('refusals', $5::int, 'within_hours', 24), $6, $6)
		ON CONFLICT (kind, user_id, place, day) DO UPDATE SET count = greatest(admin_alerts.count, excluded.count),
			detail = excluded.detail, updated_at = excluded.updated_at`,
		kind, a.UserID, contexts.UserPlace(a.UserID), contexts.UKDay(now), n, now)
	if err != nil {
		return fmt.Errorf("refusal alert: %w", err)
	}
	return nil
}

// quickArchive raises (or adds to) the day's alert for a harm location
// archived within 24 hours of its creation, at the record's cell.
func (s *Store) quickArchive(ctx context.Context, tx pgx.Tx, a *contexts.Actor, id, cell int64) error {
	if s.demo {
		return nil
	}
	now := s.now()
	_, err := tx.Exec(ctx, `INSERT INTO admin_alerts (kind, user_id, place, day, count, detail, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 1, jsonb_build_object('cell', $5::text, 'harm_location_ids', jsonb_build_array($6::bigint)), $7, $7)
		ON CONFLICT (kind, user_id, place, day) DO UPDATE SET count = admin_alerts.count + 1,
			detail = jsonb_set(admin_alerts.detail, '{harm_location_ids}',
				coalesce(admin_alerts.detail->'harm_location_ids', '[]'::jsonb) || to_jsonb($6::bigint)),
			updated_at = excluded.updated_at`,
		contexts.AlertQuickArchive, a.UserID, contexts.CellPlace(cell), contexts.UKDay(now), fmt.Sprintf("%x", cell), id, now)
	if err != nil {
		return fmt.Errorf("quick archive alert: %w", err)
	}
	return nil
}

const alertColumns = `x.id, x.kind, x.user_id, u.name, t.name, x.place, x.day, x.count, x.detail, x.created_at,
	x.updated_at, x.read_at, coalesce(r.name, '')`

const alertFrom = ` FROM admin_alerts x JOIN users u ON u.id = x.user_id JOIN teams t ON t.id = u.team_id
	LEFT JOIN users r ON r.id = x.read_by`

func scanAlert(row pgx.CollectableRow) (contexts.AdminAlert, error) {
	var x contexts.AdminAlert
	var day time.Time
	var detail []byte
	err := row.Scan(&x.ID, &x.Kind, &x.UserID, &x.UserName, &x.Team, &x.Place, &day, &x.Count, &detail,
		&x.CreatedAt, &x.UpdatedAt, &x.ReadAt, &x.ReadBy)
	x.Day, x.Detail = day.Format(time.DateOnly), detail
	return x, err
}

// AdminAlerts lists alerts newest first, for administrators only. Reading
// them is audited like any admin read: they name users and places.
func (s *Store) AdminAlerts(ctx context.Context, a *contexts.Actor, q contexts.AlertQuery) ([]contexts.AdminAlert, error) {
	if err := contexts.Require(a, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 200
	}
	var out []contexts.AdminAlert
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+alertColumns+alertFrom+`
			WHERE NOT $1 OR x.read_at IS NULL ORDER BY x.id DESC LIMIT $2`, q.UnreadOnly, q.Limit)
		if err != nil {
			return fmt.Errorf("list alerts: %w", err)
		}
		if out, err = pgx.CollectRows(rows, scanAlert); err != nil {
			return fmt.Errorf("list alerts: %w", err)
		}
		return audit(ctx, tx, a, "admin_alerts.read", "", "", map[string]any{"count": len(out), "unread_only": q.UnreadOnly})
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []contexts.AdminAlert{}
	}
	return out, nil
}

// MarkAlertRead marks one alert as read by a (the first reader stays
// recorded) and returns it.
func (s *Store) MarkAlertRead(ctx context.Context, a *contexts.Actor, id int64) (*contexts.AdminAlert, error) {
	if err := contexts.Require(a, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE admin_alerts SET read_at = coalesce(read_at, now()), read_by = coalesce(read_by, $2)
			WHERE id = $1`, id, a.UserID)
		if err != nil {
			return fmt.Errorf("mark alert read: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return contexts.NotFound("alert", id)
		}
		return audit(ctx, tx, a, "admin_alert.mark_read", fmt.Sprintf("alert:%d", id), "", nil)
	})
	if err != nil {
		return nil, err
	}
	return readOne(ctx, s.db, scanAlert, "alert", id, `SELECT `+alertColumns+alertFrom+` WHERE x.id = $1`, id)
}
