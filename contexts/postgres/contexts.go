package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// sameSpotM is how close a coordinate-only location must be to an existing
// one of the same type to count as the same place.
const sameSpotM = 25

// CreateContext opens a Level 2 record on a place, group or school. A
// second record for the same place (type and postcode), school or group is
// refused with 409 and the existing id, whether that one is open
// (code "context_exists") or closed (code "context_closed_exists": reopen it
// instead, so the chronology is never split).
func (s *Store) CreateContext(ctx context.Context, a *contexts.Actor, in contexts.ContextInput) (*contexts.Context, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Context, error) { return s.createContext(ctx, a, in) })
}

func (s *Store) createContext(ctx context.Context, a *contexts.Actor, in contexts.ContextInput) (*contexts.Context, error) {
	if err := contexts.Require(a, contexts.RoleContextLead); err != nil {
		return nil, err
	}
	f, err := in.Validate(s.now())
	if err != nil {
		return nil, err
	}
	if err := s.screen(ctx, s.db, a, "", contexts.TextField{Name: "name", Text: f.Name}, contexts.TextField{Name: "description", Text: f.Description}); err != nil {
		return nil, err
	}
	pl, err := s.placeOf(ctx, f)
	if err != nil {
		return nil, err
	}
	lat, lon, postcode, match, pcs := pl.lat, pl.lon, pl.postcode, pl.match, pl.postcodeText()
	display := contexts.DisplayName(f.LocationType, f.Name, pcs, lat, lon)
	key := contexts.DedupeKey(f.Kind, f.LocationType, f.Name, pcs)
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := findDuplicate(ctx, tx, f.Kind, f.LocationType, key, lat, lon); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO contexts (kind, location_type, name, postcode, display_name, description,
				review_date, lat, lon, match, dedupe_key, team_id, created_by, created_at, updated_at, demo)
			VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, coalesce($14, now()),
				coalesce($14, now()), $15) RETURNING id`,
			f.Kind, f.LocationType, f.Name, postcode, display, f.Description, f.ReviewDate, lat, lon, match, key,
			a.TeamID, a.UserID, s.at, s.demo).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert context: %w", err)
		}
		if _, err := s.addEvent(ctx, tx, a, id, contexts.EventOpened, "Opened "+display, map[string]any{"kind": f.Kind}); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.create", fmt.Sprintf("context:%d", id), "", nil)
	})
	if isUniqueViolation(err, "contexts_dedupe_key_key") {
		// Lost a race with another request opening the same record.
		err = findDuplicate(ctx, s.db, f.Kind, f.LocationType, key, lat, lon)
		if err == nil {
			err = ctxmap.Errorf(ctxmap.KindConflict, "context_exists", "a context record for %s already exists", display)
		}
	}
	if err != nil {
		return nil, err
	}
	return s.Context(ctx, a, id)
}

// place is where a new context is: nil fields for a group with no place.
type place struct {
	lat, lon        *float64
	postcode, match *string
}

func (p place) postcodeText() string {
	if p.postcode == nil {
		return ""
	}
	return *p.postcode
}

// placeOf geocodes a new context's postcode, or names the postcode nearest
// to its point (for a location), so the record follows the naming
// convention.
func (s *Store) placeOf(ctx context.Context, f contexts.ContextFields) (place, error) {
	var p place
	if !f.HasPlace {
		return p, nil
	}
	if f.LatLon {
		m := "latlon"
		p.lat, p.lon, p.match = &f.Lat, &f.Lon, &m
		if namer, ok := s.geocoder.(contexts.PostcodeNamer); ok && f.Kind == contexts.KindLocation {
			pc, err := namer.NearestPostcode(ctx, f.Lat, f.Lon, contexts.NamingRadiusM)
			if err != nil {
				return p, err
			}
			if pc != "" {
				p.postcode = &pc
			}
		}
		return p, nil
	}
	pc := f.Postcode.String()
	g, err := contexts.GeocodeOne(ctx, s.geocoder, pc)
	if err != nil {
		return p, err
	}
	if g.Match != "unit" && g.Match != "terminated" {
		return p, contexts.PostcodeNotFound(pc)
	}
	p.lat, p.lon, p.postcode, p.match = &g.Lat, &g.Lon, &pc, &g.Match
	return p, nil
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
	case kind == contexts.KindLocation && lat != nil:
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
	if status == contexts.StatusClosed {
		return ctxmap.Errorf(ctxmap.KindConflict, "context_closed_exists",
			"%s already has a closed context record (id %d); reopen it so its chronology continues", name, id).
			WithDetail("existing_id", id).WithDetail("status", status)
	}
	return ctxmap.Errorf(ctxmap.KindConflict, "context_exists",
		"%s already has an open context record (id %d)", name, id).
		WithDetail("existing_id", id).WithDetail("status", status)
}

// addEvent appends to a context's chronology, touches its updated_at (but
// for links and unlinks) and
// notifies every practitioner with a young person linked to it, except the
// actor. Call it in the transaction of the change. The event is dated now,
// or while seeding demo data, at the seeder's time.
func (s *Store) addEvent(ctx context.Context, tx pgx.Tx, a *contexts.Actor, contextID int64, event, summary string, detail any) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO context_events (context_id, at, event, actor_id, actor_name, team_id, summary, detail)
		VALUES ($1, coalesce($2, clock_timestamp()), $3, $4, $5, $6, $7, $8) RETURNING id`,
		contextID, s.at, event, a.UserID, a.Name, a.TeamID, summary, detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add chronology event: %w", err)
	}
	// A link or unlink is not a change to the context record, and its
	// exact time is shown to practitioners only (PRIVACY.md rule 14).
	if event != contexts.EventLinked && event != contexts.EventUnlinked {
		if _, err := tx.Exec(ctx, `UPDATE contexts SET updated_at = coalesce($2, now()) WHERE id = $1`, contextID, s.at); err != nil {
			return 0, fmt.Errorf("touch context: %w", err)
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO notifications (user_id, context_id, event_id)
		SELECT DISTINCT l.linked_by, $1::bigint, $2::bigint FROM context_links l JOIN users u ON u.id = l.linked_by
		WHERE l.context_id = $1 AND l.unlinked_at IS NULL AND l.linked_by <> $3 AND u.disabled_at IS NULL`,
		contextID, id, a.UserID)
	if err != nil {
		return 0, fmt.Errorf("notify linked practitioners: %w", err)
	}
	if err := s.queueChange(ctx, tx, contextID, id, event, summary); err != nil {
		return 0, err
	}
	return id, nil
}

const contextColumns = `c.id, c.kind, coalesce(c.location_type, ''), c.name, coalesce(c.postcode, ''), c.display_name,
	c.description, c.status, c.review_date, c.lat, c.lon, coalesce(c.match, ''), t.name, u.name, c.created_at,
	c.updated_at, c.closed_at, c.demo`

const contextFrom = ` FROM contexts c JOIN teams t ON t.id = c.team_id JOIN users u ON u.id = c.created_by`

func scanContext(r pgx.Row) (*contexts.Context, error) {
	var c contexts.Context
	var review *time.Time
	err := r.Scan(&c.ID, &c.Kind, &c.LocationType, &c.Name, &c.Postcode, &c.DisplayName, &c.Description, &c.Status,
		&review, &c.Lat, &c.Lon, &c.Match, &c.Team, &c.CreatedBy, &c.CreatedAt, &c.UpdatedAt, &c.ClosedAt, &c.Demo)
	c.ReviewDate = dateString(review)
	return &c, err
}

// Context reads a context record with its assessments, interventions,
// closures and link summary. Everyone signed in may read contexts: they
// are thematic and hold nothing about an individual.
func (s *Store) Context(ctx context.Context, a *contexts.Actor, id int64) (*contexts.Context, error) {
	if err := contexts.Require(a, contexts.Roles...); err != nil {
		return nil, err
	}
	c, err := scanContext(s.db.QueryRow(ctx, `SELECT `+contextColumns+contextFrom+` WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, contexts.NotFound("context", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read context: %w", err)
	}
	rows, err := s.db.Query(ctx, `SELECT a.id, a.side, a.note, u.name, a.created_at
		FROM context_assessments a JOIN users u ON u.id = a.created_by WHERE a.context_id = $1 ORDER BY a.id`, id)
	if err != nil {
		return nil, fmt.Errorf("read assessments: %w", err)
	}
	c.Assessments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.Assessment, error) {
		var x contexts.Assessment
		err := r.Scan(&x.ID, &x.Side, &x.Note, &x.CreatedBy, &x.CreatedAt)
		x.SideLabel, _ = contexts.SideLabel(c.Kind, x.Side)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read assessments: %w", err)
	}
	rows, err = s.db.Query(ctx, `SELECT `+interventionColumns+interventionFrom+` WHERE i.context_id = $1 ORDER BY i.id`, id)
	if err != nil {
		return nil, fmt.Errorf("read interventions: %w", err)
	}
	if c.Interventions, err = pgx.CollectRows(rows, scanIntervention); err != nil {
		return nil, fmt.Errorf("read interventions: %w", err)
	}
	rows, err = s.db.Query(ctx, `SELECT k.id, k.reason, k.evidence_needs, k.evidence_guardianship, k.evidence_environment,
			cu.name, k.closed_at, coalesce(ru.name, ''), k.reopened_at, coalesce(k.reopen_reason, '')
		FROM context_closures k JOIN users cu ON cu.id = k.closed_by LEFT JOIN users ru ON ru.id = k.reopened_by
		WHERE k.context_id = $1 ORDER BY k.id`, id)
	if err != nil {
		return nil, fmt.Errorf("read closures: %w", err)
	}
	c.Closures, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.Closure, error) {
		var x contexts.Closure
		var n, g, e string
		err := r.Scan(&x.ID, &x.Reason, &n, &g, &e, &x.ClosedBy, &x.ClosedAt, &x.ReopenedBy, &x.ReopenedAt, &x.ReopenReason)
		x.Evidence = map[string]string{contexts.SideNeeds: n, contexts.SideGuardianship: g, contexts.SideEnvironment: e}
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read closures: %w", err)
	}
	sum, err := s.linkSummary(ctx, s.db, a, id)
	if err != nil {
		return nil, err
	}
	c.Links = *sum
	return c, nil
}

