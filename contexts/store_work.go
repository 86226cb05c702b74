package contexts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
)

func checkSide(field, kind, side string) (string, error) {
	for _, k := range contextKinds {
		if k.Code == kind {
			return checkTerm(field, "invalid_side", k.Sides, side)
		}
	}
	return "", fmt.Errorf("context of unknown kind %q", kind)
}

func contextClosedError(c *Context) error {
	return ctxmap.Errorf(ctxmap.KindConflict, "context_closed", "%s is closed; reopen it first", c.DisplayName).
		WithDetail("existing_id", c.ID)
}

// AddAssessment files a thematic note under one side of the context's
// triangle.
func (s *Store) AddAssessment(ctx context.Context, a *Actor, contextID int64, in AssessmentInput) (*Assessment, error) {
	if err := require(a, RoleContextLead); err != nil {
		return nil, err
	}
	note, err := checkText("note", in.Note, MaxNote, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkThematic(ctx, s.pool, textField{"note", note}); err != nil {
		return nil, err
	}
	var out Assessment
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		side, err := checkSide("side", c.Kind, in.Side)
		if err != nil {
			return err
		}
		if c.Status == StatusClosed {
			return contextClosedError(c)
		}
		out = Assessment{Side: side, Note: note, CreatedBy: a.Name}
		out.SideLabel, _ = SideLabel(c.Kind, side)
		err = tx.QueryRow(ctx, `INSERT INTO context_assessments (context_id, side, note, created_by)
			VALUES ($1, $2, $3, $4) RETURNING id, created_at`, contextID, side, note, a.UserID).Scan(&out.ID, &out.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert assessment: %w", err)
		}
		if _, err := addEvent(ctx, tx, a, contextID, EventAssessmentAdded, "Assessment added: "+out.SideLabel,
			map[string]any{"assessment_id": out.ID, "side": side}); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.assess", fmt.Sprintf("context:%d", contextID), "", map[string]any{"assessment_id": out.ID})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

const interventionColumns = `i.id, i.action, i.partner_agency, i.side, i.status, i.due_date, i.done_date, u.name,
	i.created_at, i.updated_at`

const interventionFrom = ` FROM context_interventions i JOIN users u ON u.id = i.created_by`

func scanIntervention(r pgx.CollectableRow) (Intervention, error) {
	var x Intervention
	var due, done *time.Time
	err := r.Scan(&x.ID, &x.Action, &x.PartnerAgency, &x.Side, &x.Status, &due, &done, &x.CreatedBy, &x.CreatedAt, &x.UpdatedAt)
	x.DueDate, x.DoneDate = dateString(due), dateString(done)
	return x, err
}

// interventionFields is a validated intervention, new or updated.
type interventionFields struct {
	action, agency, side, status string
	due, done                    *time.Time
}

// check validates the whole intervention after a create or an update has
// been applied: a done intervention gets today's date if it has none, and
// nothing can be done in the future.
func (f *interventionFields) check(kind string, today time.Time) error {
	var err error
	if f.action, err = checkText("action", f.action, MaxReason, true); err != nil {
		return err
	}
	if f.agency, err = checkTerm("partner_agency", "invalid_partner_agency", partnerAgencies, f.agency); err != nil {
		return err
	}
	if f.side, err = checkSide("side", kind, f.side); err != nil {
		return err
	}
	if f.status, err = checkTerm("status", "invalid_status", interventionStatusTerms, f.status); err != nil {
		return err
	}
	if f.status == InterventionDone && f.done == nil {
		f.done = &today
	}
	if f.done != nil && f.done.After(today) {
		return unprocessable("done_date", "date_in_future", "done_date %s is in the future", f.done.Format("2006-01-02"))
	}
	return nil
}

// AddIntervention plans an action with a partner agency against one side
// of the triangle.
func (s *Store) AddIntervention(ctx context.Context, a *Actor, contextID int64, in InterventionInput) (*Intervention, error) {
	if err := require(a, RoleContextLead); err != nil {
		return nil, err
	}
	if in.Status == "" {
		in.Status = InterventionPlanned
	}
	f := interventionFields{action: in.Action, agency: in.PartnerAgency, side: in.Side, status: in.Status}
	var err error
	if f.due, err = parseOptionalDate("due_date", in.DueDate); err != nil {
		return nil, err
	}
	if f.done, err = parseOptionalDate("done_date", in.DoneDate); err != nil {
		return nil, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		if err := f.check(c.Kind, ukDay(s.now())); err != nil {
			return err
		}
		if err := s.checkThematic(ctx, tx, textField{"action", f.action}); err != nil {
			return err
		}
		if c.Status == StatusClosed {
			return contextClosedError(c)
		}
		err = tx.QueryRow(ctx, `INSERT INTO context_interventions (context_id, action, partner_agency, side, status,
				due_date, done_date, created_by, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
			contextID, f.action, f.agency, f.side, f.status, f.due, f.done, a.UserID).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert intervention: %w", err)
		}
		agency, _ := termLabel(partnerAgencies, f.agency)
		if _, err := addEvent(ctx, tx, a, contextID, EventInterventionAdded,
			fmt.Sprintf("Intervention added with %s (%s)", agency, f.status),
			map[string]any{"intervention_id": id, "status": f.status, "partner_agency": f.agency, "side": f.side}); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.intervention.create", fmt.Sprintf("context:%d", contextID), "", map[string]any{"intervention_id": id})
	})
	if err != nil {
		return nil, err
	}
	return s.intervention(ctx, contextID, id)
}

func (s *Store) intervention(ctx context.Context, contextID, id int64) (*Intervention, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+interventionColumns+interventionFrom+` WHERE i.id = $1 AND i.context_id = $2`, id, contextID)
	if err != nil {
		return nil, fmt.Errorf("read intervention: %w", err)
	}
	x, err := pgx.CollectExactlyOneRow(rows, scanIntervention)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("intervention", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read intervention: %w", err)
	}
	return &x, nil
}

// UpdateIntervention progresses an intervention (status, dates, wording).
// Closed contexts' interventions can still be corrected, so the record of
// what was done stays accurate.
func (s *Store) UpdateIntervention(ctx context.Context, a *Actor, contextID, id int64, in InterventionUpdate) (*Intervention, error) {
	if err := require(a, RoleContextLead); err != nil {
		return nil, err
	}
	if in == (InterventionUpdate{}) {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "nothing_to_update", "give at least one field to change")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		var f interventionFields
		err = tx.QueryRow(ctx, `SELECT action, partner_agency, side, status, due_date, done_date
			FROM context_interventions WHERE id = $1 AND context_id = $2 FOR UPDATE`, id, contextID).
			Scan(&f.action, &f.agency, &f.side, &f.status, &f.due, &f.done)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("intervention", id)
		}
		if err != nil {
			return fmt.Errorf("read intervention: %w", err)
		}
		oldStatus := f.status
		if in.Action != nil {
			f.action = *in.Action
		}
		if in.PartnerAgency != nil {
			f.agency = *in.PartnerAgency
		}
		if in.Side != nil {
			f.side = *in.Side
		}
		if in.Status != nil {
			f.status = *in.Status
		}
		if in.DueDate != nil {
			if f.due, err = parseOptionalDate("due_date", *in.DueDate); err != nil {
				return err
			}
		}
		if in.DoneDate != nil {
			if f.done, err = parseOptionalDate("done_date", *in.DoneDate); err != nil {
				return err
			}
		}
		if err := f.check(c.Kind, ukDay(s.now())); err != nil {
			return err
		}
		if in.Action != nil {
			if err := s.checkThematic(ctx, tx, textField{"action", f.action}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE context_interventions SET action = $3, partner_agency = $4, side = $5,
				status = $6, due_date = $7, done_date = $8, updated_by = $9, updated_at = now()
			WHERE id = $1 AND context_id = $2`,
			id, contextID, f.action, f.agency, f.side, f.status, f.due, f.done, a.UserID); err != nil {
			return fmt.Errorf("update intervention: %w", err)
		}
		summary := "Intervention updated"
		if f.status != oldStatus {
			summary = fmt.Sprintf("Intervention %s -> %s", oldStatus, f.status)
		}
		if _, err := addEvent(ctx, tx, a, contextID, EventInterventionUpdated, summary,
			map[string]any{"intervention_id": id, "status": f.status, "previous_status": oldStatus}); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.intervention.update", fmt.Sprintf("context:%d", contextID), "", map[string]any{"intervention_id": id})
	})
	if err != nil {
		return nil, err
	}
	return s.intervention(ctx, contextID, id)
}

// CloseContext closes a context with evidence under each side of its
// triangle and a reason. Young people stay linked (and are shown in the
// summary) until their practitioners detach them.
func (s *Store) CloseContext(ctx context.Context, a *Actor, contextID int64, in CloseInput) (*Context, error) {
	if err := require(a, RoleContextLead); err != nil {
		return nil, err
	}
	reason, err := checkText("reason", in.Reason, MaxReason, true)
	if err != nil {
		return nil, err
	}
	for side := range in.Evidence {
		if side != SideNeeds && side != SideGuardianship && side != SideEnvironment {
			return nil, invalidField("evidence", "invalid_side", "evidence is keyed by side: needs, guardianship, environment; not %q", trunc(side, 40))
		}
	}
	evidence := make([]string, len(SideCodes))
	fields := []textField{{"reason", reason}}
	for i, side := range SideCodes {
		field := "evidence." + side
		if evidence[i], err = checkText(field, in.Evidence[side], MaxNote, true); err != nil {
			return nil, err
		}
		fields = append(fields, textField{field, evidence[i]})
	}
	if err := s.checkThematic(ctx, s.pool, fields...); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		if c.Status == StatusClosed {
			return ctxmap.Errorf(ctxmap.KindConflict, "already_closed", "%s is already closed", c.DisplayName)
		}
		var cid int64
		if err := tx.QueryRow(ctx, `INSERT INTO context_closures (context_id, reason, evidence_needs, evidence_guardianship,
				evidence_environment, closed_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			contextID, reason, evidence[0], evidence[1], evidence[2], a.UserID).Scan(&cid); err != nil {
			return fmt.Errorf("insert closure: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE contexts SET status = 'closed', closed_at = now() WHERE id = $1`, contextID); err != nil {
			return fmt.Errorf("close context: %w", err)
		}
		if _, err := addEvent(ctx, tx, a, contextID, EventClosed, "Closed: "+trunc(reason, 200),
			map[string]any{"closure_id": cid}); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.close", fmt.Sprintf("context:%d", contextID), reason, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.Context(ctx, a, contextID)
}

// ReopenContext reopens a closed context when the place, group or school
// comes back; the chronology continues on the same record.
func (s *Store) ReopenContext(ctx context.Context, a *Actor, contextID int64, in ReopenInput) (*Context, error) {
	if err := require(a, RoleContextLead); err != nil {
		return nil, err
	}
	reason, err := checkText("reason", in.Reason, MaxReason, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkThematic(ctx, s.pool, textField{"reason", reason}); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		if c.Status != StatusClosed {
			return ctxmap.Errorf(ctxmap.KindConflict, "not_closed", "%s is open; only a closed context can be reopened", c.DisplayName)
		}
		if _, err := tx.Exec(ctx, `UPDATE context_closures SET reopened_by = $2, reopened_at = now(), reopen_reason = $3
			WHERE id = (SELECT max(id) FROM context_closures WHERE context_id = $1)`, contextID, a.UserID, reason); err != nil {
			return fmt.Errorf("reopen context: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE contexts SET status = 'open', closed_at = NULL WHERE id = $1`, contextID); err != nil {
			return fmt.Errorf("reopen context: %w", err)
		}
		if _, err := addEvent(ctx, tx, a, contextID, EventReopened, "Reopened: "+trunc(reason, 200), nil); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.reopen", fmt.Sprintf("context:%d", contextID), reason, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.Context(ctx, a, contextID)
}

// Chronology lists every change to a context in order, with who and when.
// Link and unlink entries name the team only.
func (s *Store) Chronology(ctx context.Context, a *Actor, contextID int64) ([]ChronologyEntry, error) {
	if err := require(a, anyRole...); err != nil {
		return nil, err
	}
	if err := s.requireContext(ctx, contextID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT e.id, e.at, e.event,
			CASE WHEN e.event IN ('young_person_linked', 'young_person_unlinked') THEN '' ELSE coalesce(e.actor_name, '') END,
			coalesce(t.name, ''), e.summary, e.detail
		FROM context_events e LEFT JOIN teams t ON t.id = e.team_id
		WHERE e.context_id = $1 ORDER BY e.id`, contextID)
	if err != nil {
		return nil, fmt.Errorf("read chronology: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChronologyEntry, error) {
		var e ChronologyEntry
		var detail []byte
		err := r.Scan(&e.ID, &e.At, &e.Event, &e.Actor, &e.Team, &e.Summary, &detail)
		e.Detail = detail
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read chronology: %w", err)
	}
	return out, nil
}
