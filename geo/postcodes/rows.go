package postcodes

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap/geo"
)

// The import formats accepted by Import.
const (
	// FormatONSPD is the ONS Postcode Directory or the National Statistics
	// Postcode Lookup: CSV with a header, columns found by name.
	FormatONSPD = "onspd"
	// FormatCodePoint is OS Code-Point Open: CSV without a header, British
	// National Grid eastings and northings.
	FormatCodePoint = "codepoint"
)

// Admin code slots, in the order of the postcodes table's columns.
const (
	adminCountry = iota
	adminRegion
	adminCounty
	adminLAD
	adminWard
	adminLSOA21
	adminMSOA21
	adminPFA
	nAdmin
)

// schema is where a file's fields are; -1 means absent.
type schema struct {
	format                string
	header                bool
	pc, intro, term, qual int
	lat, lon, east, north int
	admin                 [nAdmin]int
}

// codePointSchema is Code-Point Open's fixed layout:
// PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC.
var codePointSchema = schema{
	format: FormatCodePoint, pc: 0, qual: 1, east: 2, north: 3, intro: -1, term: -1, lat: -1, lon: -1,
	admin: [nAdmin]int{adminCountry: 4, adminRegion: -1, adminCounty: 7, adminLAD: 8, adminWard: 9,
		adminLSOA21: -1, adminMSOA21: -1, adminPFA: -1},
}

// onspdColumn names one field's header in every ONSPD/NSPL generation: exact
// names in order of preference, then a pattern for the year-suffixed form
// (lad25cd, lad26cd ...) that changes with every release.
type onspdColumn struct {
	names   []string
	pattern *regexp.Regexp
}

// onspdColumns follows onspd_column_aliases.json in the shared data (from
// postcodes.io's schema and 2019-2026 release headers).
var onspdColumns = map[string]onspdColumn{
	"pcds":      {names: []string{"pcds"}},
	"pcd8":      {names: []string{"pcd8", "pcd2"}},
	"pcd7":      {names: []string{"pcd7", "pcd"}},
	"dointr":    {names: []string{"dointr"}},
	"doterm":    {names: []string{"doterm"}},
	"grid_qual": {names: []string{"osgrdind", "gridind"}},
	"lat":       {names: []string{"lat"}},
	"long":      {names: []string{"long"}},
	"country":   {names: []string{"ctry"}, pattern: regexp.MustCompile(`^ctry\d{2}cd$`)},
	"region":    {names: []string{"rgn"}, pattern: regexp.MustCompile(`^rgn\d{2}cd$`)},
	"county":    {names: []string{"oscty", "cty"}, pattern: regexp.MustCompile(`^cty\d{2}cd$`)},
	"lad":       {names: []string{"oslaua", "laua"}, pattern: regexp.MustCompile(`^lad\d{2}cd$`)},
	"ward":      {names: []string{"osward", "ward"}, pattern: regexp.MustCompile(`^wd\d{2}cd$`)},
	"lsoa21":    {names: []string{"lsoa21", "lsoa21cd"}},
	"msoa21":    {names: []string{"msoa21", "msoa21cd"}},
	"pfa":       {names: []string{"pfa"}, pattern: regexp.MustCompile(`^pfa\d{2}cd$`)},
}

// onspdSchema finds the columns in an ONSPD/NSPL header, case-insensitively.
// Where several year-suffixed columns match, the newest (highest) wins.
func onspdSchema(header [][]byte) (*schema, string) {
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.ToLower(strings.TrimSpace(string(bytes.TrimPrefix(h, []byte("\ufeff")))))
	}
	find := func(field string) int {
		c := onspdColumns[field]
		for _, n := range c.names {
			for i, h := range names {
				if h == n {
					return i
				}
			}
		}
		best := -1
		if c.pattern != nil {
			for i, h := range names {
				if c.pattern.MatchString(h) && (best < 0 || h > names[best]) {
					best = i
				}
			}
		}
		return best
	}
	s := &schema{format: FormatONSPD, header: true, qual: find("grid_qual"), intro: find("dointr"),
		term: find("doterm"), lat: find("lat"), lon: find("long"), east: -1, north: -1}
	for _, f := range []string{"pcds", "pcd8", "pcd7"} {
		if s.pc = find(f); s.pc >= 0 {
			break
		}
	}
	for i, f := range [nAdmin]string{"country", "region", "county", "lad", "ward", "lsoa21", "msoa21", "pfa"} {
		s.admin[i] = find(f)
	}
	if s.pc < 0 || s.lat < 0 || s.lon < 0 {
		return nil, "no ONSPD/NSPL header: needs a postcode column (pcds, pcd8 or pcd7) and lat and long"
	}
	return s, ""
}

