// Package postcodes is ctxmap's offline UK postcode directory: it imports
// ONSPD/NSPL or OS Code-Point Open into PostGIS (see Import) and answers
// single, bulk and nearest-postcode queries from it (see Store). Harm
// locations are geocoded here and never sent to a third-party service.
//
// The directory is replaced wholesale by each import, atomically, so callers
// must not hold foreign keys into its tables: keep the postcode text and the
// point a geocode returned.
package postcodes

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// MaxBatch is the most queries Geocode takes at once; the API answers a
// bigger batch with 413 (the error's kind is KindTooLarge).
const MaxBatch = 1000

// Limits for Nearest: a map click wants a handful of postcodes, and a
// radius beyond 50 km is no longer "near" for a safeguarding partnership.
const (
	DefaultNearestLimit = 10     // results when the caller gives no limit
	MaxNearestLimit     = 100    // the most results one call returns
	MaxNearestRadiusM   = 50_000 // the largest radius in metres
)

// Store answers postcode queries from the imported directory. It is safe for
// concurrent use; every method is one or two round trips.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store reading the directory through pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Lookup geocodes one postcode, for GET /api/v1/postcodes/{postcode}. A full
// postcode answers with match "unit" or "terminated" (with its month), its
// location (nil when the directory has no grid reference; Note says so) and
// admin codes. A sector ("E8 3") or outcode ("E8") answers with its mean
// position and match "sector" or "district".
//
// Malformed input is a KindUnprocessable *ctxmap.Error (postcode_malformed,
// 422); a well-formed postcode, sector or outcode the directory does not
// hold is KindNotFound (postcode_not_found, 404). Unlike Geocode, Lookup
// never falls back from an unknown unit to its sector: a single lookup is a
// question about that postcode.
func (s *Store) Lookup(ctx context.Context, pc string) (Result, error) {
	p, err := geo.ParsePostcode(pc)
	if err != nil {
		return Result{}, err
	}
	var f fetchSet
	f.add(p, false)
	got, err := s.fetch(ctx, &f)
	if err != nil {
		return Result{}, err
	}
	r := Result{Postcode: p.String(), Match: MatchNone}
	var ok bool
	switch p.Precision {
	case geo.PrecisionUnit:
		var u unitRow
		if u, ok = got.units[p.String()]; ok {
			u.fill(&r)
		}
	case geo.PrecisionSector:
		var a areaRow
		if a, ok = got.sectors[p.Sector]; ok {
			a.fill(&r, MatchSector)
		}
	case geo.PrecisionDistrict:
		var a areaRow
		if a, ok = got.district(p); ok {
			a.fill(&r, MatchDistrict)
		}
	}
	if !ok {
		return Result{}, ctxmap.Errorf(ctxmap.KindNotFound, "postcode_not_found",
			"%s is not in the postcode directory", p).WithDetail("postcode", p.String())
	}
	return r, nil
}

// Geocode places up to MaxBatch postcodes, sectors or outcodes in one
// database round trip, for POST /api/v1/geocode. Results are in query order.
// Each is placed as precisely as the directory allows: the unit (match
// "unit" or "terminated"), else the sector's mean position, else the
// outcode's ("sector", "district"), else "none"; PrecisionM says how far off
// the point may be. A malformed query gets match "none" and a per-query
// Error rather than failing the batch. More than MaxBatch queries is a
// KindTooLarge *ctxmap.Error (geocode_batch_too_large).
func (s *Store) Geocode(ctx context.Context, queries []string) ([]Result, error) {
	if len(queries) > MaxBatch {
		return nil, ctxmap.Errorf(ctxmap.KindTooLarge, "geocode_batch_too_large",
			"%d queries in one batch; the limit is %d", len(queries), MaxBatch)
	}
	parsed := make([]geo.Postcode, len(queries))
	out := make([]Result, len(queries))
	var f fetchSet
	for i, q := range queries {
		p, err := geo.ParsePostcode(q)
		if err != nil {
			var e *ctxmap.Error
			errors.As(err, &e)
			out[i] = Result{Query: q, Match: MatchNone, Error: &QueryError{Code: e.Code, Message: e.Message}}
			continue
		}
		parsed[i] = p
		f.add(p, true)
	}
	got, err := s.fetch(ctx, &f)
	if err != nil {
		return nil, err
	}
	for i, p := range parsed {
		if p.Precision == 0 {
			continue
		}
		out[i] = got.place(p)
		out[i].Query = queries[i]
	}
	return out, nil
}

