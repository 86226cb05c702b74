package postcodes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// buildIndexes adds the primary key, first removing duplicate postcodes if
// the sources repeated any (keeping a live row over a terminated one, then
// the first read), and the nearest-search index.
func buildIndexes(ctx context.Context, tx pgx.Tx, sum *Summary, sectors map[string]*sums, mark *time.Time) error {
	const addPK = `ALTER TABLE postcodes_next ADD CONSTRAINT postcodes_next_pkey PRIMARY KEY (postcode)`
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("import postcodes: %w", err)
	}
	_, err = sp.Exec(ctx, addPK)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation
		if err := sp.Rollback(ctx); err != nil {
			return fmt.Errorf("import postcodes: %w", err)
		}
		rows, err := tx.Query(ctx, `
			DELETE FROM postcodes_next a USING postcodes_next b
			 WHERE a.postcode = b.postcode AND a.ctid <> b.ctid
			   AND ((a.terminated IS NOT NULL AND b.terminated IS NULL)
			     OR ((a.terminated IS NULL) = (b.terminated IS NULL) AND a.ctid > b.ctid))
			RETURNING a.postcode, ST_X(a.geom), ST_Y(a.geom), a.terminated IS NULL`)
		if err != nil {
			return fmt.Errorf("import postcodes: remove duplicates: %w", err)
		}
		var removed int64
		for rows.Next() {
			var pc string
			var x, y *float64
			var live bool
			if err := rows.Scan(&pc, &x, &y, &live); err != nil {
				rows.Close()
				return fmt.Errorf("import postcodes: remove duplicates: %w", err)
			}
			removed++
			if s := sectors[pc[:len(pc)-2]]; s != nil && x != nil && y != nil {
				s.add(*x, *y, live, -1) // the removed copy no longer counts
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("import postcodes: remove duplicates: %w", err)
		}
		if sum.Skipped == nil {
			sum.Skipped = map[string]int64{}
		}
		sum.Skipped[reasonDuplicate] = removed
		if _, err := tx.Exec(ctx, addPK); err != nil {
			return fmt.Errorf("import postcodes: primary key: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE geom IS NULL),
			count(*) FILTER (WHERE terminated IS NOT NULL) FROM postcodes_next`).
			Scan(&sum.Loaded, &sum.Unlocated, &sum.Terminated); err != nil {
			return fmt.Errorf("import postcodes: count: %w", err)
		}
	case err != nil:
		return fmt.Errorf("import postcodes: primary key: %w", err)
	default:
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("import postcodes: %w", err)
		}
	}
	sum.phase("primary_key", mark)
	// Keep in step with migrations/00002_postcodes.sql (a test compares).
	if _, err := tx.Exec(ctx, `
		CREATE INDEX postcodes_next_geom ON postcodes_next USING gist (geom)
		 WHERE terminated IS NULL AND geom IS NOT NULL`); err != nil {
		return fmt.Errorf("import postcodes: indexes: %w", err)
	}
	sum.phase("gist", mark)
	if _, err := tx.Exec(ctx, `ANALYZE postcodes_next`); err != nil {
		return fmt.Errorf("import postcodes: analyze: %w", err)
	}
	sum.phase("analyze", mark)
	return nil
}

// buildCentroids writes the sector and district centroids summed while the
// rows streamed (see sums).
func buildCentroids(ctx context.Context, tx pgx.Tx, sum *Summary, sectors map[string]*sums) error {
	sec, dist := centroidsFrom(sectors)
	if err := writeCentroids(ctx, tx, "postcode_sectors_next", sec); err != nil {
		return err
	}
	if err := writeCentroids(ctx, tx, "postcode_districts_next", dist); err != nil {
		return err
	}
	sum.Sectors, sum.Districts = int64(len(sec)), int64(len(dist))
	if _, err := tx.Exec(ctx, `ANALYZE postcode_sectors_next; ANALYZE postcode_districts_next`); err != nil {
		return fmt.Errorf("import postcodes: analyze: %w", err)
	}
	return nil
}

// swap replaces the serving tables with the staged ones and records the
// import. It runs inside the import's transaction, so readers see either
// the old directory or the new one, never a mixture or nothing; they wait
// only for the few milliseconds the catalogue changes take.
func swap(ctx context.Context, tx pgx.Tx, sum *Summary, start time.Time) error {
	if _, err := tx.Exec(ctx, `
		SET LOCAL lock_timeout = '60s';
		DROP TABLE postcodes, postcode_sectors, postcode_districts;
		ALTER TABLE postcodes_next RENAME TO postcodes;
		ALTER TABLE postcodes RENAME CONSTRAINT postcodes_next_pkey TO postcodes_pkey;
		ALTER INDEX postcodes_next_geom RENAME TO postcodes_geom;
		ALTER TABLE postcode_sectors_next RENAME TO postcode_sectors;
		ALTER TABLE postcode_sectors RENAME CONSTRAINT postcode_sectors_next_pkey TO postcode_sectors_pkey;
		ALTER TABLE postcode_districts_next RENAME TO postcode_districts;
		ALTER TABLE postcode_districts RENAME CONSTRAINT postcode_districts_next_pkey TO postcode_districts_pkey`); err != nil {
		return fmt.Errorf("import postcodes: swap: %w", err)
	}
	js, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("import postcodes: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO postcode_imports (format, sources, started_at, rows_loaded, summary)
		VALUES ($1, $2, $3, $4, $5)`, sum.Format, sum.Files, start, sum.Loaded, js); err != nil {
		return fmt.Errorf("import postcodes: record: %w", err)
	}
	return nil
}

// chunk is a run of whole CSV lines from one source.
type chunk struct {
	src  *source
	buf  *[]byte // returned to the pool once parsed
	data []byte
	line int // line number of data's first line
}

// pipeline reads sources into chunks (one goroutine), parses and encodes
// them (Workers goroutines) and feeds the encoded tuples to COPY (the
// caller's goroutine, through Read).
type pipeline struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	chunks chan chunk
	out    chan *[]byte
	bufs   sync.Pool
	bar    *progressbar.ProgressBar

	mu    sync.Mutex
	stats rowStats

	// COPY stream state, used only by Read.
	cur     []byte
	curBuf  *[]byte
	state   int // 0 header, 1 tuples, 2 trailer, 3 done
	batches int
	hook    func(int)
}

