package postgres

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// The two shapes of the heat query. Both are answered by an index-only scan
// of harm_locations_heat (layer, occurred_on) INCLUDE (subject_id,
// subject_key, cell, categories), which holds active records only. There
// is no DISTINCT: tiles.Policy.Publish counts distinct young people itself,
// and leaving the de-duplication to it halves the read (measured with
// tilebench setcost: 1.43 s -> 0.70 s for 1M records, same published cells).
const (
	heatAllSQL = `SELECT subject_id, subject_key, cell FROM harm_locations
		WHERE archived_at IS NULL AND layer = $1 AND occurred_on >= $2 AND occurred_on < $3`
	heatCategorySQL = `SELECT subject_id, subject_key, cell FROM harm_locations
		WHERE archived_at IS NULL AND layer = $1 AND occurred_on >= $2 AND occurred_on < $3
		  AND categories @> ARRAY[$4::text]`
	// heatExtraFamilialSQL counts the overarching extra-familial harm figure
	// DOMAIN.md asks for: records with any category the taxonomy flags as
	// extra-familial.
	heatExtraFamilialSQL = `SELECT subject_id, subject_key, cell FROM harm_locations
		WHERE archived_at IS NULL AND layer = $1 AND occurred_on >= $2 AND occurred_on < $3
		  AND categories && (SELECT coalesce(array_agg(code), '{}') FROM harm_categories WHERE extra_familial)`
)

// Observations returns the (young person, cell) pairs, one per record, of active
// records of one layer (and one category, or all) in a range of whole
// months, for the tiles package to aggregate. Each cell is the finest the
// record's geocode supports: res 8, or res 7 or 6 for sector- or
// district-only geocodes. It never returns anything about a record beyond
// that pair and the subject's secret cell key, and is not audited because
// its only consumer publishes disclosure-controlled aggregates.
func (s *Store) Observations(ctx context.Context, q tiles.Query) ([]tiles.Observation, error) {
	if !q.Layer.Valid() {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "invalid_layer", "layer must be harm or unsafe, not %q", contexts.Trunc(string(q.Layer), 40))
	}
	if !q.From.Before(q.To) {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "invalid_period", "the period is empty")
	}
	from, to := q.From.UTC(), q.To.UTC()
	var rows pgx.Rows
	var err error
	switch q.Category {
	case "":
		rows, err = s.db.Query(ctx, heatAllSQL, q.Layer, from, to)
	case ctxmap.ExtraFamilial:
		rows, err = s.db.Query(ctx, heatExtraFamilialSQL, q.Layer, from, to)
	default:
		rows, err = s.db.Query(ctx, heatCategorySQL, q.Layer, from, to, q.Category)
	}
	if err != nil {
		return nil, fmt.Errorf("heat observations: %w", err)
	}
	defer rows.Close()
	out := make([]tiles.Observation, 0, 1024)
	var subject, cell int64
	var key int16
	for rows.Next() {
		// A year of a busy area is hundreds of thousands of rows: decode
		// the three fixed-width binary values directly rather than through
		// Scan, which costs an allocation per row.
		if raw := rows.RawValues(); len(raw) == 3 && len(raw[0]) == 8 && len(raw[1]) == 2 && len(raw[2]) == 8 &&
			rows.FieldDescriptions()[0].Format == pgx.BinaryFormatCode {
			out = append(out, tiles.Observation{
				Subject: int64(binary.BigEndian.Uint64(raw[0])),
				Key:     uint8(binary.BigEndian.Uint16(raw[1])),
				Cell:    h3.Cell(binary.BigEndian.Uint64(raw[2])),
			})
			continue
		}
		if err := rows.Scan(&subject, &key, &cell); err != nil {
			return nil, fmt.Errorf("heat observations: %w", err)
		}
		out = append(out, tiles.Observation{Subject: subject, Key: uint8(key), Cell: h3.Cell(cell)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("heat observations: %w", err)
	}
	return out, nil
}
