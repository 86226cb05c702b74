package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// AddCategory adds a harm category as a new taxonomy version. Councils
// differ (some split sexual and criminal exploitation, some have a
// catch-all), so the list is theirs to extend; codes are permanent.
func (s *Store) AddCategory(ctx context.Context, a *contexts.Actor, in contexts.CategoryInput) (*contexts.Taxonomy, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Taxonomy, error) { return s.addCategory(ctx, a, in) })
}

func (s *Store) addCategory(ctx context.Context, a *contexts.Actor, in contexts.CategoryInput) (*contexts.Taxonomy, error) {
	if err := contexts.Require(a, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return nil, err
	}
	code, label, census := in.Code, in.Label, in.CensusCode
	// A label is shown to every user on every map legend: it must not carry
	// a child's number, date of birth, phone or email either.
	if err := s.screen(ctx, s.db, a, "category:"+code, contexts.TextField{Name: "label", Text: label}); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		v, err := newTaxonomyVersion(ctx, tx, a, "added category "+code)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO harm_categories (code, label, census_code, extra_familial, sort_order, added_version)
			VALUES ($1, $2, NULLIF($3, ''), $4, (SELECT coalesce(max(sort_order), 0) + 10 FROM harm_categories), $5)`,
			code, label, census, in.ExtraFamilial, v)
		if isUniqueViolation(err, "") {
			return ctxmap.Errorf(ctxmap.KindConflict, "category_exists", "category %q already exists (codes are never reused)", code)
		}
		if err != nil {
			return fmt.Errorf("add category: %w", err)
		}
		return audit(ctx, tx, a, "taxonomy.add_category", "harm-category:"+code, "", map[string]any{"version": v})
	})
	if err != nil {
		return nil, err
	}
	return s.Taxonomy(ctx)
}

// RetireCategory stops a category being used for new records, as a new
// taxonomy version. Records that have it keep it and still show its label.
func (s *Store) RetireCategory(ctx context.Context, a *contexts.Actor, code string) (*contexts.Taxonomy, error) {
	if err := contexts.Require(a, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var retired *int
		err := tx.QueryRow(ctx, `SELECT retired_version FROM harm_categories WHERE code = $1 FOR UPDATE`, code).Scan(&retired)
		if errors.Is(err, pgx.ErrNoRows) {
			return ctxmap.Errorf(ctxmap.KindNotFound, "not_found", "no harm category %q", contexts.Trunc(code, 40))
		}
		if err != nil {
			return fmt.Errorf("retire category: %w", err)
		}
		if retired != nil {
			return ctxmap.Errorf(ctxmap.KindConflict, "already_retired", "category %q was retired in version %d", code, *retired)
		}
		v, err := newTaxonomyVersion(ctx, tx, a, "retired category "+code)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE harm_categories SET retired_version = $2 WHERE code = $1`, code, v); err != nil {
			return fmt.Errorf("retire category: %w", err)
		}
		return audit(ctx, tx, a, "taxonomy.retire_category", "harm-category:"+code, "", map[string]any{"version": v})
	})
	if err != nil {
		return nil, err
	}
	return s.Taxonomy(ctx)
}

// taxonomyLock is the advisory transaction lock key
// (pg_advisory_xact_lock) that makes taxonomy changes one at a time. A row
// lock on the newest version cannot: the second change waits on that row,
// then reads the same version number again and clashes on the primary key.
const taxonomyLock int64 = 0x63_74_78_74_61_78_6f_6e // "ctxtaxon"

// newTaxonomyVersion adds the next version. It first takes taxonomyLock,
// held until tx ends, so concurrent changes each get their own version and
// the read of the newest one sees every change committed before it.
func newTaxonomyVersion(ctx context.Context, tx pgx.Tx, a *contexts.Actor, note string) (int, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, taxonomyLock); err != nil {
		return 0, fmt.Errorf("taxonomy lock: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT max(version) FROM taxonomy_versions`).Scan(&v); err != nil {
		return 0, fmt.Errorf("taxonomy version: %w", err)
	}
	v++
	if _, err := tx.Exec(ctx, `INSERT INTO taxonomy_versions (version, created_by, note) VALUES ($1, $2, $3)`, v, a.UserID, note); err != nil {
		return 0, fmt.Errorf("taxonomy version: %w", err)
	}
	return v, nil
}
