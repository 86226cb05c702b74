package postcodes

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ctxmap/ctxmap"
)

// ImportOptions tune Import. The zero value imports silently with one
// parser per CPU.
type ImportOptions struct {
	// Progress is where to draw a progress bar; the CLI passes os.Stderr.
	// It is drawn only when Progress is a terminal, so logs and CI output
	// stay clean.
	Progress io.Writer
	// Workers is the number of parsing goroutines; 0 means GOMAXPROCS.
	Workers int

	// afterBatch, set by tests, runs in the COPY stream after each batch of
	// tuples is handed to PostgreSQL, with the number of batches so far.
	afterBatch func(batches int)
}

// Summary reports what an import did, for the CLI to print and for the
// postcode_imports table. Skipped rows were not loaded; warnings mark rows
// loaded with a defect (such as coordinates off the map, loaded without a
// location).
type Summary struct {
	Format string   `json:"format"`
	Files  []string `json:"files"`
	// SkippedFiles maps CSVs found but not imported to the reason.
	SkippedFiles map[string]string `json:"skipped_files,omitempty"`
	// Rows is the number of data rows read.
	Rows int64 `json:"rows"`
	// Loaded is the number of postcodes now in the directory; Unlocated and
	// Terminated count those without a location and those withdrawn.
	Loaded     int64 `json:"loaded"`
	Unlocated  int64 `json:"unlocated"`
	Terminated int64 `json:"terminated"`
	// Skipped counts rows not loaded by reason: malformed_postcode, bad_row
	// (too few fields, unreadable grid reference), duplicate.
	Skipped map[string]int64 `json:"skipped,omitempty"`
	// Warnings counts rows loaded with a defect: bad_coordinates (loaded
	// without a location), bad_date (loaded without that date).
	Warnings map[string]int64 `json:"warnings,omitempty"`
	// Examples holds up to five "file:line: value" samples per reason.
	Examples map[string][]string `json:"examples,omitempty"`
	// Sectors and Districts count the derived centroids.
	Sectors   int64 `json:"sectors"`
	Districts int64 `json:"districts"`
	// Duration is the wall time of the whole import, and Phases its split:
	// copy (read, parse, COPY), primary_key, gist, analyze, centroids and
	// swap (commit included).
	Duration time.Duration            `json:"duration_ns"`
	Phases   map[string]time.Duration `json:"phases_ns,omitempty"`
}

// phase records how long the step that just finished took.
func (s *Summary) phase(name string, since *time.Time) {
	if s.Phases == nil {
		s.Phases = map[string]time.Duration{}
	}
	now := time.Now()
	s.Phases[name] = now.Sub(*since)
	*since = now
}

// importLockID serialises imports across processes (pg_advisory_xact_lock):
// two imports racing for the swap would waste each other's work.
const importLockID = 0x63746d_706f7374 // "ctm" "post"

// chunkSize is how much CSV each parser takes at a time: big enough that
// channel and bookkeeping costs vanish, small enough to keep two parsers and
// the COPY stream busy from the first second.
const chunkSize = 1 << 20

