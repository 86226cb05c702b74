-- Harm types as entries of their own, corrections, and safety mapping
-- (issue 13, the briefing's first lesson).
--
-- harm_location_types: the harm types of one harm location, each with its own
-- start, status and history. A location whose types were never changed has
-- no rows here: its types are its categories, each active since the
-- location's occurred date (so a million-row import writes nothing more).
-- The first change (archiving one type, or correcting the categories)
-- writes one row per type, in the transaction of the change. Rows are never
-- deleted except by retention: an archived or corrected type stays, with
-- who, when and why, as the record's history.
--
-- harm_locations.categories stays the location's ACTIVE types, kept in step
-- by the store in the same transaction, so every release (and the covering
-- heat index) counts a location under its still-active types only, with no
-- join over a million rows.
--
-- Safety mapping: a red (unsafe), amber (sometimes unsafe) or green (safe,
-- with a trusted adult) place on a young person's record, with no harm
-- category and no familial context. It is a harm_locations row (so the
-- insider controls, the record's list, archiving and retention apply as to
-- any record) with safety set: green is the layer 'safe'; red and amber are
-- the layer 'unsafe' (perception, never incident). docs/PRIVACY.md says
-- which of them are published.

-- +goose Up
CREATE TABLE harm_location_types (
    id                bigserial PRIMARY KEY,
    harm_location_id  bigint NOT NULL REFERENCES harm_locations(id),
    category          text NOT NULL,
    started_on        date NOT NULL,
    started_precision text NOT NULL CHECK (started_precision IN ('day', 'month')),
    status            text NOT NULL CHECK (status IN ('active', 'archived', 'removed')),
    added_at          timestamptz NOT NULL,
    added_by          bigint NOT NULL REFERENCES users(id),
    -- Why a type is no longer active: an archive reason (no_longer_an_issue,
    -- never_an_issue) or 'corrected' (recorded in error and removed).
    ended_at          timestamptz,
    ended_by          bigint REFERENCES users(id),
    end_reason        text CHECK (end_reason IN ('no_longer_an_issue', 'never_an_issue', 'corrected')),
    end_note          text CHECK (length(end_note) BETWEEN 1 AND 4000),
    CHECK ((status = 'active') = (ended_at IS NULL)),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL) AND (ended_at IS NULL) = (ended_by IS NULL)),
    CHECK ((status = 'removed') = (end_reason IS NOT DISTINCT FROM 'corrected'))
);
-- One active entry per type and location; history entries are unlimited.
CREATE UNIQUE INDEX harm_location_types_active ON harm_location_types (harm_location_id, category) WHERE status = 'active';
CREATE INDEX harm_location_types_location ON harm_location_types (harm_location_id, id);

ALTER TABLE harm_locations
    ADD COLUMN safety text CHECK (safety IN ('red', 'amber', 'green')),
    ADD COLUMN trusted_adult text CHECK (trusted_adult ~ '^[a-z][a-z_]{1,39}$'),
    ALTER COLUMN familial DROP NOT NULL;
ALTER TABLE harm_locations DROP CONSTRAINT harm_locations_layer_check;
ALTER TABLE harm_locations DROP CONSTRAINT harm_locations_categories_check;
ALTER TABLE harm_locations
    ADD CONSTRAINT harm_locations_layer_check CHECK (layer IN ('harm', 'unsafe', 'safe')),
    -- A harm record has 1 to 20 categories; a safety-map place none.
    ADD CONSTRAINT harm_locations_categories_check CHECK (
        CASE WHEN safety IS NULL THEN cardinality(categories) BETWEEN 1 AND 20 ELSE cardinality(categories) = 0 END),
    ADD CONSTRAINT harm_locations_familial_check2 CHECK ((familial IS NULL) = (safety IS NOT NULL)),
    -- Green is the safe layer, red and amber perception (unsafe); the kind of
    -- trusted adult (never who) is given for green places only.
    ADD CONSTRAINT harm_locations_safety_layer CHECK (
        safety IS NULL OR (safety = 'green') = (layer = 'safe') AND (safety <> 'green') = (layer = 'unsafe')),
    ADD CONSTRAINT harm_locations_safe_only_green CHECK (layer <> 'safe' OR safety = 'green'),
    ADD CONSTRAINT harm_locations_trusted_adult CHECK ((trusted_adult IS NOT NULL) = (safety IS NOT DISTINCT FROM 'green'));

-- A release reads safety-map places (no category) in a second pass; this
-- small partial index keeps that pass from scanning every harm record.
CREATE INDEX harm_locations_uncategorised ON harm_locations (occurred_on)
    INCLUDE (layer, subject_id, subject_key, cell, safety) WHERE archived_at IS NULL AND cardinality(categories) = 0;

ALTER TABLE release_sets DROP CONSTRAINT release_sets_layer_check;
ALTER TABLE release_sets ADD CONSTRAINT release_sets_layer_check CHECK (layer IN ('harm', 'unsafe', 'safe'));

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ctxmap_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON harm_location_types TO ctxmap_app;
        GRANT USAGE, SELECT ON SEQUENCE harm_location_types_id_seq TO ctxmap_app;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX harm_locations_uncategorised;
DELETE FROM release_sets WHERE layer = 'safe';
ALTER TABLE release_sets DROP CONSTRAINT release_sets_layer_check;
ALTER TABLE release_sets ADD CONSTRAINT release_sets_layer_check CHECK (layer IN ('harm', 'unsafe'));
DELETE FROM harm_locations WHERE safety IS NOT NULL;
ALTER TABLE harm_locations
    DROP CONSTRAINT harm_locations_trusted_adult,
    DROP CONSTRAINT harm_locations_safe_only_green,
    DROP CONSTRAINT harm_locations_safety_layer,
    DROP CONSTRAINT harm_locations_familial_check2,
    DROP CONSTRAINT harm_locations_categories_check,
    DROP CONSTRAINT harm_locations_layer_check;
ALTER TABLE harm_locations
    ADD CONSTRAINT harm_locations_layer_check CHECK (layer IN ('harm', 'unsafe')),
    ADD CONSTRAINT harm_locations_categories_check CHECK (cardinality(categories) BETWEEN 1 AND 20),
    ALTER COLUMN familial SET NOT NULL,
    DROP COLUMN trusted_adult,
    DROP COLUMN safety;
DROP TABLE harm_location_types;
