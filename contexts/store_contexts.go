package contexts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap"
)

// sameSpotM is how close a coordinate-only location must be to an existing
// one of the same type to count as the same place.
const sameSpotM = 25

// CreateContext opens a Level 2 record on a place, group or school. A
// second record for the same place (type and postcode), school or group is
// refused with 409 and the existing id, whether that one is open
// (code "context_exists") or closed (code "context_closed_exists": reopen it
// instead, so the chronology is never split).
func (s *Store) CreateContext(ctx context.Context, a *Actor, in ContextInput) (*Context, error) {
	if err := require(a, RoleContextLead); err != nil {
		return nil, err
	}
	f, err := in.validate()
	if err != nil {
		return nil, err
	}
	if err := s.checkThematic(ctx, s.pool, textField{"name", f.name}, textField{"description", f.description}); err != nil {
		return nil, err
	}
	var lat, lon *float64
	var postcode, match *string
	if f.hasPlace {
		if f.latlon {
			m := "latlon"
			lat, lon, match = &f.lat, &f.lon, &m
			if namer, ok := s.geocoder.(postcodeNamer); ok && f.kind == KindLocation {
				pc, err := namer.NearestPostcode(ctx, f.lat, f.lon, namingRadiusM)
				if err != nil {
					return nil, err
				}
				if pc != "" {
					postcode = &pc
				}
			}
		} else {
			pc := f.postcode.String()
			g, err := s.geocodeOne(ctx, pc)
			if err != nil {
				return nil, err
			}
			if g.Match != "unit" && g.Match != "terminated" {
				return nil, postcodeNotFound(pc)
			}
			lat, lon, postcode, match = &g.Lat, &g.Lon, &pc, &g.Match
		}
	}
	pcs := ""
	if postcode != nil {
		pcs = *postcode
	}
	display := DisplayName(f.locationType, f.name, pcs, lat, lon)
	key := dedupeKey(f.kind, f.locationType, f.name, pcs)
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := findDuplicate(ctx, tx, f.kind, f.locationType, key, lat, lon); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO contexts (kind, location_type, name, postcode, display_name, description,
				review_date, lat, lon, match, dedupe_key, team_id, created_by)
			VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			f.kind, f.locationType, f.name, postcode, display, f.description, f.reviewDate, lat, lon, match, key,
			a.TeamID, a.UserID).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert context: %w", err)
		}
		if _, err := addEvent(ctx, tx, a, id, EventOpened, "Opened "+display, map[string]any{"kind": f.kind}); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.create", fmt.Sprintf("context:%d", id), "", nil)
	})
	if isUniqueViolation(err, "contexts_dedupe_key_key") {
		// Lost a race with another request opening the same record.
		err = findDuplicate(ctx, s.pool, f.kind, f.locationType, key, lat, lon)
		if err == nil {
			err = ctxmap.Errorf(ctxmap.KindConflict, "context_exists", "a context record for %s already exists", display)
		}
	}
	if err != nil {
		return nil, err
	}
	return s.Context(ctx, a, id)
}

// findDuplicate returns the 409 for an existing record with the same
// identity, or nil.
func findDuplicate(ctx context.Context, q querier, kind, locationType string, key *string, lat, lon *float64) error {
	var id int64
	var status, name string
	var err error
	switch {
	case key != nil:
		err = q.QueryRow(ctx, `SELECT id, status, display_name FROM contexts WHERE dedupe_key = $1`, *key).Scan(&id, &status, &name)
	case kind == KindLocation && lat != nil:
		err = q.QueryRow(ctx, `SELECT id, status, display_name FROM contexts
			WHERE kind = 'location' AND location_type = $1
			  AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint($3, $2), 4326)::geography, $4)
			ORDER BY status = 'open' DESC, id LIMIT 1`, locationType, *lat, *lon, sameSpotM).Scan(&id, &status, &name)
	default:
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for duplicate context: %w", err)
	}
	if status == StatusClosed {
		return ctxmap.Errorf(ctxmap.KindConflict, "context_closed_exists",
			"%s already has a closed context record (id %d); reopen it so its chronology continues", name, id).
			WithDetail("existing_id", id).WithDetail("status", status)
	}
	return ctxmap.Errorf(ctxmap.KindConflict, "context_exists",
		"%s already has an open context record (id %d)", name, id).
		WithDetail("existing_id", id).WithDetail("status", status)
}

// addEvent appends to a context's chronology, touches its updated_at and
// notifies every practitioner with a young person linked to it, except the
// actor. Call it in the transaction of the change.
func addEvent(ctx context.Context, tx pgx.Tx, a *Actor, contextID int64, event, summary string, detail any) (int64, error) {
	return addEventAt(ctx, tx, a, contextID, time.Time{}, event, summary, detail)
}

