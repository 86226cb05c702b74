-- Two roles (PRIVACY.md rule 11): whoever runs the migrations owns the schema;
-- the service runs as ctxmap_app, which may read and write the records but can
-- only insert into and read the audit log: it cannot update, delete or truncate
-- it, nor disable its triggers or drop it (only an owner may ALTER a table).
-- Roles belong to the whole cluster, so the role is made once and granted per
-- database; rolling back revokes this database's grants and keeps the role.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ctxmap_app') THEN
        CREATE ROLE ctxmap_app LOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO ctxmap_app', current_database());
END
$$;
-- +goose StatementEnd
GRANT USAGE ON SCHEMA public TO ctxmap_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ctxmap_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ctxmap_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM ctxmap_app;
-- Tables and sequences later migrations make get the same grants; a later
-- migration that adds an append-only table revokes as above.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ctxmap_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ctxmap_app;

-- +goose Down
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM ctxmap_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM ctxmap_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ctxmap_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ctxmap_app;
REVOKE USAGE ON SCHEMA public FROM ctxmap_app;
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM ctxmap_app', current_database());
END
$$;
-- +goose StatementEnd
