package postgres

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap/contexts"
)

// ImportHarmCSV imports locations of harm in bulk, all or nothing: every
// row is validated first (a row of the file never half-imports), distinct
// postcodes are geocoded in large batches, then all rows are written in one
// transaction with COPY and owned by the actor's team. When any row is bad
// nothing is written and the error is a 422 "import_invalid" with the
// Report listing each bad row and why.
func (s *Store) ImportHarmCSV(ctx context.Context, r io.Reader, a *contexts.Actor) (contexts.Report, error) {
	start := time.Now()
	var rep contexts.Report
	if err := contexts.Require(a, contexts.RolePractitioner, contexts.RoleAdmin); err != nil {
		return rep, err
	}
	tax, err := s.Taxonomy(ctx)
	if err != nil {
		return rep, err
	}
	b, err := contexts.ParseHarmCSV(r, tax, s.now())
	if err != nil {
		return rep, err
	}
	rep.Timings.Parse = time.Since(start)
	t := time.Now()
	if err := b.Place(ctx, s.geocoder); err != nil {
		return rep, err
	}
	if err := s.checkContexts(ctx, b); err != nil {
		return rep, err
	}
	rep.Timings.Geocode = time.Since(t)
	rep.Timings.Total = time.Since(start)
	if err := b.Check(&rep); err != nil {
		return rep, err
	}
	t = time.Now()
	if err := s.importWrite(ctx, b, a, &rep); err != nil {
		return rep, err
	}
	rep.Timings.Write = time.Since(t)
	rep.Inserted = len(b.Rows)
	if rep.RebuiltIndexes {
		// The table changed size a lot: fresh statistics (of the columns
		// queries filter on; geometry statistics are slow and unused) so
		// plans fit at once. A failure costs only plan quality until
		// autovacuum catches up, so it is logged, not returned.
		t = time.Now()
		if _, err := s.db.Exec(ctx, `ANALYZE harm_locations (layer, occurred_on, archived_at, subject_id, team_id, categories, context_id)`); err != nil {
			s.log.WarnContext(ctx, "analyze after import", "err", err)
		}
		rep.Timings.Analyze = time.Since(t)
	}
	rep.Timings.Total = time.Since(start)
	return rep, nil
}

// checkContexts reports rows naming a context record that does not exist.
func (s *Store) checkContexts(ctx context.Context, b *contexts.HarmBatch) error {
	if len(b.ContextIDs) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(b.ContextIDs))
	for id := range b.ContextIDs {
		ids = append(ids, id)
	}
	rows, err := s.db.Query(ctx, `SELECT id FROM contexts WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("check contexts: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("check contexts: %w", err)
	}
	b.MarkContexts(found)
	return nil
}

// importWrite writes the subjects and rows in one transaction.
func (s *Store) importWrite(ctx context.Context, b *contexts.HarmBatch, a *contexts.Actor, rep *contexts.Report) error {
	t0 := time.Now()
	// Hash every young person's id on all cores before the transaction.
	hashes := make([][]byte, len(b.Subjects))
	keys := make([]int16, len(b.Subjects))
	workers := max(1, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			h := contexts.NewSubjectHasher(s.secret)
			for i := w; i < len(b.Subjects); i += workers {
				sh := h.Hash(b.Subjects[i])
				hashes[i], keys[i] = sh[:], int16(h.CellKey(sh))
			}
		}(w)
	}
	wg.Wait()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// A million rows take longer than the service's statement timeout.
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '30min'`); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		// No retention run erases while an import runs, nor the other way
		// round: a shared hold on the lock a run takes exclusively, cheaper
		// for a million rows than locking every subject row as a single
		// write does (upsertSubject).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, retentionLock); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE import_subjects (ord integer, hash bytea, cell_key smallint) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("import subjects: %w", err)
		}
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"import_subjects"}, []string{"ord", "hash", "cell_key"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(b.Subjects) {
					return nil, nil
				}
				v := []any{int32(i), hashes[i], keys[i]}
				i++
				return v, nil
			}))
		if err != nil {
			return fmt.Errorf("import subjects: %w", err)
		}
		// In key order, so the unique index on hash is filled leaf by leaf
		// rather than at random.
		if _, err := tx.Exec(ctx, `INSERT INTO subjects (hash, cell_key) SELECT hash, cell_key FROM import_subjects
			ORDER BY hash ON CONFLICT (hash) DO NOTHING`); err != nil {
			return fmt.Errorf("import subjects: %w", err)
		}
		ids := make([]any, len(b.Subjects))
		rows, err := tx.Query(ctx, `SELECT i.ord, s.id FROM import_subjects i JOIN subjects s ON s.hash = i.hash`)
		if err != nil {
			return fmt.Errorf("import subjects: %w", err)
		}
		var ord int32
		var id int64
		if _, err := pgx.ForEachRow(rows, []any{&ord, &id}, func() error { ids[ord] = id; return nil }); err != nil {
			return fmt.Errorf("import subjects: %w", err)
		}
		rep.Timings.Subjects = time.Since(t0)
		rebuild, err := s.dropIndexesForBulkLoad(ctx, tx, len(b.Rows))
		if err != nil {
			return err
		}
		src := newHarmCopySource(b, ids, keys, a)
		t := time.Now()
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"harm_locations"}, harmCopyColumns, src)
		rep.Timings.Copy = time.Since(t)
		if err != nil {
			return fmt.Errorf("copy harm locations: %w", err)
		}
		if int(n) != len(b.Rows) {
			return fmt.Errorf("copy harm locations: wrote %d of %d rows", n, len(b.Rows))
		}
		rep.RebuiltIndexes = len(rebuild) > 0
		t = time.Now()
		for _, def := range rebuild {
			if _, err := tx.Exec(ctx, def); err != nil {
				return fmt.Errorf("rebuild index after import: %w", err)
			}
		}
		rep.Timings.Indexes = time.Since(t)
		return audit(ctx, tx, a, "harm_locations.import", "harm-locations", "",
			map[string]any{"rows": n, "subjects": len(b.Subjects)})
	})
}

