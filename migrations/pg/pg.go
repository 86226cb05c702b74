// Package pg is the one place that configures connections to PostgreSQL and
// applies the embedded migrations, so the server, the CLI and the tests all
// talk to the database the same way.
package pg

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/ctxmap/ctxmap/migrations"
)

// Options tune the pool. The zero value is sensible for the service.
type Options struct {
	// MaxConns caps the pool; 0 means pgx's default (max(4, GOMAXPROCS)).
	MaxConns int32
	// StatementTimeout bounds every statement; 0 means 30 s. Imports set it higher.
	StatementTimeout time.Duration
	// ApplicationName names the pool's sessions in pg_stat_activity when
	// the URL does not; empty means "ctxmap".
	ApplicationName string
}

// Connect opens a pool configured the one way the service needs:
// application_name for pg_stat_activity, a statement timeout, parallel query
// off (on 2 cores it made tile queries 1.1-3x slower here), and a tracer that
// logs slow queries to slog.
func Connect(ctx context.Context, url string, logger *slog.Logger, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	timeout := opts.StatementTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	rp := cfg.ConnConfig.RuntimeParams
	if rp["application_name"] == "" {
		rp["application_name"] = cmp.Or(opts.ApplicationName, "ctxmap")
	}
	rp["max_parallel_workers_per_gather"] = "0"
	rp["statement_timeout"] = fmt.Sprint(timeout.Milliseconds())
	rp["timezone"] = "UTC"
	if logger != nil {
		cfg.ConnConfig.Tracer = &slowQueryTracer{logger: logger, threshold: 200 * time.Millisecond}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

type traceKey struct{}

type traceStart struct {
	at  time.Time
	sql string
}

// slowQueryTracer logs queries slower than threshold; every query at debug.
type slowQueryTracer struct {
	logger    *slog.Logger
	threshold time.Duration
}

func (t *slowQueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{at: time.Now(), sql: data.SQL})
}

func (t *slowQueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	d := time.Since(st.at)
	level := slog.LevelDebug
	if d >= t.threshold {
		level = slog.LevelWarn
	}
	if !t.logger.Enabled(ctx, level) {
		return
	}
	sqlText := st.sql
	if len(sqlText) > 300 {
		sqlText = sqlText[:300] + "..."
	}
	t.logger.Log(ctx, level, "query", "sql", sqlText, "duration_ms", float64(d.Microseconds())/1000, "err", data.Err)
}

func provider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	// An advisory lock serialises migrations across processes, so a
	// `migrate down` cannot interleave with a `serve --migrate`.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, err
	}
	db := stdlib.OpenDBFromPool(pool)
	// Out of order: migrations written side by side land with numbers
	// below the newest a database already has, and each stands alone.
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker),
		goose.WithAllowOutofOrder(true))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, db, nil
}

// Up applies every pending migration and returns how many ran.
func Up(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	p, db, err := provider(pool)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate up: %w", err)
	}
	n, err := queueUp(ctx, pool)
	return len(res) + n, err
}

// AuditLogMigration is the migration whose rollback drops the append-only
// audit log.
const AuditLogMigration = 1

// DownOptions says what a rollback may destroy.
type DownOptions struct {
	// DropAuditLog allows rolling back AuditLogMigration, which deletes
	// the audit log: who saw what is evidence, so it is never lost by a
	// routine rollback.
	DropAuditLog bool
}

// Down rolls back the newest applied migration, refusing the one that
// would drop the audit log unless opts allow it.
func Down(ctx context.Context, pool *pgxpool.Pool, opts DownOptions) error {
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	if current == AuditLogMigration && !opts.DropAuditLog {
		return fmt.Errorf("migrate down: rolling back migration %d would drop the append-only audit log; "+
			"export it first and pass --drop-audit-log if you really mean it", AuditLogMigration)
	}
	if _, err := p.Down(ctx); err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// Migration is one migration's state, for `ctxmap migrate status`.
type Migration struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Status lists every known migration and whether it is applied.
func Status(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	p, db, err := provider(pool)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Migration, 0, len(st))
	for _, s := range st {
		out = append(out, Migration{
			Version:   s.Source.Version,
			Name:      s.Source.Path,
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Current reports whether the database is reachable and at the newest
// migration; /readyz uses it so a half-migrated database is never "ready".
func Current(ctx context.Context, pool *pgxpool.Pool) error {
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if pending {
		current, target, _ := p.GetVersions(ctx)
		return fmt.Errorf("schema has pending migrations (at version %d, newest %d)", current, target)
	}
	return queueCurrent(ctx, pool)
}

// Unavailable reports whether err means the database could not be reached
// or is not accepting work: a failed connection, a broken one, a server
// shutting down or starting up, or too many connections. The web layer
// answers those with 503 database_unavailable instead of an internal error;
// this is the one place that knows the driver's errors for it.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin/crash shutdown, cannot connect now
			pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	// A deadline of ours is not an outage: it is reported as what it is.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}