// Import loads a postcode directory release, replacing the current one
// atomically, for `ctxmap import postcodes --format onspd|codepoint PATH...`.
//
// format is FormatONSPD (ONSPD or NSPL CSV, columns matched by name, since
// their year suffix changes every release; terminated postcodes kept with
// their month; rows without a grid reference kept without a location) or
// FormatCodePoint (Code-Point Open CSV, National Grid converted to WGS84).
// paths may name CSV files, folders (searched recursively) or .zip release
// archives; files that are not data of the format are listed in
// Summary.SkippedFiles.
//
// Rows are parsed in parallel and streamed with a binary COPY into a staging
// table without indexes; indexes and the sector and district centroids are
// built afterwards, and the staging tables replace the serving ones in the
// same transaction. A failed, cancelled or killed import therefore leaves
// the previous directory serving, untouched. A concurrent import fails with
// KindConflict; user mistakes (unknown format, missing path, no data rows,
// mostly rejected rows) are *ctxmap.Error values of KindInvalid.
func Import(ctx context.Context, pool *pgxpool.Pool, format string, paths []string, opts ImportOptions) (Summary, error) {
	start := time.Now()
	sum := Summary{Format: format}
	if format != FormatONSPD && format != FormatCodePoint {
		return sum, ctxmap.Errorf(ctxmap.KindInvalid, "import_format_unknown",
			"unknown postcode directory format %q: use %q or %q", format, FormatONSPD, FormatCodePoint)
	}
	if len(paths) == 0 {
		return sum, ctxmap.Errorf(ctxmap.KindInvalid, "import_no_paths", "no files to import")
	}
	srcs, skippedFiles, closeSources, err := sources(format, paths)
	if err != nil {
		return sum, err
	}
	defer closeSources()
	var total int64
	for _, s := range srcs {
		sum.Files = append(sum.Files, s.name)
		total += s.size
	}
	if len(skippedFiles) > 0 {
		sum.SkippedFiles = skippedFiles
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return sum, fmt.Errorf("import postcodes: %w", err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return sum, fmt.Errorf("import postcodes: %w", err)
	}
	// Rolled back on every early return, even after ctx is cancelled: the
	// staging tables vanish with it. (If the process dies instead, the
	// server rolls back when the connection drops.)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()

	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(importLockID)).Scan(&locked); err != nil {
		return sum, fmt.Errorf("import postcodes: lock: %w", err)
	}
	if !locked {
		return sum, ctxmap.Errorf(ctxmap.KindConflict, "import_in_progress", "another postcode import is running")
	}
	// The caller's context bounds the import; the pool's statement timeout,
	// sized for requests, must not. More maintenance memory speeds the index
	// builds, but never lower a larger setting.
	if _, err := tx.Exec(ctx, `
		SET LOCAL statement_timeout = 0;
		SELECT set_config('maintenance_work_mem', '256MB', true)
		 WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < 256 * 1024 * 1024;
		CREATE TABLE postcodes_next (LIKE postcodes INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
		CREATE TABLE postcode_sectors_next (LIKE postcode_sectors INCLUDING ALL);
		CREATE TABLE postcode_districts_next (LIKE postcode_districts INCLUDING ALL);`); err != nil {
		return sum, fmt.Errorf("import postcodes: staging tables: %w", err)
	}

	bar := newBar(opts.Progress, total)
	mark := time.Now()
	pgConn := tx.Conn().PgConn()
	st, err := copyRows(ctx, func(r io.Reader) error {
		_, err := pgConn.CopyFrom(ctx, r, `COPY postcodes_next (`+copyColumns+`) FROM STDIN WITH (FORMAT binary)`)
		return err
	}, format, srcs, opts, bar)
	sum.Rows, sum.Loaded, sum.Unlocated, sum.Terminated = st.rows, st.loaded, st.unlocated, st.terminated
	sum.Skipped, sum.Warnings, sum.Examples = nonEmpty(st.skipped), nonEmpty(st.warnings), st.examples
	if len(sum.Examples) == 0 {
		sum.Examples = nil
	}
	if err != nil {
		return sum, err
	}
	sum.phase("copy", &mark)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(opts.Progress, "postcodes: building indexes and centroids")
	}

	var skipped int64
	for _, n := range sum.Skipped {
		skipped += n
	}
	switch {
	case sum.Loaded == 0:
		return sum, ctxmap.Errorf(ctxmap.KindInvalid, "import_no_rows",
			"no postcode rows could be read from %d %s file(s); is the format right?", len(srcs), format).
			WithDetail("summary", sum)
	case skipped > sum.Loaded:
		return sum, ctxmap.Errorf(ctxmap.KindInvalid, "import_mostly_rejected",
			"%d rows rejected and only %d readable; is the format right? The current directory is unchanged", skipped, sum.Loaded).
			WithDetail("summary", sum)
	}

	if err := buildIndexes(ctx, tx, &sum, st.sectors, &mark); err != nil {
		return sum, err
	}
	if err := buildCentroids(ctx, tx, &sum, st.sectors); err != nil {
		return sum, err
	}
	sum.phase("centroids", &mark)
	sum.Duration = time.Since(start)
	if err := swap(ctx, tx, &sum, start); err != nil {
		return sum, err
	}
	if err := tx.Commit(ctx); err != nil {
		return sum, fmt.Errorf("import postcodes: commit: %w", err)
	}
	sum.phase("swap", &mark)
	sum.Duration = time.Since(start)
	return sum, nil
}

func nonEmpty(m map[string]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	return m
}

// newBar returns a byte-count progress bar on w when w is a terminal.
func newBar(w io.Writer, total int64) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("postcodes"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
