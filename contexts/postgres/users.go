package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// Users stores accounts, API tokens and browser sessions. Tokens and session
// ids are 256-bit random strings stored only as SHA-256 hashes: being random,
// they need no slow hash, and a stolen table grants nothing.
type Users struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewUsers returns a Users store on pool.
func NewUsers(pool *pgxpool.Pool) *Users { return &Users{pool: pool, now: time.Now} }

// tokenPrefix marks ctxmap tokens so secret scanners can find leaked ones.
const tokenPrefix = "ctxm_"

// argonParams follow the RFC 9106 second recommendation, sized for a 2-core
// server: ~50 ms per login, cheap enough not to be a denial of service.
var argonParams = &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

const actorColumns = `u.id, u.name, u.role, t.id, t.name, u.disabled_at IS NOT NULL`

func scanActor(row pgx.Row) (*contexts.Actor, error) {
	var a contexts.Actor
	var role string
	if err := row.Scan(&a.UserID, &a.Name, &role, &a.TeamID, &a.Team, &a.Disabled); err != nil {
		return nil, err
	}
	a.Role = contexts.Role(role)
	return &a, nil
}

// AddUser creates a user (and their team if new) and returns a first API
// token, which is shown once and never stored.
func (u *Users) AddUser(ctx context.Context, by *contexts.Actor, name string, role contexts.Role, team, password string) (*contexts.Actor, string, error) {
	name, team = strings.TrimSpace(name), strings.TrimSpace(team)
	if name == "" || team == "" {
		return nil, "", ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "a user needs a name and a team")
	}
	if _, err := contexts.ParseRole(string(role)); err != nil {
		return nil, "", err
	}
	var hash *string
	if password != "" {
		if err := contexts.ValidatePassword(password); err != nil {
			return nil, "", err
		}
		h, err := argon2id.CreateHash(password, argonParams)
		if err != nil {
			return nil, "", err
		}
		hash = &h
	}
	token := tokenPrefix + randomSecret()
	var a *contexts.Actor
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var teamID int64
		if err := tx.QueryRow(ctx, `INSERT INTO teams (name) VALUES ($1)
			ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`, team).Scan(&teamID); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return ctxmap.Errorf(ctxmap.KindConflict, "user_exists", "a user called %q already exists", name)
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO users (name, role, team_id, password_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
			name, string(role), teamID, hash).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_tokens (user_id, token_hash) VALUES ($1, $2)`, id, hashSecret(token)); err != nil {
			return err
		}
		a = &contexts.Actor{UserID: id, Name: name, Role: role, TeamID: teamID, Team: team}
		return audit(ctx, tx, by, "user.add", fmt.Sprintf("user:%d", id), "", map[string]any{"role": role, "team": team})
	})
	if err != nil {
		return nil, "", err
	}
	return a, token, nil
}

// ListUsers lists every account, with when it was made, disabled and last
// active.
func (u *Users) ListUsers(ctx context.Context) ([]contexts.User, error) {
	rows, err := u.pool.Query(ctx, `SELECT `+actorColumns+`, u.password_hash IS NOT NULL, u.oidc_subject IS NOT NULL, u.created_at, u.disabled_at,
			greatest((SELECT max(k.last_used_at) FROM api_tokens k WHERE k.user_id = u.id),
				(SELECT max(s.created_at) FROM sessions s WHERE s.user_id = u.id))
		FROM users u JOIN teams t ON t.id = u.team_id ORDER BY u.name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.User, error) {
		var x contexts.User
		var role string
		err := r.Scan(&x.UserID, &x.Name, &role, &x.TeamID, &x.Team, &x.Disabled, &x.HasPassword, &x.SSO, &x.CreatedAt, &x.DisabledAt, &x.LastActive)
		x.Role = contexts.Role(role)
		return x, err
	})
}

