package postcodes

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// mustImport imports or fails the test.
func mustImport(t testing.TB, pool *pgxpool.Pool, format string, paths ...string) Summary {
	t.Helper()
	sum, err := Import(context.Background(), pool, format, paths, ImportOptions{})
	if err != nil {
		t.Fatalf("Import(%s, %v): %v\nsummary: %+v", format, paths, err, sum)
	}
	return sum
}
