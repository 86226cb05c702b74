package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// AddAssessment files a thematic note under one side of the context's
// triangle.
func (s *Store) AddAssessment(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.AssessmentInput) (*contexts.Assessment, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Assessment, error) { return s.addAssessment(ctx, a, contextID, in) })
}

func (s *Store) addAssessment(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.AssessmentInput) (*contexts.Assessment, error) {
	if err := contexts.Require(a, contexts.RoleContextLead); err != nil {
		return nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return nil, err
	}
	note := in.Note
	if err := s.screen(ctx, s.db, a, fmt.Sprintf("context:%d", contextID), contexts.TextField{Name: "note", Text: note}); err != nil {
		return nil, err
	}
	var out contexts.Assessment
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		side, err := contexts.CheckSide("side", c.Kind, in.Side)
		if err != nil {
			return err
		}
		if c.Status == contexts.StatusClosed {
			return contexts.ContextClosedError(c)
		}
		out = contexts.Assessment{Side: side, Note: note, CreatedBy: a.Name}
		out.SideLabel, _ = contexts.SideLabel(c.Kind, side)
		err = tx.QueryRow(ctx, `INSERT INTO context_assessments (context_id, side, note, created_by, created_at)
			VALUES ($1, $2, $3, $4, coalesce($5, now())) RETURNING id, created_at`, contextID, side, note, a.UserID, s.at).
			Scan(&out.ID, &out.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert assessment: %w", err)
		}
		if _, err := s.addEvent(ctx, tx, a, contextID, contexts.EventAssessmentAdded, "Assessment added: "+out.SideLabel,
			map[string]any{"assessment_id": out.ID, "side": side}); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.assess", fmt.Sprintf("context:%d", contextID), "", map[string]any{"assessment_id": out.ID})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

const interventionColumns = `i.id, i.action, i.partner_agency, i.side, i.status, i.due_date, i.done_date, i.outcome,
	i.notes, u.name, i.created_at, i.updated_at`

const interventionFrom = ` FROM context_interventions i JOIN users u ON u.id = i.created_by`

func scanIntervention(r pgx.CollectableRow) (contexts.Intervention, error) {
	var x contexts.Intervention
	var due, done *time.Time
	err := r.Scan(&x.ID, &x.Action, &x.PartnerAgency, &x.Side, &x.Status, &due, &done, &x.Outcome, &x.Notes, &x.CreatedBy,
		&x.CreatedAt, &x.UpdatedAt)
	x.DueDate, x.DoneDate = dateString(due), dateString(done)
	return x, err
}

// AddIntervention plans an action with a partner agency against one side
// of the triangle.
func (s *Store) AddIntervention(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.InterventionInput) (*contexts.Intervention, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Intervention, error) { return s.addIntervention(ctx, a, contextID, in) })
}

func (s *Store) addIntervention(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.InterventionInput) (*contexts.Intervention, error) {
	if err := contexts.Require(a, contexts.RoleContextLead); err != nil {
		return nil, err
	}
	f, err := contexts.NewIntervention(in)
	if err != nil {
		return nil, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		if err := f.Check(c.Kind, contexts.UKDay(s.now())); err != nil {
			return err
		}
		if err := s.screen(ctx, tx, a, fmt.Sprintf("context:%d", contextID), f.Texts()...); err != nil {
			return err
		}
		if c.Status == contexts.StatusClosed {
			return contexts.ContextClosedError(c)
		}
		err = tx.QueryRow(ctx, `INSERT INTO context_interventions (context_id, action, partner_agency, side, status,
				due_date, done_date, outcome, notes, created_by, updated_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, coalesce($11, now()), coalesce($11, now())) RETURNING id`,
			contextID, f.Action, f.Agency, f.Side, f.Status, f.Due, f.Done, f.Outcome, f.Notes, a.UserID, s.at).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert intervention: %w", err)
		}
		agency, _ := contexts.PartnerAgencyLabel(f.Agency)
		if _, err := s.addEvent(ctx, tx, a, contextID, contexts.EventInterventionAdded,
			fmt.Sprintf("Intervention %s added with %s (%s)", contexts.Quote(f.Action), agency, contexts.StatusLabel(f.Status)),
			map[string]any{"intervention_id": id, "status": f.Status, "partner_agency": f.Agency, "side": f.Side}); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.intervention.create", fmt.Sprintf("context:%d", contextID), "", map[string]any{"intervention_id": id})
	})
	if err != nil {
		return nil, err
	}
	return s.intervention(ctx, contextID, id)
}

func (s *Store) intervention(ctx context.Context, contextID, id int64) (*contexts.Intervention, error) {
	return readOne(ctx, s.db, scanIntervention, "intervention", id,
		`SELECT `+interventionColumns+interventionFrom+` WHERE i.id = $1 AND i.context_id = $2`, id, contextID)
}

