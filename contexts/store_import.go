package contexts

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/geo/postcodes"
)

// Report is the outcome of a bulk import: how much was read and written,
// and every bad row with why. Errors is capped at MaxReportedErrors;
// ErrorCount counts them all.
type Report struct {
	Rows       int `json:"rows"`
	Inserted   int `json:"inserted"`
	Subjects   int `json:"subjects"`
	Postcodes  int `json:"postcodes"`
	ErrorCount int `json:"error_count"`
	// RebuiltIndexes says the import was big enough to rebuild the table's
	// indexes after loading rather than maintain them row by row.
	RebuiltIndexes bool          `json:"rebuilt_indexes"`
	Errors         []RowError    `json:"errors,omitempty"`
	Timings        ImportTimings `json:"timings"`
}

// RowError is one bad row. Line is the line of the CSV file the row starts
// on (the header is line 1), so a person can find it in a spreadsheet.
type RowError struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ImportTimings breaks an import down for benchmarks and operators.
type ImportTimings struct {
	Parse    time.Duration `json:"parse_ns"`
	Geocode  time.Duration `json:"geocode_ns"`
	Write    time.Duration `json:"write_ns"`    // subjects, COPY, index rebuild, commit
	Subjects time.Duration `json:"subjects_ns"` // hashing and upserting the young people
	Copy     time.Duration `json:"copy_ns"`     // the COPY of harm locations alone
	Indexes  time.Duration `json:"indexes_ns"`  // rebuilding indexes, when RebuiltIndexes
	Analyze  time.Duration `json:"analyze_ns"`  // refreshing statistics after commit
	Total    time.Duration `json:"total_ns"`
}

// MaxReportedErrors caps the row errors listed in a Report.
const MaxReportedErrors = 1000

// geocodeBatch is how many distinct postcodes go to the geocoder at once:
// the postcode directory's own limit (one database round trip each), so
// any adapter of it works unchanged.
const geocodeBatch = postcodes.MaxBatch

// importColumns are the CSV columns, matched by header name in any order.
// categories holds one or more codes separated by ";" or "|" (or "," in a
// quoted field); postcode or lat and lon locate the row.
var importColumns = []string{"subject", "categories", "familial", "layer", "occurred", "source",
	"location_type", "postcode", "lat", "lon", "context_id"}

const (
	colSubject = iota
	colCategories
	colFamilial
	colLayer
	colOccurred
	colSource
	colLocationType
	colPostcode
	colLat
	colLon
	colContextID
)

// importRow is one validated row, kept compact (a million of them are held
// until every row is known to be good): strings are interned and referred
// to by index.
type importRow struct {
	subject    int32 // index into subjects
	cats       int32 // index into category sets
	occurred   int32 // index into dates
	postcode   int32 // index into postcodes, -1 for lat/lon
	line       int32
	familial   uint8
	layer      uint8
	source     uint8
	ltype      uint8
	lat, lon   float64
	r6, r7, r8 int64 // 0 = none
	contextID  int64
}

// importer holds the state of one ImportHarmCSV call.
type importer struct {
	tax    *Taxonomy
	now    time.Time
	report Report
	rows   []importRow

	subjects   []string // normalised person ids
	subjectIdx map[string]int32
	catSets    [][]string
	catIdx     map[string]int32 // raw field -> index, or -1 - error index
	catErrs    []error
	dates      []occurred
	dateIdx    map[string]int32
	dateErrs   []error
	postcodes  []string // normalised
	pcByNorm   map[string]int32
	pcByRaw    map[string]int32
	pcErrs     []error
	matches    []string // per postcode: the geocode's match level
	precisions []int32  // per postcode: the geocode's precision in metres
	contextIDs map[int64]bool
	rowErrors  []RowError
	parseBad   int // rows refused while parsing (not in rows)
}

