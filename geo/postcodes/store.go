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
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// MaxBatch is the most queries Geocode takes at once (geo.MaxGeocodeBatch);
// the API answers a bigger batch with 413 (the error's kind is KindTooLarge).
const MaxBatch = geo.MaxGeocodeBatch

// Store answers postcode queries from the imported directory. It is safe for
// concurrent use; every method is one or two round trips.
type Store struct {
	pool     *pgxpool.Pool
	outlines outlineState
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
func (s *Store) Lookup(ctx context.Context, pc string) (geo.PostcodeResult, error) {
	p, err := geo.ParsePostcode(pc)
	if err != nil {
		return geo.PostcodeResult{}, err
	}
	var f fetchSet
	f.add(p, false)
	got, err := s.fetch(ctx, &f)
	if err != nil {
		return geo.PostcodeResult{}, err
	}
	r := geo.PostcodeResult{Postcode: p.String(), Match: geo.MatchNone}
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
			a.fill(&r, geo.MatchSector)
		}
	case geo.PrecisionDistrict:
		var a areaRow
		if a, ok = got.district(p); ok {
			a.fill(&r, geo.MatchDistrict)
		}
	}
	if !ok {
		return geo.PostcodeResult{}, ctxmap.Errorf(ctxmap.KindNotFound, "postcode_not_found",
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
func (s *Store) Geocode(ctx context.Context, queries []string) ([]geo.PostcodeResult, error) {
	if len(queries) > MaxBatch {
		return nil, ctxmap.Errorf(ctxmap.KindTooLarge, "geocode_batch_too_large",
			"%d queries in one batch; the limit is %d", len(queries), MaxBatch)
	}
	parsed := make([]geo.Postcode, len(queries))
	out := make([]geo.PostcodeResult, len(queries))
	var f fetchSet
	for i, q := range queries {
		p, err := geo.ParsePostcode(q)
		if err != nil {
			var e *ctxmap.Error
			errors.As(err, &e)
			out[i] = geo.PostcodeResult{Query: q, Match: geo.MatchNone, Error: &geo.QueryError{Code: e.Code, Message: e.Message}}
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
func (g *fetched) place(p geo.Postcode) geo.PostcodeResult {
	r := geo.PostcodeResult{Postcode: p.String(), Match: geo.MatchNone}
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
			a.fill(&r, geo.MatchSector)
			r.Note = joinNote(why, "placed at the mean position of sector "+p.Sector)
			return r
		}
		if why == "" {
			why = "sector " + p.Sector + " is not in the postcode directory"
		}
	}
	if a, ok := g.district(p); ok {
		a.fill(&r, geo.MatchDistrict)
		r.Note = joinNote(why, "placed at the mean position of district "+p.Outcode)
		return r
	}
	if r.Match == geo.MatchNone {
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