// detect reads a file's first line and returns its schema, or nil and why
// the file is not data of this format.
func detect(format string, first []byte) (*schema, string) {
	fields := splitCSV(first, nil)
	switch format {
	case FormatONSPD:
		return onspdSchema(fields)
	case FormatCodePoint:
		if len(fields) >= 4 {
			p, err := geo.ParsePostcode(string(fields[0]))
			_, errE := parseInt(fields[2])
			_, errN := parseInt(fields[3])
			if err == nil && p.Precision == geo.PrecisionUnit && errE == nil && errN == nil {
				s := codePointSchema
				return &s, ""
			}
		}
		return nil, "first row is not a Code-Point Open record (postcode, quality, easting, northing, ...)"
	}
	return nil, "unknown format"
}

// splitCSV splits one CSV line into fields, appending to dst. Quoted fields
// are returned without their quotes; neither directory quotes a quote, so
// doubled quotes are left as they are (and fail validation downstream).
func splitCSV(line []byte, dst [][]byte) [][]byte {
	line = bytes.TrimRight(line, "\r\n")
	dst = dst[:0]
	for {
		if len(line) > 0 && line[0] == '"' {
			end := bytes.IndexByte(line[1:], '"')
			if end >= 0 {
				dst = append(dst, line[1:1+end])
				line = line[2+end:]
				if len(line) == 0 {
					return dst
				}
				if line[0] == ',' {
					line = line[1:]
					continue
				}
				// Garbage after a closing quote: keep the rest of the field.
			}
		}
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return append(dst, line)
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
}

// Skip reasons (rows not loaded) and warnings (rows loaded with a defect),
// as they appear in Summary.
const (
	reasonMalformed = "malformed_postcode"
	reasonBadRow    = "bad_row"
	reasonDuplicate = "duplicate"
	warnBadCoords   = "bad_coordinates"
	warnBadDate     = "bad_date"
)

// rowStats counts one worker's view of a chunk of rows.
type rowStats struct {
	rows, loaded, unlocated, terminated int64
	skipped, warnings                   map[string]int64
	examples                            map[string][]string
	sectors                             map[string]*sums
}

func (s *rowStats) note(kind map[string]int64, reason, where string, format string, args ...any) {
	kind[reason]++
	if len(s.examples[reason]) < maxExamples {
		s.examples[reason] = append(s.examples[reason], where+": "+fmt.Sprintf(format, args...))
	}
}

// maxExamples bounds the example rows kept per reason in a Summary.
const maxExamples = 5

// copyColumns are the postcodes columns the binary COPY stream fills, in
// stream order.
const copyColumns = `postcode, geom, pos_quality, introduced, terminated,
	country, region, county, lad, ward, lsoa21, msoa21, pfa, source`

const nCopyColumns = 14

// encoder turns CSV rows into PostgreSQL binary COPY tuples. Writing the
// wire format directly (instead of pgx.CopyFrom with []any rows) costs no
// allocation per value and runs in the parsing goroutines, leaving the one
// COPY connection only bytes to send.
type encoder struct {
	sc     *schema
	source []byte
	fields [][]byte
}

// encodeChunk parses every complete line in data and appends its tuples to
// out. line is the 1-based line number of data's first line in file.
func (e *encoder) encodeChunk(out, data []byte, file string, line int, st *rowStats) []byte {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		if len(bytes.TrimSpace(l)) > 0 {
			out = e.encodeRow(out, l, file, line, st)
		}
		line++
	}
	return out
}