// ImportHarmCSV imports locations of harm in bulk, all or nothing: every
// row is validated first (a row of the file never half-imports), distinct
// postcodes are geocoded in large batches, then all rows are written in one
// transaction with COPY and owned by the actor's team. When any row is bad
// nothing is written and the error is a 422 "import_invalid" with the
// Report listing each bad row and why.
func (s *Store) ImportHarmCSV(ctx context.Context, r io.Reader, a *Actor) (Report, error) {
	start := time.Now()
	if err := require(a, RolePractitioner, RoleAdmin); err != nil {
		return Report{}, err
	}
	tax, err := s.Taxonomy(ctx)
	if err != nil {
		return Report{}, err
	}
	im := &importer{
		tax: tax, now: s.now(),
		subjectIdx: make(map[string]int32), catIdx: make(map[string]int32), dateIdx: make(map[string]int32),
		pcByNorm: make(map[string]int32), pcByRaw: make(map[string]int32), contextIDs: make(map[int64]bool),
	}
	if err := im.parse(r); err != nil {
		return im.report, err
	}
	im.report.Timings.Parse = time.Since(start)
	t := time.Now()
	if err := s.importGeocode(ctx, im); err != nil {
		return im.report, err
	}
	if err := im.checkContexts(ctx, s.pool); err != nil {
		return im.report, err
	}
	im.report.Timings.Geocode = time.Since(t)
	im.report.Rows = len(im.rows) + im.parseBad
	im.report.Subjects = len(im.subjects)
	im.report.Postcodes = len(im.postcodes)
	if len(im.rowErrors) > 0 {
		slices.SortStableFunc(im.rowErrors, func(x, y RowError) int { return int(x.Line - y.Line) })
		im.report.ErrorCount = len(im.rowErrors)
		im.report.Errors = im.rowErrors[:min(len(im.rowErrors), MaxReportedErrors)]
		im.report.Timings.Total = time.Since(start)
		return im.report, ctxmap.Errorf(ctxmap.KindUnprocessable, "import_invalid",
			"%d of %d rows are invalid (first at line %d: %s); nothing was written",
			im.report.ErrorCount, im.report.Rows, im.rowErrors[0].Line, im.rowErrors[0].Message).
			WithDetail("report", im.report)
	}
	if len(im.rows) == 0 {
		return im.report, ctxmap.Errorf(ctxmap.KindInvalid, "import_empty", "the file has a header but no rows")
	}
	t = time.Now()
	if err := s.importWrite(ctx, im, a); err != nil {
		return im.report, err
	}
	im.report.Timings.Write = time.Since(t)
	im.report.Inserted = len(im.rows)
	s.heatChanged()
	if im.report.RebuiltIndexes {
		// The table changed size a lot: fresh statistics (of the columns
		// queries filter on; geometry statistics are slow and unused) so
		// plans fit at once. A failure costs only plan quality until
		// autovacuum catches up, so it is logged, not returned.
		t = time.Now()
		if _, err := s.pool.Exec(ctx, `ANALYZE harm_locations (layer, occurred_on, archived_at, subject_id, team_id, categories, context_id)`); err != nil {
			s.log.WarnContext(ctx, "analyze after import", "err", err)
		}
		im.report.Timings.Analyze = time.Since(t)
	}
	im.report.Timings.Total = time.Since(start)
	return im.report, nil
}

func (im *importer) rowError(line int, err error) {
	var e *ctxmap.Error
	re := RowError{Line: line, Code: "invalid", Message: err.Error()}
	if errors.As(err, &e) {
		re.Code, re.Message = e.Code, e.Message
		if f, ok := e.Details["field"].(string); ok {
			re.Field = f
		}
	}
	im.rowErrors = append(im.rowErrors, re)
}

