package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/web"
)

// openDB parses the config's database URL into a configured pool. One-off
// commands log slow queries only at debug level: a bulk import is slow by
// nature and its summary says how long it took.
func openDB(ctx context.Context, c *Config, stderr io.Writer, opts pg.Options) (*pgxpool.Pool, error) {
	if err := c.needDB(); err != nil {
		return nil, err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return nil, err
	}
	if !log.Enabled(ctx, slog.LevelDebug) {
		log = nil
	}
	return pg.Connect(ctx, c.DatabaseURL, log, opts)
}

// openMigratedDB is openDB for one-off commands that need the schema at the
// newest migration (release, retention): it refuses an older one and names
// the command that fixes it.
func openMigratedDB(ctx context.Context, c *Config, stderr io.Writer, opts pg.Options) (*pgxpool.Pool, error) {
	pool, err := openDB(ctx, c, stderr, opts)
	if err != nil {
		return nil, err
	}
	if err := pg.Current(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database not ready (%v): run `ctxmap migrate up`", err)
	}
	return pool, nil
}

// waitForDatabase pings the database until it answers or wait has passed,
// backing off from 100 ms to 2 s, so a server started with (or just before)
// its database comes up by itself; when it gives up it names the cause.
func waitForDatabase(ctx context.Context, pool *pgxpool.Pool, wait time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(wait)
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := pool.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("the database is unreachable (after %d attempts over %s): %v; check DATABASE_URL and that PostgreSQL is running (make run starts the private cluster)",
				attempt, wait.Round(time.Second), err)
		}
		// The last sleep ends at the deadline, for one more attempt then:
		// the wait is the whole wait asked for, never less.
		backoff = min(backoff, left)
		if attempt == 1 {
			log.Warn("waiting for the database", "err", err, "up_to", wait.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// openReadDB opens the pool on the streaming replica (DATABASE_READ_URL),
// or returns nil when none is configured. The replica is not required to
// be up: every read it cannot answer goes to the primary, so serve starts
// and stays ready without it and only logs that it is away.
func openReadDB(ctx context.Context, c *Config, log *slog.Logger) (*pgxpool.Pool, error) {
	if c.DatabaseReadURL == "" {
		return nil, nil
	}
	read, err := pg.Connect(ctx, c.DatabaseReadURL, log, pg.Options{ApplicationName: "ctxmap-read"})
	if err != nil {
		return nil, fmt.Errorf("the read replica (DATABASE_READ_URL): %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var standby bool
	if err := read.QueryRow(pctx, `SELECT pg_is_in_recovery()`).Scan(&standby); err != nil {
		log.Warn("the read replica (DATABASE_READ_URL) does not answer; published reads go to the primary until it does", "err", err)
	} else if !standby {
		// Not an error: a second pool on the primary works, it just
		// relieves nothing; most likely a wrong URL.
		log.Warn("DATABASE_READ_URL is not a standby (pg_is_in_recovery is false)")
	}
	return read, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("serve", stderr)
	migrate := fs.Bool("migrate", false, "apply pending migrations before serving")
	fs.BoolVar(&c.ValidateResponses, "validate-responses", env("CTXMAP_VALIDATE_RESPONSES", "") == "1",
		"check every API response against the OpenAPI document and log each violation (CTXMAP_VALIDATE_RESPONSES=1; for test suites, not production)")
	webhooks := bindWebhookFlags(fs)
	bindOIDCFlags(fs, &c.oidc)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	var err error
	if c.OIDC, c.PasswordLoginOff, err = c.oidc.config(); err != nil {
		return err
	}
	if err := c.parseCenter(); err != nil {
		return err
	}
	if err := c.parseK(); err != nil {
		return err
	}
	if err := c.parseTrustedProxies(); err != nil {
		return err
	}
	if err := c.needSecret(); err != nil {
		return err
	}
	if err := c.needDB(); err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	pool, err := pg.Connect(ctx, c.DatabaseURL, log, pg.Options{})
	if err != nil {
		return err
	}
	defer pool.Close()
	if *migrate {
		if _, err := pg.Up(ctx, pool); err != nil {
			return err
		}
	}
	if err := waitForDatabase(ctx, pool, c.DBWait, log); err != nil {
		return err
	}
	if err := pg.Current(ctx, pool); err != nil {
		return fmt.Errorf("database not ready (%v): run `ctxmap migrate up` or `ctxmap serve --migrate`", err)
	}
	hooks, err := webhooks.start(ctx, pool, log)
	if err != nil {
		return err
	}
	if hooks != nil {
		// Runs before the pool closes (defers run last first).
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := hooks.Stop(sctx); err != nil {
				log.Warn("stopping webhook deliveries", "err", err)
			}
		}()
	}
	read, err := openReadDB(ctx, c, log)
	if err != nil {
		return err
	}
	if read != nil {
		defer read.Close()
	}
	srv, err := buildServer(ctx, c, pool, read, log, hooks)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	hs := web.NewHTTPServer(srv)
	// The address line is what scripts and tests wait for.
	fmt.Fprintf(stdout, "ctxmap %s serving on http://%s\n", version, ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "version", version)
	err = web.Serve(ctx, hs, func() error { return hs.Serve(ln) }, c.ShutdownGrace)
	log.Info("stopped", "err", err)
	return err
}