// addEventAt is addEvent at a given time (zero: now), for demo data whose
// chronology spans months.
func addEventAt(ctx context.Context, tx pgx.Tx, a *Actor, contextID int64, at time.Time, event, summary string, detail any) (int64, error) {
	var id int64
	var when *time.Time
	if !at.IsZero() {
		when = &at
	}
	err := tx.QueryRow(ctx, `INSERT INTO context_events (context_id, at, event, actor_id, actor_name, team_id, summary, detail)
		VALUES ($1, coalesce($2, clock_timestamp()), $3, $4, $5, $6, $7, $8) RETURNING id`,
		contextID, when, event, a.UserID, a.Name, a.TeamID, summary, detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add chronology event: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE contexts SET updated_at = now() WHERE id = $1`, contextID); err != nil {
		return 0, fmt.Errorf("touch context: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO notifications (user_id, context_id, event_id)
		SELECT DISTINCT l.linked_by, $1::bigint, $2::bigint FROM context_links l JOIN users u ON u.id = l.linked_by
		WHERE l.context_id = $1 AND l.unlinked_at IS NULL AND l.linked_by <> $3 AND u.disabled_at IS NULL`,
		contextID, id, a.UserID)
	if err != nil {
		return 0, fmt.Errorf("notify linked practitioners: %w", err)
	}
	return id, nil
}

const contextColumns = `c.id, c.kind, coalesce(c.location_type, ''), c.name, coalesce(c.postcode, ''), c.display_name,
	c.description, c.status, c.review_date, c.lat, c.lon, coalesce(c.match, ''), t.name, u.name, c.created_at,
	c.updated_at, c.closed_at, c.demo`

const contextFrom = ` FROM contexts c JOIN teams t ON t.id = c.team_id JOIN users u ON u.id = c.created_by`

func scanContext(r pgx.Row) (*Context, error) {
	var c Context
	var review *time.Time
	err := r.Scan(&c.ID, &c.Kind, &c.LocationType, &c.Name, &c.Postcode, &c.DisplayName, &c.Description, &c.Status,
		&review, &c.Lat, &c.Lon, &c.Match, &c.Team, &c.CreatedBy, &c.CreatedAt, &c.UpdatedAt, &c.ClosedAt, &c.Demo)
	c.ReviewDate = dateString(review)
	return &c, err
}

// Context reads a context record with its assessments, interventions,
// closures and link summary. Everyone signed in may read contexts: they
// are thematic and hold nothing about an individual.
func (s *Store) Context(ctx context.Context, a *Actor, id int64) (*Context, error) {
	if err := require(a, anyRole...); err != nil {
		return nil, err
	}
	c, err := scanContext(s.pool.QueryRow(ctx, `SELECT `+contextColumns+contextFrom+` WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("context", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read context: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT a.id, a.side, a.note, u.name, a.created_at
		FROM context_assessments a JOIN users u ON u.id = a.created_by WHERE a.context_id = $1 ORDER BY a.id`, id)
	if err != nil {
		return nil, fmt.Errorf("read assessments: %w", err)
	}
	c.Assessments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Assessment, error) {
		var x Assessment
		err := r.Scan(&x.ID, &x.Side, &x.Note, &x.CreatedBy, &x.CreatedAt)
		x.SideLabel, _ = SideLabel(c.Kind, x.Side)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read assessments: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT `+interventionColumns+interventionFrom+` WHERE i.context_id = $1 ORDER BY i.id`, id)
	if err != nil {
		return nil, fmt.Errorf("read interventions: %w", err)
	}
	if c.Interventions, err = pgx.CollectRows(rows, scanIntervention); err != nil {
		return nil, fmt.Errorf("read interventions: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT k.id, k.reason, k.evidence_needs, k.evidence_guardianship, k.evidence_environment,
			cu.name, k.closed_at, coalesce(ru.name, ''), k.reopened_at, coalesce(k.reopen_reason, '')
		FROM context_closures k JOIN users cu ON cu.id = k.closed_by LEFT JOIN users ru ON ru.id = k.reopened_by
		WHERE k.context_id = $1 ORDER BY k.id`, id)
	if err != nil {
		return nil, fmt.Errorf("read closures: %w", err)
	}
	c.Closures, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Closure, error) {
		var x Closure
		var n, g, e string
		err := r.Scan(&x.ID, &x.Reason, &n, &g, &e, &x.ClosedBy, &x.ClosedAt, &x.ReopenedBy, &x.ReopenedAt, &x.ReopenReason)
		x.Evidence = map[string]string{SideNeeds: n, SideGuardianship: g, SideEnvironment: e}
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read closures: %w", err)
	}
	sum, err := linkSummary(ctx, s.pool, id)
	if err != nil {
		return nil, err
	}
	c.Links = *sum
	return c, nil
}

