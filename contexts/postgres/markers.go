package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
)

// A young person's contextual record beyond harm locations: markers,
// relocations, contextual factors and their plan actions (contexts/
// markers.go). The access rules are the harm locations': practitioners
// only; a write for a young person goes through subjectFor (allocations,
// the daily cap of young people new to the user, the team's ledger); every
// entry belongs to the writer's team and only that team reads or changes
// it; a read names its purpose and is audited; free text is screened,
// including for the young person's own id. Nothing here changes a
// published value: the rates come from the next release.

// newFor hashes a young person's id and returns the subject row (created
// if need be, through the insider checks) inside tx.
func (s *Store) newFor(ctx context.Context, tx pgx.Tx, a *contexts.Actor, subject string) (int64, [32]byte, error) {
	h := contexts.NewSubjectHasher(s.secret)
	sh := h.Hash(subject)
	sid, err := s.subjectFor(ctx, tx, a, h, sh)
	return sid, sh, err
}

// screenSubjectText screens each field's text as free text about subject.
func (s *Store) screenSubjectText(ctx context.Context, a *contexts.Actor, subject string, fields ...contexts.TextField) error {
	sh := contexts.NewSubjectHasher(s.secret).Hash(subject)
	for _, f := range fields {
		if f.Text == "" {
			continue
		}
		if err := s.screenFreeText(ctx, a, contexts.AuditSubject(sh), subject, f); err != nil {
			return err
		}
	}
	return nil
}

// AddMarker adds a referral or outcome marker to a young person's record.
func (s *Store) AddMarker(ctx context.Context, a *contexts.Actor, in contexts.MarkerInput) (*contexts.Marker, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Marker, error) { return s.addMarker(ctx, a, in) })
}

func (s *Store) addMarker(ctx context.Context, a *contexts.Actor, in contexts.MarkerInput) (*contexts.Marker, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	f, err := in.Validate(contexts.UKDay(s.now()))
	if err != nil {
		return nil, err
	}
	if err := s.screenSubjectText(ctx, a, f.Subject, contexts.TextField{Name: "note", Text: f.Note}); err != nil {
		return nil, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		sid, sh, err := s.newFor(ctx, tx, a, f.Subject)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO yp_markers (subject_id, team_id, created_by, kind, familial, marked_on, note, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now())) RETURNING id`,
			sid, a.TeamID, a.UserID, f.Kind, f.Familial, f.Date, f.Note, s.at).Scan(&id); err != nil {
			return fmt.Errorf("insert marker: %w", err)
		}
		return audit(ctx, tx, a, "marker.create", fmt.Sprintf("marker:%d", id), "",
			map[string]any{"subject": contexts.AuditSubject(sh), "kind": f.Kind, "familial": f.Familial, "date": f.Date.Format(time.DateOnly)})
	})
	if err != nil {
		return nil, s.auditSubjectLimit(ctx, a, "marker.create", err)
	}
	return s.marker(ctx, s.db, a, id)
}

// CorrectMarker replaces a current marker of the actor's team by a new
// entry with the corrected value and date, keeping the old one in the
// history with who corrected it, when and why; both are audited as one
// change. A marker already corrected is a 409: correct its replacement.
func (s *Store) CorrectMarker(ctx context.Context, a *contexts.Actor, id int64, in contexts.MarkerCorrection) (*contexts.Marker, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Marker, error) { return s.correctMarker(ctx, a, id, in) })
}

func (s *Store) correctMarker(ctx context.Context, a *contexts.Actor, id int64, in contexts.MarkerCorrection) (*contexts.Marker, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	f, reason, err := in.Validate(contexts.UKDay(s.now()))
	if err != nil {
		return nil, err
	}
	record := fmt.Sprintf("marker:%d", id)
	if err := s.screen(ctx, s.db, a, record, contexts.TextField{Name: "note", Text: f.Note}, contexts.TextField{Name: "reason", Text: reason}); err != nil {
		return nil, err
	}
	var newID int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var sid int64
		var hash []byte
		var kind, familial string
		var date time.Time
		var corrected *time.Time
		if _, err := lockSubjectOf(ctx, tx, "yp_markers", id, a); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT m.subject_id, s.hash, m.kind, m.familial, m.marked_on, m.corrected_at
			FROM yp_markers m JOIN subjects s ON s.id = m.subject_id
			WHERE m.id = $1 AND m.team_id = $2 FOR UPDATE OF m`, id, a.TeamID).Scan(&sid, &hash, &kind, &familial, &date, &corrected)
		if errors.Is(err, pgx.ErrNoRows) {
			return contexts.NotFound("marker", id)
		}
		if err != nil {
			return fmt.Errorf("correct marker: %w", err)
		}
		var sh [32]byte
		copy(sh[:], hash)
		if err := s.allocated(ctx, tx, a, sh); err != nil {
			return err
		}
		if corrected != nil {
			return ctxmap.Errorf(ctxmap.KindConflict, "marker_corrected", "marker %d was already corrected; correct its replacement instead", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE yp_markers SET corrected_at = coalesce($4, now()), corrected_by = $2, correction_reason = $3 WHERE id = $1`,
			id, a.UserID, reason, s.at); err != nil {
			return fmt.Errorf("correct marker: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO yp_markers (subject_id, team_id, created_by, kind, familial, marked_on, note, corrects, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now())) RETURNING id`,
			sid, a.TeamID, a.UserID, kind, f.Familial, f.Date, f.Note, id, s.at).Scan(&newID); err != nil {
			return fmt.Errorf("correct marker: %w", err)
		}
		return audit(ctx, tx, a, "marker.correct", record, reason, map[string]any{
			"subject": contexts.AuditSubject(sh), "replaced_by": fmt.Sprintf("marker:%d", newID), "kind": kind,
			"from": map[string]any{"familial": familial, "date": date.Format(time.DateOnly)},
			"to":   map[string]any{"familial": f.Familial, "date": f.Date.Format(time.DateOnly)}})
	})
	if err != nil {
		return nil, err
	}
	return s.marker(ctx, s.db, a, newID)
}

