-- The case management system's allocations feed (issue 15): which young
-- people (keyed hashes of the case system's person ids, PRIVACY.md rule 2)
-- are allocated to which team. With allocations required, a practitioner may
-- record for and link only young people allocated to their team. Each feed
-- replaces the whole set; allocation_feeds keeps when each was loaded.

-- +goose Up
CREATE TABLE allocations (
    subject_hash bytea  NOT NULL CHECK (length(subject_hash) = 32),
    team_id      bigint NOT NULL REFERENCES teams(id),
    PRIMARY KEY (subject_hash, team_id)
);

CREATE TABLE allocation_feeds (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loaded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    loaded_by    bigint REFERENCES users(id),
    rows         integer NOT NULL,
    young_people integer NOT NULL,
    teams        integer NOT NULL
);

-- +goose Down
DROP TABLE allocation_feeds;
DROP TABLE allocations;
