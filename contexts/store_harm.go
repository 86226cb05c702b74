package contexts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
)

// latlonPrecisionM is the precision recorded for a point given as lat/lon:
// about what a tap on a phone map is worth.
const latlonPrecisionM = 10

// CreateHarmLocation records a location of harm (or a place a young person
// feels unsafe) on a young person's record, owned by the actor's team. The
// person id is hashed before it reaches the database. Nothing is written
// unless every field is valid.
func (s *Store) CreateHarmLocation(ctx context.Context, a *Actor, in HarmLocationInput) (*HarmLocation, error) {
	if err := require(a, RolePractitioner); err != nil {
		return nil, err
	}
	tax, err := s.Taxonomy(ctx)
	if err != nil {
		return nil, err
	}
	f, err := in.validate(tax, s.now())
	if err != nil {
		return nil, err
	}
	match, precision := "latlon", latlonPrecisionM
	var postcode *string
	if !f.latlon {
		g, err := s.geocodeOne(ctx, f.postcode.String())
		if err != nil {
			return nil, err
		}
		f.lat, f.lon, match, precision = g.Lat, g.Lon, g.Match, g.PrecisionM
		pc := f.postcode.String()
		postcode = &pc
	}
	r6, r7, r8 := cellsFor(f.lat, f.lon, cellRes(match, precision))
	h := newSubjectHasher(s.secret)
	sh := h.hash(f.subject)
	var ctxID *int64
	if f.contextID != 0 {
		ctxID = &f.contextID
	}
	occPrec := f.occurred.precision()
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if ctxID != nil {
			if err := contextExists(ctx, tx, *ctxID); err != nil {
				return err
			}
		}
		key := h.cellKey(sh)
		sid, err := upsertSubject(ctx, tx, sh, key)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO harm_locations (subject_id, subject_key, team_id, created_by, layer, categories,
				familial, occurred_on, occurred_precision, source, location_type, postcode, match, precision_m, lat, lon,
				h3_r6, h3_r7, h3_r8, context_id, taxonomy_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
			RETURNING id`,
			sid, int16(key), a.TeamID, a.UserID, f.layer, f.categories, f.familial, f.occurred.date, occPrec, f.source,
			f.locationType, postcode, match, precision, f.lat, f.lon, r6, r7, r8, ctxID, tax.Version).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert harm location: %w", err)
		}
		return Audit(ctx, tx, a, "harm_location.create", fmt.Sprintf("harm-location:%d", id), "",
			map[string]any{"subject": auditSubject(sh), "layer": f.layer, "categories": f.categories})
	})
	if err != nil {
		return nil, err
	}
	s.heatChanged()
	return s.harmLocation(ctx, a, id)
}

func (o occurred) precision() string {
	if o.month {
		return "month"
	}
	return "day"
}

// contextExists refuses a reference to a context that does not exist.
func contextExists(ctx context.Context, q querier, id int64) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contexts WHERE id = $1)`, id).Scan(&ok); err != nil {
		return fmt.Errorf("check context: %w", err)
	}
	if !ok {
		return unprocessable("context_id", "unknown_context", "there is no context record with id %d", id)
	}
	return nil
}