// UpdateContext changes a context's name, description or review date. The
// place itself (type, postcode) cannot change: that would be a different
// context with its own chronology.
func (s *Store) UpdateContext(ctx context.Context, a *Actor, id int64, in ContextUpdate) (*Context, error) {
	if err := require(a, RoleContextLead); err != nil {
		return nil, err
	}
	var changed []string
	var name, desc *string
	var review *time.Time
	var reviewSet bool
	if in.Name != nil {
		v, err := checkText("name", *in.Name, MaxName, false)
		if err != nil {
			return nil, err
		}
		name, changed = &v, append(changed, "name")
	}
	if in.Description != nil {
		v, err := checkText("description", *in.Description, MaxNote, false)
		if err != nil {
			return nil, err
		}
		desc, changed = &v, append(changed, "description")
	}
	if in.ReviewDate != nil {
		v, err := parseOptionalDate("review_date", *in.ReviewDate)
		if err != nil {
			return nil, err
		}
		review, reviewSet, changed = v, true, append(changed, "review date")
	}
	if len(changed) == 0 {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "nothing_to_update", "give at least one of name, description, review_date")
	}
	var fields []textField
	if name != nil {
		fields = append(fields, textField{"name", *name})
	}
	if desc != nil {
		fields = append(fields, textField{"description", *desc})
	}
	if err := s.checkThematic(ctx, s.pool, fields...); err != nil {
		return nil, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, id)
		if err != nil {
			return err
		}
		newName := c.Name
		if name != nil {
			newName = *name
		}
		if c.Kind != KindLocation && newName == "" {
			return missingField("name")
		}
		display := DisplayName(c.LocationType, newName, c.Postcode, c.Lat, c.Lon)
		key := dedupeKey(c.Kind, c.LocationType, newName, c.Postcode)
		if c.Kind == KindLocation && c.Postcode == "" {
			key = nil
		}
		_, err = tx.Exec(ctx, `UPDATE contexts SET name = $2, display_name = $3, dedupe_key = $4,
				description = coalesce($5, description),
				review_date = CASE WHEN $6 THEN $7::date ELSE review_date END
			WHERE id = $1`, id, newName, display, key, desc, reviewSet, review)
		if isUniqueViolation(err, "contexts_dedupe_key_key") {
			return ctxmap.Errorf(ctxmap.KindConflict, "context_exists", "another context record is already called %s", display)
		}
		if err != nil {
			return fmt.Errorf("update context: %w", err)
		}
		if _, err := addEvent(ctx, tx, a, id, EventUpdated, "Updated "+strings.Join(changed, ", "),
			map[string]any{"fields": changed}); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.update", fmt.Sprintf("context:%d", id), "", map[string]any{"fields": changed})
	})
	if err != nil {
		return nil, err
	}
	return s.Context(ctx, a, id)
}

// lockContext reads the identity of a context and locks its row, so
// concurrent closes, reopens and edits happen one after another.
func lockContext(ctx context.Context, tx pgx.Tx, id int64) (*Context, error) {
	var c Context
	err := tx.QueryRow(ctx, `SELECT id, kind, coalesce(location_type, ''), name, coalesce(postcode, ''), display_name,
			status, lat, lon FROM contexts WHERE id = $1 FOR UPDATE`, id).
		Scan(&c.ID, &c.Kind, &c.LocationType, &c.Name, &c.Postcode, &c.DisplayName, &c.Status, &c.Lat, &c.Lon)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("context", id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock context: %w", err)
	}
	return &c, nil
}

// Limits of the nearby search. A radius beyond 50 km is no longer "near"
// and would turn the search into a listing.
const (
	MaxNearbyRadiusM = 50_000
	MaxNearbyLimit   = 500
)