// Bulk-load thresholds: an import at least this big (Store.bulkMinRows),
// and at least half the size of the table, rebuilds the secondary indexes
// instead of maintaining them row by row.
const (
	bulkRebuildMinRows = 100_000
	bulkRebuildShare   = 0.5
)

// dropIndexesForBulkLoad drops harm_locations' secondary indexes, inside
// the import's transaction, when the import is big relative
// to the table, and returns the statements that recreate them. Building an
// index from sorted data after the COPY costs far less than a million
// row-by-row insertions (measured: 12.4 s instead of 23.1 s of database CPU
// for a million rows and the two secondary indexes). The price is an
// exclusive lock on harm_locations until the import commits, which is why
// only large loads (a case system migration, not a weekly top-up) take
// this path; if the lock cannot be had within 5 s the import maintains the
// indexes instead. Definitions are read from the catalogue, so they always
// match the migrations.
func (s *Store) dropIndexesForBulkLoad(ctx context.Context, tx pgx.Tx, rows int) ([]string, error) {
	if rows < s.bulkMinRows {
		return nil, nil
	}
	var tuples float64
	if err := tx.QueryRow(ctx, `SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'harm_locations'::regclass`).Scan(&tuples); err != nil {
		return nil, fmt.Errorf("table size: %w", err)
	}
	if float64(rows) < bulkRebuildShare*tuples {
		return nil, nil
	}
	// The primary key stays: its serial keys append to the rightmost leaf,
	// which costs little row by row.
	r, err := tx.Query(ctx, `SELECT 'DROP INDEX ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i WHERE i.indrelid = 'harm_locations'::regclass
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	var drops, defs []string
	var drop, def string
	if _, err := pgx.ForEachRow(r, []any{&drop, &def}, func() error {
		drops, defs = append(drops, drop), append(defs, def)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT bulk_indexes; SET LOCAL lock_timeout = '5s'; SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	for _, d := range drops {
		if _, err := tx.Exec(ctx, d); err != nil {
			s.log.WarnContext(ctx, "import: keeping indexes, could not lock harm_locations", "err", err)
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT bulk_indexes`); err != nil {
				return nil, fmt.Errorf("bulk load: %w", err)
			}
			return nil, nil
		}
	}
	if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT bulk_indexes; SET LOCAL lock_timeout = 0`); err != nil {
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	return defs, nil
}

var harmCopyColumns = []string{"subject_id", "subject_key", "team_id", "created_by", "layer", "categories", "familial",
	"occurred_on", "occurred_precision", "source", "location_type", "postcode", "match", "precision_m",
	"lat", "lon", "h3_r6", "h3_r7", "h3_r8", "context_id", "taxonomy_version"}

// harmCopySource streams a HarmBatch's rows into COPY without building a
// second copy of the data. Values shared by many rows (subjects, codes,
// dates, postcodes) are boxed once, not once per row, and rows go out in
// the batch's write order.
type harmCopySource struct {
	b                          *contexts.HarmBatch
	order                      []int32
	i                          int
	vals                       [21]any
	subjectIDs, keys           []any
	team, user, version        any
	layers, familial, sources  []any
	ltypes, cats               []any
	dates, datePrecision       []any
	postcodes, matches, precis []any
	latlon, latlonPrecision    any
}

func boxTerms(list []contexts.Term) []any {
	out := make([]any, len(list))
	for i, t := range list {
		out[i] = t.Code
	}
	return out
}

func newHarmCopySource(b *contexts.HarmBatch, ids []any, keys []int16, a *contexts.Actor) *harmCopySource {
	tax := b.Taxonomy
	c := &harmCopySource{b: b, i: -1, subjectIDs: ids, team: a.TeamID, user: a.UserID, version: int32(tax.Version),
		layers: boxTerms(tax.Layers), familial: boxTerms(tax.Familial), sources: boxTerms(tax.Sources),
		ltypes: boxTerms(tax.LocationTypes), latlon: "latlon", latlonPrecision: int32(contexts.LatLonPrecisionM)}
	c.keys = make([]any, len(keys))
	for i, k := range keys {
		c.keys[i] = k
	}
	c.cats = make([]any, len(b.CategorySets))
	for i, cs := range b.CategorySets {
		c.cats[i] = cs
	}
	c.dates = make([]any, len(b.Dates))
	c.datePrecision = make([]any, len(b.Dates))
	for i, d := range b.Dates {
		c.dates[i], c.datePrecision[i] = d.Date, d.Precision()
	}
	c.postcodes = make([]any, len(b.Postcodes))
	c.matches = make([]any, len(b.Postcodes))
	c.precis = make([]any, len(b.Postcodes))
	for i := range b.Postcodes {
		c.postcodes[i], c.matches[i], c.precis[i] = b.Postcodes[i], b.Matches[i], b.Precisions[i]
	}
	c.order = b.WriteOrder()
	return c
}

// Next advances to the next row in write order.
func (c *harmCopySource) Next() bool {
	c.i++
	return c.i < len(c.order)
}

// Err is always nil: every row was validated before the COPY began.
func (c *harmCopySource) Err() error { return nil }

// Values returns the current row, in harmCopyColumns order, in a slice
// reused for every row (pgx encodes it before asking for the next).
func (c *harmCopySource) Values() ([]any, error) {
	r := &c.b.Rows[c.order[c.i]]
	v := c.vals[:]
	v[0] = c.subjectIDs[r.Subject]
	v[1] = c.keys[r.Subject]
	v[2] = c.team
	v[3] = c.user
	v[4] = c.layers[r.Layer]
	v[5] = c.cats[r.Categories]
	v[6] = c.familial[r.Familial]
	v[7] = c.dates[r.Occurred]
	v[8] = c.datePrecision[r.Occurred]
	v[9] = c.sources[r.Source]
	v[10] = c.ltypes[r.LocationType]
	if r.Postcode >= 0 {
		v[11] = c.postcodes[r.Postcode]
		v[12] = c.matches[r.Postcode]
		v[13] = c.precis[r.Postcode]
	} else {
		v[11] = nil
		v[12] = c.latlon
		v[13] = c.latlonPrecision
	}
	v[14] = r.Lat
	v[15] = r.Lon
	v[16] = r.R6
	v[17] = nullInt(r.R7)
	v[18] = nullInt(r.R8)
	v[19] = nullInt(r.ContextID)
	v[20] = c.version
	return v, nil
}

func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}
