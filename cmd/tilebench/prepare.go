package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/tiles"
)

// The baseline's own database objects. They live beside ctxmap's schema in
// the benchmark database only; nothing in ctxmap reads them.
const (
	hexTable    = "tilebench_hexagons"
	heatFunc    = "tilebench_heat"
	indexPrefix = "tilebench_harm_r"
)

// baselineIndexSQL gives the baseline what a pg_tileserv deployment would
// add for such a layer: per resolution, a covering btree from cell to the
// filter columns and subject, over active records only, so a tile's cells
// are answered by index-only scans. (harm_locations has no spatial index
// by design; selecting raw points by area is what the baseline must not
// need.)
const baselineIndexSQL = `CREATE INDEX IF NOT EXISTS ` + indexPrefix + `%[1]d ON harm_locations (h3_r%[1]d, layer, occurred_on)
	INCLUDE (subject_id, categories) WHERE archived_at IS NULL AND h3_r%[1]d IS NOT NULL`

// heatFuncBranch is the per-resolution query of the baseline, in the shape
// of a pg_tileserv function layer: the tile's hexagons (GiST on the
// precomputed web-mercator polygons, tile plus a 64/4096 buffer), distinct
// young people per cell from harm_locations with ctxmap's filters (layer,
// one category or all, whole months, archived excluded), threshold k,
// ST_AsMVTGeom + ST_AsMVT. No perturbation, rounding or secondary
// suppression: those are ctxmap's disclosure control, not a tile server's.
const heatFuncBranch = `
        SELECT ST_AsMVT(t, 'heat', 4096, 'geom', 'id') INTO mvt FROM (
            SELECT c.h3 AS id, to_hex(c.h3) AS h3, %[1]d AS res, c.value,
                   ST_AsMVTGeom(hx.geom, tile, 4096, 64, true) AS geom
            FROM (SELECT l.h3_r%[1]d AS h3, count(DISTINCT l.subject_id)::integer AS value
                  FROM ` + hexTable + ` h JOIN harm_locations l ON l.h3_r%[1]d = h.h3
                  WHERE h.res = %[1]d AND h.geom && area
                    AND l.archived_at IS NULL AND l.layer = p_layer
                    AND l.occurred_on >= p_from AND l.occurred_on < p_to
                    AND (p_category = '' OR l.categories @> ARRAY[p_category])
                  GROUP BY l.h3_r%[1]d
                  HAVING count(DISTINCT l.subject_id) >= p_k) c
            JOIN ` + hexTable + ` hx ON hx.h3 = c.h3
        ) t WHERE t.geom IS NOT NULL;`

func heatFuncSQL() string {
	var b strings.Builder
	fmt.Fprintf(&b, `CREATE OR REPLACE FUNCTION %s(z integer, x integer, y integer,
    p_layer text, p_category text, p_from date, p_to date, p_k integer)
RETURNS bytea LANGUAGE plpgsql STABLE PARALLEL SAFE AS $fn$
DECLARE
    tile geometry := ST_TileEnvelope(z, x, y);
    area geometry := ST_TileEnvelope(z, x, y, margin => %d.0 / %d);
    mvt bytea;
BEGIN
`, heatFunc, tiles.Buffer, tiles.Extent)
	for i, res := range []int{geo.MinRes, geo.MinRes + 1, geo.MaxRes} {
		// The zoom-to-resolution rule is ctxmap's geo.ResForZoom.
		cond := "ELSIF"
		if i == 0 {
			cond = "IF"
		}
		switch res {
		case geo.MaxRes:
			fmt.Fprintf(&b, "    ELSE")
		default:
			maxZ := 0
			for z := 0; z <= tiles.MaxZoom; z++ {
				if geo.ResForZoom(z) == res {
					maxZ = z
				}
			}
			fmt.Fprintf(&b, "    %s z <= %d THEN", cond, maxZ)
		}
		fmt.Fprintf(&b, heatFuncBranch+"\n", res)
	}
	b.WriteString("    END IF;\n    RETURN coalesce(mvt, ''::bytea);\nEND\n$fn$")
	return b.String()
}

func runPrepare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	url, err := databaseURL()
	if err != nil {
		return err
	}
	pool, err := pg.Connect(ctx, url, nil, pg.Options{StatementTimeout: 30 * time.Minute})
	if err != nil {
		return err
	}
	defer pool.Close()
	step := func(name string, f func() error) error {
		t := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(stdout, "prepare: %-44s %8.2f s\n", name, time.Since(t).Seconds())
		return nil
	}
	var n int
	if err := step("hexagon polygons (h3-go CellToBoundary)", func() error {
		n, err = fillHexagons(ctx, pool)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "prepare: %d hexagons (resolutions %d-%d) in %s\n", n, geo.MinRes, geo.MaxRes, hexTable)
	for _, res := range []int{geo.MinRes, geo.MinRes + 1, geo.MaxRes} {
		if err := step(fmt.Sprintf("baseline index %s%d", indexPrefix, res), func() error {
			_, err := pool.Exec(ctx, fmt.Sprintf(baselineIndexSQL, res))
			return err
		}); err != nil {
			return err
		}
	}
	if err := step("function "+heatFunc, func() error {
		_, err := pool.Exec(ctx, heatFuncSQL())
		return err
	}); err != nil {
		return err
	}
	// Both sides read harm_locations through index-only scans, which need
	// the visibility map; autovacuum would get there on its own later.
	return step("VACUUM (ANALYZE) harm_locations", func() error {
		_, err := pool.Exec(ctx, "VACUUM (ANALYZE) harm_locations")
		return err
	})
}

// fillHexagons (re)creates the hexagon table for every cell present in
// harm_locations at resolutions 6-8, with polygons from h3-go, stored in
// web mercator so the per-request work is only ST_AsMVTGeom.
func fillHexagons(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	rows, err := pool.Query(ctx, `SELECT DISTINCT c FROM harm_locations,
		LATERAL unnest(ARRAY[h3_r6, h3_r7, h3_r8]) AS c WHERE c IS NOT NULL`)
	if err != nil {
		return 0, err
	}
	cells, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, err
	}
	return len(cells), pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		stmts := []string{
			`DROP TABLE IF EXISTS ` + hexTable,
			`CREATE TABLE ` + hexTable + ` (h3 bigint PRIMARY KEY, res smallint NOT NULL, geom geometry(Polygon, 3857) NOT NULL)`,
			`CREATE TEMP TABLE tilebench_stage (h3 bigint, res smallint, wkb bytea) ON COMMIT DROP`,
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"tilebench_stage"}, []string{"h3", "res", "wkb"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(cells) {
					return nil, nil
				}
				c := h3.Cell(cells[i])
				i++
				bnd := h3.CellToBoundary(c)
				ring := make(orb.Ring, 0, len(bnd)+1)
				for _, p := range bnd {
					ring = append(ring, orb.Point{p.Lng, p.Lat})
				}
				ring = append(ring, ring[0])
				b, err := wkb.Marshal(orb.Polygon{ring})
				if err != nil {
					return nil, err
				}
				return []any{int64(c), int16(c.Resolution()), b}, nil
			}))
		if err != nil {
			return err
		}
		for _, s := range []string{
			`INSERT INTO ` + hexTable + ` SELECT h3, res, ST_Transform(ST_SetSRID(ST_GeomFromWKB(wkb), 4326), 3857) FROM tilebench_stage`,
			`CREATE INDEX ` + hexTable + `_geom ON ` + hexTable + ` USING gist (geom)`,
			`ANALYZE ` + hexTable,
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}