// copyRows streams every source into postcodes_next and returns the counts.
// sink consumes the stream: COPY on the import's connection, or a discard
// in benchmarks of the parsing side alone.
func copyRows(ctx context.Context, sink func(io.Reader) error, format string, srcs []source, opts ImportOptions, bar *progressbar.ProgressBar) (rowStats, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pl := &pipeline{
		ctx: pctx, cancel: cancel, bar: bar, hook: opts.afterBatch,
		chunks: make(chan chunk, workers),
		out:    make(chan *[]byte, workers),
		stats:  newRowStats(),
	}
	pl.bufs.New = func() any { b := make([]byte, 0, chunkSize+chunkSize/2); return &b }

	var wg sync.WaitGroup
	wg.Go(func() {
		if err := pl.produce(srcs); err != nil {
			cancel(err)
		}
	})
	var workersWG sync.WaitGroup
	for range workers {
		workersWG.Go(func() { pl.work(format) })
	}
	wg.Go(func() {
		workersWG.Wait()
		close(pl.out)
	})

	err := sink(pl)
	if err != nil {
		// Prefer the pipeline's own failure (a corrupt archive, say) to the
		// COPY error it provoked.
		if cause := context.Cause(pctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		} else if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	}
	cancel(errors.New("copy finished"))
	wg.Wait()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if err != nil {
		return pl.stats, fmt.Errorf("import postcodes: %w", err)
	}
	return pl.stats, nil
}

func newRowStats() rowStats {
	return rowStats{skipped: map[string]int64{}, warnings: map[string]int64{}, examples: map[string][]string{},
		sectors: map[string]*sums{}}
}

func (pl *pipeline) getBuf() *[]byte { return pl.bufs.Get().(*[]byte) }

func (pl *pipeline) putBuf(b *[]byte) {
	*b = (*b)[:0]
	pl.bufs.Put(b)
}

