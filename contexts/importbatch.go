package contexts

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// After parsing, a HarmBatch is placed (geocoded and indexed into cells),
// checked as a whole, and ordered for writing; its outcome is a Report.

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

// Place geocodes every distinct postcode in large batches, fills in each
// row's point and cells, and records rows whose postcode is unknown as
// errors.
func (b *HarmBatch) Place(ctx context.Context, g Geocoder) error {
	type place struct {
		lat, lon   float64
		r6, r7, r8 int64
		match      string
		precision  int
	}
	places := make([]place, len(b.Postcodes))
	var missing map[int32]bool
	if len(b.Postcodes) > 0 && g == nil {
		return ctxmap.Errorf(ctxmap.KindUnavailable, "geocoder_unavailable", "no postcode directory is configured; give lat and lon instead")
	}
	for start := 0; start < len(b.Postcodes); start += GeocodeBatch {
		batch := b.Postcodes[start:min(start+GeocodeBatch, len(b.Postcodes))]
		res, err := g.Geocode(ctx, batch)
		if err != nil {
			return fmt.Errorf("geocode postcodes: %w", err)
		}
		if len(res) != len(batch) {
			return fmt.Errorf("geocode postcodes: %d results for %d postcodes", len(res), len(batch))
		}
		for i, gc := range res {
			idx := int32(start + i)
			if gc.Match == "" || gc.Match == "none" {
				if missing == nil {
					missing = make(map[int32]bool)
				}
				missing[idx] = true
				continue
			}
			p := place{lat: gc.Lat, lon: gc.Lon, match: gc.Match, precision: gc.PrecisionM}
			r6, r7, r8 := CellsFor(gc.Lat, gc.Lon, CellRes(gc.Match, gc.PrecisionM))
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
	b.Matches = make([]string, len(places))
	b.Precisions = make([]int32, len(places))
	for i, p := range places {
		b.Matches[i], b.Precisions[i] = p.match, int32(p.precision)
	}
	// Rows: postcode rows copy their place; lat/lon rows index their own
	// point, split across the cores (H3 indexing is the costly part).
	workers := max(1, runtime.GOMAXPROCS(0))
	chunk := (len(b.Rows) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(b.Rows))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(rows []ImportRow) {
			defer wg.Done()
			for i := range rows {
				r := &rows[i]
				if r.Postcode >= 0 {
					p := &places[r.Postcode]
					r.Lat, r.Lon, r.R6, r.R7, r.R8 = p.lat, p.lon, p.r6, p.r7, p.r8
					continue
				}
				c := geo.CellsFor(r.Lat, r.Lon)
				r.R6, r.R7, r.R8 = int64(c[0]), int64(c[1]), int64(c[2])
			}
		}(b.Rows[lo:hi])
	}
	wg.Wait()
	if len(missing) > 0 {
		for _, r := range b.Rows {
			if r.Postcode >= 0 && missing[r.Postcode] {
				b.rowError(int(r.Line), PostcodeNotFound(b.Postcodes[r.Postcode]))
			}
		}
	}
	return nil
}

// MarkContexts records which of ContextIDs exist and reports rows naming
// one that does not.
func (b *HarmBatch) MarkContexts(found []int64) {
	for _, id := range found {
		b.ContextIDs[id] = true
	}
	for _, r := range b.Rows {
		if r.ContextID != 0 && !b.ContextIDs[r.ContextID] {
			b.rowError(int(r.Line), Unprocessable("context_id", "unknown_context", "there is no context record with id %d", r.ContextID))
		}
	}
}

// Check fills in the report's counts and refuses the whole batch when any
// row is bad (422 "import_invalid", the report listing each bad row) or
// when there are no rows at all.
func (b *HarmBatch) Check(rep *Report) error {
	rep.Rows = len(b.Rows) + b.ParseBad
	rep.Subjects = len(b.Subjects)
	rep.Postcodes = len(b.Postcodes)
	if len(b.Errors) > 0 {
		slices.SortStableFunc(b.Errors, func(x, y RowError) int { return int(x.Line - y.Line) })
		rep.ErrorCount = len(b.Errors)
		rep.Errors = b.Errors[:min(len(b.Errors), MaxReportedErrors)]
		return ctxmap.Errorf(ctxmap.KindUnprocessable, "import_invalid",
			"%d of %d rows are invalid (first at line %d: %s); nothing was written",
			rep.ErrorCount, rep.Rows, b.Errors[0].Line, b.Errors[0].Message).
			WithDetail("report", *rep)
	}
	if len(b.Rows) == 0 {
		return ctxmap.Errorf(ctxmap.KindInvalid, "import_empty", "the file has a header but no rows")
	}
	return nil
}

// WriteOrder returns the row indexes ordered by (layer, date), the key of
// the widest index, so a bulk load's inserts stay on hot pages. It is a
// counting sort: O(n), no row copies.
func (b *HarmBatch) WriteOrder() []int32 {
	rank := make([]int32, len(b.Dates))
	byDate := make([]int32, len(b.Dates))
	for i := range byDate {
		byDate[i] = int32(i)
	}
	slices.SortFunc(byDate, func(x, y int32) int { return b.Dates[x].Date.Compare(b.Dates[y].Date) })
	for r, d := range byDate {
		rank[d] = int32(r)
	}
	nb := len(b.Taxonomy.Layers) * len(b.Dates)
	start := make([]int32, nb+1)
	bucket := func(r *ImportRow) int { return int(r.Layer)*len(b.Dates) + int(rank[r.Occurred]) }
	for i := range b.Rows {
		start[bucket(&b.Rows[i])+1]++
	}
	for k := 1; k <= nb; k++ {
		start[k] += start[k-1]
	}
	order := make([]int32, len(b.Rows))
	for i := range b.Rows {
		k := bucket(&b.Rows[i])
		order[start[k]] = int32(i)
		start[k]++
	}
	return order
}
