package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap/contexts"
)

// CreateHarmLocation records a location of harm (or a place a young person
// feels unsafe) on a young person's record, owned by the actor's team. The
// person id is hashed before it reaches the database. Nothing is written
// unless every field is valid.
func (s *Store) CreateHarmLocation(ctx context.Context, a *contexts.Actor, in contexts.HarmLocationInput) (*contexts.HarmLocation, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.HarmLocation, error) { return s.createHarmLocation(ctx, a, in) })
}

func (s *Store) createHarmLocation(ctx context.Context, a *contexts.Actor, in contexts.HarmLocationInput) (*contexts.HarmLocation, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	tax, err := s.Taxonomy(ctx)
	if err != nil {
		return nil, err
	}
	f, err := in.Validate(tax, s.now())
	if err != nil {
		return nil, err
	}
	return s.insertHarm(ctx, a, tax.Version, f, "harm_location.create")
}

// CreateSafetyPlace records a place from a young person's safety map (red,
// amber or green, no harm category) on their record, owned by the actor's
// team, under the same controls as any record: the person id is hashed, the
// daily cap and the burst alerts apply, and it counts from the next release
// only (green in the safe layer, red in the unsafe one, amber nowhere).
func (s *Store) CreateSafetyPlace(ctx context.Context, a *contexts.Actor, in contexts.SafetyPlaceInput) (*contexts.HarmLocation, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.HarmLocation, error) {
		if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
			return nil, err
		}
		f, err := in.Validate(s.now())
		if err != nil {
			return nil, err
		}
		tax, err := s.Taxonomy(ctx)
		if err != nil {
			return nil, err
		}
		return s.insertHarm(ctx, a, tax.Version, f, "safety_place.create")
	})
}