// place resolves one parsed query against fetched rows, falling back from
// unit to sector to district. A unit the directory holds without a grid
// reference keeps its match, dates and codes but is placed by its area when
// it can be; Note tells the caller which.
func (g *fetched) place(p geo.Postcode) Result {
	r := Result{Postcode: p.String(), Match: MatchNone}
	why := ""
	if p.Precision == geo.PrecisionUnit {
		if u, ok := g.units[p.String()]; ok {
			u.fill(&r)
			if r.Lat != nil {
				return r
			}
			why = r.Note
		} else {
			why = p.String() + " is not in the postcode directory"
		}
	}
	if p.Precision != geo.PrecisionDistrict {
		if a, ok := g.sectors[p.Sector]; ok {
			a.fill(&r, MatchSector)
			r.Note = joinNote(why, "placed at the mean position of sector "+p.Sector)
			return r
		}
		if why == "" {
			why = "sector " + p.Sector + " is not in the postcode directory"
		}
	}
	if a, ok := g.district(p); ok {
		a.fill(&r, MatchDistrict)
		r.Note = joinNote(why, "placed at the mean position of district "+p.Outcode)
		return r
	}
	if r.Match == MatchNone {
		r.Note = "no postcode, sector or district matching " + p.String() + " is in the postcode directory"
	}
	return r
}

func joinNote(why, what string) string {
	if why == "" {
		return ""
	}
	return why + "; " + what
}

// Nearest returns up to limit live postcodes nearest to a WGS84 point,
// closest first, each with DistanceM, for GET /api/v1/postcodes?lat&lon.
// limit 0 means DefaultNearestLimit; radiusM 0 means no radius. Bad
// arguments are KindInvalid *ctxmap.Errors.
//
// The GiST index orders candidates by planar distance in degrees, which is
// not distance: a degree of longitude is only ~0.6 of a degree of latitude
// in the UK. So Nearest fetches 3*limit+10 candidates that way, ranks them
// by distance on the ellipsoid, and proves the answer exact (no unfetched
// postcode can be nearer than the limit-th); where it cannot (a coast, a
// hole in the data), a second query takes every postcode in the box around
// the limit-th distance found, which is exact by construction.
func (s *Store) Nearest(ctx context.Context, lat, lon float64, limit int, radiusM float64) ([]Result, error) {
	switch {
	case math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180:
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "coordinates_invalid",
			"lat must be within -90..90 and lon within -180..180, got %v,%v", lat, lon)
	case limit < 0 || limit > MaxNearestLimit:
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "limit_invalid", "limit must be 1..%d", MaxNearestLimit)
	case math.IsNaN(radiusM) || radiusM < 0 || radiusM > MaxNearestRadiusM:
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "radius_invalid", "radius_m must be 0..%d", MaxNearestRadiusM)
	}
	if limit == 0 {
		limit = DefaultNearestLimit
	}
	const cols = `postcode, ST_Y(geom), ST_X(geom), pos_quality, introduced, terminated,
		country, region, county, lad, ward, lsoa21, msoa21, pfa,
		geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326),
		ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography)`
	const knn = `SELECT ` + cols + ` FROM postcodes
		WHERE terminated IS NULL AND geom IS NOT NULL
		ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326) LIMIT $3`
	// Within a radius, a bounding box lets the index stop early when few
	// postcodes are near (a rural point, or the sea).
	const knnBox = `SELECT ` + cols + ` FROM postcodes
		WHERE terminated IS NULL AND geom IS NOT NULL
		  AND geom && ST_MakeEnvelope($4, $5, $6, $7, 4326)
		ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326) LIMIT $3`
	const inBox = `SELECT ` + cols + ` FROM postcodes
		WHERE terminated IS NULL AND geom IS NOT NULL
		  AND geom && ST_MakeEnvelope($4, $5, $6, $7, 4326)
		ORDER BY 16, postcode LIMIT $3`

	n := 3*limit + 10
	var res []Result
	var planar float64
	var got int
	var err error
	if radiusM > 0 {
		b := boxAround(lat, lon, radiusM)
		res, planar, got, err = s.nearestQuery(ctx, knnBox, lon, lat, n, b[0], b[1], b[2], b[3])
	} else {
		res, planar, got, err = s.nearestQuery(ctx, knn, lon, lat, n)
	}
	if err != nil {
		return nil, err
	}
	if radiusM > 0 {
		res = slices.DeleteFunc(res, func(r Result) bool { return *r.DistanceM > radiusM })
	}
	// Every postcode not fetched is at least `bound` metres away.
	bound := minMetresForDegrees(planar, lat)
	exact := got < n ||
		(len(res) >= limit && *res[limit-1].DistanceM <= bound) ||
		(radiusM > 0 && radiusM <= bound)
	if !exact {
		r := radiusM
		if len(res) >= limit && (r == 0 || *res[limit-1].DistanceM < r) {
			r = *res[limit-1].DistanceM
		}
		b := boxAround(lat, lon, r)
		if res, _, _, err = s.nearestQuery(ctx, inBox, lon, lat, limit, b[0], b[1], b[2], b[3]); err != nil {
			return nil, err
		}
		res = slices.DeleteFunc(res, func(x Result) bool { return *x.DistanceM > r })
	}
	if len(res) > limit {
		res = res[:limit]
	}
	if res == nil {
		res = []Result{}
	}
	return res, nil
}

