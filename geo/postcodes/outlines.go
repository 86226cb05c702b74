package postcodes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/maptile"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// outlineLockID serialises outline builds across processes.
const outlineLockID = 0x63746d_6f75746c // "ctm" "outl"

// outlineCheckEvery is how often a Store looks for a newer directory than
// the one its outlines were drawn from.
const outlineCheckEvery = 30 * time.Second

// OutlineSummary says what BuildOutlines drew.
type OutlineSummary struct {
	ImportID  int64         `json:"import_id"`
	Districts int           `json:"districts"`
	Sectors   int           `json:"sectors"`
	Duration  time.Duration `json:"duration"`
}

// BuildOutlines draws the district and sector outlines of the directory as
// it is now (postcode_outlines, migrations/00023) and replaces the previous
// ones in one transaction. `ctxmap import postcodes` runs it after each
// import; a server whose outlines are older than its directory runs it on
// the first places tile it is asked for (Store.PlacesTile).
//
// A district is the concave hull of its live located postcodes, buffered
// 100 m; a sector is the union of the Voronoi cells (computed per district,
// clipped to the district) of its postcodes. Both are approximations for
// orientation, computed in British National Grid metres. About 3 s for the
// 17,000 postcodes of area E here; in proportion for the whole country.
func BuildOutlines(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}) (OutlineSummary, error) {
	start := time.Now()
	var sum OutlineSummary
	tx, err := db.Begin(ctx)
	if err != nil {
		return sum, fmt.Errorf("postcode outlines: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', '0', true), pg_advisory_xact_lock($1)`, int64(outlineLockID)); err != nil {
		return sum, fmt.Errorf("postcode outlines: lock: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM postcode_imports`).Scan(&sum.ImportID); err != nil {
		return sum, fmt.Errorf("postcode outlines: %w", err)
	}
	// Temporary tables with a spatial index: joining each Voronoi cell to
	// the point it was drawn around is quadratic without one.
	steps := []string{
		`CREATE TEMP TABLE outline_points ON COMMIT DROP AS
		   SELECT split_part(postcode, ' ', 1) AS district, left(postcode, length(postcode) - 2) AS sector,
		          ST_Transform(geom, 27700) AS g
		     FROM postcodes WHERE terminated IS NULL AND geom IS NOT NULL`,
		`CREATE INDEX ON outline_points USING gist (g)`,
		`CREATE TEMP TABLE outline_districts ON COMMIT DROP AS
		   SELECT district, count(*)::int AS n, ST_Collect(g) AS points,
		          ST_Buffer(ST_ConcaveHull(ST_Collect(g), 0.3), 100, 'quad_segs=2') AS hull
		     FROM outline_points GROUP BY district`,
		`CREATE TEMP TABLE outline_cells ON COMMIT DROP AS
		   SELECT d.district, c.geom AS cell
		     FROM outline_districts d, LATERAL ST_Dump(ST_VoronoiPolygons(d.points, 0, d.hull)) c`,
		`CREATE TEMP TABLE outline_sectors ON COMMIT DROP AS
		   SELECT p.sector, count(*)::int AS n,
		          ST_Union(CASE WHEN ST_Within(c.cell, d.hull) THEN c.cell ELSE ST_Intersection(c.cell, d.hull) END) AS g
		     FROM outline_cells c
		     JOIN outline_districts d USING (district)
		     JOIN outline_points p ON p.district = c.district AND p.g && c.cell AND ST_Intersects(c.cell, p.g)
		    GROUP BY p.sector`,
		// A district of one postcode has no Voronoi cells: its sectors are
		// the postcodes' 100 m circles.
		`INSERT INTO outline_sectors
		   SELECT sector, count(*)::int, ST_Union(ST_Buffer(g, 100, 'quad_segs=2'))
		     FROM outline_points WHERE sector NOT IN (SELECT sector FROM outline_sectors) GROUP BY sector`,
		`DELETE FROM postcode_outlines`,
	}
	for _, q := range steps {
		if _, err := tx.Exec(ctx, q); err != nil {
			return sum, fmt.Errorf("postcode outlines: %w", err)
		}
	}
	const insert = `
		INSERT INTO postcode_outlines (level, code, import_id, postcodes, geom, label)
		SELECT $1, code, $2, n, ST_Multi(ST_CollectionExtract(ST_Transform(g, 3857), 3)),
		       ST_Transform((ST_MaximumInscribedCircle(g)).center, 3857)
		  FROM (%s) o WHERE NOT ST_IsEmpty(ST_CollectionExtract(g, 3))`
	tag, err := tx.Exec(ctx, fmt.Sprintf(insert, `SELECT district AS code, n, hull AS g FROM outline_districts`), "district", sum.ImportID)
	if err != nil {
		return sum, fmt.Errorf("postcode outlines: districts: %w", err)
	}
	sum.Districts = int(tag.RowsAffected())
	if tag, err = tx.Exec(ctx, fmt.Sprintf(insert, `SELECT sector AS code, n, g FROM outline_sectors`), "sector", sum.ImportID); err != nil {
		return sum, fmt.Errorf("postcode outlines: sectors: %w", err)
	}
	sum.Sectors = int(tag.RowsAffected())
	if err := tx.Commit(ctx); err != nil {
		return sum, fmt.Errorf("postcode outlines: commit: %w", err)
	}
	sum.Duration = time.Since(start)
	return sum, nil
}

// outlineState remembers which directory the outlines were last found
// current for, so a tile request asks the database at most every
// outlineCheckEvery.
type outlineState struct {
	mu      sync.Mutex
	checked time.Time
	// drawnFrom is the import the outlines were drawn from when last
	// checked; tiles holds encoded tiles of those outlines, dropped when
	// it changes (or fills up: they are cheap to make again).
	drawnFrom int64
	tiles     map[maptile.Tile][]byte
}

// maxCachedPlacesTiles bounds the places tile cache (tiles are a few KB).
const maxCachedPlacesTiles = 4096

// ensureOutlines rebuilds the outlines when the directory is newer than
// them (or they were never drawn), at most one check per outlineCheckEvery.
func (s *Store) ensureOutlines(ctx context.Context) error {
	s.outlines.mu.Lock()
	defer s.outlines.mu.Unlock()
	if time.Since(s.outlines.checked) < outlineCheckEvery {
		return nil
	}
	var drawn, latest int64
	if err := s.pool.QueryRow(ctx, `
		SELECT coalesce((SELECT min(import_id) FROM postcode_outlines), -1),
		       coalesce((SELECT max(id) FROM postcode_imports), -1)`).Scan(&drawn, &latest); err != nil {
		return fmt.Errorf("postcode outlines: %w", err)
	}
	if latest >= 0 && drawn != latest {
		sum, err := BuildOutlines(ctx, s.pool)
		if err != nil {
			return err
		}
		drawn = sum.ImportID
	}
	if drawn != s.outlines.drawnFrom || s.outlines.tiles == nil {
		s.outlines.drawnFrom, s.outlines.tiles = drawn, map[maptile.Tile][]byte{}
	}
	s.outlines.checked = time.Now()
	return nil
}

// cachedTile is the encoded places tile t, if made since the outlines last
// changed.
func (s *Store) cachedTile(t maptile.Tile) ([]byte, bool) {
	s.outlines.mu.Lock()
	defer s.outlines.mu.Unlock()
	b, ok := s.outlines.tiles[t]
	return b, ok
}

func (s *Store) cacheTile(t maptile.Tile, b []byte) {
	s.outlines.mu.Lock()
	defer s.outlines.mu.Unlock()
	if len(s.outlines.tiles) >= maxCachedPlacesTiles {
		s.outlines.tiles = map[maptile.Tile][]byte{}
	}
	s.outlines.tiles[t] = b
}

// PlacesTile is the MVT tile (uncompressed) of postcode district outlines
// and labels from geo.PlacesMinZoom and sector outlines and labels from
// geo.SectorMinZoom (layers geo.DistrictsLayer, geo.DistrictLabelsLayer, geo.SectorsLayer,
// geo.SectorLabelsLayer; properties code and postcodes). Empty below
// geo.PlacesMinZoom or where the directory has no postcodes. The tile says
// nothing about children, so it needs no disclosure control.
func (s *Store) PlacesTile(ctx context.Context, t maptile.Tile) ([]byte, error) {
	if t.Z < geo.PlacesMinZoom {
		return []byte{}, nil
	}
	if err := s.ensureOutlines(ctx); err != nil {
		return nil, err
	}
	if b, ok := s.cachedTile(t); ok {
		return b, nil
	}
	// Layers concatenate: an MVT tile is a sequence of layer messages.
	const q = `
		WITH b AS (SELECT ST_TileEnvelope($1, $2, $3) AS env),
		f AS (
		  SELECT o.level, o.code, o.postcodes,
		         ST_AsMVTGeom(ST_SimplifyPreserveTopology(o.geom, $4), b.env, 4096, 64) AS outline,
		         ST_AsMVTGeom(o.label, b.env, 4096, 0) AS label
		    FROM postcode_outlines o, b
		   WHERE o.geom && ST_Expand(b.env, $4 * 64) AND (o.level = 'district' OR $1 >= $5))
		SELECT coalesce((SELECT ST_AsMVT(x, $6, 4096, 'outline') FROM (SELECT code, postcodes, outline FROM f WHERE level = 'district' AND outline IS NOT NULL) x), '')
		    || coalesce((SELECT ST_AsMVT(x, $7, 4096, 'label') FROM (SELECT code, postcodes, label FROM f WHERE level = 'district' AND label IS NOT NULL) x), '')
		    || coalesce((SELECT ST_AsMVT(x, $8, 4096, 'outline') FROM (SELECT code, postcodes, outline FROM f WHERE level = 'sector' AND outline IS NOT NULL) x), '')
		    || coalesce((SELECT ST_AsMVT(x, $9, 4096, 'label') FROM (SELECT code, postcodes, label FROM f WHERE level = 'sector' AND label IS NOT NULL) x), '')`
	// Simplify to a quarter of a tile pixel (4096 units) at this zoom.
	metresPerUnit := 2 * 20037508.342789244 / float64(uint64(1)<<t.Z) / 4096
	var tile []byte
	if err := s.pool.QueryRow(ctx, q, int(t.Z), int(t.X), int(t.Y), metresPerUnit, geo.SectorMinZoom,
		geo.DistrictsLayer, geo.DistrictLabelsLayer, geo.SectorsLayer, geo.SectorLabelsLayer).Scan(&tile); err != nil {
		return nil, fmt.Errorf("places tile: %w", err)
	}
	s.cacheTile(t, tile)
	return tile, nil
}

// Place finds a postcode, sector or district and the outlines it lies in.
// Errors are Lookup's: 422 postcode_malformed, 404 postcode_not_found; a
// postcode without a grid reference is 404 postcode_unlocated.
func (s *Store) Place(ctx context.Context, pc string) (geo.PostcodePlace, error) {
	r, err := s.Lookup(ctx, pc)
	if err != nil {
		return geo.PostcodePlace{}, err
	}
	if r.Lat == nil || r.Lon == nil {
		return geo.PostcodePlace{}, ctxmap.Errorf(ctxmap.KindNotFound, "postcode_unlocated", "%s has no grid reference in the postcode directory", r.Postcode)
	}
	if err := s.ensureOutlines(ctx); err != nil {
		return geo.PostcodePlace{}, err
	}
	p, _ := geo.ParsePostcode(r.Postcode) // Lookup parsed it already
	out := geo.PostcodePlace{Postcode: r.Postcode, Match: r.Match, Lat: *r.Lat, Lon: *r.Lon}
	for _, want := range []struct {
		level, code string
		dst         **geo.PlaceOutline
	}{{"sector", p.Sector, &out.Sector}, {"district", p.Outcode, &out.District}} {
		if want.code == "" || (want.level == "sector" && p.Precision == geo.PrecisionDistrict) {
			continue
		}
		var o geo.PlaceOutline
		err := s.pool.QueryRow(ctx, `
			SELECT code, postcodes, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
			  FROM (SELECT code, postcodes, ST_Transform(ST_Envelope(geom), 4326) AS e
			          FROM postcode_outlines WHERE level = $1 AND code = $2) x`, want.level, want.code).
			Scan(&o.Code, &o.Postcodes, &o.BBox[0], &o.BBox[1], &o.BBox[2], &o.BBox[3])
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return geo.PostcodePlace{}, fmt.Errorf("postcode place: %w", err)
		}
		*want.dst = &o
	}
	return out, nil
}
