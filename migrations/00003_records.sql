-- Records: the harm taxonomy, pseudonymous young people, locations of harm on
-- their records, and Level 2 context records (places, groups, schools) with
-- their assessments, interventions, closures, links, chronology and the
-- notifications linked practitioners receive.

-- +goose Up

-- The harm taxonomy is configurable per deployment and versioned: every
-- change adds a version, categories are retired rather than deleted, and a
-- record keeps the version it was made under, so old records stay readable.
CREATE TABLE taxonomy_versions (
    version    integer PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by bigint REFERENCES users(id),
    note       text NOT NULL CHECK (length(note) BETWEEN 1 AND 1000)
);

CREATE TABLE harm_categories (
    code            text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    label           text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    census_code     text CHECK (census_code ~ '^[0-9]{1,2}[A-Z]$'),
    extra_familial  boolean NOT NULL,
    sort_order      integer NOT NULL DEFAULT 0,
    added_version   integer NOT NULL REFERENCES taxonomy_versions(version),
    retired_version integer REFERENCES taxonomy_versions(version)
);

INSERT INTO taxonomy_versions (version, note) VALUES
    (1, 'Default: DfE Children in Need census assessment factors plus local extra-familial harm categories');

INSERT INTO harm_categories (code, label, census_code, extra_familial, sort_order, added_version) VALUES
    ('missing',                       'Going missing',                          '10A', false,  10, 1),
    ('cse',                           'Child sexual exploitation',              '11A', true,   20, 1),
    ('trafficking',                   'Trafficking',                            '12A', true,   30, 1),
    ('gangs',                         'Gangs',                                  '13A', true,   40, 1),
    ('physical_abuse_child_on_child', 'Physical abuse (child on child)',         '18B', true,   50, 1),
    ('sexual_abuse_child_on_child',   'Sexual abuse (child on child)',          '19B', true,   60, 1),
    ('cce',                           'Child criminal exploitation',            '24A', true,   70, 1),
    ('county_lines',                  'County lines',                           NULL,  true,   80, 1),
    ('serious_youth_violence',        'Serious youth violence',                 NULL,  true,   90, 1),
    ('teenage_relationship_abuse',    'Teenage relationship abuse',             NULL,  true,  100, 1),
    ('online_harm',                   'Online harm',                            NULL,  true,  110, 1),
    ('radicalisation',                'Radicalisation',                         NULL,  true,  120, 1),
    ('modern_slavery',                'Modern slavery',                         NULL,  true,  130, 1);

-- A young person is only a keyed hash (HMAC-SHA256 with the deployment
-- secret) of the case management system's person id, plus the secret cell
-- key (0..255) the disclosure-control perturbation adds up per H3 cell.
CREATE TABLE subjects (
    id         bigserial PRIMARY KEY,
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    cell_key   smallint NOT NULL CHECK (cell_key BETWEEN 0 AND 255),
    demo       boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Context records. geom is derived from lat/lon so every writer (including
-- COPY) gets a consistent point; the GiST index on its geography serves the
-- "near a postcode" search in metres, the one on geometry the map tiles.
CREATE TABLE contexts (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('location', 'group', 'school')),
    location_type text,
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    postcode      text,
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 300),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    review_date   date,
    lat           double precision,
    lon           double precision,
    geom          geometry(Point, 4326) GENERATED ALWAYS AS (
                      CASE WHEN lat IS NULL OR lon IS NULL THEN NULL
                           ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326) END) STORED,
    match         text CHECK (match IN ('unit', 'terminated', 'sector', 'district', 'latlon')),
    -- One record per place (type + postcode), school or group name, open or
    -- closed, so a place that comes back is reopened with its chronology.
    dedupe_key    text UNIQUE,
    team_id       bigint NOT NULL REFERENCES teams(id),
    created_by    bigint NOT NULL REFERENCES users(id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    demo          boolean NOT NULL DEFAULT false,
    CHECK ((lat IS NULL) = (lon IS NULL)),
    CHECK (kind <> 'location' OR (location_type IS NOT NULL AND lat IS NOT NULL))
);
CREATE INDEX contexts_geog ON contexts USING gist ((geom::geography));
CREATE INDEX contexts_geom ON contexts USING gist (geom);