const markerColumns = `m.id, m.kind, m.familial, m.marked_on, m.note, t.name, u.name, m.created_at, m.corrects,
	m.corrected_at, coalesce(cu.name, ''), coalesce(m.correction_reason, '')`

const markerFrom = ` FROM yp_markers m JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.created_by
	LEFT JOIN users cu ON cu.id = m.corrected_by`

func scanMarker(r pgx.CollectableRow) (contexts.Marker, error) {
	var m contexts.Marker
	var date time.Time
	var at *time.Time
	var by, reason string
	err := r.Scan(&m.ID, &m.Kind, &m.Familial, &date, &m.Note, &m.Team, &m.CreatedBy, &m.CreatedAt, &m.Corrects, &at, &by, &reason)
	m.Date = date.Format(time.DateOnly)
	if at != nil {
		m.Corrected = &contexts.Replaced{At: *at, By: by, Reason: reason}
	}
	return m, err
}

// marker reads one of the team's markers back for the writer's answer.
func (s *Store) marker(ctx context.Context, q querier, a *contexts.Actor, id int64) (*contexts.Marker, error) {
	return readOne(ctx, q, scanMarker, "marker", id, `SELECT `+markerColumns+markerFrom+` WHERE m.id = $1 AND m.team_id = $2`, id, a.TeamID)
}

// AddRelocation records a relocation in response to extra-familial harm.
func (s *Store) AddRelocation(ctx context.Context, a *contexts.Actor, in contexts.RelocationInput) (*contexts.Relocation, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Relocation, error) { return s.addRelocation(ctx, a, in) })
}

