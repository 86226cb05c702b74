package pg_test

import (
	"context"
	"errors"
	"os"
	"strings"
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
	// Every migration's Down must work, newest first, and Up must restore;
	// the one that drops the audit log only when told so.
	for range len(st) - 1 {
		if err := pg.Down(ctx, pool, pg.DownOptions{}); err != nil {
			t.Fatalf("down: %v", err)
		}
	}
	if err := pg.Down(ctx, pool, pg.DownOptions{}); err == nil || !strings.Contains(err.Error(), "audit log") {
		t.Fatalf("rolling back the audit log's migration without being told: %v", err)
	}
	var kept bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('audit_log') IS NOT NULL`).Scan(&kept); err != nil || !kept {
		t.Fatalf("the audit log is gone after a refused rollback: %v", err)
	}
	if err := pg.Down(ctx, pool, pg.DownOptions{DropAuditLog: true}); err != nil {
		t.Fatalf("down with DropAuditLog: %v", err)
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

// TestRuntimeRoleCannotRewriteTheAuditLog connects as the service's role,
// ctxmap_app: it works with the records and appends to the audit log, but
// cannot change, delete, truncate, disable the triggers of or drop the log.
func TestRuntimeRoleCannotRewriteTheAuditLog(t *testing.T) {
	owner, url := pgtest.NewWithURL(t)
	ctx := context.Background()
	if _, err := owner.Exec(ctx, `INSERT INTO audit_log (action, record) VALUES ('test', 'x:1')`); err != nil {
		t.Fatal(err)
	}
	app, err := pg.Connect(ctx, pgtest.WithUser(t, url, "ctxmap_app"), nil, pg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	var user string
	if err := app.QueryRow(ctx, `SELECT current_user`).Scan(&user); err != nil || user != "ctxmap_app" {
		t.Fatalf("connected as %q: %v", user, err)
	}
	for _, ok := range []string{
		`INSERT INTO audit_log (action, record) VALUES ('by app', 'x:2')`,
		`SELECT count(*) FROM audit_log`,
		`INSERT INTO teams (name) VALUES ('app team')`,
		`UPDATE teams SET name = 'app team 2' WHERE name = 'app team'`,
		`SELECT pg_advisory_lock(1), pg_advisory_unlock(1)`,
	} {
		if _, err := app.Exec(ctx, ok); err != nil {
			t.Errorf("as ctxmap_app, %s: %v", ok, err)
		}
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET action = 'rewritten'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`ALTER TABLE audit_log DISABLE TRIGGER ALL`,
		`DROP TABLE audit_log`,
		`CREATE TABLE mine (x int)`,
	} {
		_, err := app.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "42501" && pgErr.Code != "42P01") {
			t.Errorf("as ctxmap_app, %s: got %v, want insufficient_privilege", stmt, err)
		}
	}
}

// Issue 11, finding 1: the cluster scripts/pg.sh made for make run and make
// test wrote synchronous_commit = off, and a crash lost acknowledged writes.
// The suite's database must commit durably (the crash test itself runs on a
// cluster of its own), unless started with the explicit test-only switch.
func TestSuiteDatabaseCommitsDurably(t *testing.T) {
	pool := pgtest.New(t)
	want := "on"
	if os.Getenv("CTXMAP_PG_UNSAFE_NO_SYNC") == "1" {
		want = "off"
	}
	for _, name := range []string{"synchronous_commit", "fsync"} {
		var got string
		if err := pool.QueryRow(context.Background(), "SHOW "+name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s: a crash would lose writes the server acknowledged (scripts/pg.sh start rewrites it)", name, got, want)
		}
	}
}
