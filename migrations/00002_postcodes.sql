-- The postcode directory: an imported copy of ONSPD/NSPL or Code-Point Open,
-- so harm locations are geocoded inside the council and never sent to a
-- third-party service.
--
-- geo/postcodes replaces these three tables wholesale on every import: it
-- fills *_next copies (COPY with no indexes, indexes built afterwards),
-- then drops and renames in one transaction, so a failed or killed import
-- leaves the previous directory serving. Consequently nothing may hold a
-- foreign key or a view on them: store the postcode text (and the point you
-- geocoded) instead.

-- +goose Up
CREATE TABLE postcodes (
    -- Normalised form, "E8 3AA". C collation: byte order is the natural
    -- order of postcodes and makes the primary-key build several times faster
    -- than a linguistic collation.
    postcode    text COLLATE "C" NOT NULL CHECK (length(postcode) BETWEEN 5 AND 8),
    -- WGS84 point; NULL when the directory has no grid reference for the
    -- postcode (ONSPD writes lat 99.999999, Code-Point quality 90).
    geom        geometry(Point, 4326),
    -- Positional quality on Code-Point Open's scale: 10 within the building
    -- of a matched address ... 60 sector mean, 90 none. ONSPD's osgrdind x 10.
    pos_quality smallint,
    -- First day of the month the postcode was introduced / terminated
    -- (ONSPD dointr / doterm); terminated is NULL while the postcode is live.
    introduced  date,
    terminated  date,
    -- GSS codes as the directory had them; NULL where absent or a pseudo-code.
    country     text,
    region      text,
    county      text,
    lad         text,  -- local authority district
    ward        text,
    lsoa21      text,
    msoa21      text,
    pfa         text,  -- police force area
    source      text NOT NULL CHECK (source IN ('onspd', 'codepoint'))
);
ALTER TABLE postcodes ADD CONSTRAINT postcodes_pkey PRIMARY KEY (postcode);
-- Nearest-postcode search only wants live, located units; the partial index
-- is also smaller and quicker to build than one over every row.
CREATE INDEX postcodes_geom ON postcodes USING gist (geom)
    WHERE terminated IS NULL AND geom IS NOT NULL;

-- Mean position of each sector's ("E8 3") units, for partial postcodes and
-- unknown units. radius_m is the root-mean-square distance of the units from
-- that point: roughly two thirds of them lie within it.
CREATE TABLE postcode_sectors (
    sector    text COLLATE "C" PRIMARY KEY,
    geom      geometry(Point, 4326) NOT NULL,
    postcodes integer NOT NULL,
    radius_m  integer NOT NULL
);

-- The same per outcode ("E8", "SW1A") and per district where that differs
-- ("SW1" covers SW1A ... SW1Y).
CREATE TABLE postcode_districts (
    district  text COLLATE "C" PRIMARY KEY,
    geom      geometry(Point, 4326) NOT NULL,
    postcodes integer NOT NULL,
    radius_m  integer NOT NULL
);

-- One row per completed import: which release is serving, for readiness
-- checks, attribution and support questions.
CREATE TABLE postcode_imports (
    id          bigserial PRIMARY KEY,
    format      text NOT NULL,
    sources     text[] NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    rows_loaded bigint NOT NULL,
    summary     jsonb NOT NULL
);

-- +goose Down
DROP TABLE postcode_imports;
DROP TABLE postcode_districts;
DROP TABLE postcode_sectors;
DROP TABLE postcodes;
