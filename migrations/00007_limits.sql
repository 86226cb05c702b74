-- Limits every replica shares (issue 11): recent failed sign-ins, counted per
-- name and per client address, and the first answers to creates sent with an
-- Idempotency-Key. Both are short-lived: rows older than their window or
-- expiry are deleted (contexts/postgres logins.go, idempotency.go).

-- +goose Up
-- One row per sign-in that checked a password and did not succeed. A row is
-- written before the password is checked, under advisory locks on the name and
-- the address, so concurrent attempts are counted one by one; a sign-in that
-- succeeds (or could not be checked) deletes its row again.
CREATE TABLE login_failures (
    id    bigserial PRIMARY KEY,
    name  text NOT NULL,
    addr  text NOT NULL,
    at    timestamptz NOT NULL
);
CREATE INDEX login_failures_name ON login_failures (name, at);
CREATE INDEX login_failures_addr ON login_failures (addr, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- One row per (user, route, key). status and body are null while the first
-- request runs (until locked_until, after which a retry may take it over) and
-- then hold its answer, replayed to retries until expires_at.
CREATE TABLE idempotency_keys (
    user_id       bigint NOT NULL REFERENCES users(id),
    route         text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    claim         text,
    locked_until  timestamptz NOT NULL,
    status        integer,
    body          bytea,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, route, key),
    CHECK ((status IS NULL) = (body IS NULL))
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ctxmap_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON login_failures, idempotency_keys TO ctxmap_app;
        GRANT USAGE, SELECT ON SEQUENCE login_failures_id_seq TO ctxmap_app;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE login_failures;