// Nearby finds context records within radiusM metres of a point, nearest
// first, optionally of one kind and status, so a practitioner assessing a
// young person can see which places around a postcode are already known.
// The search runs on the GiST index of the records' geography; distances
// are on the sphere (within 0.5% of the ellipsoid, and a quarter faster).
func (s *Store) Nearby(ctx context.Context, lat, lon, radiusM float64, kind, status string, limit int) ([]NearbyContext, error) {
	if radiusM <= 0 || radiusM > MaxNearbyRadiusM {
		return nil, invalidField("radius_m", "invalid_radius", "radius_m must be between 1 and %d", MaxNearbyRadiusM)
	}
	if kind != "" && kind != KindLocation && kind != KindGroup && kind != KindSchool {
		return nil, invalidField("kind", "invalid_kind", "kind must be location, group or school")
	}
	if status != "" && status != StatusOpen && status != StatusClosed {
		return nil, invalidField("status", "invalid_status", "status must be open or closed")
	}
	if limit <= 0 || limit > MaxNearbyLimit {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `WITH p AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS g)
		SELECT c.id, c.kind, coalesce(c.location_type, ''), c.display_name, c.status, c.lat, c.lon,
			ST_Distance(c.geom::geography, p.g, false) AS d
		FROM contexts c, p
		WHERE ST_DWithin(c.geom::geography, p.g, $3, false)
		  AND ($4 = '' OR c.kind = $4) AND ($5 = '' OR c.status = $5)
		ORDER BY d, c.id LIMIT $6`, lat, lon, radiusM, kind, status, limit)
	if err != nil {
		return nil, fmt.Errorf("nearby contexts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NearbyContext, error) {
		var n NearbyContext
		err := r.Scan(&n.ID, &n.Kind, &n.LocationType, &n.DisplayName, &n.Status, &n.Lat, &n.Lon, &n.DistanceM)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("nearby contexts: %w", err)
	}
	return out, nil
}

// ContextsInBounds returns the context records inside a lon/lat bound for
// the map's context layer, at most limit of them (the tile caller decides
// how many a tile can show).
func (s *Store) ContextsInBounds(ctx context.Context, bound orb.Bound, status string, limit int) ([]ContextFeature, error) {
	if status != "" && status != StatusOpen && status != StatusClosed {
		return nil, invalidField("status", "invalid_status", "status must be open or closed")
	}
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT id, kind, coalesce(location_type, ''), display_name, status, lon, lat
		FROM contexts
		WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) AND ($5 = '' OR status = $5)
		ORDER BY id LIMIT $6`, bound.Min.Lon(), bound.Min.Lat(), bound.Max.Lon(), bound.Max.Lat(), status, limit)
	if err != nil {
		return nil, fmt.Errorf("contexts in bounds: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ContextFeature, error) {
		var f ContextFeature
		err := r.Scan(&f.ID, &f.Kind, &f.LocationType, &f.DisplayName, &f.Status, &f.Lon, &f.Lat)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("contexts in bounds: %w", err)
	}
	return out, nil
}

// textField is a free-text field to check for personal data.
type textField struct{ name, text string }

// checkThematic refuses personal data in a context's free text: emails,
// phone numbers, dates of birth, identifier-shaped numbers, and any word
// that is the id of a young person known to ctxmap (compared by HMAC, so
// the id itself is never looked up in clear). The 422 names the text.
//
// A known id is reported with the same wording as any identifier-shaped
// number, so the check does not confirm to the author that the id belongs
// to a young person on record.
func (s *Store) checkThematic(ctx context.Context, q querier, fields ...textField) error {
	now := s.now()
	for _, f := range fields {
		if p, ok := findPersonalData(f.text, now); ok {
			return personalDataError(f.name, p)
		}
	}
	h := newSubjectHasher(s.secret)
	var hashes [][]byte
	type origin struct{ field, text string }
	byHash := make(map[[32]byte]origin)
	for _, f := range fields {
		for norm, typed := range subjectTokens(f.text) {
			sh := h.hash(norm)
			if _, ok := byHash[sh]; !ok {
				byHash[sh] = origin{f.name, typed}
				hashes = append(hashes, sh[:])
			}
		}
	}
	if len(hashes) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT hash FROM subjects WHERE hash = ANY($1)`, hashes)
	if err != nil {
		return fmt.Errorf("check for subject ids: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return fmt.Errorf("check for subject ids: %w", err)
	}
	if len(found) == 0 {
		return nil
	}
	// Report the earliest in field order, so the answer is deterministic.
	hit := make(map[[32]byte]bool, len(found))
	for _, b := range found {
		var k [32]byte
		copy(k[:], b)
		hit[k] = true
	}
	for _, f := range fields {
		var best string
		bestAt := -1
		for norm, typed := range subjectTokens(f.text) {
			if hit[h.hash(norm)] {
				if at := strings.Index(f.text, typed); bestAt < 0 || at < bestAt {
					best, bestAt = typed, at
				}
			}
		}
		if bestAt >= 0 {
			return personalDataError(f.name, personalData{best, "a case or reference number"})
		}
	}
	return nil
}
