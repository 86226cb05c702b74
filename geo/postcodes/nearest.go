package postcodes

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Nearest returns up to limit live postcodes nearest to a WGS84 point,
// closest first, each with DistanceM, for GET /api/v1/postcodes?lat&lon.
// limit 0 means geo.DefaultNearestLimit; radiusM 0 means no radius. Bad
// arguments are KindInvalid *ctxmap.Errors.
//
// The GiST index orders candidates by planar distance in degrees, which is
// not distance: a degree of longitude is only ~0.6 of a degree of latitude
// in the UK. So Nearest fetches 3*limit+10 candidates that way, ranks them
// by distance on the ellipsoid, and proves the answer exact (no unfetched
// postcode can be nearer than the limit-th); where it cannot (a coast, a
// hole in the data), a second query takes every postcode in the box around
// the limit-th distance found, which is exact by construction.
func (s *Store) Nearest(ctx context.Context, lat, lon float64, limit int, radiusM float64) ([]geo.PostcodeResult, error) {
	switch {
	case math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180:
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "coordinates_invalid",
			"lat must be within -90..90 and lon within -180..180, got %v,%v", lat, lon)
	case limit < 0 || limit > geo.MaxNearestLimit:
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "limit_invalid", "limit must be 1..%d", geo.MaxNearestLimit)
	case math.IsNaN(radiusM) || radiusM < 0 || radiusM > geo.MaxNearestRadiusM:
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "radius_invalid", "radius_m must be 0..%d", geo.MaxNearestRadiusM)
	}
	if limit == 0 {
		limit = geo.DefaultNearestLimit
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
	var res []geo.PostcodeResult
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
		res = slices.DeleteFunc(res, func(r geo.PostcodeResult) bool { return *r.DistanceM > radiusM })
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
		res = slices.DeleteFunc(res, func(x geo.PostcodeResult) bool { return *x.DistanceM > r })
	}
	if len(res) > limit {
		res = res[:limit]
	}
	if res == nil {
		res = []geo.PostcodeResult{}
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
func (s *Store) nearestQuery(ctx context.Context, sql string, args ...any) ([]geo.PostcodeResult, float64, int, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("nearest postcodes: %w", err)
	}
	defer rows.Close()
	var res []geo.PostcodeResult
	var planar float64
	for rows.Next() {
		var u unitRow
		var dist float64
		if err := rows.Scan(u.dest(&planar, &dist)...); err != nil {
			return nil, 0, 0, fmt.Errorf("nearest postcodes: %w", err)
		}
		var r geo.PostcodeResult
		u.fill(&r)
		d := math.Round(dist*10) / 10
		r.DistanceM = &d
		res = append(res, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("nearest postcodes: %w", err)
	}
	got := len(res)
	slices.SortStableFunc(res, func(a, b geo.PostcodeResult) int { return cmpFloat(*a.DistanceM, *b.DistanceM) })
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
