package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
)

// Logins counts failed sign-ins in PostgreSQL, so every replica sees the
// same count and concurrent attempts cannot all pass a check made before
// any of them failed (issue 11, finding 5).
type Logins struct {
	pool   *pgxpool.Pool
	limits contexts.LoginLimits
}

// NewLogins returns the shared login limiter on pool with its allowances.
func NewLogins(pool *pgxpool.Pool, limits contexts.LoginLimits) (*Logins, error) {
	if limits.Window <= 0 || limits.PerName < 1 || limits.PerAddr < 1 {
		return nil, fmt.Errorf("login limits: need a positive window and allowances, got %+v", limits)
	}
	return &Logins{pool: pool, limits: limits}, nil
}

// BeginLogin records at as a failed sign-in before its password is
// checked, unless the name or the address already has its allowance of
// failures within the window; then it records nothing and returns false.
// Advisory locks on the name and then the address (always in that order,
// in separate key spaces, so two attempts cannot deadlock) make the count
// and the insert one step for each name and address. Old rows of both are
// deleted on the way.
func (l *Logins) BeginLogin(ctx context.Context, at contexts.LoginAttempt) (int64, bool, error) {
	cutoff := at.At.Add(-l.limits.Window)
	var id int64
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ctxmap.login.name'), hashtext($1))`, at.Name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ctxmap.login.addr'), hashtext($1))`, at.Addr); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE (name = $1 OR addr = $2) AND at < $3`, at.Name, at.Addr, cutoff); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO login_failures (name, addr, at)
			SELECT $1, $2, $3
			WHERE (SELECT count(*) FROM login_failures WHERE name = $1 AND at >= $4) < $5
			  AND (SELECT count(*) FROM login_failures WHERE addr = $2 AND at >= $4) < $6
			RETURNING id`, at.Name, at.Addr, at.At, cutoff, l.limits.PerName, l.limits.PerAddr).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("login limiter: %w", err)
	}
	return id, true, nil
}

// ForgiveLogin deletes attempt id again: its password was right, or could
// not be checked, so it was no failure.
func (l *Logins) ForgiveLogin(ctx context.Context, id int64) error {
	if _, err := l.pool.Exec(ctx, `DELETE FROM login_failures WHERE id = $1`, id); err != nil {
		return fmt.Errorf("login limiter: %w", err)
	}
	return nil
}

// PruneLogins deletes failures that left the window before now, for names
// and addresses never tried again.
func (l *Logins) PruneLogins(ctx context.Context, now time.Time) (int64, error) {
	tag, err := l.pool.Exec(ctx, `DELETE FROM login_failures WHERE at < $1`, now.Add(-l.limits.Window))
	if err != nil {
		return 0, fmt.Errorf("pruning login failures: %w", err)
	}
	return tag.RowsAffected(), nil
}
