package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// Harm types as entries of their own (migration 00020): a location's types
// live in harm_location_types once a first change is made to them; until
// then they are its categories, each active since its occurred date
// (contexts.DefaultTypes). Every change keeps harm_locations.categories equal
// to the active types in the same transaction, which is what a release
// counts, so an archived or removed type leaves the next release while the
// others stay in it.

// withTypes fills in the types and history of records read by their team.
func withTypes(ctx context.Context, q querier, list []contexts.HarmLocation) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int64, len(list))
	at := make(map[int64]int, len(list))
	for i, h := range list {
		ids[i], at[h.ID] = h.ID, i
	}
	rows, err := q.Query(ctx, `SELECT t.harm_location_id, t.category, t.started_on, t.started_precision, t.status,
			t.added_at, ua.name, t.ended_at, coalesce(t.end_reason, ''), coalesce(t.end_note, ''), coalesce(ue.name, '')
		FROM harm_location_types t JOIN users ua ON ua.id = t.added_by LEFT JOIN users ue ON ue.id = t.ended_by
		WHERE t.harm_location_id = ANY($1) ORDER BY t.harm_location_id, t.id`, ids)
	if err != nil {
		return fmt.Errorf("read harm types: %w", err)
	}
	seen := make(map[int64]bool)
	var id int64
	var started time.Time
	var prec, reason, note, by string
	var ended *time.Time
	var t contexts.HarmType
	_, err = pgx.ForEachRow(rows, []any{&id, &t.Category, &started, &prec, &t.Status, &t.AddedAt, &t.AddedBy, &ended, &reason, &note, &by}, func() error {
		h := &list[at[id]]
		if !seen[id] {
			seen[id], h.Types = true, nil
		}
		ty := t
		ty.Started = contexts.Occurred{Date: started, Month: prec == "month"}.String()
		if ended != nil {
			ty.Ended = &contexts.Archive{Reason: reason, Note: note, At: *ended, By: by}
		}
		h.Types = append(h.Types, ty)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read harm types: %w", err)
	}
	for i := range list {
		h := &list[i]
		if !seen[h.ID] {
			h.Types = contexts.DefaultTypes(h)
		}
		h.History = contexts.HarmHistory(h)
	}
	return nil
}

// lockedHarm is what a change to a record's types needs of it, read under
// a row lock.
type lockedHarm struct {
	archived bool
	subject  int64 // the young person's subject row
	cell     int64
	quick    bool // made less than 24 hours ago (an insider alert on ending a type)
	safety   bool
	active   []string
}

// lockHarm locks one of the actor's team's records for a change of its
// types and writes its default type rows if it has none yet.
func (s *Store) lockHarm(ctx context.Context, tx pgx.Tx, a *contexts.Actor, id int64) (lockedHarm, error) {
	var l lockedHarm
	var archived *time.Time
	err := tx.QueryRow(ctx, `SELECT archived_at, subject_id, cell, created_at > coalesce($3, now()) - interval '24 hours', safety IS NOT NULL, categories
		FROM harm_locations WHERE id = $1 AND team_id = $2 FOR UPDATE`, id, a.TeamID, s.at).
		Scan(&archived, &l.subject, &l.cell, &l.quick, &l.safety, &l.active)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, contexts.NotFound("harm location", id)
	}
	if err != nil {
		return l, fmt.Errorf("lock harm location: %w", err)
	}
	l.archived = archived != nil
	_, err = tx.Exec(ctx, `INSERT INTO harm_location_types (harm_location_id, category, started_on, started_precision, status, added_at, added_by)
		SELECT h.id, c, h.occurred_on, h.occurred_precision, 'active', h.created_at, h.created_by
		FROM harm_locations h, unnest(h.categories) WITH ORDINALITY AS u(c, n)
		WHERE h.id = $1 AND NOT EXISTS (SELECT 1 FROM harm_location_types t WHERE t.harm_location_id = h.id)
		ORDER BY n`, id)
	if err != nil {
		return l, fmt.Errorf("harm types: %w", err)
	}
	return l, nil
}