func (s *Store) addRelocation(ctx context.Context, a *contexts.Actor, in contexts.RelocationInput) (*contexts.Relocation, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	f, err := in.Validate(contexts.UKDay(s.now()))
	if err != nil {
		return nil, err
	}
	if err := s.screenSubjectText(ctx, a, f.Subject, contexts.TextField{Name: "note", Text: f.Note}); err != nil {
		return nil, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		sid, sh, err := s.newFor(ctx, tx, a, f.Subject)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO yp_relocations (subject_id, team_id, created_by, relocated_on, kind, note, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now())) RETURNING id`,
			sid, a.TeamID, a.UserID, f.Date, f.Kind, f.Note, s.at).Scan(&id); err != nil {
			return fmt.Errorf("insert relocation: %w", err)
		}
		return audit(ctx, tx, a, "relocation.create", fmt.Sprintf("relocation:%d", id), "",
			map[string]any{"subject": contexts.AuditSubject(sh), "kind": f.Kind, "date": f.Date.Format(time.DateOnly)})
	})
	if err != nil {
		return nil, s.auditSubjectLimit(ctx, a, "relocation.create", err)
	}
	return readOne(ctx, s.db, scanRelocation, "relocation", id, `SELECT `+relocationColumns+relocationFrom+` WHERE r.id = $1 AND r.team_id = $2`, id, a.TeamID)
}

const relocationColumns = `r.id, r.relocated_on, r.kind, r.note, t.name, u.name, r.created_at,
	r.withdrawn_at, coalesce(wu.name, ''), coalesce(r.withdraw_reason, '')`

const relocationFrom = ` FROM yp_relocations r JOIN teams t ON t.id = r.team_id JOIN users u ON u.id = r.created_by
	LEFT JOIN users wu ON wu.id = r.withdrawn_by`

func scanRelocation(row pgx.CollectableRow) (contexts.Relocation, error) {
	var r contexts.Relocation
	var date time.Time
	var w withdrawal
	err := row.Scan(&r.ID, &date, &r.Kind, &r.Note, &r.Team, &r.CreatedBy, &r.CreatedAt, &w.at, &w.by, &w.reason)
	r.Date, r.Withdrawn = date.Format(time.DateOnly), w.value()
	return r, err
}

// withdrawal is a withdrawn entry's columns as scanned.
type withdrawal struct {
	at         *time.Time
	by, reason string
}

func (w withdrawal) value() *contexts.Withdrawal {
	if w.at == nil {
		return nil
	}
	return &contexts.Withdrawal{At: *w.at, By: w.by, Reason: w.reason}
}

// Withdrawable entries: the tables whose entries a team may withdraw, and
// what the audit log and the errors call them.
var withdrawable = map[string]struct{ what, record string }{
	"yp_relocations": {"relocation", "relocation:%d"},
	"yp_factors":     {"factor", "factor:%d"},
}

// withdraw marks the team's entry id of table withdrawn with a reason, in
// one transaction with its audit entry (action <what>.withdraw). A
// withdrawn entry is a 409.
func (s *Store) withdraw(ctx context.Context, a *contexts.Actor, table string, id int64, in contexts.WithdrawInput) error {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return err
	}
	w := withdrawable[table]
	reason, err := in.Validate()
	if err != nil {
		return err
	}
	record := fmt.Sprintf(w.record, id)
	if err := s.screen(ctx, s.db, a, record, contexts.TextField{Name: "reason", Text: reason}); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Withdrawing needs no allocation: a team that finds its own entry
		// wrong must be able to take it out after the case has moved on.
		if _, err := lockSubjectOf(ctx, tx, table, id, a); err != nil {
			return err
		}
		var at *time.Time
		err := tx.QueryRow(ctx, `SELECT withdrawn_at FROM `+table+` WHERE id = $1 AND team_id = $2 FOR UPDATE`, id, a.TeamID).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return contexts.NotFound(w.what, id)
		}
		if err != nil {
			return fmt.Errorf("withdraw %s: %w", w.what, err)
		}
		if at != nil {
			return ctxmap.Errorf(ctxmap.KindConflict, "already_withdrawn", "%s %d was already withdrawn", w.what, id)
		}
		if _, err := tx.Exec(ctx, `UPDATE `+table+` SET withdrawn_at = coalesce($4, now()), withdrawn_by = $2, withdraw_reason = $3
			WHERE id = $1`, id, a.UserID, reason, s.at); err != nil {
			return fmt.Errorf("withdraw %s: %w", w.what, err)
		}
		return audit(ctx, tx, a, w.what+".withdraw", record, reason, nil)
	})
}

// WithdrawRelocation withdraws one of the team's relocations entered in
// error: it stays in the history and leaves the next release.
func (s *Store) WithdrawRelocation(ctx context.Context, a *contexts.Actor, id int64, in contexts.WithdrawInput) (*contexts.Relocation, error) {
	if err := s.withdraw(ctx, a, "yp_relocations", id, in); err != nil {
		return nil, err
	}
	return readOne(ctx, s.db, scanRelocation, "relocation", id, `SELECT `+relocationColumns+relocationFrom+` WHERE r.id = $1 AND r.team_id = $2`, id, a.TeamID)
}

// WithdrawFactor withdraws one of the team's factors entered in error,
// with its plan actions kept beside it.
func (s *Store) WithdrawFactor(ctx context.Context, a *contexts.Actor, id int64, in contexts.WithdrawInput) (*contexts.Factor, error) {
	if err := s.withdraw(ctx, a, "yp_factors", id, in); err != nil {
		return nil, err
	}
	return s.factor(ctx, a, id)
}

// factor reads one of the team's factors with its actions.
func (s *Store) factor(ctx context.Context, a *contexts.Actor, id int64) (*contexts.Factor, error) {
	list, err := s.factors(ctx, s.db, `f.id = $1 AND f.team_id = $2`, id, a.TeamID)
	if err != nil {
		return nil, err
	}
	if len(list) != 1 {
		return nil, contexts.NotFound("factor", id)
	}
	return &list[0], nil
}

// AddFactor records a contextual factor an assessment identified. A ward is
// looked up among the imported boundary's areas (by id or name) and stored
// by its id and name.
func (s *Store) AddFactor(ctx context.Context, a *contexts.Actor, in contexts.FactorInput) (*contexts.Factor, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Factor, error) { return s.addFactor(ctx, a, in) })
}

func (s *Store) addFactor(ctx context.Context, a *contexts.Actor, in contexts.FactorInput) (*contexts.Factor, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	f, err := in.Validate(contexts.UKDay(s.now()))
	if err != nil {
		return nil, err
	}
	if err := s.screenSubjectText(ctx, a, f.Subject, contexts.TextField{Name: "description", Text: f.Description}); err != nil {
		return nil, err
	}
	var areaName *string
	if f.AreaKind == contexts.AreaWard {
		w, err := s.ward(ctx, f.Area)
		if err != nil {
			return nil, err
		}
		f.Area, areaName = w.ID, &w.Name
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var lt, ak, area *string
		var cid *int64
		if f.ContextID != 0 {
			if err := contextExists(ctx, tx, f.ContextID); err != nil {
				return err
			}
			cid = &f.ContextID
		} else {
			lt, ak, area = &f.LocationType, &f.AreaKind, &f.Area
		}
		sid, sh, err := s.newFor(ctx, tx, a, f.Subject)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO yp_factors (subject_id, team_id, created_by, identified_on, description,
				context_id, location_type, area_kind, area, area_name, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, now())) RETURNING id`,
			sid, a.TeamID, a.UserID, f.IdentifiedOn, f.Description, cid, lt, ak, area, areaName, s.at).Scan(&id); err != nil {
			return fmt.Errorf("insert factor: %w", err)
		}
		return audit(ctx, tx, a, "factor.create", fmt.Sprintf("factor:%d", id), "",
			map[string]any{"subject": contexts.AuditSubject(sh), "identified_on": f.IdentifiedOn.Format(time.DateOnly)})
	})
	if err != nil {
		return nil, s.auditSubjectLimit(ctx, a, "factor.create", err)
	}
	return s.factor(ctx, a, id)
}