// insertHarm geocodes and writes one validated record with its audit entry
// (action) and the insider checks, in one transaction, and reads it back.
func (s *Store) insertHarm(ctx context.Context, a *contexts.Actor, taxVersion int, f contexts.HarmFields, action string) (*contexts.HarmLocation, error) {
	match, precision := "latlon", contexts.LatLonPrecisionM
	var postcode *string
	if !f.LatLon {
		g, err := contexts.GeocodeOne(ctx, s.geocoder, f.Postcode.String())
		if err != nil {
			return nil, err
		}
		f.Lat, f.Lon, match, precision = g.Lat, g.Lon, g.Match, g.PrecisionM
		pc := f.Postcode.String()
		postcode = &pc
	}
	r6, r7, r8 := contexts.CellsFor(f.Lat, f.Lon, contexts.CellRes(match, precision))
	h := contexts.NewSubjectHasher(s.secret)
	sh := h.Hash(f.Subject)
	var ctxID *int64
	if f.ContextID != 0 {
		ctxID = &f.ContextID
	}
	occPrec := f.Occurred.Precision()
	var familial, safety, trusted *string
	if f.Familial != "" {
		v := string(f.Familial)
		familial = &v
	}
	if f.Safety != "" {
		safety = &f.Safety
	}
	if f.TrustedAdult != "" {
		trusted = &f.TrustedAdult
	}
	categories := f.Categories
	if categories == nil {
		categories = []string{}
	}
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if ctxID != nil {
			if err := contextExists(ctx, tx, *ctxID); err != nil {
				return err
			}
		}
		key := h.CellKey(sh)
		sid, err := s.subjectFor(ctx, tx, a, h, sh)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO harm_locations (subject_id, subject_key, team_id, created_by, layer, categories,
				familial, occurred_on, occurred_precision, source, location_type, postcode, match, precision_m, lat, lon,
				h3_r6, h3_r7, h3_r8, context_id, taxonomy_version, created_at, demo, safety, trusted_adult)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
				coalesce($22, now()), $23, $24, $25)
			RETURNING id`,
			sid, int16(key), a.TeamID, a.UserID, f.Layer, categories, familial, f.Occurred.Date, occPrec, f.Source,
			f.LocationType, postcode, match, precision, f.Lat, f.Lon, r6, r7, r8, ctxID, taxVersion, s.at, s.demo,
			safety, trusted).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert harm location: %w", err)
		}
		if err := s.burstAtCell(ctx, tx, a, r6, r7, r8); err != nil {
			return err
		}
		if err := s.revisionBurstAtCell(ctx, tx, a, r6, r7, r8); err != nil {
			return err
		}
		if ctxID != nil {
			if err := s.burstAtContext(ctx, tx, a, *ctxID); err != nil {
				return err
			}
		}
		detail := map[string]any{"subject": contexts.AuditSubject(sh), "layer": f.Layer, "categories": categories}
		if f.Safety != "" {
			detail["safety"] = f.Safety
		}
		return audit(ctx, tx, a, action, fmt.Sprintf("harm-location:%d", id), "", detail)
	})
	if err != nil {
		return nil, s.auditSubjectLimit(ctx, a, action, err)
	}
	return s.harmLocation(ctx, a, id)
}

// contextExists refuses a reference to a context that does not exist, and
// holds a key-share lock on it until q's transaction ends, so a retention
// run cannot erase the context under a record that names it.
func contextExists(ctx context.Context, q querier, id int64) error {
	err := q.QueryRow(ctx, `SELECT id FROM contexts WHERE id = $1 FOR KEY SHARE`, id).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return contexts.Unprocessable("context_id", "unknown_context", "there is no context record with id %d", id)
	}
	if err != nil {
		return fmt.Errorf("check context: %w", err)
	}
	return nil
}

// requireContext answers 404 for a context that does not exist.
func (s *Store) requireContext(ctx context.Context, id int64) error {
	ok, err := contextFound(ctx, s.db, id)
	if err == nil && !ok {
		err = contexts.NotFound("context", id)
	}
	return err
}

// contextFound reports whether context id exists.
func contextFound(ctx context.Context, q querier, id int64) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contexts WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("check context: %w", err)
	}
	return ok, nil
}

// upsertSubject returns the id of the subject with this hash, creating it,
// and holds a key-share lock on its row until tx ends: a retention run
// erasing that young person (which locks the row FOR UPDATE) either waits
// for this write to commit and then finds them recorded again, or has
// erased them already, when the upsert is tried again and makes a new
// subject. So no acknowledged write is erased or left pointing at nobody.
// While seeding, the subject is marked as demo data.
func (s *Store) upsertSubject(ctx context.Context, tx pgx.Tx, sh [32]byte, key uint8) (int64, error) {
	for range 3 {
		var id int64
		err := tx.QueryRow(ctx, `WITH ins AS (
				INSERT INTO subjects (hash, cell_key, demo) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING RETURNING id)
			SELECT id FROM ins UNION ALL SELECT id FROM subjects WHERE hash = $1 LIMIT 1`, sh[:], int16(key), s.demo).Scan(&id)
		if err != nil {
			return 0, fmt.Errorf("upsert subject: %w", err)
		}
		err = tx.QueryRow(ctx, `SELECT id FROM subjects WHERE id = $1 FOR KEY SHARE`, id).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // erased by retention meanwhile: record them anew
		}
		if err != nil {
			return 0, fmt.Errorf("upsert subject: %w", err)
		}
		if s.demo {
			if _, err := tx.Exec(ctx, `UPDATE subjects SET demo = true WHERE id = $1 AND NOT demo`, id); err != nil {
				return 0, fmt.Errorf("upsert subject: %w", err)
			}
		}
		return id, nil
	}
	return 0, fmt.Errorf("upsert subject: erased three times while being recorded")
}

const harmColumns = `h.id, h.categories, coalesce(h.familial, ''), h.layer, h.occurred_on, h.occurred_precision, h.source,
	h.location_type, coalesce(h.postcode, ''), h.match, h.precision_m, h.lat, h.lon, h.context_id, t.name,
	u.name, h.created_at, h.taxonomy_version, h.archived_at, coalesce(h.archive_reason, ''),
	coalesce(h.archive_note, ''), coalesce(au.name, ''), coalesce(h.safety, ''), coalesce(h.trusted_adult, '')`

const harmFrom = ` FROM harm_locations h
	JOIN teams t ON t.id = h.team_id
	JOIN users u ON u.id = h.created_by
	LEFT JOIN users au ON au.id = h.archived_by`

func scanHarm(r pgx.CollectableRow) (contexts.HarmLocation, error) {
	var h contexts.HarmLocation
	var occ time.Time
	var prec, reason, note, by string
	var archivedAt *time.Time
	err := r.Scan(&h.ID, &h.Categories, &h.Familial, &h.Layer, &occ, &prec, &h.Source, &h.LocationType,
		&h.Postcode, &h.Match, &h.PrecisionM, &h.Lat, &h.Lon, &h.ContextID, &h.Team, &h.CreatedBy, &h.CreatedAt,
		&h.TaxonomyVersion, &archivedAt, &reason, &note, &by, &h.Safety, &h.TrustedAdult)
	if err != nil {
		return h, err
	}
	h.Occurred = contexts.Occurred{Date: occ, Month: prec == "month"}.String()
	if archivedAt != nil {
		h.Archived = &contexts.Archive{Reason: reason, Note: note, At: *archivedAt, By: by}
	}
	return h, nil
}

// harmLocation reads one of the actor's team's records without auditing:
// it is only used to answer the actor's own write, which is audited.
func (s *Store) harmLocation(ctx context.Context, a *contexts.Actor, id int64) (*contexts.HarmLocation, error) {
	h, err := readOne(ctx, s.db, scanHarm, "harm location", id,
		`SELECT `+harmColumns+harmFrom+` WHERE h.id = $1 AND h.team_id = $2`, id, a.TeamID)
	if err != nil {
		return nil, err
	}
	list := []contexts.HarmLocation{*h}
	if err := withTypes(ctx, s.db, list); err != nil {
		return nil, err
	}
	return &list[0], nil
}

// SubjectHarmLocations lists the actor's team's records for one young
// person, archived ones included (with why), oldest incident first. Other
// teams' records are never returned, and an unknown young person looks
// exactly like one with no records for this team, so nobody can learn
// whether another team works with them. Every call is audited with its
// purpose (why the records are read), which must be given; the note of an
// "other" purpose is screened for personal data like any free text.
func (s *Store) SubjectHarmLocations(ctx context.Context, a *contexts.Actor, subject string, purpose contexts.ReadPurpose) ([]contexts.HarmLocation, error) {
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
	var out []contexts.HarmLocation
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
		if err := withTypes(ctx, tx, out); err != nil {
			return err
		}
		return auditRead(ctx, tx, a, "harm_locations.read", contexts.AuditSubject(sh), purpose, map[string]any{"count": len(out)})
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []contexts.HarmLocation{}
	}
	return out, nil
}

// ArchiveHarmLocation takes a record out of every aggregate with a reason
// (no longer / never an issue) and a note, so a young person is not
// labelled permanently or wrongly. The record stays readable by its team;
// its active harm types end with it, with the same reason.
func (s *Store) ArchiveHarmLocation(ctx context.Context, a *contexts.Actor, id int64, in contexts.ArchiveInput) (*contexts.HarmLocation, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return nil, err
	}
	reason, note := in.Reason, in.Note
	if err := s.screen(ctx, s.db, a, fmt.Sprintf("harm-location:%d", id), contexts.TextField{Name: "note", Text: note}); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := s.lockHarm(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if l.archived {
			return errArchived(id)
		}
		// Every active type ends with the record, so its history says why.
		if err := s.endTypes(ctx, tx, a, id, nil, reason, note); err != nil {
			return err
		}
		if err := s.archiveWhole(ctx, tx, a, id, reason, note); err != nil {
			return err
		}
		if l.quick {
			if err := s.quickArchive(ctx, tx, a, id, l.cell); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "harm_location.archive", fmt.Sprintf("harm-location:%d", id), reason, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.harmLocation(ctx, a, id)
}
