package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// WithAllocationsRequired makes the store refuse a practitioner's record or
// link for a young person the latest allocations feed does not allocate to
// their team (issue 15; PRIVACY.md rule 13's last defence).
func WithAllocationsRequired(on bool) Option { return func(s *Store) { s.allocations = on } }

// ReplaceAllocations loads a whole allocations feed in one transaction,
// replacing the previous feed: every line is checked first, and one bad
// line or unknown team means nothing changes. Person ids are stored only
// as keyed hashes. It is audited with the counts, never an id.
func (s *Store) ReplaceAllocations(ctx context.Context, a *contexts.Actor, rows []contexts.Allocation) (*contexts.AllocationReport, error) {
	clean, errs := contexts.CheckAllocations(rows)
	if len(clean) == 0 && len(errs) == 0 {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "the feed holds no allocations: send every young person allocated to a team, as subject and team")
	}
	rep := &contexts.AllocationReport{Rows: len(rows)}
	teams := map[string]int64{}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		names := map[string]int{} // team -> the first line naming it, bad lines included
		for i, r := range rows {
			team := strings.TrimSpace(r.Team)
			if _, ok := names[team]; !ok && team != "" {
				names[team] = contexts.AllocationLine(r, i)
			}
		}
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		found, err := tx.Query(ctx, `SELECT name, id FROM teams WHERE name = ANY($1)`, list)
		if err != nil {
			return fmt.Errorf("allocations: teams: %w", err)
		}
		for found.Next() {
			var name string
			var id int64
			if err := found.Scan(&name, &id); err != nil {
				found.Close()
				return fmt.Errorf("allocations: teams: %w", err)
			}
			teams[name] = id
		}
		found.Close()
		if err := found.Err(); err != nil {
			return fmt.Errorf("allocations: teams: %w", err)
		}
		var unknown []contexts.RowError
		for n, line := range names {
			if _, ok := teams[n]; !ok {
				unknown = append(unknown, contexts.RowError{Line: line, Field: "team", Code: "unknown_team",
					Message: fmt.Sprintf("no team is called %q here (first named on this line); teams are made with ctxmap users add", contexts.Trunc(n, 80))})
			}
		}
		sort.Slice(unknown, func(i, j int) bool { return unknown[i].Line < unknown[j].Line })
		errs = append(errs, unknown...)
		if len(errs) > contexts.MaxReportedErrors {
			errs = errs[:contexts.MaxReportedErrors]
		}
		if len(errs) > 0 {
			rep.Errors = errs
			return ctxmap.Errorf(ctxmap.KindUnprocessable, "allocations_invalid",
				"%d lines of the feed are wrong; nothing was loaded", len(errs)).WithDetail("errors", errs)
		}
		h := contexts.NewSubjectHasher(s.secret)
		people := map[[32]byte]bool{}
		copyRows := make([][]any, len(clean))
		for i, r := range clean {
			sh := h.Hash(r.Subject)
			people[sh] = true
			copyRows[i] = []any{sh[:], teams[r.Team]}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM allocations`); err != nil {
			return fmt.Errorf("allocations: replace: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"allocations"}, []string{"subject_hash", "team_id"}, pgx.CopyFromRows(copyRows)); err != nil {
			return fmt.Errorf("allocations: load: %w", err)
		}
		rep.YoungPeople, rep.Teams = len(people), len(teams)
		var by *int64
		if a != nil && a.UserID != 0 {
			by = &a.UserID
		}
		if err := tx.QueryRow(ctx, `INSERT INTO allocation_feeds (loaded_by, rows, young_people, teams) VALUES ($1, $2, $3, $4)
			RETURNING loaded_at`, by, rep.Rows, rep.YoungPeople, rep.Teams).Scan(&rep.LoadedAt); err != nil {
			return fmt.Errorf("allocations: feed: %w", err)
		}
		return audit(ctx, tx, a, "allocations.replace", "", "",
			map[string]any{"rows": rep.Rows, "young_people": rep.YoungPeople, "teams": rep.Teams})
	})
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// AllocationStatus says whether allocations are required and what the
// latest feed held.
func (s *Store) AllocationStatus(ctx context.Context) (*contexts.AllocationStatus, error) {
	st := &contexts.AllocationStatus{Required: s.allocations}
	var r contexts.AllocationReport
	err := s.db.QueryRow(ctx, `SELECT loaded_at, rows, young_people, teams FROM allocation_feeds ORDER BY id DESC LIMIT 1`).
		Scan(&r.LoadedAt, &r.Rows, &r.YoungPeople, &r.Teams)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("allocation status: %w", err)
	default:
		st.Latest = &r
	}
	return st, nil
}

// allocated refuses sh for a's team unless the latest feed allocates it
// there, when allocations are required. Call it in the write's transaction,
// before anything about the young person is written or counted.
func (s *Store) allocated(ctx context.Context, tx pgx.Tx, a *contexts.Actor, sh [32]byte) error {
	if !s.allocations || s.demo {
		return nil
	}
	return allocationVerdict(tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM allocations WHERE subject_hash = $1 AND team_id = $2),
		EXISTS (SELECT 1 FROM allocation_feeds)`, sh[:], a.TeamID))
}

// allocatedSubject is allocated for the young person of an existing entry,
// by subject row id (0: the entry is missing, left to the caller's 404). A
// correction or a plan action is recording for that young person, so once
// the case system moves them to another team the old team can no longer
// change what it recorded; withdrawing or archiving its own entries stays
// open to it.
func (s *Store) allocatedSubject(ctx context.Context, tx pgx.Tx, a *contexts.Actor, sid int64) error {
	if !s.allocations || s.demo || sid == 0 {
		return nil
	}
	return allocationVerdict(tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM allocations
			WHERE subject_hash = (SELECT hash FROM subjects WHERE id = $1) AND team_id = $2),
		EXISTS (SELECT 1 FROM allocation_feeds)`, sid, a.TeamID))
}

// allocationVerdict reads the two answers of an allocation check: whether
// the latest feed allocates the young person to the team, and whether any
// feed was loaded at all.
func allocationVerdict(row pgx.Row) error {
	var ok, anyFeed bool
	switch err := row.Scan(&ok, &anyFeed); {
	case err != nil:
		return fmt.Errorf("allocation check: %w", err)
	case !anyFeed:
		return contexts.ErrNoAllocations
	case !ok:
		return contexts.ErrNotAllocated
	}
	return nil
}
