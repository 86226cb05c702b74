-- The admin's and the data protection officer's screens (issue 13): searching
-- the audit log by action, young person and purpose of a read, and the
-- retention policy's runs. The audit log itself gains only indexes: purposes
-- live in its detail (detail->>'purpose', with the words in reason), so no
-- column of the append-only log is ever added or dropped by a migration.

-- +goose Up
-- The search's filters and the skip scan that lists the distinct actions.
CREATE INDEX audit_log_action_at ON audit_log (action, at);
CREATE INDEX audit_log_subject_at ON audit_log ((detail->>'subject'), at) WHERE detail ? 'subject';
CREATE INDEX audit_log_purpose_at ON audit_log ((detail->>'purpose'), at) WHERE detail ? 'purpose';

-- One row per retention run (contexts/postgres/retention.go): started before
-- the first erasure and finished after the last, so an unfinished row is a run
-- that crashed; the schedule is due when no run finished in the last day.
-- Every erasure itself is in the audit log (retention.erase), never here.
CREATE TABLE retention_runs (
    id                   bigserial PRIMARY KEY,
    how                  text NOT NULL CHECK (how IN ('scheduled', 'operator')),
    dry_run              boolean NOT NULL,
    young_person_years   integer NOT NULL CHECK (young_person_years >= 0),
    closed_context_years integer NOT NULL CHECK (closed_context_years >= 0),
    started_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at          timestamptz,
    young_people         integer NOT NULL DEFAULT 0,
    contexts             integer NOT NULL DEFAULT 0,
    failed               integer NOT NULL DEFAULT 0,
    error                text
);
CREATE INDEX retention_runs_finished ON retention_runs (finished_at) WHERE NOT dry_run;

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ctxmap_app') THEN
        GRANT SELECT, INSERT, UPDATE ON retention_runs TO ctxmap_app;
        GRANT USAGE, SELECT ON SEQUENCE retention_runs_id_seq TO ctxmap_app;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE retention_runs;
DROP INDEX audit_log_purpose_at;
DROP INDEX audit_log_subject_at;
DROP INDEX audit_log_action_at;
