-- Releases (PRIVACY.md rule 12): immutable snapshots of every published value.
-- The map, cells, trends and exports read the newest release only, so a write
-- never changes what anyone sees until the next release is made.

-- +goose Up
CREATE TABLE releases (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The records as they stood at this instant (the transaction's snapshot).
    data_time       timestamptz NOT NULL,
    first_month     date NOT NULL CHECK (extract(day FROM first_month) = 1),
    last_month      date NOT NULL CHECK (extract(day FROM last_month) = 1 AND last_month >= first_month),
    k               integer NOT NULL CHECK (k >= 5),
    how             text NOT NULL CHECK (how IN ('first_start', 'scheduled', 'admin', 'operator', 'forced')),
    made_by         bigint REFERENCES users(id),
    made_by_name    text,
    sets            integer NOT NULL,
    published_cells bigint NOT NULL,
    -- Values that differ from the previous release over the sets both have;
    -- NULL for the first release.
    changed_cells   bigint,
    duration_ms     integer NOT NULL,
    made_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per published set: a layer, a filter ('' for all categories, a
-- category code or 'extra_familial') and a whole-month range. cells holds the
-- published cells and values only (tiles.EncodeSet), never a true count.
CREATE TABLE release_sets (
    release_id  bigint NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
    layer       text NOT NULL CHECK (layer IN ('harm', 'unsafe')),
    category    text NOT NULL,
    first_month date NOT NULL,
    last_month  date NOT NULL,
    cell_count  integer NOT NULL,
    cells       bytea NOT NULL,
    PRIMARY KEY (release_id, layer, category, first_month, last_month)
);

-- Releases are immutable: only whole releases are deleted (the oldest, when
-- more than the configured number are kept).
-- +goose StatementBegin
CREATE FUNCTION releases_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is immutable: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases
    FOR EACH ROW EXECUTE FUNCTION releases_immutable();
CREATE TRIGGER release_sets_no_update BEFORE UPDATE ON release_sets
    FOR EACH ROW EXECUTE FUNCTION releases_immutable();

-- Published values no longer follow writes, so nothing needs telling that
-- harm locations changed: the release is the one signal servers watch.
DROP TRIGGER harm_locations_heat_changed ON harm_locations;
DROP FUNCTION harm_locations_notify_heat();

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION harm_locations_notify_heat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ctxmap_heat', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER harm_locations_heat_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON harm_locations
    FOR EACH STATEMENT EXECUTE FUNCTION harm_locations_notify_heat();
DROP TABLE release_sets;
DROP TABLE releases;
DROP FUNCTION releases_immutable();