// CreateUser is an administrator adding an account on the users screen:
// the server makes its browser password and its API token, which the
// answer shows once; only their hashes are stored. Audited as user.add.
func (u *Users) CreateUser(ctx context.Context, by *contexts.Actor, in contexts.UserInput) (*contexts.Credentials, error) {
	if err := contexts.Require(by, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	in, role, err := in.Validate()
	if err != nil {
		return nil, err
	}
	password := randomPassword()
	a, token, err := u.AddUser(ctx, by, in.Name, role, in.Team, password)
	if err != nil {
		return nil, err
	}
	created, err := u.user(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	return &contexts.Credentials{User: *created, Password: password, Token: token}, nil
}

// DisableUser disables the account with id (see Disable), refusing the
// administrator's own, so nobody locks the last admin out by a slip.
func (u *Users) DisableUser(ctx context.Context, by *contexts.Actor, id int64) (*contexts.User, error) {
	if err := contexts.Require(by, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	if id == by.UserID {
		return nil, ctxmap.Errorf(ctxmap.KindConflict, "cannot_disable_self", "you cannot disable your own account; ask another administrator")
	}
	err := u.changeUser(ctx, by, "user.disable", `UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1 RETURNING id`,
		[]any{id}, func(tx pgx.Tx, id int64) error { return revokeTokens(ctx, tx, id) })
	if err != nil {
		return nil, userNotFound(err, id)
	}
	return u.user(ctx, id)
}

// ResetUser gives an enabled account a new browser password and a new API
// token, shown once in the answer: every earlier token is revoked and every
// session ends, so whoever held the old secrets is signed out. A disabled
// account is refused (409): it stays disabled until someone decides
// otherwise. Audited as user.reset.
func (u *Users) ResetUser(ctx context.Context, by *contexts.Actor, id int64) (*contexts.Credentials, error) {
	if err := contexts.Require(by, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	password, token := randomPassword(), tokenPrefix+randomSecret()
	h, err := argon2id.CreateHash(password, argonParams)
	if err != nil {
		return nil, err
	}
	err = u.changeUser(ctx, by, "user.reset", `UPDATE users SET password_hash = $2 WHERE id = $1 AND disabled_at IS NULL RETURNING id`,
		[]any{id, h}, func(tx pgx.Tx, id int64) error {
			if err := revokeTokens(ctx, tx, id); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO api_tokens (user_id, token_hash) VALUES ($1, $2)`, id, hashSecret(token))
			return err
		})
	if ctxmap.KindOf(err) == ctxmap.KindNotFound {
		var disabled bool
		if qerr := u.pool.QueryRow(ctx, `SELECT disabled_at IS NOT NULL FROM users WHERE id = $1`, id).Scan(&disabled); qerr == nil && disabled {
			return nil, ctxmap.Errorf(ctxmap.KindConflict, "user_disabled", "user %d is disabled; a disabled account is not reset", id)
		}
	}
	if err != nil {
		return nil, userNotFound(err, id)
	}
	x, err := u.user(ctx, id)
	if err != nil {
		return nil, err
	}
	return &contexts.Credentials{User: *x, Password: password, Token: token}, nil
}

// user reads one account as ListUsers lists it.
func (u *Users) user(ctx context.Context, id int64) (*contexts.User, error) {
	list, err := u.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	for _, x := range list {
		if x.UserID == id {
			return &x, nil
		}
	}
	return nil, contexts.NotFound("user", id)
}

// userNotFound words changeUser's 404 for an account named by id.
func userNotFound(err error, id int64) error {
	if ctxmap.KindOf(err) == ctxmap.KindNotFound {
		return contexts.NotFound("user", id)
	}
	return err
}

// revokeTokens revokes every live API token of user id in tx.
func revokeTokens(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, id)
	return err
}

// passwordAlphabet leaves out letters and digits people confuse (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// randomPassword is a new browser password: four groups of five characters
// from passwordAlphabet (100 bits), easy to read out and type once.
func randomPassword() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%5 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(passwordAlphabet[int(c)%len(passwordAlphabet)])
	}
	return sb.String()
}

// ActiveUser returns the enabled user called name, for commands that act on
// someone's behalf (a bulk import is made by one practitioner).
func (u *Users) ActiveUser(ctx context.Context, name string) (*contexts.Actor, error) {
	a, err := scanActor(u.pool.QueryRow(ctx, `SELECT `+actorColumns+`
		FROM users u JOIN teams t ON t.id = u.team_id WHERE u.name = $1 AND u.disabled_at IS NULL`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ctxmap.Errorf(ctxmap.KindNotFound, "user_not_found", "no active user called %q", name)
	}
	return a, err
}

// Disable stops a user signing in: their sessions end and tokens are revoked.
func (u *Users) Disable(ctx context.Context, by *contexts.Actor, name string) error {
	return userNamed(u.changeUser(ctx, by, "user.disable", `UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE name = $1 RETURNING id`,
		[]any{name}, func(tx pgx.Tx, id int64) error { return revokeTokens(ctx, tx, id) }), name)
}

// SetPassword sets a user's browser password.
func (u *Users) SetPassword(ctx context.Context, by *contexts.Actor, name, password string) error {
	if err := contexts.ValidatePassword(password); err != nil {
		return err
	}
	h, err := argon2id.CreateHash(password, argonParams)
	if err != nil {
		return err
	}
	// A new password ends the old sessions.
	return userNamed(u.changeUser(ctx, by, "user.set_password", `UPDATE users SET password_hash = $2 WHERE name = $1 RETURNING id`,
		[]any{name, h}, nil), name)
}

// userNamed words changeUser's 404 for an account named by name.
func userNamed(err error, name string) error {
	if ctxmap.KindOf(err) == ctxmap.KindNotFound {
		return ctxmap.Errorf(ctxmap.KindNotFound, "user_not_found", "no user called %q", name)
	}
	return err
}

// changeUser is the shape of every change to an account that must end its
// sessions: in one transaction it runs update (an UPDATE of one user,
// RETURNING id, with args), answers 404 for no such user, deletes the
// user's sessions, runs more (when not nil) and audits action by by.
func (u *Users) changeUser(ctx context.Context, by *contexts.Actor, action, update string, args []any,
	more func(tx pgx.Tx, id int64) error) error {
	return pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, update, args...).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ctxmap.Errorf(ctxmap.KindNotFound, "user_not_found", "no such user")
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
			return err
		}
		if more != nil {
			if err := more(tx, id); err != nil {
				return err
			}
		}
		return audit(ctx, tx, by, action, fmt.Sprintf("user:%d", id), "", nil)
	})
}

// TokenActor returns the active user owning token.
func (u *Users) TokenActor(ctx context.Context, token string) (*contexts.Actor, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return nil, contexts.ErrBadCredentials
	}
	a, err := scanActor(u.pool.QueryRow(ctx, `SELECT `+actorColumns+`
		FROM api_tokens k JOIN users u ON u.id = k.user_id JOIN teams t ON t.id = u.team_id
		WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND u.disabled_at IS NULL`, hashSecret(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, contexts.ErrBadCredentials
	}
	return a, err
}

// RecordTokenUse notes a token's use in the audit log and on the token row.
func (u *Users) RecordTokenUse(ctx context.Context, a *contexts.Actor, token string) error {
	return pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE token_hash = $1 RETURNING id`, hashSecret(token)).Scan(&id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "token.use", fmt.Sprintf("token:%d", id), "", nil)
	})
}

// CheckPassword verifies a sign-in and audits success and failure alike.
func (u *Users) CheckPassword(ctx context.Context, name, password string) (*contexts.Actor, error) {
	var hash *string
	a, err := scanActorWithHash(u.pool.QueryRow(ctx, `SELECT `+actorColumns+`, u.password_hash
		FROM users u JOIN teams t ON t.id = u.team_id WHERE u.name = $1`, name), &hash)
	ok := false
	if err == nil && hash != nil && !a.Disabled {
		ok, err = argon2id.ComparePasswordAndHash(password, *hash)
		if err != nil {
			return nil, err
		}
	} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	} else {
		// Spend the same time as a real check so timing does not reveal names.
		_, _ = argon2id.ComparePasswordAndHash(password, dummyHash())
	}
	if !ok {
		if aerr := audit(ctx, u.pool, nil, "login.failed", "", "", map[string]any{"name": contexts.Trunc(name, 100)}); aerr != nil {
			return nil, aerr
		}
		return nil, contexts.ErrBadCredentials
	}
	if err := audit(ctx, u.pool, a, "login", fmt.Sprintf("user:%d", a.UserID), "", nil); err != nil {
		return nil, err
	}
	return a, nil
}

// dummyHash is made on first use so binaries that never sign anyone in do
// not pay for it.
var dummyHash = sync.OnceValue(func() string {
	h, _ := argon2id.CreateHash("not a real password", argonParams)
	return h
})

func scanActorWithHash(row pgx.Row, hash **string) (*contexts.Actor, error) {
	var a contexts.Actor
	var role string
	if err := row.Scan(&a.UserID, &a.Name, &role, &a.TeamID, &a.Team, &a.Disabled, hash); err != nil {
		return nil, err
	}
	a.Role = contexts.Role(role)
	return &a, nil
}

// CreateSession signs a user in for ttl.
func (u *Users) CreateSession(ctx context.Context, a *contexts.Actor, ttl time.Duration) (*contexts.Session, error) {
	return u.createSession(ctx, a, ttl, nil)
}

// createSession is CreateSession with the provider's ID token of a single
// sign-on (nil for a password).
func (u *Users) createSession(ctx context.Context, a *contexts.Actor, ttl time.Duration, idToken *string) (*contexts.Session, error) {
	s := &contexts.Session{ID: randomSecret(), CSRFToken: randomSecret(), Expires: u.now().Add(ttl)}
	_, err := u.pool.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at, id_token) VALUES ($1, $2, $3, $4, $5)`,
		hashSecret(s.ID), a.UserID, s.CSRFToken, s.Expires, idToken)
	if err != nil {
		return nil, err
	}
	// Expired sessions are swept on sign-in rather than by a timer.
	_, err = u.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < now()`)
	return s, err
}

// SessionActor returns the user and CSRF token of a live session.
func (u *Users) SessionActor(ctx context.Context, id string) (*contexts.Actor, string, error) {
	var csrf string
	var a contexts.Actor
	var role string
	err := u.pool.QueryRow(ctx, `SELECT `+actorColumns+`, s.csrf_token
		FROM sessions s JOIN users u ON u.id = s.user_id JOIN teams t ON t.id = u.team_id
		WHERE s.id_hash = $1 AND s.expires_at > now() AND u.disabled_at IS NULL`, hashSecret(id)).
		Scan(&a.UserID, &a.Name, &role, &a.TeamID, &a.Team, &a.Disabled, &csrf)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", contexts.ErrBadCredentials
	} else if err != nil {
		return nil, "", err
	}
	a.Role = contexts.Role(role)
	return &a, csrf, nil
}

// DeleteSession signs a browser out.
func (u *Users) DeleteSession(ctx context.Context, a *contexts.Actor, id string) error {
	if _, err := u.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hashSecret(id)); err != nil {
		return err
	}
	return audit(ctx, u.pool, a, "logout", fmt.Sprintf("user:%d", a.UserID), "", nil)
}