// parse reads and validates every row. Validation results are cached per
// distinct raw value, so a million rows with a few thousand distinct
// dates, category lists and postcodes cost a few thousand validations.
func (im *importer) parse(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return ctxmap.Errorf(ctxmap.KindInvalid, "import_empty", "the file is empty; the first line must be a header naming the columns")
	}
	if err != nil {
		return ctxmap.Errorf(ctxmap.KindInvalid, "import_malformed", "cannot read the header: %v", err)
	}
	pos := make([]int, len(importColumns))
	for i := range pos {
		pos[i] = -1
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		j := slices.Index(importColumns, h)
		if j < 0 {
			return ctxmap.Errorf(ctxmap.KindInvalid, "import_header", "unknown column %q; the columns are %s", trunc(h, 40), strings.Join(importColumns, ", "))
		}
		if pos[j] >= 0 {
			return ctxmap.Errorf(ctxmap.KindInvalid, "import_header", "column %q appears twice", h)
		}
		pos[j] = i
	}
	for _, req := range []int{colSubject, colCategories, colFamilial, colLayer, colOccurred, colSource, colLocationType} {
		if pos[req] < 0 {
			return ctxmap.Errorf(ctxmap.KindInvalid, "import_header", "the header has no %q column", importColumns[req])
		}
	}
	if pos[colPostcode] < 0 && (pos[colLat] < 0 || pos[colLon] < 0) {
		return ctxmap.Errorf(ctxmap.KindInvalid, "import_header", "the header needs a postcode column, or lat and lon columns")
	}
	im.rows = make([]importRow, 0, 1024)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				im.parseBad++
				im.rowErrors = append(im.rowErrors, RowError{Line: pe.StartLine, Code: "csv_malformed", Message: pe.Err.Error()})
				if pe.Err == csv.ErrQuote || pe.Err == csv.ErrBareQuote {
					// The reader cannot resynchronise after a broken quote.
					return nil
				}
				continue
			}
			return fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a line of spaces
		}
		if len(rec) != len(header) {
			im.parseBad++
			im.rowErrors = append(im.rowErrors, RowError{Line: line, Code: "csv_field_count",
				Message: fmt.Sprintf("the row has %d fields; the header has %d", len(rec), len(header))})
			continue
		}
		if len(im.rows)+im.parseBad >= MaxImportRows {
			return ctxmap.Errorf(ctxmap.KindTooLarge, "import_too_large", "at most %d rows per import; split the file", MaxImportRows)
		}
		row, err := im.parseRow(rec, pos)
		if err != nil {
			im.parseBad++
			im.rowError(line, err)
			continue
		}
		row.line = int32(line)
		im.rows = append(im.rows, row)
	}
	return nil
}

// MaxImportRows bounds one import (and its memory, ~100 bytes a row).
const MaxImportRows = 5_000_000

func field(rec []string, pos []int, col int) string {
	if pos[col] < 0 {
		return ""
	}
	return rec[pos[col]]
}

func (im *importer) parseRow(rec []string, pos []int) (importRow, error) {
	var row importRow
	subj, err := normalizeSubject(field(rec, pos, colSubject))
	if err != nil {
		return row, err
	}
	idx, ok := im.subjectIdx[subj]
	if !ok {
		subj = strings.Clone(subj)
		idx = int32(len(im.subjects))
		im.subjects = append(im.subjects, subj)
		im.subjectIdx[subj] = idx
	}
	row.subject = idx
	if row.cats, err = im.categories(field(rec, pos, colCategories)); err != nil {
		return row, err
	}
	if row.familial, err = termIndex("familial", "invalid_familial", familialTerms, field(rec, pos, colFamilial)); err != nil {
		return row, err
	}
	if row.layer, err = termIndex("layer", "invalid_layer", layerTerms, field(rec, pos, colLayer)); err != nil {
		return row, err
	}
	if row.occurred, err = im.date(field(rec, pos, colOccurred)); err != nil {
		return row, err
	}
	if row.source, err = termIndex("source", "invalid_source", sourceTerms, field(rec, pos, colSource)); err != nil {
		return row, err
	}
	if row.ltype, err = termIndex("location_type", "invalid_location_type", locationTypes, field(rec, pos, colLocationType)); err != nil {
		return row, err
	}
	if c := strings.TrimSpace(field(rec, pos, colContextID)); c != "" {
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil || id <= 0 {
			return row, invalidField("context_id", "invalid_context_id", "context_id must be a context record's id, not %q", trunc(c, 40))
		}
		row.contextID = id
		im.contextIDs[id] = false
	}
	pc := strings.TrimSpace(field(rec, pos, colPostcode))
	la, lo := strings.TrimSpace(field(rec, pos, colLat)), strings.TrimSpace(field(rec, pos, colLon))
	row.postcode = -1
	switch {
	case pc != "" && (la != "" || lo != ""):
		return row, invalidField("postcode", "ambiguous_location", "give either a postcode or lat/lon, not both")
	case pc != "":
		if row.postcode, err = im.postcode(pc); err != nil {
			return row, err
		}
	case la != "" || lo != "":
		lat, err1 := strconv.ParseFloat(la, 64)
		lon, err2 := strconv.ParseFloat(lo, 64)
		if err1 != nil || err2 != nil {
			return row, invalidField("lat", "invalid_coordinates", "lat and lon must both be decimal degrees")
		}
		if _, _, _, _, err := checkPlace("", &lat, &lon, false); err != nil {
			return row, err
		}
		row.lat, row.lon = lat, lon
	default:
		return row, ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "a location is required: give a postcode or lat and lon").WithDetail("field", "postcode")
	}
	return row, nil
}