-- The chronology: every change to a context, in order, with who and when.
CREATE TABLE context_events (
    id         bigserial PRIMARY KEY,
    context_id bigint NOT NULL REFERENCES contexts(id),
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    event      text NOT NULL,
    actor_id   bigint REFERENCES users(id),
    actor_name text,
    team_id    bigint REFERENCES teams(id),
    summary    text NOT NULL,
    detail     jsonb
);
CREATE INDEX context_events_context ON context_events (context_id, id);

CREATE TABLE context_assessments (
    id         bigserial PRIMARY KEY,
    context_id bigint NOT NULL REFERENCES contexts(id),
    side       text NOT NULL CHECK (side IN ('needs', 'guardianship', 'environment')),
    note       text NOT NULL CHECK (length(note) BETWEEN 1 AND 4000),
    created_by bigint NOT NULL REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX context_assessments_context ON context_assessments (context_id, id);

CREATE TABLE context_interventions (
    id             bigserial PRIMARY KEY,
    context_id     bigint NOT NULL REFERENCES contexts(id),
    action         text NOT NULL CHECK (length(action) BETWEEN 1 AND 1000),
    partner_agency text NOT NULL,
    side           text NOT NULL CHECK (side IN ('needs', 'guardianship', 'environment')),
    status         text NOT NULL CHECK (status IN ('planned', 'in_progress', 'done', 'dropped')),
    due_date       date,
    done_date      date,
    created_by     bigint NOT NULL REFERENCES users(id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     bigint NOT NULL REFERENCES users(id),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX context_interventions_context ON context_interventions (context_id, id);

-- A closure holds the evidence, under each side of the triangle, that safety
-- increased; reopening fills in the reopen columns of the latest closure.
CREATE TABLE context_closures (
    id                    bigserial PRIMARY KEY,
    context_id            bigint NOT NULL REFERENCES contexts(id),
    reason                text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    evidence_needs        text NOT NULL CHECK (length(evidence_needs) BETWEEN 1 AND 4000),
    evidence_guardianship text NOT NULL CHECK (length(evidence_guardianship) BETWEEN 1 AND 4000),
    evidence_environment  text NOT NULL CHECK (length(evidence_environment) BETWEEN 1 AND 4000),
    closed_by             bigint NOT NULL REFERENCES users(id),
    closed_at             timestamptz NOT NULL DEFAULT now(),
    reopened_by           bigint REFERENCES users(id),
    reopened_at           timestamptz,
    reopen_reason         text CHECK (length(reopen_reason) BETWEEN 1 AND 1000)
);
CREATE INDEX context_closures_context ON context_closures (context_id, id);

-- A practitioner's young person linked to a context. The link belongs to
-- the practitioner's team; others only ever see counts and team names.
CREATE TABLE context_links (
    id            bigserial PRIMARY KEY,
    context_id    bigint NOT NULL REFERENCES contexts(id),
    subject_id    bigint NOT NULL REFERENCES subjects(id),
    team_id       bigint NOT NULL REFERENCES teams(id),
    linked_by     bigint NOT NULL REFERENCES users(id),
    linked_at     timestamptz NOT NULL DEFAULT now(),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    unlinked_by   bigint REFERENCES users(id),
    unlinked_at   timestamptz,
    unlink_reason text CHECK (length(unlink_reason) BETWEEN 1 AND 1000)
);
CREATE UNIQUE INDEX context_links_active ON context_links (context_id, subject_id, team_id) WHERE unlinked_at IS NULL;
CREATE INDEX context_links_subject ON context_links (subject_id);

CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users(id),
    context_id bigint NOT NULL REFERENCES contexts(id),
    event_id   bigint NOT NULL REFERENCES context_events(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, id DESC);

-- Locations of harm on a young person's record. The row is owned by the
-- creating practitioner's team. H3 cells are computed in Go (there is no h3
-- extension); a record geocoded only to a postcode sector has no res-8 cell
-- and one geocoded to a district only a res-6 cell, so coarse records never
-- land in fine cells. cell is the finest cell the geocode supports.
--
-- Built for bulk imports of a million rows in seconds:
-- * No spatial index on geom: no query may select individual harm points by
--   area (analysts only ever get H3 aggregates), and a GiST index would
--   triple the cost of an import.
-- * No foreign keys: PostgreSQL checks them row by row, which made a COPY
--   three times slower (5.0 s instead of 1.6 s per 100,000 rows here). The
--   only writer is contexts.Store, which takes team and user from the
--   authenticated actor and upserts the subject (and checks any context) in
--   the same transaction; teams, users, subjects and contexts are never
--   deleted (users are disabled), so nothing can be orphaned.
CREATE TABLE harm_locations (
    id                 bigserial PRIMARY KEY,
    subject_id         bigint NOT NULL,
    -- The subject's cell key, copied here (it never changes) so the heat
    -- query is one index-only scan with no join.
    subject_key        smallint NOT NULL CHECK (subject_key BETWEEN 0 AND 255),
    team_id            bigint NOT NULL,
    created_by         bigint NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    layer              text NOT NULL CHECK (layer IN ('harm', 'unsafe')),
    categories         text[] NOT NULL CHECK (cardinality(categories) BETWEEN 1 AND 20),
    familial           text NOT NULL CHECK (familial IN ('extra', 'intra', 'both', 'unknown')),
    occurred_on        date NOT NULL,
    occurred_precision text NOT NULL CHECK (occurred_precision IN ('day', 'month')),
    source             text NOT NULL CHECK (source IN ('referral', 'assessment', 'safety_map', 'partner_information', 'other')),
    location_type      text NOT NULL,
    postcode           text,
    match              text NOT NULL CHECK (match IN ('unit', 'terminated', 'sector', 'district', 'latlon')),
    precision_m        integer NOT NULL,
    lat                double precision NOT NULL,
    lon                double precision NOT NULL,
    geom               geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    h3_r6              bigint NOT NULL,
    h3_r7              bigint,
    h3_r8              bigint,
    cell               bigint GENERATED ALWAYS AS (coalesce(h3_r8, h3_r7, h3_r6)) STORED,
    context_id         bigint,
    taxonomy_version   integer NOT NULL,
    demo               boolean NOT NULL DEFAULT false,
    archived_at        timestamptz,
    archived_by        bigint,
    archive_reason     text CHECK (archive_reason IN ('no_longer_an_issue', 'never_an_issue')),
    archive_note       text CHECK (length(archive_note) <= 4000),
    CHECK ((archived_at IS NULL) = (archive_reason IS NULL)),
    CHECK (h3_r7 IS NOT NULL OR h3_r8 IS NULL)
);
-- The heat source: every heat query is one layer over a range of months,
-- optionally one category, over active records only. The covering partial
-- index answers it with an index-only scan, without touching the table.
CREATE INDEX harm_locations_heat ON harm_locations (layer, occurred_on)
    INCLUDE (subject_id, subject_key, cell, categories) WHERE archived_at IS NULL;
-- A practitioner's view of one young person (the team is filtered on the
-- few rows found). Subject alone keeps the index small; a btree rather
-- than a hash index because a bulk import rebuilds it, and building it took
-- 0.5 s of database CPU for a million rows against 3.0 s for a hash index.
CREATE INDEX harm_locations_subject ON harm_locations (subject_id);
CREATE INDEX harm_locations_context ON harm_locations (context_id) WHERE context_id IS NOT NULL;

-- Tell every server process that heat aggregates changed, once per
-- statement (a million-row COPY is one notification), so tile caches can be
-- dropped. The payload is empty: listeners re-read, nothing leaks.
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

-- Demo data is synthetic and labelled; one row records that it was seeded,
-- so seeding is idempotent.
CREATE TABLE demo_seeds (
    id         bigserial PRIMARY KEY,
    seeded_at  timestamptz NOT NULL DEFAULT now(),
    seed       bigint NOT NULL,
    center_lat double precision NOT NULL,
    center_lon double precision NOT NULL
);

-- +goose Down
DROP TABLE demo_seeds;
DROP TABLE harm_locations;
DROP FUNCTION harm_locations_notify_heat();
DROP TABLE notifications;
DROP TABLE context_links;
DROP TABLE context_closures;
DROP TABLE context_interventions;
DROP TABLE context_assessments;
DROP TABLE context_events;
DROP TABLE contexts;
DROP TABLE subjects;
DROP TABLE harm_categories;
DROP TABLE taxonomy_versions;
