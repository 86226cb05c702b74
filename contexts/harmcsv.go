package contexts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// This file is the pure half of a bulk import: reading a CSV of harm
// locations into a compact, validated HarmBatch (importbatch.go places and
// checks it). Loading the batch into the database is the store's job.

// MaxImportRows bounds one import (and its memory, ~100 bytes a row).
const MaxImportRows = 5_000_000

// GeocodeBatch is how many distinct postcodes go to the geocoder at once:
// the postcode directory's own limit (geo/postcodes.MaxBatch, one database
// round trip each), so any adapter of it works unchanged.
const GeocodeBatch = 1000

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

// ImportRow is one validated row, kept compact (a million of them are held
// until every row is known to be good): strings are interned in the
// HarmBatch and referred to by index.
type ImportRow struct {
	Subject    int32 // index into Subjects
	Categories int32 // index into CategorySets
	Occurred   int32 // index into Dates
	Postcode   int32 // index into Postcodes, -1 for lat/lon
	Line       int32
	// Indexes into the taxonomy's Familial, Layers, Sources and
	// LocationTypes lists.
	Familial, Layer, Source, LocationType uint8
	Lat, Lon                              float64
	R6, R7, R8                            int64 // 0 = none
	ContextID                             int64
}

// HarmBatch is a parsed bulk import: every row validated, distinct values
// interned once. Only a batch without Errors may be written.
type HarmBatch struct {
	Taxonomy     *Taxonomy
	Rows         []ImportRow
	Subjects     []string // normalised person ids
	CategorySets [][]string
	Dates        []Occurred
	Postcodes    []string // normalised
	Matches      []string // per postcode, once placed: the geocode's match level
	Precisions   []int32  // per postcode, once placed: the geocode's precision in metres
	// ContextIDs are the context records rows name; the store marks those
	// that exist with MarkContexts.
	ContextIDs map[int64]bool
	Errors     []RowError
	// ParseBad counts rows refused while parsing (not in Rows).
	ParseBad int

	now                    time.Time
	subjectIdx, pcByNorm   map[string]int32
	cats, dates, postcodes fieldCache
}

// fieldCache remembers, per distinct raw field, the index its parse gave or
// the error it failed with, so a million rows with a few thousand distinct
// dates, category lists and postcodes cost a few thousand validations.
type fieldCache struct {
	idx  map[string]int32 // raw field -> index, or -1 - error index
	errs []error
}

func (c *fieldCache) lookup(raw string, parse func(string) (int32, error)) (int32, error) {
	if c.idx == nil {
		c.idx = make(map[string]int32)
	}
	if i, ok := c.idx[raw]; ok {
		if i < 0 {
			return 0, c.errs[-i-1]
		}
		return i, nil
	}
	i, err := parse(raw)
	if err != nil {
		c.errs = append(c.errs, err)
		c.idx[strings.Clone(raw)] = int32(-len(c.errs))
		return 0, err
	}
	c.idx[strings.Clone(raw)] = i
	return i, nil
}

// intern returns the index of s in list, appending it when new.
func intern(list *[]string, idx map[string]int32, s string) int32 {
	if i, ok := idx[s]; ok {
		return i
	}
	s = strings.Clone(s)
	i := int32(len(*list))
	*list = append(*list, s)
	idx[s] = i
	return i
}

// ParseHarmCSV reads and validates every row of a harm-locations CSV
// against the taxonomy, judging dates on now. A bad header is an error; bad
// rows are collected in the batch's Errors so all of them can be reported.
func ParseHarmCSV(r io.Reader, tax *Taxonomy, now time.Time) (*HarmBatch, error) {
	b := &HarmBatch{Taxonomy: tax, now: now, ContextIDs: make(map[int64]bool),
		subjectIdx: make(map[string]int32), pcByNorm: make(map[string]int32)}
	return b, b.parse(r)
}

func (b *HarmBatch) rowError(line int, err error) {
	var e *ctxmap.Error
	re := RowError{Line: line, Code: "invalid", Message: err.Error()}
	if errors.As(err, &e) {
		re.Code, re.Message = e.Code, e.Message
		if f, ok := e.Details["field"].(string); ok {
			re.Field = f
		}
	}
	b.Errors = append(b.Errors, re)
}

