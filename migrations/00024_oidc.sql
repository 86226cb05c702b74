-- Single sign-on with OpenID Connect (issue 15). An account made by a first
-- sign-in is tied to the provider's (issuer, subject) pair, never to a name a
-- user could choose; its sessions keep the ID token so sign-out can end the
-- provider's session too (RP-initiated logout needs it as id_token_hint).
-- oidc_logins holds each sign-in between the redirect to the provider and
-- its callback: the PKCE verifier and the nonce stay on the server, keyed by
-- the hash of the state, so any replica can finish a sign-in another began
-- and each state works once.

-- +goose Up
ALTER TABLE users
    ADD COLUMN oidc_issuer  text CHECK (length(oidc_issuer) BETWEEN 1 AND 2000),
    ADD COLUMN oidc_subject text CHECK (length(oidc_subject) BETWEEN 1 AND 255),
    ADD CONSTRAINT users_oidc_pair CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL)),
    ADD CONSTRAINT users_oidc_identity UNIQUE (oidc_issuer, oidc_subject);

ALTER TABLE sessions ADD COLUMN id_token text;

CREATE TABLE oidc_logins (
    state_hash bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    nonce      text NOT NULL,
    verifier   text NOT NULL,
    return_to  text NOT NULL,
    -- The client's address, so one address cannot fill the table with
    -- sign-ins it never finishes (contexts.SSOPendingPerAddr).
    addr       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expires_at ON oidc_logins (expires_at);
CREATE INDEX oidc_logins_addr ON oidc_logins (addr, expires_at);

-- +goose Down
DROP TABLE oidc_logins;
ALTER TABLE sessions DROP COLUMN id_token;
ALTER TABLE users DROP CONSTRAINT users_oidc_identity, DROP CONSTRAINT users_oidc_pair,
    DROP COLUMN oidc_subject, DROP COLUMN oidc_issuer;