// termIndex validates a controlled-list code and returns its position.
func termIndex(field, code string, list []Term, v string) (uint8, error) {
	for i, t := range list {
		if t.Code == v {
			return uint8(i), nil
		}
	}
	c, err := checkTerm(field, code, list, v)
	if err != nil {
		return 0, err
	}
	for i, t := range list {
		if t.Code == c {
			return uint8(i), nil
		}
	}
	return 0, fmt.Errorf("term %q vanished", c)
}

func (im *importer) categories(raw string) (int32, error) {
	if i, ok := im.catIdx[raw]; ok {
		if i < 0 {
			return 0, im.catErrs[-i-1]
		}
		return i, nil
	}
	parts := strings.FieldsFunc(raw, func(r rune) bool { return r == ';' || r == '|' || r == ',' })
	cats, err := checkCategories(im.tax, parts)
	if err != nil {
		im.catErrs = append(im.catErrs, err)
		im.catIdx[strings.Clone(raw)] = int32(-len(im.catErrs))
		return 0, err
	}
	i := int32(len(im.catSets))
	im.catSets = append(im.catSets, cats)
	im.catIdx[strings.Clone(raw)] = i
	return i, nil
}

func (im *importer) date(raw string) (int32, error) {
	if i, ok := im.dateIdx[raw]; ok {
		if i < 0 {
			return 0, im.dateErrs[-i-1]
		}
		return i, nil
	}
	o, err := parseOccurred(raw, im.now)
	if err != nil {
		im.dateErrs = append(im.dateErrs, err)
		im.dateIdx[strings.Clone(raw)] = int32(-len(im.dateErrs))
		return 0, err
	}
	i := int32(len(im.dates))
	im.dates = append(im.dates, o)
	im.dateIdx[strings.Clone(raw)] = i
	return i, nil
}

func (im *importer) postcode(raw string) (int32, error) {
	if i, ok := im.pcByRaw[raw]; ok {
		if i < 0 {
			return 0, im.pcErrs[-i-1]
		}
		return i, nil
	}
	p, err := geo.ParsePostcode(raw)
	if err != nil {
		var e *ctxmap.Error
		if errors.As(err, &e) {
			err = e.WithDetail("field", "postcode")
		}
		im.pcErrs = append(im.pcErrs, err)
		im.pcByRaw[strings.Clone(raw)] = int32(-len(im.pcErrs))
		return 0, err
	}
	norm := p.String()
	i, ok := im.pcByNorm[norm]
	if !ok {
		i = int32(len(im.postcodes))
		im.postcodes = append(im.postcodes, norm)
		im.pcByNorm[norm] = i
	}
	im.pcByRaw[strings.Clone(raw)] = i
	return i, nil
}

// importGeocode places every distinct postcode, fills in each row's point
// and cells, and reports rows whose postcode is unknown.
func (s *Store) importGeocode(ctx context.Context, im *importer) error {
	type place struct {
		lat, lon   float64
		r6, r7, r8 int64
		match      string
		precision  int
	}
	places := make([]place, len(im.postcodes))
	var missing map[int32]bool
	if len(im.postcodes) > 0 && s.geocoder == nil {
		return ctxmap.Errorf(ctxmap.KindUnavailable, "geocoder_unavailable", "no postcode directory is configured; give lat and lon instead")
	}
	for start := 0; start < len(im.postcodes); start += geocodeBatch {
		batch := im.postcodes[start:min(start+geocodeBatch, len(im.postcodes))]
		res, err := s.geocoder.Geocode(ctx, batch)
		if err != nil {
			return fmt.Errorf("geocode postcodes: %w", err)
		}
		if len(res) != len(batch) {
			return fmt.Errorf("geocode postcodes: %d results for %d postcodes", len(res), len(batch))
		}
		for i, g := range res {
			idx := int32(start + i)
			if g.Match == "" || g.Match == "none" {
				if missing == nil {
					missing = make(map[int32]bool)
				}
				missing[idx] = true
				continue
			}
			p := place{lat: g.Lat, lon: g.Lon, match: g.Match, precision: g.PrecisionM}
			r6, r7, r8 := cellsFor(g.Lat, g.Lon, cellRes(g.Match, g.PrecisionM))
			p.r6 = r6
			if r7 != nil {
				p.r7 = *r7
			}
			if r8 != nil {
				p.r8 = *r8
			}
			places[idx] = p
		}
	}
	im.matches = make([]string, len(places))
	im.precisions = make([]int32, len(places))
	for i, p := range places {
		im.matches[i], im.precisions[i] = p.match, int32(p.precision)
	}
	// Rows: postcode rows copy their place; lat/lon rows index their own
	// point, split across the cores (H3 indexing is the costly part).
	workers := max(1, runtime.GOMAXPROCS(0))
	chunk := (len(im.rows) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(im.rows))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(rows []importRow) {
			defer wg.Done()
			for i := range rows {
				r := &rows[i]
				if r.postcode >= 0 {
					p := &places[r.postcode]
					r.lat, r.lon, r.r6, r.r7, r.r8 = p.lat, p.lon, p.r6, p.r7, p.r8
					continue
				}
				c := geo.CellsFor(r.lat, r.lon)
				r.r6, r.r7, r.r8 = int64(c[0]), int64(c[1]), int64(c[2])
			}
		}(im.rows[lo:hi])
	}
	wg.Wait()
	if len(missing) > 0 {
		for _, r := range im.rows {
			if r.postcode >= 0 && missing[r.postcode] {
				im.rowError(int(r.line), postcodeNotFound(im.postcodes[r.postcode]))
			}
		}
	}
	return nil
}

