// Package postgres is the PostGIS storage of the safeguarding domain: every
// SQL statement of records, users, the audit log, the heat observations and
// the bulk import. The rules it applies live in package contexts; this
// package reads, locks and writes, and attributes every change.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/tiles"
)

// db is what the store runs statements on: the pool, or while seeding demo
// data, the seeding transaction (Begin then opens a savepoint).
type db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store keeps harm locations and context records in PostGIS. Every method
// that writes, or reads individual data, takes the Actor it acts for: team
// scoping and the audit log then cannot depend on a caller remembering.
type Store struct {
	db       db
	secret   []byte
	geocoder contexts.Geocoder
	now      func() time.Time
	log      *slog.Logger
	// bulkMinRows is the smallest import that may rebuild indexes.
	bulkMinRows int
	// demo marks every row written as synthetic demo data, and at, when
	// set, is the time recorded on them instead of the database clock: both
	// only while seeding (see SeedDemo).
	demo bool
	at   *time.Time
	// keyed marks the copy of a Store that runs one create sent with an
	// Idempotency-Key, its db the create's transaction (see keyed).
	keyed bool
	// subjectCap is how many young people new to a user the user may
	// record in 24 hours; burstAlert how many of them at one place raise
	// an admin alert; k the disclosure threshold small link counts are
	// shown under (PRIVACY.md rules 13 and 14).
	subjectCap int
	burstAlert int
	k          int
	// allocations: records and links only for young people the case
	// system's feed allocates to the writer's team (allocations.go).
	allocations bool
	// webhooks, when set, tells the case system of changes to contexts
	// with linked young people (webhooks.go).
	webhooks *Webhooks
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests that need "today" fixed.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger sets the logger for background failures worth knowing about.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithSubjectDailyCap sets how many young people new to a user (not
// recorded by that user before) the user may record in any 24 hours, by
// harm locations and links together (default
// contexts.DefaultSubjectDailyCap). A checking deployment raises it to run
// its probes; it must be at least 1.
func WithSubjectDailyCap(n int) Option { return func(s *Store) { s.subjectCap = n } }

// WithBurstAlert sets how many young people new to one user, recorded by
// that user at one H3 cell or context within 24 hours, raise an admin alert
// (default contexts.DefaultBurstThreshold, at least 2).
func WithBurstAlert(n int) Option { return func(s *Store) { s.burstAlert = n } }

// WithDisclosureThreshold tells the store the deployment's k, under which
// counts of linked young people are shown as "fewer than k" to every role
// but practitioners (default tiles.DefaultK, never below tiles.MinK). Wire
// the same k the heat map uses.
func WithDisclosureThreshold(k int) Option { return func(s *Store) { s.k = k } }

// NewStore returns a Store on pool. secret keys the subject hashes and cell
// keys; it must stay the same for the life of the deployment, or young
// people recorded before and after a change become different subjects.
// geocoder may be nil, in which case postcodes are refused with 503 and only
// lat/lon input works.
func NewStore(pool *pgxpool.Pool, secret []byte, geocoder contexts.Geocoder, opts ...Option) (*Store, error) {
	if len(secret) < contexts.MinSecretLen {
		return nil, fmt.Errorf("records store: the subject secret must be at least %d bytes", contexts.MinSecretLen)
	}
	s := &Store{db: pool, secret: append([]byte(nil), secret...), geocoder: geocoder, now: time.Now, log: slog.Default(),
		bulkMinRows: bulkRebuildMinRows, subjectCap: contexts.DefaultSubjectDailyCap,
		burstAlert: contexts.DefaultBurstThreshold, k: tiles.DefaultK}
	for _, o := range opts {
		o(s)
	}
	switch {
	case s.subjectCap < 1:
		return nil, fmt.Errorf("records store: the daily cap on new young people must be at least 1, not %d", s.subjectCap)
	case s.burstAlert < 2:
		return nil, fmt.Errorf("records store: the burst alert threshold must be at least 2, not %d", s.burstAlert)
	case s.k < tiles.MinK:
		return nil, fmt.Errorf("records store: the disclosure threshold k must be at least %d, not %d", tiles.MinK, s.k)
	}
	return s, nil
}

// inTx runs fn in a transaction that commits when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db, fn)
}

// thematic screens a's free text for personal data, looking words up among
// the young people a's team has recorded or linked (team_subjects, by hash)
// with q (the pool, or the transaction of the change), and only when a is a
// practitioner, the one role that may read the team's records. Other
// teams' young people are never compared: a refusal, or the time one takes,
// would tell a that the id is on record elsewhere. A context lead, analyst
// or admin is compared with nobody's young people, since a refusal would
// tell them which ids their team's practitioners hold (insider review,
// finding 2); the other checks (numbers, dates, phones, emails) still apply.
func (s *Store) thematic(q querier, a *contexts.Actor) contexts.Thematic {
	return contexts.Thematic{Secret: s.secret, Now: s.now(), Known: func(ctx context.Context, hashes [][]byte) ([][]byte, error) {
		if a.Role != contexts.RolePractitioner {
			return nil, nil
		}
		rows, err := q.Query(ctx, `SELECT hash FROM team_subjects WHERE team_id = $1 AND hash = ANY($2)`, a.TeamID, hashes)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[[]byte])
	}}
}