// ward finds a ward of the imported boundary by id or name.
func (s *Store) ward(ctx context.Context, key string) (geo.Area, error) {
	docs, err := boundaryDocs(ctx, s.db)
	if err != nil {
		return geo.Area{}, err
	}
	areas, err := geo.BoundaryAreas(docs)
	if err != nil {
		return geo.Area{}, fmt.Errorf("read wards: %w", err)
	}
	if len(areas) == 0 {
		return geo.Area{}, contexts.Unprocessable("area", "no_wards", "no boundary with wards has been imported; give a postcode district (area_kind postcode_district) instead")
	}
	w, err := geo.FindArea(areas, key)
	var e *ctxmap.Error
	if errors.As(err, &e) {
		return geo.Area{}, contexts.Unprocessable("area", e.Code, "%s", e.Message)
	}
	if err != nil {
		return geo.Area{}, err
	}
	return w, nil
}

const factorColumns = `f.id, f.identified_on, f.description, f.context_id, coalesce(c.display_name, ''), f.context_erased,
	coalesce(f.location_type, ''), coalesce(f.area_kind, ''), coalesce(f.area, ''), coalesce(f.area_name, ''),
	t.name, u.name, f.created_at, f.withdrawn_at, coalesce(wu.name, ''), coalesce(f.withdraw_reason, '')`