// endTypes ends active types of a record (all of them when cats is nil)
// with a reason and note, at the store's time.
func (s *Store) endTypes(ctx context.Context, tx pgx.Tx, a *contexts.Actor, id int64, cats []string, reason, note string) error {
	status := contexts.TypeArchived
	if reason == contexts.EndCorrected {
		status = contexts.TypeRemoved
	}
	_, err := tx.Exec(ctx, `UPDATE harm_location_types SET status = $3, ended_at = coalesce($7, now()), ended_by = $4,
			end_reason = $5, end_note = $6
		WHERE harm_location_id = $1 AND status = 'active' AND ($2::text[] IS NULL OR category = ANY($2))`,
		id, cats, status, a.UserID, reason, note, s.at)
	if err != nil {
		return fmt.Errorf("end harm types: %w", err)
	}
	return nil
}

// syncCategories sets a record's categories to its active types, in the
// order they were added, so the next release counts exactly those.
func syncCategories(ctx context.Context, tx pgx.Tx, id int64) ([]string, error) {
	var cats []string
	err := tx.QueryRow(ctx, `UPDATE harm_locations h SET categories = t.cats
		FROM (SELECT array_agg(category ORDER BY id) AS cats FROM harm_location_types
		      WHERE harm_location_id = $1 AND status = 'active') t
		WHERE h.id = $1 AND t.cats IS NOT NULL RETURNING h.categories`, id).Scan(&cats)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // no active type left: the caller archives the whole record
	}
	if err != nil {
		return nil, fmt.Errorf("sync categories: %w", err)
	}
	return cats, nil
}

// archiveWhole archives a whole record (every aggregate loses it) at the
// store's time.
func (s *Store) archiveWhole(ctx context.Context, tx pgx.Tx, a *contexts.Actor, id int64, reason, note string) error {
	if _, err := tx.Exec(ctx, `UPDATE harm_locations SET archived_at = coalesce($5, now()), archived_by = $2,
			archive_reason = $3, archive_note = $4 WHERE id = $1`, id, a.UserID, reason, note, s.at); err != nil {
		return fmt.Errorf("archive harm location: %w", err)
	}
	return nil
}

func errNoTypes(id int64) error {
	return ctxmap.Errorf(ctxmap.KindUnprocessable, "no_harm_types",
		"harm location %d is a safety-map place: it has no harm types", id)
}

func errArchived(id int64) error {
	return ctxmap.Errorf(ctxmap.KindConflict, "already_archived", "harm location %d was already archived", id)
}

// ArchiveHarmType archives one harm type of a record (no longer / never an
// issue, with a note) while its other types stay active, on the record and
// in the next release. Archiving the last active type archives the whole
// record with the same reason and note, since a record counted under no type
// must leave the all-categories figures too.
func (s *Store) ArchiveHarmType(ctx context.Context, a *contexts.Actor, id int64, category string, in contexts.ArchiveInput) (*contexts.HarmLocation, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return nil, err
	}
	category = strings.ToLower(strings.TrimSpace(category))
	record := fmt.Sprintf("harm-location:%d", id)
	if err := s.screen(ctx, s.db, a, record, contexts.TextField{Name: "note", Text: in.Note}); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := s.lockHarm(ctx, tx, a, id)
		if err != nil {
			return err
		}
		switch {
		case l.safety:
			return errNoTypes(id)
		case l.archived:
			return errArchived(id)
		case !slices.Contains(l.active, category):
			return contexts.Unprocessable("category", "type_not_active",
				"%q is not an active harm type of harm location %d", contexts.Trunc(category, 40), id).WithDetail("category", contexts.Trunc(category, 40))
		}
		if err := s.endTypes(ctx, tx, a, id, []string{category}, in.Reason, in.Note); err != nil {
			return err
		}
		left, err := syncCategories(ctx, tx, id)
		if err != nil {
			return err
		}
		detail := map[string]any{"category": category, "old": l.active, "new": left}
		if left == nil {
			detail["new"] = []string{}
			detail["whole_record"] = true
			if err := s.archiveWhole(ctx, tx, a, id, in.Reason, in.Note); err != nil {
				return err
			}
		}
		if l.quick {
			if err := s.quickArchive(ctx, tx, a, id, l.cell); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "harm_location.type_archive", record, in.Reason, detail)
	})
	if err != nil {
		return nil, err
	}
	return s.harmLocation(ctx, a, id)
}

