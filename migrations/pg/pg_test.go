package pg_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

func TestMigrationsCurrentAndReversible(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if err := pg.Current(ctx, pool); err != nil {
		t.Fatalf("fresh test database not current: %v", err)
	}
	st, err := pg.Status(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if !m.Applied {
			t.Errorf("migration %d %s not applied", m.Version, m.Name)
		}
	}
	// Every migration's Down must work, newest first, and Up must restore.
	for range st {
		if err := pg.Down(ctx, pool); err != nil {
			t.Fatalf("down: %v", err)
		}
	}
	if err := pg.Current(ctx, pool); err == nil {
		t.Fatal("Current reports ready after rolling everything back")
	}
	if n, err := pg.Up(ctx, pool); err != nil || n != len(st) {
		t.Fatalf("up again: n=%d err=%v", n, err)
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO audit_log (action, record) VALUES ('test', 'x:1')`); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET action = 'rewritten'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
	} {
		_, err := pool.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: got %v, want insufficient_privilege (42501)", stmt, err)
		}
	}
	var n int
	var action string
	if err := pool.QueryRow(ctx, `SELECT count(*), min(action) FROM audit_log`).Scan(&n, &action); err != nil {
		t.Fatal(err)
	}
	if n != 1 || action != "test" {
		t.Fatalf("audit log changed: n=%d action=%q", n, action)
	}
}