func (b *HarmBatch) parse(r io.Reader) error {
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
			return ctxmap.Errorf(ctxmap.KindInvalid, "import_header", "unknown column %q; the columns are %s", Trunc(h, 40), strings.Join(importColumns, ", "))
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
	b.Rows = make([]ImportRow, 0, 1024)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				b.ParseBad++
				b.Errors = append(b.Errors, RowError{Line: pe.StartLine, Code: "csv_malformed", Message: pe.Err.Error()})
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
			b.ParseBad++
			b.Errors = append(b.Errors, RowError{Line: line, Code: "csv_field_count",
				Message: fmt.Sprintf("the row has %d fields; the header has %d", len(rec), len(header))})
			continue
		}
		if len(b.Rows)+b.ParseBad >= MaxImportRows {
			return ctxmap.Errorf(ctxmap.KindTooLarge, "import_too_large", "at most %d rows per import; split the file", MaxImportRows)
		}
		row, err := b.parseRow(rec, pos)
		if err != nil {
			b.ParseBad++
			b.rowError(line, err)
			continue
		}
		row.Line = int32(line)
		b.Rows = append(b.Rows, row)
	}
	return nil
}

func field(rec []string, pos []int, col int) string {
	if pos[col] < 0 {
		return ""
	}
	return rec[pos[col]]
}

func (b *HarmBatch) parseRow(rec []string, pos []int) (ImportRow, error) {
	var row ImportRow
	tax := b.Taxonomy
	subj, err := NormalizeSubject(field(rec, pos, colSubject))
	if err != nil {
		return row, err
	}
	row.Subject = intern(&b.Subjects, b.subjectIdx, subj)
	if row.Categories, err = b.cats.lookup(field(rec, pos, colCategories), b.categorySet); err != nil {
		return row, err
	}
	if row.Familial, err = termIndex("familial", "invalid_familial", tax.Familial, field(rec, pos, colFamilial)); err != nil {
		return row, err
	}
	if row.Layer, err = termIndex("layer", "invalid_layer", tax.Layers, field(rec, pos, colLayer)); err != nil {
		return row, err
	}
	if row.Occurred, err = b.dates.lookup(field(rec, pos, colOccurred), b.date); err != nil {
		return row, err
	}
	if row.Source, err = termIndex("source", "invalid_source", tax.Sources, field(rec, pos, colSource)); err != nil {
		return row, err
	}
	if row.LocationType, err = termIndex("location_type", "invalid_location_type", tax.LocationTypes, field(rec, pos, colLocationType)); err != nil {
		return row, err
	}
	if c := strings.TrimSpace(field(rec, pos, colContextID)); c != "" {
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil || id <= 0 {
			return row, InvalidField("context_id", "invalid_context_id", "context_id must be a context record's id, not %q", Trunc(c, 40))
		}
		row.ContextID = id
		b.ContextIDs[id] = false
	}
	pc := strings.TrimSpace(field(rec, pos, colPostcode))
	la, lo := strings.TrimSpace(field(rec, pos, colLat)), strings.TrimSpace(field(rec, pos, colLon))
	row.Postcode = -1
	switch {
	case pc != "" && (la != "" || lo != ""):
		return row, InvalidField("postcode", "ambiguous_location", "give either a postcode or lat/lon, not both")
	case pc != "":
		if row.Postcode, err = b.postcodes.lookup(pc, b.postcode); err != nil {
			return row, err
		}
	case la != "" || lo != "":
		lat, err1 := strconv.ParseFloat(la, 64)
		lon, err2 := strconv.ParseFloat(lo, 64)
		if err1 != nil || err2 != nil {
			return row, InvalidField("lat", "invalid_coordinates", "lat and lon must both be decimal degrees")
		}
		if _, _, _, _, err := checkPlace("", &lat, &lon, false); err != nil {
			return row, err
		}
		row.Lat, row.Lon = lat, lon
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

// categorySet, date and postcode parse one distinct raw field for
// fieldCache and number the result.
func (b *HarmBatch) categorySet(raw string) (int32, error) {
	parts := strings.FieldsFunc(raw, func(r rune) bool { return r == ';' || r == '|' || r == ',' })
	cats, err := checkCategories(b.Taxonomy, parts)
	if err != nil {
		return 0, err
	}
	b.CategorySets = append(b.CategorySets, cats)
	return int32(len(b.CategorySets) - 1), nil
}

func (b *HarmBatch) date(raw string) (int32, error) {
	o, err := ParseOccurred(raw, b.now)
	if err != nil {
		return 0, err
	}
	b.Dates = append(b.Dates, o)
	return int32(len(b.Dates) - 1), nil
}

func (b *HarmBatch) postcode(raw string) (int32, error) {
	p, err := geo.ParsePostcode(raw)
	if err != nil {
		var e *ctxmap.Error
		if errors.As(err, &e) {
			err = e.WithDetail("field", "postcode")
		}
		return 0, err
	}
	return intern(&b.Postcodes, b.pcByNorm, p.String()), nil
}