// requireContext answers 404 for a context that does not exist.
func (s *Store) requireContext(ctx context.Context, id int64) error {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contexts WHERE id = $1)`, id).Scan(&ok); err != nil {
		return fmt.Errorf("check context: %w", err)
	}
	if !ok {
		return notFound("context", id)
	}
	return nil
}

// upsertSubject returns the id of the subject with this hash, creating it.
func upsertSubject(ctx context.Context, tx pgx.Tx, sh [32]byte, key uint8) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `WITH ins AS (
			INSERT INTO subjects (hash, cell_key) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL SELECT id FROM subjects WHERE hash = $1 LIMIT 1`, sh[:], int16(key)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("upsert subject: %w", err)
	}
	return id, nil
}

const harmColumns = `h.id, h.categories, h.familial, h.layer, h.occurred_on, h.occurred_precision, h.source,
	h.location_type, coalesce(h.postcode, ''), h.match, h.precision_m, h.lat, h.lon, h.context_id, t.name,
	u.name, h.created_at, h.taxonomy_version, h.archived_at, coalesce(h.archive_reason, ''),
	coalesce(h.archive_note, ''), coalesce(au.name, '')`

const harmFrom = ` FROM harm_locations h
	JOIN teams t ON t.id = h.team_id
	JOIN users u ON u.id = h.created_by
	LEFT JOIN users au ON au.id = h.archived_by`

func scanHarm(r pgx.CollectableRow) (HarmLocation, error) {
	var h HarmLocation
	var occ time.Time
	var prec, reason, note, by string
	var archivedAt *time.Time
	err := r.Scan(&h.ID, &h.Categories, &h.Familial, &h.Layer, &occ, &prec, &h.Source, &h.LocationType,
		&h.Postcode, &h.Match, &h.PrecisionM, &h.Lat, &h.Lon, &h.ContextID, &h.Team, &h.CreatedBy, &h.CreatedAt,
		&h.TaxonomyVersion, &archivedAt, &reason, &note, &by)
	if err != nil {
		return h, err
	}
	h.Occurred = occurred{date: occ, month: prec == "month"}.String()
	if archivedAt != nil {
		h.Archived = &Archive{Reason: reason, Note: note, At: *archivedAt, By: by}
	}
	return h, nil
}

// harmLocation reads one of the actor's team's records without auditing:
// it is only used to answer the actor's own write, which is audited.
func (s *Store) harmLocation(ctx context.Context, a *Actor, id int64) (*HarmLocation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+harmColumns+harmFrom+` WHERE h.id = $1 AND h.team_id = $2`, id, a.TeamID)
	if err != nil {
		return nil, fmt.Errorf("read harm location: %w", err)
	}
	h, err := pgx.CollectExactlyOneRow(rows, scanHarm)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("harm location", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read harm location: %w", err)
	}
	return &h, nil
}

// SubjectHarmLocations lists the actor's team's records for one young
// person, archived ones included (with why), oldest incident first. Other
// teams' records are never returned, and an unknown young person looks
// exactly like one with no records for this team, so nobody can learn
// whether another team works with them. Every call is audited.
func (s *Store) SubjectHarmLocations(ctx context.Context, a *Actor, subject string) ([]HarmLocation, error) {
	if err := require(a, RolePractitioner); err != nil {
		return nil, err
	}
	norm, err := normalizeSubject(subject)
	if err != nil {
		return nil, err
	}
	sh := newSubjectHasher(s.secret).hash(norm)
	var out []HarmLocation
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+harmColumns+harmFrom+`
			WHERE h.subject_id = (SELECT id FROM subjects WHERE hash = $1) AND h.team_id = $2
			ORDER BY h.occurred_on, h.id`, sh[:], a.TeamID)
		if err != nil {
			return fmt.Errorf("list harm locations: %w", err)
		}
		if out, err = pgx.CollectRows(rows, scanHarm); err != nil {
			return fmt.Errorf("list harm locations: %w", err)
		}
		return Audit(ctx, tx, a, "harm_locations.read", auditSubject(sh), "", map[string]any{"count": len(out)})
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []HarmLocation{}
	}
	return out, nil
}

// ArchiveHarmLocation takes a record out of every aggregate with a reason
// (no longer / never an issue) and a note, so a young person is not
// labelled permanently or wrongly. The record stays readable by its team.
func (s *Store) ArchiveHarmLocation(ctx context.Context, a *Actor, id int64, in ArchiveInput) (*HarmLocation, error) {
	if err := require(a, RolePractitioner); err != nil {
		return nil, err
	}
	reason, err := checkTerm("reason", "invalid_archive_reason", archiveReasonTerms, in.Reason)
	if err != nil {
		return nil, err
	}
	note, err := checkText("note", in.Note, MaxNote, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkThematic(ctx, s.pool, textField{"note", note}); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var archived *time.Time
		err := tx.QueryRow(ctx, `SELECT archived_at FROM harm_locations WHERE id = $1 AND team_id = $2 FOR UPDATE`,
			id, a.TeamID).Scan(&archived)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("harm location", id)
		}
		if err != nil {
			return fmt.Errorf("archive harm location: %w", err)
		}
		if archived != nil {
			return ctxmap.Errorf(ctxmap.KindConflict, "already_archived", "harm location %d was already archived", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE harm_locations SET archived_at = now(), archived_by = $2,
				archive_reason = $3, archive_note = $4 WHERE id = $1`, id, a.UserID, reason, note); err != nil {
			return fmt.Errorf("archive harm location: %w", err)
		}
		return Audit(ctx, tx, a, "harm_location.archive", fmt.Sprintf("harm-location:%d", id), reason, nil)
	})
	if err != nil {
		return nil, err
	}
	s.heatChanged()
	return s.harmLocation(ctx, a, id)
}