// screen refuses personal data in a's free text about record ("context:42",
// ...) and audits each refusal (the field and what the text looked like,
// never the text) on the pool, so the entry survives the refused write's
// rollback when q is its transaction.
func (s *Store) screen(ctx context.Context, q querier, a *contexts.Actor, record string, fields ...contexts.TextField) error {
	return s.auditRefusal(ctx, a, record, s.thematic(q, a).Check(ctx, fields...))
}

// screenFreeText is screen for a link reason or archive note, which must
// not carry the young person's own id either.
func (s *Store) screenFreeText(ctx context.Context, a *contexts.Actor, record, subject string, f contexts.TextField) error {
	return s.auditRefusal(ctx, a, record, s.thematic(s.db, a).CheckFreeText(ctx, subject, f))
}

func (s *Store) auditRefusal(ctx context.Context, a *contexts.Actor, record string, err error) error {
	field, what, ok := contexts.ScreeningRefusal(err)
	if !ok {
		return err
	}
	if aerr := audit(ctx, s.db, a, "screening.refused", record, "", map[string]any{"field": field, "what": what}); aerr != nil {
		return aerr
	}
	if aerr := s.refusalAlert(ctx, a, "screening.refused", contexts.AlertScreeningRefusals); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// Taxonomy returns the deployment's taxonomy with every category, retired
// ones included, so old records can still be labelled.
func (s *Store) Taxonomy(ctx context.Context) (*contexts.Taxonomy, error) {
	return loadTaxonomy(ctx, s.db)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func loadTaxonomy(ctx context.Context, q querier) (*contexts.Taxonomy, error) {
	var version int
	if err := q.QueryRow(ctx, `SELECT max(version) FROM taxonomy_versions`).Scan(&version); err != nil {
		return nil, fmt.Errorf("load taxonomy version: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT code, label, coalesce(census_code, ''), extra_familial, added_version,
			coalesce(retired_version, 0)
		FROM harm_categories ORDER BY sort_order, code`)
	if err != nil {
		return nil, fmt.Errorf("load harm categories: %w", err)
	}
	cats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.Category, error) {
		var c contexts.Category
		err := r.Scan(&c.Code, &c.Label, &c.CensusCode, &c.ExtraFamilial, &c.AddedVersion, &c.RetiredVersion)
		c.Retired = c.RetiredVersion != 0
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("load harm categories: %w", err)
	}
	return contexts.NewTaxonomy(version, cats), nil
}

// readOne reads the one row query returns as a T, or answers 404 naming
// what and id: the read-back that answers every write with what was stored.
func readOne[T any](ctx context.Context, q querier, scan pgx.RowToFunc[T], what string, id int64, query string, args ...any) (*T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, contexts.NotFound(what, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return &v, nil
}

// isUniqueViolation reports a unique constraint failure, optionally of a
// named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

// dateString formats an optional date column.
func dateString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format("2006-01-02")
}

// PlacePostcode locates a postcode, sector or district for a search centre
// ("contexts near E8 3AA"): any match level will do for searching.
func (s *Store) PlacePostcode(ctx context.Context, postcode string) (lat, lon float64, err error) {
	p, err := geo.ParsePostcode(postcode)
	if err != nil {
		return 0, 0, err
	}
	g, err := contexts.GeocodeOne(ctx, s.geocoder, p.String())
	if err != nil {
		return 0, 0, err
	}
	return g.Lat, g.Lon, nil
}
