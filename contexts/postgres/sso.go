package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// Single sign-on's storage (issue 15, migration 00024): sign-ins in flight,
// accounts tied to the provider's (issuer, subject), and sessions that keep
// their ID token for the provider's sign-out. All of it is in PostgreSQL, so
// a sign-in begun on one replica finishes on any other.

// BeginSSO keeps a sign-in until its callback, by the hash of its state
// (the state itself is in the browser's cookie and the provider's redirect;
// a stolen table holds no usable one). Expired sign-ins are deleted on the
// way, so the table stays as small as the sign-ins of the last minutes; an
// address with contexts.SSOPendingPerAddr unfinished ones is refused
// (contexts.ErrSSOTooMany), counted under a lock on the address so
// concurrent requests cannot all pass the count.
func (u *Users) BeginSSO(ctx context.Context, l contexts.SSOLogin) error {
	return pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ctxmap.oidc.addr'), hashtext($1))`, l.Addr); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM oidc_logins WHERE expires_at < now()`); err != nil {
			return err
		}
		var pending int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM oidc_logins WHERE addr = $1 AND expires_at >= now()`, l.Addr).Scan(&pending); err != nil {
			return err
		}
		if pending >= contexts.SSOPendingPerAddr {
			return contexts.ErrSSOTooMany
		}
		_, err := tx.Exec(ctx, `INSERT INTO oidc_logins (state_hash, nonce, verifier, return_to, addr, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			hashSecret(l.State), l.Nonce, l.Verifier, l.ReturnTo, l.Addr, l.Expires)
		return err
	})
}

// TakeSSO returns the sign-in begun with state and deletes it in the same
// statement, so a state (and the code sent with it) completes at most one
// sign-in, even when two replicas receive the same callback at once. An
// unknown, used or expired state is contexts.ErrSSOState.
func (u *Users) TakeSSO(ctx context.Context, state string) (*contexts.SSOLogin, error) {
	l := contexts.SSOLogin{State: state}
	err := u.pool.QueryRow(ctx, `DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING nonce, verifier, return_to, expires_at`,
		hashSecret(state)).Scan(&l.Nonce, &l.Verifier, &l.ReturnTo, &l.Expires)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !l.Expires.After(u.now())) {
		return nil, contexts.ErrSSOState
	}
	if err != nil {
		return nil, fmt.Errorf("oidc sign-in: %w", err)
	}
	return &l, nil
}

// SSOActor signs in the person id names: the account tied to id's issuer
// and subject, made on the first sign-in (audited as user.add, via oidc).
// The provider decides role and team: a change since the last sign-in is
// applied and audited (user.sso_update, old and new), and the team is made
// when new, as ctxmap users add makes it. A disabled account stays disabled
// (403). A first sign-in whose name an account of another origin already
// has is refused (409): linking by a name the provider sends would let
// whoever can choose that name take over the account.
func (u *Users) SSOActor(ctx context.Context, id contexts.SSOIdentity) (*contexts.Actor, error) {
	var a *contexts.Actor
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		// One sign-in at a time per identity, so two first sign-ins in
		// parallel make one account.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ctxmap.oidc'), hashtext($1 || ' ' || $2))`, id.Issuer, id.Subject); err != nil {
			return err
		}
		var teamID int64
		if err := tx.QueryRow(ctx, `INSERT INTO teams (name) VALUES ($1)
			ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`, id.Team).Scan(&teamID); err != nil {
			return err
		}
		old, err := scanActor(tx.QueryRow(ctx, `SELECT `+actorColumns+`
			FROM users u JOIN teams t ON t.id = u.team_id WHERE u.oidc_issuer = $1 AND u.oidc_subject = $2 FOR UPDATE OF u`, id.Issuer, id.Subject))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			a, err = u.addSSOUser(ctx, tx, id, teamID)
			return err
		case err != nil:
			return err
		case old.Disabled:
			return ctxmap.Errorf(ctxmap.KindForbidden, "account_disabled", "your ctxmap account is disabled: ask a ctxmap administrator")
		}
		a = &contexts.Actor{UserID: old.UserID, Name: old.Name, Role: id.Role, TeamID: teamID, Team: id.Team}
		if old.Role != id.Role || old.TeamID != teamID {
			if _, err := tx.Exec(ctx, `UPDATE users SET role = $2, team_id = $3 WHERE id = $1`, old.UserID, string(id.Role), teamID); err != nil {
				return err
			}
			if err := audit(ctx, tx, a, "user.sso_update", fmt.Sprintf("user:%d", a.UserID), "", map[string]any{
				"old_role": old.Role, "old_team": old.Team, "role": id.Role, "team": id.Team}); err != nil {
				return err
			}
		}
		return audit(ctx, tx, a, "login", fmt.Sprintf("user:%d", a.UserID), "", map[string]any{"via": "oidc"})
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// addSSOUser makes the account of a first sign-in, with no password and no
// API token: it signs in through the provider only.
func (u *Users) addSSOUser(ctx context.Context, tx pgx.Tx, id contexts.SSOIdentity, teamID int64) (*contexts.Actor, error) {
	var taken bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)`, id.Name).Scan(&taken); err != nil {
		return nil, err
	}
	if taken {
		return nil, ctxmap.Errorf(ctxmap.KindConflict, "user_exists",
			"a ctxmap account called %q already exists and signs in another way: ask a ctxmap administrator to rename or disable it before you sign in with your organisation's account", id.Name)
	}
	a := &contexts.Actor{Name: id.Name, Role: id.Role, TeamID: teamID, Team: id.Team}
	if err := tx.QueryRow(ctx, `INSERT INTO users (name, role, team_id, oidc_issuer, oidc_subject) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		id.Name, string(id.Role), teamID, id.Issuer, id.Subject).Scan(&a.UserID); err != nil {
		return nil, err
	}
	if err := audit(ctx, tx, a, "user.add", fmt.Sprintf("user:%d", a.UserID), "", map[string]any{"role": id.Role, "team": id.Team, "via": "oidc"}); err != nil {
		return nil, err
	}
	return a, audit(ctx, tx, a, "login", fmt.Sprintf("user:%d", a.UserID), "", map[string]any{"via": "oidc"})
}

// CreateSSOSession signs a user in for ttl, as CreateSession does, keeping
// the provider's ID token with the session for the provider's sign-out.
func (u *Users) CreateSSOSession(ctx context.Context, a *contexts.Actor, ttl time.Duration, idToken string) (*contexts.Session, error) {
	return u.createSession(ctx, a, ttl, &idToken)
}

// SessionIDToken is the ID token a session was made with; empty for a
// password sign-in or an unknown session.
func (u *Users) SessionIDToken(ctx context.Context, id string) (string, error) {
	var tok *string
	err := u.pool.QueryRow(ctx, `SELECT id_token FROM sessions WHERE id_hash = $1`, hashSecret(id)).Scan(&tok)
	if errors.Is(err, pgx.ErrNoRows) || tok == nil {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return *tok, nil
}
