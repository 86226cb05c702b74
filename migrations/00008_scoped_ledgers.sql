-- Screening and the daily cap answered from ledgers scoped to the writer
-- (insider review, 2026-12-02). Before this, free-text screening looked ids up
-- in the global subjects table and a write upserted its subject before the cap
-- could refuse it, so the time of a refused request (a 429 over the cap, a
-- screened link reason) depended on whether anyone had the id on record.
-- Now the cap reads user_subjects by (user, hash) before the subject is
-- touched, and screening reads team_subjects by (team, hash) or user_subjects
-- by (user, hash): tables that hold only what the writer's team or the writer
-- recorded, so no answer and no timing depends on another team's records.

-- +goose Up
ALTER TABLE user_subjects ADD COLUMN hash bytea;
UPDATE user_subjects us SET hash = s.hash FROM subjects s WHERE s.id = us.subject_id;
ALTER TABLE user_subjects ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX user_subjects_hash ON user_subjects (user_id, hash);

-- Every young person a team has recorded or linked, ever (archived and
-- unlinked ones too: screening stays as strict as before). Kept by
-- statement-level triggers, so the bulk import and the demo seed need no
-- code of their own and a million-row import adds one INSERT ... SELECT.
CREATE TABLE team_subjects (
    team_id  bigint NOT NULL REFERENCES teams(id),
    hash     bytea NOT NULL,
    PRIMARY KEY (team_id, hash)
);
INSERT INTO team_subjects (team_id, hash)
SELECT DISTINCT x.team_id, s.hash
FROM (SELECT team_id, subject_id FROM harm_locations UNION SELECT team_id, subject_id FROM context_links) x
JOIN subjects s ON s.id = x.subject_id;

-- +goose StatementBegin
CREATE FUNCTION team_subjects_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team_subjects (team_id, hash)
    SELECT DISTINCT n.team_id, s.hash FROM new_rows n JOIN subjects s ON s.id = n.subject_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER harm_locations_team_subjects AFTER INSERT ON harm_locations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION team_subjects_add();
CREATE TRIGGER context_links_team_subjects AFTER INSERT ON context_links
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION team_subjects_add();

-- Screening refusals in volume are an alert of their own.
ALTER TABLE admin_alerts DROP CONSTRAINT admin_alerts_kind_check;
ALTER TABLE admin_alerts ADD CONSTRAINT admin_alerts_kind_check
    CHECK (kind IN ('subject_burst', 'quick_archive', 'screening_refusals'));

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ctxmap_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON team_subjects TO ctxmap_app;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DELETE FROM admin_alerts WHERE kind = 'screening_refusals';
ALTER TABLE admin_alerts DROP CONSTRAINT admin_alerts_kind_check;
ALTER TABLE admin_alerts ADD CONSTRAINT admin_alerts_kind_check CHECK (kind IN ('subject_burst', 'quick_archive'));
DROP TRIGGER context_links_team_subjects ON context_links;
DROP TRIGGER harm_locations_team_subjects ON harm_locations;
DROP FUNCTION team_subjects_add();
DROP TABLE team_subjects;
DROP INDEX user_subjects_hash;
ALTER TABLE user_subjects DROP COLUMN hash;
