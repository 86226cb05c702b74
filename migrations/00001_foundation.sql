-- Foundation: who may use ctxmap, how they authenticate, and the append-only
-- audit trail every later table's changes are written to.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE teams (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (role IN ('practitioner', 'context_lead', 'analyst', 'admin')),
    team_id       bigint NOT NULL REFERENCES teams(id),
    password_hash text,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Tokens are 256-bit random values; only their SHA-256 is stored, so a
-- database leak does not hand out working credentials.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users(id),
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE sessions (
    id_hash    bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users(id),
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- The audit log is append-only: the database itself refuses UPDATE, DELETE
-- and TRUNCATE, so not even a bug or a compromised service account can
-- rewrite who saw what.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id    bigint,
    user_name  text,
    action     text NOT NULL,
    record     text,
    reason     text,
    detail     jsonb,
    request_id text
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user_at ON audit_log (user_id, at);
CREATE INDEX audit_log_record_at ON audit_log (record, at);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The partnership's own area, drawn under the heat layer so the map needs no
-- external basemap. One row per imported boundary file.
CREATE TABLE boundaries (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    geojson     jsonb NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE boundaries;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE sessions;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE teams;
