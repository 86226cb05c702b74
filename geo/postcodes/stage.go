package postcodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// buildIndexes adds the primary key, first removing duplicate postcodes if
// the sources repeated any (keeping a live row over a terminated one, then
// the first read), and the nearest-search index.
func buildIndexes(ctx context.Context, tx pgx.Tx, sum *Summary, sectors map[string]*sums, mark *time.Time) error {
	const addPK = `ALTER TABLE postcodes_next ADD CONSTRAINT postcodes_next_pkey PRIMARY KEY (postcode)`
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("import postcodes: %w", err)
	}
	_, err = sp.Exec(ctx, addPK)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation
		if err := sp.Rollback(ctx); err != nil {
			return fmt.Errorf("import postcodes: %w", err)
		}
		rows, err := tx.Query(ctx, `
			DELETE FROM postcodes_next a USING postcodes_next b
			 WHERE a.postcode = b.postcode AND a.ctid <> b.ctid
			   AND ((a.terminated IS NOT NULL AND b.terminated IS NULL)
			     OR ((a.terminated IS NULL) = (b.terminated IS NULL) AND a.ctid > b.ctid))
			RETURNING a.postcode, ST_X(a.geom), ST_Y(a.geom), a.terminated IS NULL`)
		if err != nil {
			return fmt.Errorf("import postcodes: remove duplicates: %w", err)
		}
		var removed int64
		for rows.Next() {
			var pc string
			var x, y *float64
			var live bool
			if err := rows.Scan(&pc, &x, &y, &live); err != nil {
				rows.Close()
				return fmt.Errorf("import postcodes: remove duplicates: %w", err)
			}
			removed++
			if s := sectors[pc[:len(pc)-2]]; s != nil && x != nil && y != nil {
				s.add(*x, *y, live, -1) // the removed copy no longer counts
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("import postcodes: remove duplicates: %w", err)
		}
		if sum.Skipped == nil {
			sum.Skipped = map[string]int64{}
		}
		sum.Skipped[reasonDuplicate] = removed
		if _, err := tx.Exec(ctx, addPK); err != nil {
			return fmt.Errorf("import postcodes: primary key: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE geom IS NULL),
			count(*) FILTER (WHERE terminated IS NOT NULL) FROM postcodes_next`).
			Scan(&sum.Loaded, &sum.Unlocated, &sum.Terminated); err != nil {
			return fmt.Errorf("import postcodes: count: %w", err)
		}
	case err != nil:
		return fmt.Errorf("import postcodes: primary key: %w", err)
	default:
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("import postcodes: %w", err)
		}
	}
	sum.phase("primary_key", mark)
	// Keep in step with migrations/00002_postcodes.sql (a test compares).
	if _, err := tx.Exec(ctx, `
		CREATE INDEX postcodes_next_geom ON postcodes_next USING gist (geom)
		 WHERE terminated IS NULL AND geom IS NOT NULL`); err != nil {
		return fmt.Errorf("import postcodes: indexes: %w", err)
	}
	sum.phase("gist", mark)
	if _, err := tx.Exec(ctx, `ANALYZE postcodes_next`); err != nil {
		return fmt.Errorf("import postcodes: analyze: %w", err)
	}
	sum.phase("analyze", mark)
	return nil
}

// buildCentroids writes the sector and district centroids summed while the
// rows streamed (see sums).
func buildCentroids(ctx context.Context, tx pgx.Tx, sum *Summary, sectors map[string]*sums) error {
	sec, dist := centroidsFrom(sectors)
	if err := writeCentroids(ctx, tx, "postcode_sectors_next", sec); err != nil {
		return err
	}
	if err := writeCentroids(ctx, tx, "postcode_districts_next", dist); err != nil {
		return err
	}
	sum.Sectors, sum.Districts = int64(len(sec)), int64(len(dist))
	if _, err := tx.Exec(ctx, `ANALYZE postcode_sectors_next; ANALYZE postcode_districts_next`); err != nil {
		return fmt.Errorf("import postcodes: analyze: %w", err)
	}
	return nil
}

// swap replaces the serving tables with the staged ones and records the
// import. It runs inside the import's transaction, so readers see either
// the old directory or the new one, never a mixture or nothing; they wait
// only for the few milliseconds the catalogue changes take.
func swap(ctx context.Context, tx pgx.Tx, sum *Summary, start time.Time) error {
	if _, err := tx.Exec(ctx, `
		SET LOCAL lock_timeout = '60s';
		DROP TABLE postcodes, postcode_sectors, postcode_districts;
		ALTER TABLE postcodes_next RENAME TO postcodes;
		ALTER TABLE postcodes RENAME CONSTRAINT postcodes_next_pkey TO postcodes_pkey;
		ALTER INDEX postcodes_next_geom RENAME TO postcodes_geom;
		ALTER TABLE postcode_sectors_next RENAME TO postcode_sectors;
		ALTER TABLE postcode_sectors RENAME CONSTRAINT postcode_sectors_next_pkey TO postcode_sectors_pkey;
		ALTER TABLE postcode_districts_next RENAME TO postcode_districts;
		ALTER TABLE postcode_districts RENAME CONSTRAINT postcode_districts_next_pkey TO postcode_districts_pkey`); err != nil {
		return fmt.Errorf("import postcodes: swap: %w", err)
	}
	js, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("import postcodes: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO postcode_imports (format, sources, started_at, rows_loaded, summary)
		VALUES ($1, $2, $3, $4, $5)`, sum.Format, sum.Files, start, sum.Loaded, js); err != nil {
		return fmt.Errorf("import postcodes: record: %w", err)
	}
	return nil
}
