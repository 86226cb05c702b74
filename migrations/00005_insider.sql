-- The insider in the threat model (PRIVACY.md rule 13): a per-user daily cap
-- on young people new to that user, and alerts to administrators about bursts
-- of new young people at one place and records archived soon after creation.

-- +goose Up
-- One row per (user, young person) the user has recorded, with when they
-- first did: the ledger the daily cap counts. "New" means new to this user,
-- never new to the database, so the cap cannot tell a user whether a named
-- child is already on record elsewhere.
CREATE TABLE user_subjects (
    user_id     bigint NOT NULL REFERENCES users(id),
    subject_id  bigint NOT NULL REFERENCES subjects(id),
    first_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, subject_id)
);
CREATE INDEX user_subjects_window ON user_subjects (user_id, first_at);

-- What users recorded before the cap existed (demo data excluded: it is
-- synthetic and must not count towards a demo user's day).
INSERT INTO user_subjects (user_id, subject_id, first_at)
SELECT x.user_id, x.subject_id, min(x.at)
FROM (
    SELECT h.created_by AS user_id, h.subject_id, h.created_at AS at
    FROM harm_locations h JOIN subjects s ON s.id = h.subject_id WHERE NOT s.demo
    UNION ALL
    SELECT l.linked_by, l.subject_id, l.linked_at
    FROM context_links l JOIN subjects s ON s.id = l.subject_id WHERE NOT s.demo
) x
GROUP BY x.user_id, x.subject_id;

-- Alerts for administrators: one row per (kind, user, place, day), however
-- many records caused it. place is "cell:<h3 index>" or "context:<id>";
-- detail holds counts and record ids only, never a subject or free text.
CREATE TABLE admin_alerts (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('subject_burst', 'quick_archive')),
    user_id     bigint NOT NULL REFERENCES users(id),
    place       text NOT NULL,
    day         date NOT NULL,
    count       integer NOT NULL CHECK (count > 0),
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    read_by     bigint REFERENCES users(id),
    UNIQUE (kind, user_id, place, day)
);
CREATE INDEX admin_alerts_newest ON admin_alerts (id DESC);

-- +goose Down
DROP TABLE admin_alerts;
DROP TABLE user_subjects;