const factorFrom = ` FROM yp_factors f JOIN teams t ON t.id = f.team_id JOIN users u ON u.id = f.created_by
	LEFT JOIN contexts c ON c.id = f.context_id LEFT JOIN users wu ON wu.id = f.withdrawn_by`

const actionColumns = `a.id, a.factor_id, a.action, a.partner_agency, a.status, a.due_on, a.done_on, u.name, a.created_at, a.updated_at`

func scanAction(row pgx.CollectableRow) (contexts.FactorAction, error) {
	var x contexts.FactorAction
	var due, done *time.Time
	err := row.Scan(&x.ID, &x.FactorID, &x.Action, &x.PartnerAgency, &x.Status, &due, &done, &x.CreatedBy, &x.CreatedAt, &x.UpdatedAt)
	x.DueDate, x.DoneDate = dateString(due), dateString(done)
	return x, err
}

// factors reads the factors matching where (over f, with args) and their
// actions, in the order identified.
func (s *Store) factors(ctx context.Context, q querier, where string, args ...any) ([]contexts.Factor, error) {
	rows, err := q.Query(ctx, `SELECT `+factorColumns+factorFrom+` WHERE `+where+` ORDER BY f.identified_on, f.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read factors: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (contexts.Factor, error) {
		var f contexts.Factor
		var on time.Time
		var w withdrawal
		err := row.Scan(&f.ID, &on, &f.Description, &f.ContextID, &f.ContextName, &f.ContextErased, &f.LocationType,
			&f.AreaKind, &f.Area, &f.AreaName, &f.Team, &f.CreatedBy, &f.CreatedAt, &w.at, &w.by, &w.reason)
		f.IdentifiedOn, f.Withdrawn = on.Format(time.DateOnly), w.value()
		f.Actions = []contexts.FactorAction{}
		return f, err
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]int64, len(out))
	at := make(map[int64]int, len(out))
	for i, f := range out {
		ids[i], at[f.ID] = f.ID, i
	}
	rows, err = q.Query(ctx, `SELECT `+actionColumns+` FROM yp_factor_actions a JOIN users u ON u.id = a.created_by
		WHERE a.factor_id = ANY($1) ORDER BY a.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read factor actions: %w", err)
	}
	acts, err := pgx.CollectRows(rows, scanAction)
	if err != nil {
		return nil, fmt.Errorf("read factor actions: %w", err)
	}
	for _, x := range acts {
		f := &out[at[x.FactorID]]
		f.Actions = append(f.Actions, x)
	}
	for i := range out {
		statuses := make([]string, len(out[i].Actions))
		for j, x := range out[i].Actions {
			statuses[j] = x.Status
		}
		out[i].Addressed = contexts.FactorAddressed(statuses)
	}
	return out, nil
}

// AddFactorAction plans an action addressing one of the team's factors.
func (s *Store) AddFactorAction(ctx context.Context, a *contexts.Actor, factorID int64, in contexts.FactorActionInput) (*contexts.FactorAction, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.FactorAction, error) { return s.addFactorAction(ctx, a, factorID, in) })
}