// produce cuts each source into chunks of whole lines, dropping ONSPD's
// header line.
func (pl *pipeline) produce(srcs []source) error {
	defer close(pl.chunks)
	carry := make([]byte, 0, 64<<10)
	for i := range srcs {
		s := &srcs[i]
		r, err := s.open()
		if err != nil {
			return fmt.Errorf("open %s: %w", s.name, err)
		}
		err = pl.produceOne(s, r, &carry)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (pl *pipeline) produceOne(s *source, r io.Reader, carry *[]byte) error {
	line := 1
	skipHeader := s.schema.header
	*carry = (*carry)[:0]
	for {
		b := pl.getBuf()
		buf := append((*b)[:0], *carry...)
		n, err := fill(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if pl.bar != nil {
			_ = pl.bar.Add(n)
		}
		eof := err == io.EOF
		if err != nil && !eof {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		*carry = (*carry)[:0]
		if !eof {
			cut := bytes.LastIndexByte(buf, '\n')
			if cut < 0 {
				return fmt.Errorf("read %s: line %d is longer than %d bytes", s.name, line, len(buf))
			}
			*carry = append(*carry, buf[cut+1:]...)
			buf = buf[:cut+1]
		}
		*b = buf
		data := buf
		if skipHeader {
			skipHeader = false
			if j := bytes.IndexByte(data, '\n'); j >= 0 {
				data = data[j+1:]
			} else {
				data = nil
			}
			line++
		}
		c := chunk{src: s, buf: b, data: data, line: line}
		line += bytes.Count(data, []byte{'\n'})
		select {
		case pl.chunks <- c:
		case <-pl.ctx.Done():
			return nil
		}
		if eof {
			return nil
		}
	}
}

// fill reads into p until it is full or the reader ends. Unlike
// io.ReadFull it passes io.ErrUnexpectedEOF through as an error: a
// truncated deflate stream reports exactly that, and must fail the import
// rather than pass for the end of the file.
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// work parses chunks into COPY tuples until the chunks run out.
func (pl *pipeline) work(format string) {
	st := newRowStats()
	defer pl.merge(&st)
	enc := &encoder{source: []byte(format)}
	for c := range pl.chunks {
		enc.sc = c.src.schema
		out := pl.getBuf()
		*out = enc.encodeChunk((*out)[:0], c.data, c.src.name, c.line, &st)
		pl.putBuf(c.buf)
		select {
		case pl.out <- out:
		case <-pl.ctx.Done():
			// Drain so the producer is not left blocked.
			for c := range pl.chunks {
				pl.putBuf(c.buf)
			}
			return
		}
	}
}

func (pl *pipeline) merge(st *rowStats) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	t := &pl.stats
	t.rows += st.rows
	t.loaded += st.loaded
	t.unlocated += st.unlocated
	t.terminated += st.terminated
	for k, v := range st.skipped {
		t.skipped[k] += v
	}
	for k, v := range st.warnings {
		t.warnings[k] += v
	}
	for k, s := range st.sectors {
		if t.sectors[k] == nil {
			t.sectors[k] = &sums{}
		}
		t.sectors[k].merge(s)
	}
	for _, k := range slices.Sorted(maps.Keys(st.examples)) {
		for _, e := range st.examples[k] {
			if len(t.examples[k]) < maxExamples {
				t.examples[k] = append(t.examples[k], e)
			}
		}
	}
}

// Read implements io.Reader for pgconn.CopyFrom: the binary COPY header,
// then each encoded batch as the workers finish it, then the trailer.
func (pl *pipeline) Read(p []byte) (int, error) {
	for len(pl.cur) == 0 {
		switch pl.state {
		case 0:
			pl.cur, pl.state = copyHeader, 1
		case 1:
			if pl.curBuf != nil {
				pl.putBuf(pl.curBuf)
				pl.curBuf = nil
				pl.batches++
				if pl.hook != nil {
					pl.hook(pl.batches)
				}
			}
			select {
			case b, ok := <-pl.out:
				if !ok {
					if pl.ctx.Err() != nil {
						return 0, context.Cause(pl.ctx)
					}
					pl.cur, pl.state = copyTrailer, 2
					continue
				}
				pl.curBuf, pl.cur = b, *b
			case <-pl.ctx.Done():
				return 0, context.Cause(pl.ctx)
			}
		default:
			pl.state = 3
			return 0, io.EOF
		}
	}
	n := copy(p, pl.cur)
	pl.cur = pl.cur[n:]
	return n, nil
}
