-- Partnership totals (rates): each release set carries one more published
-- value, the distinct young people over the whole partnership for its layer,
-- filter and months, published under the same policy as a cell (tiles/rates.go).
-- NULL means absent: fewer than k, none, or held back by the parent rule.
-- Releases made before this migration carry no totals at all (totals false),
-- which is not the same as every total being absent.

-- +goose Up
ALTER TABLE release_sets ADD COLUMN total integer
    CHECK (total IS NULL OR (total >= 5 AND total % 5 = 0));
ALTER TABLE releases ADD COLUMN totals boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE releases DROP COLUMN totals;
ALTER TABLE release_sets DROP COLUMN total;
