package contexts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Geocoder places postcodes. It is declared here, by its consumer, so the
// records store can be tested without a postcode directory; the directory
// (geo/postcodes) is adapted to it at wiring time.
type Geocoder interface {
	// Geocode returns one result per input postcode, in input order.
	// Postcodes the directory does not know have Match "none"; an error
	// means the directory itself failed.
	Geocode(ctx context.Context, postcodes []string) ([]Geocoded, error)
}

// Geocoded is where a postcode is and how precisely: Match is "unit" or
// "terminated" for a whole postcode found in the directory, "sector" or
// "district" when only that part could be placed, "none" when nothing.
type Geocoded struct {
	Postcode   string // normalised, as found
	Match      string
	Lat, Lon   float64
	PrecisionM int
}

// GeocoderFunc adapts a function to Geocoder.
type GeocoderFunc func(ctx context.Context, postcodes []string) ([]Geocoded, error)

// Geocode calls f.
func (f GeocoderFunc) Geocode(ctx context.Context, postcodes []string) ([]Geocoded, error) {
	return f(ctx, postcodes)
}

// Store keeps harm locations and context records in PostGIS. Every method
// that writes, or reads individual data, takes the Actor it acts for: team
// scoping and the audit log then cannot depend on a caller remembering.
type Store struct {
	pool     *pgxpool.Pool
	secret   []byte
	geocoder Geocoder
	now      func() time.Time
	onHeat   func()
	log      *slog.Logger
	// bulkMinRows is the smallest import that may rebuild indexes.
	bulkMinRows int
}

// Option configures a Store.
type Option func(*Store)

// OnHeatChange registers fn to run after every committed write that
// changes heat aggregates (a harm location created, archived or imported),
// so the process's own tile cache is dropped at once. Other processes learn
// of changes through ListenHeat.
func OnHeatChange(fn func()) Option { return func(s *Store) { s.onHeat = fn } }

// WithClock replaces time.Now, for tests that need "today" fixed.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger sets the logger for background failures worth knowing about.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// MinSecretLen is the shortest deployment secret accepted, and the one home
// of that rule (the commands check CTXMAP_SECRET against it): the secret is
// all that stands between a stored subject hash and the person id.
const MinSecretLen = 32

// NewStore returns a Store on pool. secret keys the subject hashes and cell
// keys; it must stay the same for the life of the deployment, or young
// people recorded before and after a change become different subjects.
// geocoder may be nil, in which case postcodes are refused with 503 and only
// lat/lon input works.
func NewStore(pool *pgxpool.Pool, secret []byte, geocoder Geocoder, opts ...Option) (*Store, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("records store: the subject secret must be at least %d bytes", MinSecretLen)
	}
	s := &Store{pool: pool, secret: append([]byte(nil), secret...), geocoder: geocoder, now: time.Now, log: slog.Default(),
		bulkMinRows: bulkRebuildMinRows}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// heatChanged runs the in-process heat hook after a commit.
func (s *Store) heatChanged() {
	if s.onHeat != nil {
		s.onHeat()
	}
}

// inTx runs fn in a transaction that commits when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// require refuses an actor whose role may not do something. The web layer
// checks roles first; this is the second lock, so a forgotten route option
// cannot expose individual records.
func require(a *Actor, roles ...Role) error {
	if a == nil || a.UserID == 0 {
		return ctxmap.Errorf(ctxmap.KindUnauthorized, "unauthenticated", "sign in first")
	}
	if a.Disabled {
		return ctxmap.Errorf(ctxmap.KindForbidden, "forbidden", "this account is disabled")
	}
	for _, r := range roles {
		if a.Role == r {
			return nil
		}
	}
	return ctxmap.Errorf(ctxmap.KindForbidden, "forbidden", "the %s role may not do this", a.Role)
}

// anyRole is every role: reading contexts is open to everyone signed in.
var anyRole = []Role{RolePractitioner, RoleContextLead, RoleAnalyst, RoleAdmin}

// Taxonomy returns the deployment's taxonomy with every category, retired
// ones included, so old records can still be labelled.
func (s *Store) Taxonomy(ctx context.Context) (*Taxonomy, error) {
	return loadTaxonomy(ctx, s.pool)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func loadTaxonomy(ctx context.Context, q querier) (*Taxonomy, error) {
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
	cats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Category, error) {
		var c Category
		err := r.Scan(&c.Code, &c.Label, &c.CensusCode, &c.ExtraFamilial, &c.AddedVersion, &c.RetiredVersion)
		c.Retired = c.RetiredVersion != 0
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("load harm categories: %w", err)
	}
	return newTaxonomy(version, cats), nil
}

// geocodeOne places one parsed postcode, mapping "not found" to a 422.
func (s *Store) geocodeOne(ctx context.Context, postcode string) (Geocoded, error) {
	if s.geocoder == nil {
		return Geocoded{}, ctxmap.Errorf(ctxmap.KindUnavailable, "geocoder_unavailable", "no postcode directory is configured; give lat and lon instead")
	}
	res, err := s.geocoder.Geocode(ctx, []string{postcode})
	if err != nil {
		return Geocoded{}, fmt.Errorf("geocode %s: %w", postcode, err)
	}
	if len(res) != 1 || res[0].Match == "" || res[0].Match == "none" {
		return Geocoded{}, postcodeNotFound(postcode)
	}
	return res[0], nil
}

func postcodeNotFound(postcode string) *ctxmap.Error {
	return unprocessable("postcode", "postcode_not_found", "postcode %s is not in the postcode directory", postcode).WithDetail("postcode", postcode)
}

// isUniqueViolation reports a unique constraint failure, optionally of a
// named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

func notFound(what string, id int64) *ctxmap.Error {
	return ctxmap.Errorf(ctxmap.KindNotFound, "not_found", "no %s with id %d", what, id)
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
	g, err := s.geocodeOne(ctx, p.String())
	if err != nil {
		return 0, 0, err
	}
	return g.Lat, g.Lon, nil
}