// boxAround returns (minLon, minLat, maxLon, maxLat) of a box holding the
// circle of radius metres around a point, with 1% to spare.
func boxAround(lat, lon, metres float64) [4]float64 {
	dLat := metres / 110_500 * 1.01
	dLon := metres / (111_320 * math.Max(math.Cos(math.Min(math.Abs(lat)+dLat, 89.9)*math.Pi/180), 0.01)) * 1.01
	return [4]float64{lon - dLon, lat - dLat, lon + dLon, lat + dLat}
}

// nearestQuery runs one of Nearest's queries and returns the rows sorted by
// distance, the planar distance of the last row in index order, and how
// many rows came back.
func (s *Store) nearestQuery(ctx context.Context, sql string, args ...any) ([]Result, float64, int, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("nearest postcodes: %w", err)
	}
	defer rows.Close()
	var res []Result
	var planar float64
	for rows.Next() {
		var u unitRow
		var dist float64
		if err := rows.Scan(u.dest(&planar, &dist)...); err != nil {
			return nil, 0, 0, fmt.Errorf("nearest postcodes: %w", err)
		}
		var r Result
		u.fill(&r)
		d := math.Round(dist*10) / 10
		r.DistanceM = &d
		res = append(res, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("nearest postcodes: %w", err)
	}
	got := len(res)
	slices.SortStableFunc(res, func(a, b Result) int { return cmpFloat(*a.DistanceM, *b.DistanceM) })
	return res, planar, got, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// minMetresForDegrees is a lower bound on the ellipsoidal distance between
// two points whose planar distance in degrees is deg, near latitude lat.
// Along a meridian a radian is at least a(1-e²) = 6,335,439 m; along a
// parallel it is at least a·cos(φ) for the highest latitude φ either point
// can have. The 0.999 absorbs rounding.
func minMetresForDegrees(deg, lat float64) float64 {
	φ := math.Min(math.Abs(lat)+deg, 89.9) * math.Pi / 180
	return 0.999 * 6_335_439 * math.Cos(φ) * deg * math.Pi / 180
}

// ImportRecord describes the import that produced the serving directory.
type ImportRecord struct {
	Format     string    `json:"format"`
	Sources    []string  `json:"sources"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	RowsLoaded int64     `json:"rows_loaded"`
}

// LastImport describes the serving directory, or returns nil when none has
// been imported: readiness checks and the UI's attribution line use it.
func (s *Store) LastImport(ctx context.Context) (*ImportRecord, error) {
	var r ImportRecord
	err := s.pool.QueryRow(ctx, `SELECT format, sources, started_at, finished_at, rows_loaded
		FROM postcode_imports ORDER BY id DESC LIMIT 1`).
		Scan(&r.Format, &r.Sources, &r.StartedAt, &r.FinishedAt, &r.RowsLoaded)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last postcode import: %w", err)
	}
	return &r, nil
}

// fetchSet collects the keys one query batch needs, without duplicates.
type fetchSet struct {
	units, sectors, districts []string
	seen                      map[string]bool
}

func (f *fetchSet) put(list *[]string, key string) {
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	if !f.seen[key] {
		f.seen[key] = true
		*list = append(*list, key)
	}
}

// add registers p; with fallback, a unit also asks for its sector and
// district so the whole batch is one round trip.
func (f *fetchSet) add(p geo.Postcode, fallback bool) {
	switch p.Precision {
	case geo.PrecisionUnit:
		f.put(&f.units, p.String())
		if !fallback {
			return
		}
		f.put(&f.sectors, p.Sector)
	case geo.PrecisionSector:
		f.put(&f.sectors, p.Sector)
		if !fallback {
			return
		}
	}
	f.put(&f.districts, p.Outcode)
	if p.SubDistrict != "" {
		f.put(&f.districts, p.District)
	}
}

type fetched struct {
	units              map[string]unitRow
	sectors, districts map[string]areaRow
}

// district finds p's outcode, or its district when an outcode with a
// sub-district letter ("SW1A") has no row of its own.
func (g *fetched) district(p geo.Postcode) (areaRow, bool) {
	if a, ok := g.districts[p.Outcode]; ok {
		return a, true
	}
	a, ok := g.districts[p.District]
	return a, ok
}

// fetch reads every unit, sector and district row f names in one query.
func (s *Store) fetch(ctx context.Context, f *fetchSet) (*fetched, error) {
	g := &fetched{units: map[string]unitRow{}, sectors: map[string]areaRow{}, districts: map[string]areaRow{}}
	if len(f.units)+len(f.sectors)+len(f.districts) == 0 {
		return g, nil
	}
	const q = `
		SELECT 'u', postcode, ST_Y(geom), ST_X(geom), pos_quality, NULL::integer, NULL::integer,
		       introduced, terminated, country, region, county, lad, ward, lsoa21, msoa21, pfa
		  FROM postcodes WHERE postcode = ANY($1::text[])
		UNION ALL
		SELECT 's', sector, ST_Y(geom), ST_X(geom), NULL, postcodes, radius_m,
		       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
		  FROM postcode_sectors WHERE sector = ANY($2::text[])
		UNION ALL
		SELECT 'd', district, ST_Y(geom), ST_X(geom), NULL, postcodes, radius_m,
		       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
		  FROM postcode_districts WHERE district = ANY($3::text[])`
	rows, err := s.pool.Query(ctx, q, f.units, f.sectors, f.districts)
	if err != nil {
		return nil, fmt.Errorf("geocode: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var u unitRow
		var count, radius *int32
		if err := rows.Scan(&kind, &u.postcode, &u.lat, &u.lon, &u.quality, &count, &radius,
			&u.introduced, &u.terminated, &u.admin[0], &u.admin[1], &u.admin[2], &u.admin[3],
			&u.admin[4], &u.admin[5], &u.admin[6], &u.admin[7]); err != nil {
			return nil, fmt.Errorf("geocode: %w", err)
		}
		switch kind {
		case "u":
			g.units[u.postcode] = u
		case "s", "d":
			a := areaRow{lat: *u.lat, lon: *u.lon, radiusM: int(*radius)}
			if kind == "s" {
				g.sectors[u.postcode] = a
			} else {
				g.districts[u.postcode] = a
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("geocode: %w", err)
	}
	return g, nil
}

// unitRow is one postcodes row as scanned.
type unitRow struct {
	postcode               string
	lat, lon               *float64
	quality                *int16
	introduced, terminated *time.Time
	admin                  [8]*string // country, region, county, lad, ward, lsoa21, msoa21, pfa
}

// dest lists scan targets for the Nearest query's columns.
func (u *unitRow) dest(extra ...any) []any {
	d := []any{&u.postcode, &u.lat, &u.lon, &u.quality, &u.introduced, &u.terminated}
	for i := range u.admin {
		d = append(d, &u.admin[i])
	}
	return append(d, extra...)
}

// fill writes the unit into r: match, location, dates and codes.
func (u *unitRow) fill(r *Result) {
	r.Postcode = u.postcode
	r.Match = MatchUnit
	if u.terminated != nil {
		r.Match = MatchTerminated
		r.Terminated = monthOf(*u.terminated)
	}
	if u.introduced != nil {
		r.Introduced = monthOf(*u.introduced)
	}
	if u.lat != nil && u.lon != nil {
		r.Lat, r.Lon = round6(*u.lat), round6(*u.lon)
		r.PrecisionM = unitPrecisionM(u.quality)
		r.Note = ""
	} else {
		r.Lat, r.Lon, r.PrecisionM = nil, nil, 0
		r.Note = u.postcode + " has no grid reference in the directory"
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	c := &u.admin
	a := Admin{Country: str(c[0]), Region: str(c[1]), County: str(c[2]), LAD: str(c[3]),
		Ward: str(c[4]), LSOA21: str(c[5]), MSOA21: str(c[6]), PFA: str(c[7])}
	if !a.empty() {
		r.Admin = &a
	}
}

// unitPrecisionM turns a positional quality (Code-Point scale) into metres.
// 10-20: an address in the unit, 30: within 50 m, 40: mean of the unit's
// addresses, 50: estimated from neighbouring units, 60: the sector's mean,
// 80: ONSPD's "terminated before grid references were kept".
func unitPrecisionM(q *int16) int {
	if q == nil {
		return geo.UnitPrecisionM
	}
	switch {
	case *q <= 20, *q == 40:
		return geo.UnitPrecisionM
	case *q == 30:
		return 100
	case *q == 50:
		return 250
	case *q == 60:
		return geo.SectorPrecisionM
	}
	return 500
}

// areaRow is a sector or district centroid.
type areaRow struct {
	lat, lon float64
	radiusM  int
}

func (a areaRow) fill(r *Result, m Match) {
	r.Match = m
	r.Lat, r.Lon = round6(a.lat), round6(a.lon)
	r.PrecisionM = a.radiusM
}

func round6(v float64) *float64 {
	v = math.Round(v*1e6) / 1e6
	return &v
}
