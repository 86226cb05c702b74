package pg

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// The job queue (riverqueue/river, for webhook deliveries) owns its tables'
// schema: its migrations run after ctxmap's, in `ctxmap migrate up`, and a
// database is ready only when both are current. Keeping river's schema in
// river's hands means an upgrade of the library brings its own migrations.

func queueMigrator(pool *pgxpool.Pool) (*rivermigrate.Migrator[pgx.Tx], error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("job queue migrations: %w", err)
	}
	return m, nil
}

// queueUp applies the job queue's pending migrations.
func queueUp(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	m, err := queueMigrator(pool)
	if err != nil {
		return 0, err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("job queue migrations: %w", err)
	}
	return len(res.Versions), nil
}

// queueCurrent reports whether the job queue's schema is current.
func queueCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := queueMigrator(pool)
	if err != nil {
		return err
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return fmt.Errorf("job queue schema: %w", err)
	}
	all := m.AllVersions()
	if len(existing) < len(all) {
		return fmt.Errorf("job queue schema at %d of %d migrations: run ctxmap migrate up", len(existing), len(all))
	}
	return nil
}