func (s *Store) addFactorAction(ctx context.Context, a *contexts.Actor, factorID int64, in contexts.FactorActionInput) (*contexts.FactorAction, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	f, err := contexts.NewFactorAction(in)
	if err != nil {
		return nil, err
	}
	if err := f.Check(contexts.UKDay(s.now())); err != nil {
		return nil, err
	}
	record := fmt.Sprintf("factor:%d", factorID)
	if err := s.screen(ctx, s.db, a, record, contexts.TextField{Name: "action", Text: f.Action}); err != nil {
		return nil, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		sid, err := s.lockFactor(ctx, tx, a, factorID)
		if err != nil {
			return err
		}
		// A plan action is recording for the young person, as the factor was.
		if err := s.allocatedSubject(ctx, tx, a, sid); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO yp_factor_actions (factor_id, action, partner_agency, status, due_on, done_on,
				created_by, updated_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, coalesce($8, now()), coalesce($8, now())) RETURNING id`,
			factorID, f.Action, f.Agency, f.Status, f.Due, f.Done, a.UserID, s.at).Scan(&id); err != nil {
			return fmt.Errorf("insert factor action: %w", err)
		}
		return audit(ctx, tx, a, "factor_action.create", record, "",
			map[string]any{"action_id": id, "partner_agency": f.Agency, "status": f.Status})
	})
	if err != nil {
		return nil, err
	}
	return s.factorAction(ctx, a, factorID, id)
}

// UpdateFactorAction progresses one of the team's plan actions.
func (s *Store) UpdateFactorAction(ctx context.Context, a *contexts.Actor, factorID, id int64, in contexts.FactorActionUpdate) (*contexts.FactorAction, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	record := fmt.Sprintf("factor:%d", factorID)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		sid, err := s.lockFactor(ctx, tx, a, factorID)
		if err != nil {
			return err
		}
		// Progressing the plan is recording for the young person; closing
		// one's own action (done or dropped) stays open after a move.
		if !in.Closes() {
			if err := s.allocatedSubject(ctx, tx, a, sid); err != nil {
				return err
			}
		}
		var f contexts.FactorActionFields
		err = tx.QueryRow(ctx, `SELECT action, partner_agency, status, due_on, done_on FROM yp_factor_actions
			WHERE id = $1 AND factor_id = $2 FOR UPDATE`, id, factorID).Scan(&f.Action, &f.Agency, &f.Status, &f.Due, &f.Done)
		if errors.Is(err, pgx.ErrNoRows) {
			return contexts.NotFound("plan action", id)
		}
		if err != nil {
			return fmt.Errorf("update factor action: %w", err)
		}
		before := f.Status
		if err := f.Apply(in); err != nil {
			return err
		}
		if err := f.Check(contexts.UKDay(s.now())); err != nil {
			return err
		}
		if in.Action != nil {
			if err := s.screen(ctx, tx, a, record, contexts.TextField{Name: "action", Text: f.Action}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE yp_factor_actions SET action = $2, partner_agency = $3, status = $4, due_on = $5,
				done_on = $6, updated_by = $7, updated_at = coalesce($8, now()) WHERE id = $1`,
			id, f.Action, f.Agency, f.Status, f.Due, f.Done, a.UserID, s.at); err != nil {
			return fmt.Errorf("update factor action: %w", err)
		}
		return audit(ctx, tx, a, "factor_action.update", record, "",
			map[string]any{"action_id": id, "status_from": before, "status": f.Status})
	})
	if err != nil {
		return nil, err
	}
	return s.factorAction(ctx, a, factorID, id)
}

// lockFactor answers 404 unless the factor is the team's, and holds its
// row (and its young person's, lockSubjectOf) until tx ends so a retention
// run cannot erase it under the action.
func (s *Store) lockFactor(ctx context.Context, tx pgx.Tx, a *contexts.Actor, id int64) (int64, error) {
	sid, err := lockSubjectOf(ctx, tx, "yp_factors", id, a)
	if err != nil {
		return 0, err
	}
	var withdrawn bool
	err = tx.QueryRow(ctx, `SELECT withdrawn_at IS NOT NULL FROM yp_factors WHERE id = $1 AND team_id = $2 FOR KEY SHARE`, id, a.TeamID).Scan(&withdrawn)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, contexts.NotFound("factor", id)
	}
	if err != nil {
		return 0, fmt.Errorf("check factor: %w", err)
	}
	if withdrawn {
		return 0, ctxmap.Errorf(ctxmap.KindConflict, "factor_withdrawn", "factor %d was withdrawn; its plan actions can no longer change", id)
	}
	return sid, nil
}

