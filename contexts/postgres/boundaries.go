package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
)

// Boundaries keeps the partnership's area: GeoJSON documents imported by an
// operator and drawn under the map.
type Boundaries struct{ pool *pgxpool.Pool }

// NewBoundaries returns the boundary store on pool.
func NewBoundaries(pool *pgxpool.Pool) *Boundaries { return &Boundaries{pool: pool} }

// Boundaries returns every imported document, a Feature or a
// FeatureCollection, in import order.
func (b *Boundaries) Boundaries(ctx context.Context) ([]json.RawMessage, error) {
	return boundaryDocs(ctx, b.pool)
}

// boundaryDocs reads every imported boundary document with q, in import
// order: the map's boundary layer and the wards a factor may name.
func boundaryDocs(ctx context.Context, q querier) ([]json.RawMessage, error) {
	rows, err := q.Query(ctx, `SELECT geojson FROM boundaries ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read boundaries: %w", err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (json.RawMessage, error) {
		var raw []byte
		err := r.Scan(&raw)
		return raw, err
	})
	if err != nil {
		return nil, fmt.Errorf("read boundaries: %w", err)
	}
	return docs, nil
}

// Import stores a boundary document called name on behalf of an operator,
// audited in the same transaction. With ifEmpty it does nothing (and
// reports false) when a boundary was imported before.
func (b *Boundaries) Import(ctx context.Context, by *contexts.Actor, name string, geojson []byte, ifEmpty bool) (bool, error) {
	if ifEmpty {
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM boundaries`).Scan(&n); err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
	}
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO boundaries (name, geojson) VALUES ($1, $2)`, name, geojson); err != nil {
			return err
		}
		return audit(ctx, tx, by, "boundary.import", "", "", map[string]any{"name": name})
	})
	return err == nil, err
}
