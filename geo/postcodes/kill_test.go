package postcodes

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

// TestImportKilled kills (SIGKILL) a process in the middle of its COPY and
// checks the previous directory still answers, nothing is left behind and
// the next import runs: the guarantee an operator needs when an import is
// interrupted by an OOM kill or a reboot.
func TestImportKilled(t *testing.T) {
	pool, url := pgtest.NewWithURL(t)
	ctx := context.Background()
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	big := syntheticCodePoint(t, 300_000)

	cmd := exec.Command(os.Args[0], "-test.run=^TestImportKilledChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CTXMAP_IMPORT_CHILD_URL="+url, "CTXMAP_IMPORT_CHILD_FILE="+big)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child's COPY is well under way, then kill it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int64
		err := pool.QueryRow(ctx, `SELECT coalesce(max(tuples_processed), 0) FROM pg_stat_progress_copy
			WHERE datname = current_database()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 50_000 {
			t.Logf("killing the import after %d rows copied", n)
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the child's COPY never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// PostgreSQL ends the orphaned backend when its socket closes; wait for it.
	for i := 0; ; i++ {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'COPY postcodes_next%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if i > 500 {
			t.Fatal("the killed import's backend is still running")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := NewStore(pool)
	if r, err := s.Lookup(ctx, "E8 3AA"); err != nil || r.Lat == nil {
		t.Errorf("after the kill Lookup = %+v, %v", r, err)
	}
	var n, left int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM postcodes),
		(SELECT count(*) FROM pg_class WHERE relname LIKE '%\_next%')`).Scan(&n, &left); err != nil || n != 44 || left != 0 {
		t.Errorf("after the kill: %d postcodes (want 44), %d staging relations left (want 0), %v", n, left, err)
	}
	sum := mustImport(t, pool, FormatCodePoint, big)
	if sum.Loaded != 300_000 {
		t.Errorf("the next import loaded %d, want 300,000", sum.Loaded)
	}
}

// TestImportKilledChild is the process TestImportKilled kills.
func TestImportKilledChild(t *testing.T) {
	url, file := os.Getenv("CTXMAP_IMPORT_CHILD_URL"), os.Getenv("CTXMAP_IMPORT_CHILD_FILE")
	if url == "" {
		t.Skip("run by TestImportKilled")
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	// Slow the stream so the parent sees it mid-COPY on a fast machine.
	opts := ImportOptions{afterBatch: func(int) { time.Sleep(50 * time.Millisecond) }}
	_, err = Import(context.Background(), pool, FormatCodePoint, []string{file}, opts)
	t.Fatalf("the import finished (%v) before it was killed", err)
}
