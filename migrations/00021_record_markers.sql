-- A young person's contextual record beyond harm locations (issue 13; the
-- briefing's recommendations 1-3): extra-familial referral and outcome
-- markers, relocations in response to extra-familial harm, and the
-- contextual factors an assessment found with the plan actions that address
-- them. Every row belongs to the team that wrote it (team scope, as harm
-- locations) and names the pseudonymous subject only by subjects.id. The
-- partnership's rates of these are published only from releases
-- (release_measures), never counted live.

-- +goose Up
-- A marker is one entry: a referral or an outcome, marked extra, intra,
-- both or none, on a date. A correction never edits an entry: it closes the
-- old one (corrected_at, by, reason) and writes the new one pointing back at
-- it (corrects), so the history stays readable and only current entries
-- count.
CREATE TABLE yp_markers (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id        bigint NOT NULL REFERENCES subjects(id),
    team_id           bigint NOT NULL REFERENCES teams(id),
    created_by        bigint NOT NULL REFERENCES users(id),
    kind              text NOT NULL CHECK (kind IN ('referral', 'outcome')),
    familial          text NOT NULL CHECK (familial IN ('extra', 'intra', 'both', 'none')),
    marked_on         date NOT NULL,
    note              text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    corrects          bigint REFERENCES yp_markers(id),
    corrected_at      timestamptz,
    corrected_by      bigint REFERENCES users(id),
    correction_reason text,
    CHECK ((corrected_at IS NULL) = (corrected_by IS NULL) AND (corrected_at IS NULL) = (correction_reason IS NULL))
);
CREATE INDEX yp_markers_subject ON yp_markers (subject_id, team_id);
CREATE INDEX yp_markers_current ON yp_markers (marked_on) WHERE corrected_at IS NULL;
CREATE UNIQUE INDEX yp_markers_one_correction ON yp_markers (corrects) WHERE corrects IS NOT NULL;

-- A relocation of the young person in response to extra-familial harm. A
-- relocation or a factor entered in error is withdrawn with a reason, never
-- deleted: it stays readable by its team and leaves the next release.
CREATE TABLE yp_relocations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id   bigint NOT NULL REFERENCES subjects(id),
    team_id      bigint NOT NULL REFERENCES teams(id),
    created_by   bigint NOT NULL REFERENCES users(id),
    relocated_on date NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('out_of_area', 'within_area', 'secure')),
    note         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Withdrawn: entered in error; kept for the history, out of every rate.
    withdrawn_at    timestamptz,
    withdrawn_by    bigint REFERENCES users(id),
    withdraw_reason text,
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL) AND (withdrawn_at IS NULL) = (withdraw_reason IS NULL))
);
CREATE INDEX yp_relocations_subject ON yp_relocations (subject_id, team_id);
CREATE INDEX yp_relocations_on ON yp_relocations (relocated_on);

-- A contextual factor an assessment identified (Asset Plus's "external
-- controls"): a context record, or a location type in an area (a postcode
-- district or a ward of the imported boundary). When retention erases the
-- context, the factor keeps its description and says so (context_erased).
CREATE TABLE yp_factors (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id     bigint NOT NULL REFERENCES subjects(id),
    team_id        bigint NOT NULL REFERENCES teams(id),
    created_by     bigint NOT NULL REFERENCES users(id),
    identified_on  date NOT NULL,
    description    text NOT NULL,
    context_id     bigint REFERENCES contexts(id),
    context_erased boolean NOT NULL DEFAULT false,
    location_type  text,
    area_kind      text CHECK (area_kind IN ('postcode_district', 'ward')),
    area           text,
    area_name      text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    withdrawn_at    timestamptz,
    withdrawn_by    bigint REFERENCES users(id),
    withdraw_reason text,
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL) AND (withdrawn_at IS NULL) = (withdraw_reason IS NULL)),
    CHECK ((location_type IS NULL) = (area_kind IS NULL) AND (area_kind IS NULL) = (area IS NULL)),
    CHECK ((context_id IS NOT NULL OR context_erased) <> (location_type IS NOT NULL))
);
CREATE INDEX yp_factors_subject ON yp_factors (subject_id, team_id);
CREATE INDEX yp_factors_on ON yp_factors (identified_on);
CREATE INDEX yp_factors_context ON yp_factors (context_id) WHERE context_id IS NOT NULL;

-- A plan action addressing one factor: what, which partner agency, its
-- status and dates. A factor with no action that is not dropped is flagged.
CREATE TABLE yp_factor_actions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    factor_id      bigint NOT NULL REFERENCES yp_factors(id),
    action         text NOT NULL,
    partner_agency text NOT NULL,
    status         text NOT NULL CHECK (status IN ('planned', 'in_progress', 'done', 'dropped')),
    due_on         date,
    done_on        date,
    created_by     bigint NOT NULL REFERENCES users(id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     bigint NOT NULL REFERENCES users(id),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX yp_factor_actions_factor ON yp_factor_actions (factor_id);

-- The published values of the record measures (tiles.Measures) for every
-- month and quarter of a release: value NULL is absent (suppressed). A
-- release made before measures existed has no rows at all.
CREATE TABLE release_measures (
    release_id  bigint NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
    measure     text NOT NULL,
    first_month date NOT NULL,
    last_month  date NOT NULL,
    value       integer,
    PRIMARY KEY (release_id, measure, first_month, last_month)
);

-- +goose Down
DROP TABLE release_measures;
DROP TABLE yp_factor_actions;
DROP TABLE yp_factors;
DROP TABLE yp_relocations;
DROP TABLE yp_markers;
