// Package pgtest gives tests a throw-away PostGIS database migrated with the
// real migrations. The first caller in a test run builds a template database
// (named after a hash of the migrations, under an advisory lock so parallel
// test binaries agree); every test then gets a copy of it in ~0.2 s.
//
// The cluster comes from CTXMAP_TEST_DATABASE_URL (make test sets it). When
// it is unset, tests skip locally but fail under CI=true: a test that needs
// PostGIS must never pass by not running.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/migrations"
	"github.com/ctxmap/ctxmap/migrations/pg"
)

// EnvURL names the variable holding the admin URL of the test cluster.
const EnvURL = "CTXMAP_TEST_DATABASE_URL"

// AdminURL returns the test cluster's URL, skipping (or failing under CI) the
// test when there is none.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") != "" && os.Getenv("CI") != "false" {
			t.Fatalf("%s is not set and CI=%s: PostGIS tests must run in CI (make test sets it up)", EnvURL, os.Getenv("CI"))
		}
		t.Skipf("%s not set; run `make test` or eval \"$(bash scripts/pg.sh env)\"", EnvURL)
	}
	return u
}

// New returns a pool on a fresh migrated database that is dropped when the
// test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := NewWithURL(t)
	return pool
}

// NewWithURL is New that also returns the database's URL, for tests that
// start a whole server or a subprocess against it.
func NewWithURL(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	admin := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl, err := ensureTemplate(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	name := "ctxmap_test_" + randomHex(6)
	if err := adminExec(ctx, admin, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	url, err := withDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pg.Connect(ctx, url, nil, pg.Options{})
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = adminExec(ctx, admin, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return pool, url
}

// ensureTemplate creates the template database for the current migrations if
// no earlier test binary did.
func ensureTemplate(ctx context.Context, admin string) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "ctxmap_tmpl_" + sum
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	// One builder at a time across every test binary of the run.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(727274)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(727274)") //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	url, err := withDatabase(admin, name)
	if err != nil {
		return "", err
	}
	pool, err := pg.Connect(ctx, url, nil, pg.Options{})
	if err != nil {
		return "", err
	}
	_, err = pg.Up(ctx, pool)
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+name+" WITH IS_TEMPLATE true"); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() (string, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func withDatabase(admin, name string) (string, error) {
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return "", fmt.Errorf("pgtest: parse %s: %w", EnvURL, err)
	}
	// Rebuild as a keyword/value string so sockets and ports survive.
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cfg.Host, cfg.Port, cfg.User, name) + passwordPart(cfg.Password), nil
}

func passwordPart(p string) string {
	if p == "" {
		return ""
	}
	return " password=" + p
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WithUser returns url with another user, e.g. the service's runtime role
// ctxmap_app (the test cluster trusts local connections).
func WithUser(t testing.TB, url, user string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: parse %q: %v", url, err)
	}
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cfg.Host, cfg.Port, user, cfg.Database) + passwordPart(cfg.Password)
}
