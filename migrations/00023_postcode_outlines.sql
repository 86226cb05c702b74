-- Postcode district and sector outlines (issue 14: a map with a sense of
-- place). Derived from the imported postcode directory, never imported:
-- geo/postcodes.BuildOutlines draws a district as the concave hull of its
-- live postcode points (buffered 100 m) and a sector as the union of the
-- Voronoi cells of its points inside that hull. They are approximations of
-- Royal Mail's areas, drawn for orientation only; nothing geocodes by them.
--
-- The table is rebuilt wholesale after each postcode import and tagged with
-- that import, so a server can tell stale outlines from current ones and
-- rebuild them on demand. Like the directory's own tables nothing may hold a
-- foreign key to it. It holds nothing about children: no disclosure control
-- applies (docs/PRIVACY.md).

-- +goose Up
CREATE TABLE postcode_outlines (
    level     text COLLATE "C" NOT NULL CHECK (level IN ('district', 'sector')),
    code      text COLLATE "C" NOT NULL,
    -- postcode_imports.id of the directory the outline was drawn from.
    import_id bigint NOT NULL,
    postcodes integer NOT NULL,
    -- Web Mercator, as the map's tiles are cut (ST_AsMVTGeom wants it).
    geom      geometry(MultiPolygon, 3857) NOT NULL,
    -- Where the label goes: the centre of the largest circle inside.
    label     geometry(Point, 3857) NOT NULL,
    PRIMARY KEY (level, code)
);
CREATE INDEX postcode_outlines_geom ON postcode_outlines USING gist (geom);

-- +goose Down
DROP TABLE postcode_outlines;