// UpdateContext changes a context's name, description or review date. The
// place itself (type, postcode) cannot change: that would be a different
// context with its own chronology.
func (s *Store) UpdateContext(ctx context.Context, a *contexts.Actor, id int64, in contexts.ContextUpdate) (*contexts.Context, error) {
	if err := contexts.Require(a, contexts.RoleContextLead); err != nil {
		return nil, err
	}
	ch, err := in.Validate(s.now())
	if err != nil {
		return nil, err
	}
	if err := s.screen(ctx, s.db, a, fmt.Sprintf("context:%d", id), ch.Texts()...); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, id)
		if err != nil {
			return err
		}
		newName, display, key, err := ch.Rename(c)
		if err != nil {
			return err
		}
		var oldReview *time.Time
		var oldDescription string
		if err := tx.QueryRow(ctx, `SELECT review_date, coalesce(description, '') FROM contexts WHERE id = $1`, id).
			Scan(&oldReview, &oldDescription); err != nil {
			return fmt.Errorf("read review date: %w", err)
		}
		if contexts.ContextUnchanged(c, oldDescription, oldReview, ch) {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE contexts SET name = $2, display_name = $3, dedupe_key = $4,
				description = coalesce($5, description),
				review_date = CASE WHEN $6 THEN $7::date ELSE review_date END
			WHERE id = $1`, id, newName, display, key, ch.Description, ch.ReviewSet, ch.ReviewDate)
		if isUniqueViolation(err, "contexts_dedupe_key_key") {
			return ctxmap.Errorf(ctxmap.KindConflict, "context_exists", "another context record is already called %s", display)
		}
		if err != nil {
			return fmt.Errorf("update context: %w", err)
		}
		if _, err := s.addEvent(ctx, tx, a, id, contexts.EventUpdated, contexts.ContextChanges(c, oldDescription, oldReview, ch),
			map[string]any{"fields": ch.Changed}); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.update", fmt.Sprintf("context:%d", id), "", map[string]any{"fields": ch.Changed})
	})
	if err != nil {
		return nil, err
	}
	return s.Context(ctx, a, id)
}

// lockContext reads the identity of a context and locks its row, so
// concurrent closes, reopens and edits happen one after another.
func lockContext(ctx context.Context, tx pgx.Tx, id int64) (*contexts.Context, error) {
	var c contexts.Context
	err := tx.QueryRow(ctx, `SELECT id, kind, coalesce(location_type, ''), name, coalesce(postcode, ''), display_name,
			status, lat, lon FROM contexts WHERE id = $1 FOR UPDATE`, id).
		Scan(&c.ID, &c.Kind, &c.LocationType, &c.Name, &c.Postcode, &c.DisplayName, &c.Status, &c.Lat, &c.Lon)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, contexts.NotFound("context", id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock context: %w", err)
	}
	return &c, nil
}

// Nearby finds context records within radiusM metres of a point, nearest
// first, optionally of one kind and status, so a practitioner assessing a
// young person can see which places around a postcode are already known.
// The search runs on the GiST index of the records' geography; distances
// are on the sphere (within 0.5% of the ellipsoid, and a quarter faster).
func (s *Store) Nearby(ctx context.Context, lat, lon, radiusM float64, kind, status string, limit int) ([]contexts.ContextListItem, error) {
	limit, err := contexts.CheckNearby(radiusM, kind, status, limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `WITH p AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS g)
		SELECT `+listColumns+`, ST_Distance(c.geom::geography, p.g, false) AS d
		FROM contexts c JOIN teams t ON t.id = c.team_id, p
		WHERE ST_DWithin(c.geom::geography, p.g, $3, false)
		  AND ($4 = '' OR c.kind = $4) AND ($5 = '' OR c.status = $5)
		ORDER BY d, c.id LIMIT $6`, lat, lon, radiusM, kind, status, limit)
	if err != nil {
		return nil, fmt.Errorf("nearby contexts: %w", err)
	}
	return collectList(rows, contexts.UKDay(s.now()), true)
}

// listColumns are a contexts.ContextListItem's, from contexts c joined
// with teams t.
const listColumns = `c.id, c.kind, coalesce(c.location_type, ''), c.display_name, coalesce(c.postcode, ''), c.status,
	t.name, c.review_date, (SELECT count(*) FROM context_interventions i
		WHERE i.context_id = c.id AND i.status IN ('planned', 'in_progress')), c.updated_at, c.lat, c.lon`

// collectList reads rows of listColumns (and a distance when withDistance).
func collectList(rows pgx.Rows, today time.Time, withDistance bool) ([]contexts.ContextListItem, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.ContextListItem, error) {
		var n contexts.ContextListItem
		var review *time.Time
		dest := []any{&n.ID, &n.Kind, &n.LocationType, &n.DisplayName, &n.Postcode, &n.Status, &n.Team, &review,
			&n.OpenInterventions, &n.UpdatedAt, &n.Lat, &n.Lon}
		if withDistance {
			dest = append(dest, &n.DistanceM)
		}
		err := r.Scan(dest...)
		n.ReviewDate = dateString(review)
		n.Review = contexts.ReviewState(review, n.Status, today)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list contexts: %w", err)
	}
	return out, nil
}

// ListContexts is the context lead's workspace: records found by name
// (display name, name or postcode, and names that read alike through
// pg_trgm) and filtered by kind, status, location type, review state and
// the partner agency of an intervention. Overdue reviews come first, then
// the soonest review dates, then the most recently changed. Context
// records are thematic, so every role may list them.
func (s *Store) ListContexts(ctx context.Context, a *contexts.Actor, q contexts.ContextQuery) ([]contexts.ContextListItem, error) {
	if err := contexts.Require(a, contexts.Roles...); err != nil {
		return nil, err
	}
	if err := q.Validate(s.now()); err != nil {
		return nil, err
	}
	due := q.Today.AddDate(0, 0, contexts.ReviewDueDefaultDays)
	rows, err := s.db.Query(ctx, `SELECT `+listColumns+`
		FROM contexts c JOIN teams t ON t.id = c.team_id
		WHERE ($1 = '' OR strpos(lower(c.display_name), lower($1)) > 0 OR strpos(lower(c.name), lower($1)) > 0
				OR strpos(replace(lower(coalesce(c.postcode, '')), ' ', ''), replace(lower($1), ' ', '')) > 0
				OR lower(c.display_name) % lower($1))
		  AND ($2 = '' OR c.kind = $2) AND ($3 = '' OR c.status = $3) AND ($4 = '' OR c.location_type = $4)
		  AND ($5 = '' OR (c.status = 'open' AND c.review_date IS NOT NULL AND CASE WHEN $5 = 'overdue'
				THEN c.review_date < $6::date ELSE c.review_date >= $6::date AND c.review_date <= $7::date END))
		  AND ($8 = '' OR EXISTS (SELECT 1 FROM context_interventions i WHERE i.context_id = c.id AND i.partner_agency = $8))
		ORDER BY CASE WHEN $1 = '' THEN 0 ELSE 1 - similarity(lower(c.display_name), lower($1)) END,
			coalesce(c.status = 'open' AND c.review_date < $6::date, false) DESC, c.review_date NULLS LAST, c.updated_at DESC, c.id
		LIMIT $9`, q.Q, q.Kind, q.Status, q.LocationType, q.Review, q.Today, due, q.PartnerAgency, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list contexts: %w", err)
	}
	return collectList(rows, q.Today, false)
}

// SimilarContexts lists the records a new one may duplicate, before it is
// opened: of the same kind and location type within contexts.SimilarRadiusM
// of its place, or with a name that reads alike (pg_trgm similarity of
// the display names, or of the names, at least contexts.SimilarName), open
// ones first, nearest first. A near-duplicate is offered, not refused: the
// lead may still open the record (the same type and postcode, or the same
// group or school name, stay a 409 on create).
func (s *Store) SimilarContexts(ctx context.Context, a *contexts.Actor, in contexts.ContextInput) (*contexts.Similar, error) {
	if err := contexts.Require(a, contexts.RoleContextLead); err != nil {
		return nil, err
	}
	f, err := in.Validate(s.now())
	if err != nil {
		return nil, err
	}
	p, err := s.placeOf(ctx, f)
	if err != nil {
		return nil, err
	}
	display := contexts.DisplayName(f.LocationType, f.Name, p.postcodeText(), p.lat, p.lon)
	rows, err := s.db.Query(ctx, `WITH p AS (SELECT CASE WHEN $1::float8 IS NULL THEN NULL
			ELSE ST_SetSRID(ST_MakePoint($2::float8, $1::float8), 4326)::geography END AS g),
		m AS (SELECT c.id, CASE WHEN p.g IS NULL OR c.geom IS NULL THEN NULL ELSE ST_Distance(c.geom::geography, p.g, false) END AS d,
				c.kind = $3 AND coalesce(c.location_type, '') = $4 AND p.g IS NOT NULL
					AND ST_DWithin(c.geom::geography, p.g, $5, false) AS nearby,
				similarity(lower(c.display_name), lower($6)) >= $7
					OR ($8 <> '' AND c.name <> '' AND similarity(lower(c.name), lower($8)) >= $7) AS alike
			FROM contexts c, p
			WHERE (p.g IS NOT NULL AND ST_DWithin(c.geom::geography, p.g, $5, false))
			   OR lower(c.display_name) % lower($6) OR ($8 <> '' AND lower(c.display_name) % lower($8)))
		SELECT `+listColumns+`, m.d, m.nearby, m.alike
		FROM m JOIN contexts c ON c.id = m.id JOIN teams t ON t.id = c.team_id
		WHERE m.nearby OR m.alike
		ORDER BY c.status = 'open' DESC, m.d NULLS LAST, c.id LIMIT 20`,
		p.lat, p.lon, f.Kind, f.LocationType, contexts.SimilarRadiusM, display, contexts.SimilarName, f.Name)
	if err != nil {
		return nil, fmt.Errorf("similar contexts: %w", err)
	}
	today := contexts.UKDay(s.now())
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.SimilarContext, error) {
		var x contexts.SimilarContext
		n := &x.ContextListItem
		var review *time.Time
		err := r.Scan(&n.ID, &n.Kind, &n.LocationType, &n.DisplayName, &n.Postcode, &n.Status, &n.Team, &review,
			&n.OpenInterventions, &n.UpdatedAt, &n.Lat, &n.Lon, &n.DistanceM, &x.Nearby, &x.SimilarName)
		n.ReviewDate = dateString(review)
		n.Review = contexts.ReviewState(review, n.Status, today)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("similar contexts: %w", err)
	}
	if out == nil {
		out = []contexts.SimilarContext{}
	}
	return &contexts.Similar{DisplayName: display, Similar: out}, nil
}

// ContextsInBounds returns the context records inside a lon/lat bound for
// the map's context layer, at most limit of them (the tile caller decides
// how many a tile can show).
func (s *Store) ContextsInBounds(ctx context.Context, bound orb.Bound, status string, limit int) ([]contexts.ContextFeature, error) {
	if err := contexts.CheckStatusFilter(status); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.Query(ctx, `SELECT id, kind, coalesce(location_type, ''), display_name, status, lon, lat
		FROM contexts
		WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) AND ($5 = '' OR status = $5)
		ORDER BY id LIMIT $6`, bound.Min.Lon(), bound.Min.Lat(), bound.Max.Lon(), bound.Max.Lat(), status, limit)
	if err != nil {
		return nil, fmt.Errorf("contexts in bounds: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.ContextFeature, error) {
		var f contexts.ContextFeature
		err := r.Scan(&f.ID, &f.Kind, &f.LocationType, &f.DisplayName, &f.Status, &f.Lon, &f.Lat)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("contexts in bounds: %w", err)
	}
	return out, nil
}
