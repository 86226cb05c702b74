package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// The record measures of a release (tiles/measures.go): the entries of
// young people's records they count are read in the release's snapshot,
// and the published values are stored in release_measures beside the
// release's sets.

// monthOf is a date's month as the release counts it.
func monthOf(t time.Time) tiles.Month { return tiles.Month{Year: t.Year(), Month: t.Month()} }

// readFacts adds to in the current (not corrected) markers, the
// relocations and the factors (not withdrawn) dated in w, each with its young person's key;
// a factor says whether an action addresses it (contexts.FactorAddressed,
// as the record shows it), a marker whether it counts as extra-familial
// (contexts.MarkExtraFamilial).
func readFacts(ctx context.Context, tx pgx.Tx, w tiles.Window, in *tiles.ReleaseInput) error {
	from, to := w.First.Start(), w.Last.Add(1).Start()
	kinds, _ := contexts.RelocationKinds()
	in.RelocationKinds = kinds
	var (
		text    string
		on      time.Time
		subject int64
		key     int16
	)
	rows, err := tx.Query(ctx, `SELECT m.kind = 'referral', m.familial, m.marked_on, m.subject_id, s.cell_key
		FROM yp_markers m JOIN subjects s ON s.id = m.subject_id
		WHERE m.corrected_at IS NULL AND m.marked_on >= $1 AND m.marked_on < $2`, from, to)
	if err != nil {
		return fmt.Errorf("release markers: %w", err)
	}
	var referral bool
	if _, err := pgx.ForEachRow(rows, []any{&referral, &text, &on, &subject, &key}, func() error {
		k := tiles.FactOutcome
		if referral {
			k = tiles.FactReferral
		}
		in.Facts = append(in.Facts, tiles.RecordFact{Kind: k, Month: monthOf(on), Subject: subject, Key: uint8(key), Extra: contexts.MarkExtraFamilial(text)})
		return nil
	}); err != nil {
		return fmt.Errorf("release markers: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT r.kind, r.relocated_on, r.subject_id, s.cell_key
		FROM yp_relocations r JOIN subjects s ON s.id = r.subject_id
		WHERE r.withdrawn_at IS NULL AND r.relocated_on >= $1 AND r.relocated_on < $2`, from, to)
	if err != nil {
		return fmt.Errorf("release relocations: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&text, &on, &subject, &key}, func() error {
		in.Facts = append(in.Facts, tiles.RecordFact{Kind: tiles.FactRelocation, Month: monthOf(on), Subject: subject, Key: uint8(key),
			Relocation: slices.Index(kinds, text)})
		return nil
	}); err != nil {
		return fmt.Errorf("release relocations: %w", err)
	}
	var statuses []string
	rows, err = tx.Query(ctx, `SELECT f.identified_on, f.subject_id, s.cell_key,
			coalesce((SELECT array_agg(a.status) FROM yp_factor_actions a WHERE a.factor_id = f.id), '{}')
		FROM yp_factors f JOIN subjects s ON s.id = f.subject_id
		WHERE f.withdrawn_at IS NULL AND f.identified_on >= $1 AND f.identified_on < $2`, from, to)
	if err != nil {
		return fmt.Errorf("release factors: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&on, &subject, &key, &statuses}, func() error {
		in.Facts = append(in.Facts, tiles.RecordFact{Kind: tiles.FactFactor, Month: monthOf(on), Subject: subject, Key: uint8(key),
			Addressed: contexts.FactorAddressed(statuses)})
		return nil
	}); err != nil {
		return fmt.Errorf("release factors: %w", err)
	}
	return nil
}

func (t *releaseTx) WriteMeasures(ctx context.Context, release int64, values []tiles.MeasureValue) error {
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"release_measures"},
		[]string{"release_id", "measure", "first_month", "last_month", "value"},
		pgx.CopyFromSlice(len(values), func(i int) ([]any, error) {
			v := values[i]
			var value *int32
			if v.Total.Published {
				n := int32(v.Total.Value)
				value = &n
			}
			return []any{release, v.Measure, v.First.Start(), v.Last.Start(), value}, nil
		}))
	if err != nil {
		return fmt.Errorf("write release measures: %w", err)
	}
	return nil
}

// Measures returns a release's record measures; none for a release made
// before they existed.
func (r *Releases) Measures(ctx context.Context, release int64) ([]tiles.MeasureValue, error) {
	rows, err := r.pool.Query(ctx, `SELECT measure, first_month, last_month, value FROM release_measures
		WHERE release_id = $1 ORDER BY measure, first_month, last_month`, release)
	if err != nil {
		return nil, fmt.Errorf("release measures: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tiles.MeasureValue, error) {
		var v tiles.MeasureValue
		var first, last time.Time
		var value *int
		err := row.Scan(&v.Measure, &first, &last, &value)
		v.First, v.Last, v.Total = tiles.MonthOf(first), tiles.MonthOf(last), totalOf(value)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("release measures: %w", err)
	}
	return out, nil
}