// UpdateIntervention progresses an intervention (status, dates, wording).
// Closed contexts' interventions can still be corrected, so the record of
// what was done stays accurate.
func (s *Store) UpdateIntervention(ctx context.Context, a *contexts.Actor, contextID, id int64, in contexts.InterventionUpdate) (*contexts.Intervention, error) {
	if err := contexts.Require(a, contexts.RoleContextLead); err != nil {
		return nil, err
	}
	if in == (contexts.InterventionUpdate{}) {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "nothing_to_update", "give at least one field to change")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		var f contexts.InterventionFields
		err = tx.QueryRow(ctx, `SELECT action, partner_agency, side, status, due_date, done_date, outcome, notes
			FROM context_interventions WHERE id = $1 AND context_id = $2 FOR UPDATE`, id, contextID).
			Scan(&f.Action, &f.Agency, &f.Side, &f.Status, &f.Due, &f.Done, &f.Outcome, &f.Notes)
		if errors.Is(err, pgx.ErrNoRows) {
			return contexts.NotFound("intervention", id)
		}
		if err != nil {
			return fmt.Errorf("read intervention: %w", err)
		}
		// The closure decided each open intervention: one completed or
		// cancelled then stays so until the context is reopened; one carried
		// over goes on and may still be updated.
		if c.Status == contexts.StatusClosed && f.Finished() {
			return contexts.ContextClosedError(c)
		}
		before := f
		if err := f.Apply(in); err != nil {
			return err
		}
		if err := f.Check(c.Kind, contexts.UKDay(s.now())); err != nil {
			return err
		}
		if in.Action != nil || in.Outcome != nil || in.Notes != nil {
			if err := s.screen(ctx, tx, a, fmt.Sprintf("context:%d", contextID), f.Texts()...); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE context_interventions SET action = $3, partner_agency = $4, side = $5,
				status = $6, due_date = $7, done_date = $8, outcome = $9, notes = $10, updated_by = $11, updated_at = now()
			WHERE id = $1 AND context_id = $2`,
			id, contextID, f.Action, f.Agency, f.Side, f.Status, f.Due, f.Done, f.Outcome, f.Notes, a.UserID); err != nil {
			return fmt.Errorf("update intervention: %w", err)
		}
		summary := contexts.InterventionChanges(c.Kind, before, f, f.Outcome != before.Outcome, f.Notes != before.Notes)
		if _, err := s.addEvent(ctx, tx, a, contextID, contexts.EventInterventionUpdated, summary,
			map[string]any{"intervention_id": id, "status": f.Status, "previous_status": before.Status}); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.intervention.update", fmt.Sprintf("context:%d", contextID), "", map[string]any{"intervention_id": id})
	})
	if err != nil {
		return nil, err
	}
	return s.intervention(ctx, contextID, id)
}

// CloseContext closes a context with evidence under each side of its
// triangle and a reason. Young people stay linked (and are shown in the
// summary) until their practitioners detach them.
func (s *Store) CloseContext(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.CloseInput) (*contexts.Context, error) {
	if err := contexts.Require(a, contexts.RoleContextLead); err != nil {
		return nil, err
	}
	cl, err := in.Validate()
	if err != nil {
		return nil, err
	}
	reason, evidence := cl.Reason, cl.Evidence
	if err := s.screen(ctx, s.db, a, fmt.Sprintf("context:%d", contextID), cl.Texts()...); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		if c.Status == contexts.StatusClosed {
			return ctxmap.Errorf(ctxmap.KindConflict, "already_closed", "%s is already closed", c.DisplayName)
		}
		if err := s.closeInterventions(ctx, tx, a, contextID, in.Interventions); err != nil {
			return err
		}
		var cid int64
		if err := tx.QueryRow(ctx, `INSERT INTO context_closures (context_id, reason, evidence_needs, evidence_guardianship,
				evidence_environment, closed_by, closed_at) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now())) RETURNING id`,
			contextID, reason, evidence[0], evidence[1], evidence[2], a.UserID, s.at).Scan(&cid); err != nil {
			return fmt.Errorf("insert closure: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE contexts SET status = 'closed', closed_at = coalesce($2, now()) WHERE id = $1`, contextID, s.at); err != nil {
			return fmt.Errorf("close context: %w", err)
		}
		if _, err := s.addEvent(ctx, tx, a, contextID, contexts.EventClosed, "Closed: "+contexts.Trunc(reason, 200),
			map[string]any{"closure_id": cid}); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.close", fmt.Sprintf("context:%d", contextID), reason, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.Context(ctx, a, contextID)
}