// checkContexts reports rows naming a context record that does not exist.
func (im *importer) checkContexts(ctx context.Context, q querier) error {
	if len(im.contextIDs) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(im.contextIDs))
	for id := range im.contextIDs {
		ids = append(ids, id)
	}
	rows, err := q.Query(ctx, `SELECT id FROM contexts WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("check contexts: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("check contexts: %w", err)
	}
	for _, id := range found {
		im.contextIDs[id] = true
	}
	for _, r := range im.rows {
		if r.contextID != 0 && !im.contextIDs[r.contextID] {
			im.rowError(int(r.line), unprocessable("context_id", "unknown_context", "there is no context record with id %d", r.contextID))
		}
	}
	return nil
}

// importWrite writes the subjects and rows in one transaction.
func (s *Store) importWrite(ctx context.Context, im *importer, a *Actor) error {
	t0 := time.Now()
	// Hash every young person's id on all cores before the transaction.
	hashes := make([][]byte, len(im.subjects))
	keys := make([]int16, len(im.subjects))
	workers := max(1, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			h := newSubjectHasher(s.secret)
			for i := w; i < len(im.subjects); i += workers {
				sh := h.hash(im.subjects[i])
				hashes[i], keys[i] = sh[:], int16(h.cellKey(sh))
			}
		}(w)
	}
	wg.Wait()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// A million rows take longer than the service's statement timeout.
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '30min'`); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE import_subjects (ord integer, hash bytea, cell_key smallint) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("import subjects: %w", err)
		}
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"import_subjects"}, []string{"ord", "hash", "cell_key"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(im.subjects) {
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
		ids := make([]any, len(im.subjects))
		rows, err := tx.Query(ctx, `SELECT i.ord, s.id FROM import_subjects i JOIN subjects s ON s.hash = i.hash`)
		if err != nil {
			return fmt.Errorf("import subjects: %w", err)
		}
		var ord int32
		var id int64
		if _, err := pgx.ForEachRow(rows, []any{&ord, &id}, func() error { ids[ord] = id; return nil }); err != nil {
			return fmt.Errorf("import subjects: %w", err)
		}
		im.report.Timings.Subjects = time.Since(t0)
		rebuild, err := s.dropIndexesForBulkLoad(ctx, tx, len(im.rows))
		if err != nil {
			return err
		}
		src := newHarmCopySource(im, ids, keys, a)
		t := time.Now()
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"harm_locations"}, harmCopyColumns, src)
		im.report.Timings.Copy = time.Since(t)
		if err != nil {
			return fmt.Errorf("copy harm locations: %w", err)
		}
		if int(n) != len(im.rows) {
			return fmt.Errorf("copy harm locations: wrote %d of %d rows", n, len(im.rows))
		}
		im.report.RebuiltIndexes = len(rebuild) > 0
		t = time.Now()
		for _, def := range rebuild {
			if _, err := tx.Exec(ctx, def); err != nil {
				return fmt.Errorf("rebuild index after import: %w", err)
			}
		}
		im.report.Timings.Indexes = time.Since(t)
		return Audit(ctx, tx, a, "harm_locations.import", "harm-locations", "",
			map[string]any{"rows": n, "subjects": len(im.subjects)})
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