func (e *encoder) encodeRow(out, l []byte, file string, line int, st *rowStats) []byte {
	sc := e.sc
	e.fields = splitCSV(l, e.fields)
	f := e.fields
	st.rows++
	where := func() string { return file + ":" + strconv.Itoa(line) }
	field := func(i int) []byte {
		if i < 0 || i >= len(f) {
			return nil
		}
		return bytes.TrimSpace(f[i])
	}
	if len(f) <= sc.pc || len(f) <= sc.lat || len(f) <= sc.lon || len(f) <= sc.north {
		st.note(st.skipped, reasonBadRow, where(), "%d fields", len(f))
		return out
	}
	p, err := geo.ParsePostcode(string(field(sc.pc)))
	if err != nil || p.Precision != geo.PrecisionUnit {
		st.note(st.skipped, reasonMalformed, where(), "%q", field(sc.pc))
		return out
	}

	// Location: WGS84 from ONSPD, or the National Grid from Code-Point.
	var lat, lon float64
	located := false
	quality := int64(-1)
	if q, err := parseInt(field(sc.qual)); err == nil && q > 0 {
		quality = q
		if sc.format == FormatONSPD && q < 10 {
			quality = q * 10 // osgrdind 1..9 -> Code-Point's 10..90
		}
	}
	switch {
	case sc.lat >= 0:
		la, err1 := strconv.ParseFloat(string(field(sc.lat)), 64)
		lo, err2 := strconv.ParseFloat(string(field(sc.lon)), 64)
		switch {
		case err1 != nil || err2 != nil:
			if len(field(sc.lat)) > 0 {
				st.note(st.warnings, warnBadCoords, where(), "lat %q long %q", field(sc.lat), field(sc.lon))
			}
		case la >= 99 || (la == 0 && lo == 0) || quality == 90:
			// ONSPD's "no grid reference": 99.999999, 0.000000.
		case !geo.InUK(la, lo):
			st.note(st.warnings, warnBadCoords, where(), "lat %v long %v outside the UK", la, lo)
		default:
			lat, lon, located = la, lo, true
		}
	case sc.east >= 0:
		ea, err1 := parseInt(field(sc.east))
		no, err2 := parseInt(field(sc.north))
		switch {
		case err1 != nil || err2 != nil:
			st.note(st.skipped, reasonBadRow, where(), "easting %q northing %q", field(sc.east), field(sc.north))
			return out
		case (ea == 0 && no == 0) || quality == 90:
			// Code-Point's "no coordinates".
		case ea < 0 || ea > 700_000 || no < 0 || no > 1_300_000:
			st.note(st.warnings, warnBadCoords, where(), "easting %d northing %d off the grid", ea, no)
		default:
			lat, lon = geo.GridToLatLon(float64(ea), float64(no))
			located = true
		}
	}

	out = be16(out, nCopyColumns)
	out = appendText(out, p.String())
	if located {
		out = be32(out, 25)
		out = appendEWKBPoint(out, lon, lat)
	} else {
		out = be32(out, -1)
		st.unlocated++
	}
	if quality > 0 && quality <= math.MaxInt16 {
		out = be32(out, 2)
		out = be16(out, int16(quality))
	} else {
		out = be32(out, -1)
	}
	out, _ = appendMonth(out, field(sc.intro), where, st)
	out, terminated := appendMonth(out, field(sc.term), where, st)
	if terminated {
		st.terminated++
	}
	if located {
		sm := st.sectors[p.Sector]
		if sm == nil {
			sm = &sums{}
			st.sectors[p.Sector] = sm
		}
		sm.add(lon, lat, !terminated, 1)
	}
	for _, i := range sc.admin {
		out = appendCode(out, field(i))
	}
	out = be32(out, int32(len(e.source)))
	out = append(out, e.source...)
	st.loaded++
	return out
}

// appendMonth writes ONSPD's YYYYMM as the first day of that month, or
// NULL, and reports whether it wrote a date.
func appendMonth(out, f []byte, where func() string, st *rowStats) ([]byte, bool) {
	if len(f) == 0 {
		return be32(out, -1), false
	}
	v, err := parseInt(f)
	y, m := int(v/100), time.Month(v%100)
	if err != nil || len(f) != 6 || y < 1900 || m < 1 || m > 12 {
		st.note(st.warnings, warnBadDate, where(), "%q", f)
		return be32(out, -1), false
	}
	days := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Sub(pgEpoch) / (24 * time.Hour)
	out = be32(out, 4)
	return be32(out, int32(days)), true
}

// pgEpoch is day zero of PostgreSQL's binary date format.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// appendCode writes a GSS code, or NULL for an empty field, a pseudo-code
// (ONSPD's "E99999999" means "none") or anything that is not a short
// alphanumeric code.
func appendCode(out, f []byte) []byte {
	if len(f) == 0 || len(f) > 12 || bytes.HasSuffix(f, []byte("99999999")) {
		return be32(out, -1)
	}
	for _, c := range f {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return be32(out, -1)
		}
	}
	out = be32(out, int32(len(f)))
	return append(out, f...)
}

// appendEWKBPoint writes a little-endian EWKB point with SRID 4326, the
// binary input format of PostGIS geometry.
func appendEWKBPoint(out []byte, x, y float64) []byte {
	out = append(out, 1) // little endian
	out = binary.LittleEndian.AppendUint32(out, 0x20000001)
	out = binary.LittleEndian.AppendUint32(out, 4326)
	out = binary.LittleEndian.AppendUint64(out, math.Float64bits(x))
	return binary.LittleEndian.AppendUint64(out, math.Float64bits(y))
}

func appendText(out []byte, s string) []byte {
	out = be32(out, int32(len(s)))
	return append(out, s...)
}

func be16(out []byte, v int16) []byte { return binary.BigEndian.AppendUint16(out, uint16(v)) }
func be32(out []byte, v int32) []byte { return binary.BigEndian.AppendUint32(out, uint32(v)) }

// copyHeader and copyTrailer frame PostgreSQL's binary COPY stream.
var (
	copyHeader  = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	copyTrailer = []byte{0xff, 0xff}
)

// parseInt reads a decimal integer without allocating.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, strconv.ErrSyntax
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, strconv.ErrSyntax
		}
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, strconv.ErrSyntax
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}
