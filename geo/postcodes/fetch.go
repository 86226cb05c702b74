package postcodes

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ctxmap/ctxmap/geo"
)

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
func (u *unitRow) fill(r *geo.PostcodeResult) {
	r.Postcode = u.postcode
	r.Match = geo.MatchUnit
	if u.terminated != nil {
		r.Match = geo.MatchTerminated
		r.Terminated = geo.MonthOf(*u.terminated)
	}
	if u.introduced != nil {
		r.Introduced = geo.MonthOf(*u.introduced)
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
	a := geo.Admin{Country: str(c[0]), Region: str(c[1]), County: str(c[2]), LAD: str(c[3]),
		Ward: str(c[4]), LSOA21: str(c[5]), MSOA21: str(c[6]), PFA: str(c[7])}
	if !a.Empty() {
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

func (a areaRow) fill(r *geo.PostcodeResult, m geo.Match) {
	r.Match = m
	r.Lat, r.Lon = round6(a.lat), round6(a.lon)
	r.PrecisionM = a.radiusM
}

func round6(v float64) *float64 {
	v = math.Round(v*1e6) / 1e6
	return &v
}