// harmCopySource streams importRows into COPY without building a second
// copy of the data. Values shared by many rows (subjects, codes, dates,
// postcodes) are boxed once, not once per row, and rows go out ordered by
// layer and date, the key of the widest index, so its inserts stay on hot
// pages.
type harmCopySource struct {
	im                         *importer
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

func boxTerms(list []Term) []any {
	out := make([]any, len(list))
	for i, t := range list {
		out[i] = t.Code
	}
	return out
}

func newHarmCopySource(im *importer, ids []any, keys []int16, a *Actor) *harmCopySource {
	c := &harmCopySource{im: im, i: -1, subjectIDs: ids, team: a.TeamID, user: a.UserID, version: int32(im.tax.Version),
		layers: boxTerms(layerTerms), familial: boxTerms(familialTerms), sources: boxTerms(sourceTerms),
		ltypes: boxTerms(locationTypes), latlon: "latlon", latlonPrecision: int32(latlonPrecisionM)}
	c.keys = make([]any, len(keys))
	for i, k := range keys {
		c.keys[i] = k
	}
	c.cats = make([]any, len(im.catSets))
	for i, cs := range im.catSets {
		c.cats[i] = cs
	}
	c.dates = make([]any, len(im.dates))
	c.datePrecision = make([]any, len(im.dates))
	for i, d := range im.dates {
		c.dates[i], c.datePrecision[i] = d.date, d.precision()
	}
	c.postcodes = make([]any, len(im.postcodes))
	c.matches = make([]any, len(im.postcodes))
	c.precis = make([]any, len(im.postcodes))
	for i := range im.postcodes {
		c.postcodes[i], c.matches[i], c.precis[i] = im.postcodes[i], im.matches[i], im.precisions[i]
	}
	// Counting sort of row indexes by (layer, date): O(n), no row copies.
	rank := make([]int32, len(im.dates))
	byDate := make([]int32, len(im.dates))
	for i := range byDate {
		byDate[i] = int32(i)
	}
	slices.SortFunc(byDate, func(x, y int32) int { return im.dates[x].date.Compare(im.dates[y].date) })
	for r, d := range byDate {
		rank[d] = int32(r)
	}
	nb := len(layerTerms) * len(im.dates)
	start := make([]int32, nb+1)
	bucket := func(r *importRow) int { return int(r.layer)*len(im.dates) + int(rank[r.occurred]) }
	for i := range im.rows {
		start[bucket(&im.rows[i])+1]++
	}
	for b := 1; b <= nb; b++ {
		start[b] += start[b-1]
	}
	c.order = make([]int32, len(im.rows))
	for i := range im.rows {
		b := bucket(&im.rows[i])
		c.order[start[b]] = int32(i)
		start[b]++
	}
	return c
}

// Next advances to the next row in (layer, date) order.
func (c *harmCopySource) Next() bool {
	c.i++
	return c.i < len(c.order)
}

// Err is always nil: every row was validated before the COPY began.
func (c *harmCopySource) Err() error { return nil }

// Values returns the current row, in harmCopyColumns order, in a slice
// reused for every row (pgx encodes it before asking for the next).
func (c *harmCopySource) Values() ([]any, error) {
	r := &c.im.rows[c.order[c.i]]
	v := c.vals[:]
	v[0] = c.subjectIDs[r.subject]
	v[1] = c.keys[r.subject]
	v[2] = c.team
	v[3] = c.user
	v[4] = c.layers[r.layer]
	v[5] = c.cats[r.cats]
	v[6] = c.familial[r.familial]
	v[7] = c.dates[r.occurred]
	v[8] = c.datePrecision[r.occurred]
	v[9] = c.sources[r.source]
	v[10] = c.ltypes[r.ltype]
	if r.postcode >= 0 {
		v[11] = c.postcodes[r.postcode]
		v[12] = c.matches[r.postcode]
		v[13] = c.precis[r.postcode]
	} else {
		v[11] = nil
		v[12] = c.latlon
		v[13] = c.latlonPrecision
	}
	v[14] = r.lat
	v[15] = r.lon
	v[16] = r.r6
	v[17] = nullInt(r.r7)
	v[18] = nullInt(r.r8)
	v[19] = nullInt(r.contextID)
	v[20] = c.version
	return v, nil
}

func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}