// closeInterventions applies what the closing lead decided for each
// planned or in-progress intervention (contexts.DecideClosing) and records
// each decision in the chronology, in the transaction of the close.
func (s *Store) closeInterventions(ctx context.Context, tx pgx.Tx, a *contexts.Actor, contextID int64, decisions []contexts.ClosingDecision) error {
	rows, err := tx.Query(ctx, `SELECT id, action, status FROM context_interventions
		WHERE context_id = $1 AND status IN ('planned', 'in_progress') ORDER BY id FOR UPDATE`, contextID)
	if err != nil {
		return fmt.Errorf("read open interventions: %w", err)
	}
	open, err := pgx.CollectRows(rows, pgx.RowToStructByPos[contexts.OpenIntervention])
	if err != nil {
		return fmt.Errorf("read open interventions: %w", err)
	}
	decided, err := contexts.DecideClosing(open, decisions)
	if err != nil {
		return err
	}
	for _, o := range open {
		d := decided[o.ID]
		status := map[string]string{contexts.DecisionComplete: contexts.InterventionDone, contexts.DecisionCancel: contexts.InterventionDropped}[d]
		if status != "" {
			if _, err := tx.Exec(ctx, `UPDATE context_interventions SET status = $2,
					done_date = CASE WHEN $2 = 'done' THEN coalesce(done_date, $3::date) ELSE done_date END,
					updated_by = $4, updated_at = now() WHERE id = $1`,
				o.ID, status, contexts.UKDay(s.now()), a.UserID); err != nil {
				return fmt.Errorf("close intervention: %w", err)
			}
		}
		if _, err := s.addEvent(ctx, tx, a, contextID, contexts.EventInterventionUpdated, contexts.ClosingSummary(o.Action, o.Status, d),
			map[string]any{"intervention_id": o.ID, "previous_status": o.Status, "closing_decision": d}); err != nil {
			return err
		}
	}
	return nil
}

// ReopenContext reopens a closed context when the place, group or school
// comes back; the chronology continues on the same record.
func (s *Store) ReopenContext(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.ReopenInput) (*contexts.Context, error) {
	if err := contexts.Require(a, contexts.RoleContextLead); err != nil {
		return nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return nil, err
	}
	reason := in.Reason
	if err := s.screen(ctx, s.db, a, fmt.Sprintf("context:%d", contextID), contexts.TextField{Name: "reason", Text: reason}); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		if c.Status != contexts.StatusClosed {
			return ctxmap.Errorf(ctxmap.KindConflict, "not_closed", "%s is open; only a closed context can be reopened", c.DisplayName)
		}
		if _, err := tx.Exec(ctx, `UPDATE context_closures SET reopened_by = $2, reopened_at = coalesce($4, now()), reopen_reason = $3
			WHERE id = (SELECT max(id) FROM context_closures WHERE context_id = $1)`, contextID, a.UserID, reason, s.at); err != nil {
			return fmt.Errorf("reopen context: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE contexts SET status = 'open', closed_at = NULL WHERE id = $1`, contextID); err != nil {
			return fmt.Errorf("reopen context: %w", err)
		}
		if _, err := s.addEvent(ctx, tx, a, contextID, contexts.EventReopened, "Reopened: "+contexts.Trunc(reason, 200), nil); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.reopen", fmt.Sprintf("context:%d", contextID), reason, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.Context(ctx, a, contextID)
}

// Chronology lists every change to a context in order, with who and when.
// Link and unlink entries name the team only, and for every role but
// practitioners carry the month only, one per team and month.
func (s *Store) Chronology(ctx context.Context, a *contexts.Actor, contextID int64) ([]contexts.ChronologyEntry, error) {
	if err := contexts.Require(a, contexts.Roles...); err != nil {
		return nil, err
	}
	if err := s.requireContext(ctx, contextID); err != nil {
		return nil, err
	}
	asOf, err := linksAsOf(ctx, s.db, a)
	if err != nil {
		return nil, err
	}
	// Link events reach roles other than practitioners as of the latest
	// release only, like the link counts (linksAsOf).
	rows, err := s.db.Query(ctx, `SELECT e.id, e.at, e.event,
			CASE WHEN e.event IN ('young_person_linked', 'young_person_unlinked') THEN '' ELSE coalesce(e.actor_name, '') END,
			coalesce(t.name, ''), e.summary, e.detail
		FROM context_events e LEFT JOIN teams t ON t.id = e.team_id
		WHERE e.context_id = $1 AND ($2::timestamptz IS NULL OR e.at <= $2
			OR e.event NOT IN ('young_person_linked', 'young_person_unlinked'))
		ORDER BY e.id`, contextID, asOf)
	if err != nil {
		return nil, fmt.Errorf("read chronology: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.ChronologyEntry, error) {
		var e contexts.ChronologyEntry
		var detail []byte
		err := r.Scan(&e.ID, &e.At.Time, &e.Event, &e.Actor, &e.Team, &e.Summary, &detail)
		e.Detail = detail
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read chronology: %w", err)
	}
	return contexts.ChronologyForRole(out, a.Role), nil
}