func (s *Store) factorAction(ctx context.Context, a *contexts.Actor, factorID, id int64) (*contexts.FactorAction, error) {
	return readOne(ctx, s.db, scanAction, "plan action", id, `SELECT `+actionColumns+` FROM yp_factor_actions a
		JOIN users u ON u.id = a.created_by JOIN yp_factors f ON f.id = a.factor_id
		WHERE a.id = $1 AND a.factor_id = $2 AND f.team_id = $3`, id, factorID, a.TeamID)
}

// ContextualRecord reads the actor's team's markers (history included),
// relocations and factors with actions for one young person, audited with
// its purpose as the harm-location read is. An unknown young person looks
// exactly like one this team holds nothing for.
func (s *Store) ContextualRecord(ctx context.Context, a *contexts.Actor, subject string, purpose contexts.ReadPurpose) (*contexts.ContextualRecord, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	if err := contexts.RequirePurpose(purpose); err != nil {
		return nil, err
	}
	norm, err := contexts.NormalizeSubject(subject)
	if err != nil {
		return nil, err
	}
	sh := contexts.NewSubjectHasher(s.secret).Hash(norm)
	if purpose.Note != "" {
		if err := s.screenFreeText(ctx, a, contexts.AuditSubject(sh), norm, contexts.TextField{Name: "purpose_note", Text: purpose.Note}); err != nil {
			return nil, err
		}
	}
	out := &contexts.ContextualRecord{}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		const who = `(SELECT id FROM subjects WHERE hash = $1)`
		rows, err := tx.Query(ctx, `SELECT `+markerColumns+markerFrom+` WHERE m.subject_id = `+who+` AND m.team_id = $2
			ORDER BY m.marked_on, m.id`, sh[:], a.TeamID)
		if err != nil {
			return fmt.Errorf("read markers: %w", err)
		}
		if out.Markers, err = pgx.CollectRows(rows, scanMarker); err != nil {
			return fmt.Errorf("read markers: %w", err)
		}
		rows, err = tx.Query(ctx, `SELECT `+relocationColumns+relocationFrom+` WHERE r.subject_id = `+who+` AND r.team_id = $2
			ORDER BY r.relocated_on, r.id`, sh[:], a.TeamID)
		if err != nil {
			return fmt.Errorf("read relocations: %w", err)
		}
		if out.Relocations, err = pgx.CollectRows(rows, scanRelocation); err != nil {
			return fmt.Errorf("read relocations: %w", err)
		}
		if out.Factors, err = s.factors(ctx, tx, `f.subject_id = `+who+` AND f.team_id = $2`, sh[:], a.TeamID); err != nil {
			return err
		}
		for _, f := range out.Factors {
			if !f.Addressed && f.Withdrawn == nil {
				out.Unaddressed++
			}
		}
		return auditRead(ctx, tx, a, "contextual_record.read", contexts.AuditSubject(sh), purpose, map[string]any{
			"markers": len(out.Markers), "relocations": len(out.Relocations), "factors": len(out.Factors)})
	})
	if err != nil {
		return nil, err
	}
	if out.Markers == nil {
		out.Markers = []contexts.Marker{}
	}
	if out.Relocations == nil {
		out.Relocations = []contexts.Relocation{}
	}
	if out.Factors == nil {
		out.Factors = []contexts.Factor{}
	}
	return out, nil
}

// lockSubjectOf takes a key-share lock on the subject row of the team's
// entry id in table (yp_markers, yp_relocations or yp_factors; a constant,
// never input)
// before the entry itself is locked: the order a retention erasure takes
// them in (subject FOR UPDATE, then the entries), so a change to an entry
// and an erasure never deadlock. The erasure waits for the change, then
// finds the young person active again and keeps them; or it went first and
// the entry is gone (404). A missing entry is left for the caller's 404.
// It returns the young person's subject row id, 0 when the entry is missing.
func lockSubjectOf(ctx context.Context, tx pgx.Tx, table string, id int64, a *contexts.Actor) (int64, error) {
	var sid int64
	err := tx.QueryRow(ctx, `SELECT s.id FROM subjects s WHERE s.id = (SELECT subject_id FROM `+table+`
		WHERE id = $1 AND team_id = $2) FOR KEY SHARE`, id, a.TeamID).Scan(&sid)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("lock young person: %w", err)
	}
	return sid, nil
}