// CorrectCategories corrects a record's harm types: it adds types (each
// with its start) and removes types recorded in error, with a note, in one
// transaction audited with the old and new categories. The removed types
// stay in the record's history as removed; at least one type must stay
// active (to take the record out of every aggregate, archive it).
func (s *Store) CorrectCategories(ctx context.Context, a *contexts.Actor, id int64, in contexts.CategoryCorrection) (*contexts.HarmLocation, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	tax, err := s.Taxonomy(ctx)
	if err != nil {
		return nil, err
	}
	c, err := in.Validate(tax, s.now())
	if err != nil {
		return nil, err
	}
	record := fmt.Sprintf("harm-location:%d", id)
	if err := s.screen(ctx, s.db, a, record, contexts.TextField{Name: "note", Text: c.Note}); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := s.lockHarm(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if l.safety {
			return errNoTypes(id)
		}
		if l.archived {
			return errArchived(id)
		}
		// Adding a type is recording for the young person; removing types
		// recorded in error is taking a wrong entry out, open after a move.
		if len(c.Add) > 0 {
			if err := s.allocatedSubject(ctx, tx, a, l.subject); err != nil {
				return err
			}
		}
		for _, r := range c.Remove {
			if !slices.Contains(l.active, r) {
				return contexts.Unprocessable("remove", "type_not_active",
					"%q is not an active harm type of harm location %d", contexts.Trunc(r, 40), id).WithDetail("category", contexts.Trunc(r, 40))
			}
		}
		for _, t := range c.Add {
			if slices.Contains(l.active, t.Category) {
				return ctxmap.Errorf(ctxmap.KindConflict, "type_active",
					"%q is already an active harm type of harm location %d", t.Category, id).WithDetail("category", t.Category)
			}
		}
		if len(l.active)-len(c.Remove)+len(c.Add) < 1 {
			return contexts.Unprocessable("remove", "no_types_left",
				"a record keeps at least one harm type; to take it out of every figure, archive the record instead")
		}
		if len(l.active)-len(c.Remove)+len(c.Add) > 20 {
			return contexts.InvalidField("add", "too_many_categories", "at most 20 categories per record")
		}
		if len(c.Remove) > 0 {
			if err := s.endTypes(ctx, tx, a, id, c.Remove, contexts.EndCorrected, c.Note); err != nil {
				return err
			}
		}
		for _, t := range c.Add {
			if _, err := tx.Exec(ctx, `INSERT INTO harm_location_types (harm_location_id, category, started_on, started_precision,
					status, added_at, added_by) VALUES ($1, $2, $3, $4, 'active', coalesce($6, now()), $5)`,
				id, t.Category, t.Started.Date, t.Started.Precision(), a.UserID, s.at); err != nil {
				return fmt.Errorf("add harm type: %w", err)
			}
		}
		now, err := syncCategories(ctx, tx, id)
		if err != nil {
			return err
		}
		if l.quick && len(c.Remove) > 0 {
			if err := s.quickArchive(ctx, tx, a, id, l.cell); err != nil {
				return err
			}
		}
		added := make([]string, len(c.Add))
		for i, t := range c.Add {
			added[i] = t.Category
		}
		return audit(ctx, tx, a, "harm_location.correct", record, contexts.EndCorrected,
			map[string]any{"old": l.active, "new": now, "added": added, "removed": c.Remove})
	})
	if err != nil {
		return nil, err
	}
	return s.harmLocation(ctx, a, id)
}
