package contexts

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// HarmLocationInput records where a young person was harmed (layer "harm")
// or feels unsafe (layer "unsafe"). Subject is the case management system's
// person id; it is hashed on arrival and never stored or echoed.
type HarmLocationInput struct {
	Subject      string   `json:"subject"`
	Categories   []string `json:"categories"`
	Familial     string   `json:"familial" vocab:"familial"`
	Layer        string   `json:"layer" vocab:"layers"`
	Occurred     string   `json:"occurred"` // "2026-03-14" or "2026-03"
	Source       string   `json:"source" vocab:"sources"`
	Postcode     string   `json:"postcode,omitempty"`
	Lat          *float64 `json:"lat,omitempty"`
	Lon          *float64 `json:"lon,omitempty"`
	LocationType string   `json:"location_type" vocab:"location_types"`
	ContextID    int64    `json:"context_id,omitempty"`
}

// HarmLocation is a stored location of harm as its owning team sees it. It
// carries no subject: the caller asked by subject and already knows it.
type HarmLocation struct {
	ID           int64        `json:"id"`
	Categories   []string     `json:"categories"`
	Familial     Familial     `json:"familial,omitempty"`
	Layer        ctxmap.Layer `json:"layer"`
	Occurred     string       `json:"occurred"`
	Source       Source       `json:"source"`
	LocationType string       `json:"location_type"`
	Postcode     string       `json:"postcode,omitempty"`
	Match        string       `json:"match"` // unit, terminated, sector, district or latlon
	PrecisionM   int          `json:"precision_m"`
	Lat          float64      `json:"lat"`
	Lon          float64      `json:"lon"`
	ContextID    *int64       `json:"context_id,omitempty"`
	// Safety is red, amber or green for a safety-map place (which has no
	// categories and no familial context), empty for a harm record;
	// TrustedAdult the kind of adult that makes a green place safe.
	Safety       string `json:"safety,omitempty"`
	TrustedAdult string `json:"trusted_adult,omitempty"`
	// Types are the record's harm types, active and ended, each with its
	// start and status; Categories are the active ones. History is every
	// change to the record, oldest first (HarmHistory).
	Types     []HarmType  `json:"types"`
	History   []HarmEvent `json:"history"`
	Team      string      `json:"team"`
	CreatedBy string      `json:"created_by"`
	CreatedAt time.Time   `json:"created_at"`
	// TaxonomyVersion is the taxonomy in force when the record was made.
	TaxonomyVersion int      `json:"taxonomy_version"`
	Archived        *Archive `json:"archived,omitempty"`
}

// Archive says why a harm location no longer counts: it stays on the
// young person's record for the chronology but leaves every aggregate.
type Archive struct {
	Reason string    `json:"reason"`
	Note   string    `json:"note"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// ArchiveInput is the reason and note for archiving a harm location.
type ArchiveInput struct {
	Reason string `json:"reason" vocab:"archive_reasons"`
	Note   string `json:"note"`
}

// Limits on free text. Notes are long enough for a paragraph of thematic
// assessment, short enough that nobody pastes a whole case file.
const (
	MaxNote   = 4000
	MaxReason = 1000
	MaxName   = 200
)

// Occurred is a parsed date or month: the first day for a month.
type Occurred struct {
	Date  time.Time
	Month bool
}

// Precision is how the date is stored: "month" or "day".
func (o Occurred) Precision() string {
	if o.Month {
		return "month"
	}
	return "day"
}

// String is the API form: "2026-03-14" or "2026-03".
func (o Occurred) String() string {
	if o.Month {
		return o.Date.Format("2006-01")
	}
	return o.Date.Format("2006-01-02")
}

// ParseOccurred reads a date or a month inside the window of what happened
// (dates.go), judged on the UK calendar day of now (a month is in the future
// only after it starts).
func ParseOccurred(s string, now time.Time) (Occurred, error) {
	return parseHappened("occurred", s, now)
}

// parseHappened is ParseOccurred for any field that holds when something
// happened (a harm type's start, the day a place was safety-mapped).
func parseHappened(field, s string, now time.Time) (Occurred, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Occurred{}, MissingField(field)
	}
	var o Occurred
	var err error
	switch len(s) {
	case len("2006-01-02"):
		o.Date, err = time.Parse("2006-01-02", s)
	case len("2006-01"):
		o.Date, err = time.Parse("2006-01", s)
		o.Month = true
	default:
		err = fmt.Errorf("bad length")
	}
	if err != nil {
		return Occurred{}, InvalidField(field, "invalid_date", "%s must be a date (2026-03-14) or a month (2026-03), not %q", field, Trunc(s, 40))
	}
	if err := checkDate(field, s, o.Date, happened, UKDay(now)); err != nil {
		return Occurred{}, err
	}
	return o, nil
}

// HarmFields is a validated harm location before geocoding: what the
// store writes, in the types the domain speaks.
type HarmFields struct {
	Subject      string // normalised person id
	Categories   []string
	Familial     Familial
	Layer        ctxmap.Layer
	Occurred     Occurred
	Source       Source
	LocationType string
	Postcode     geo.Postcode // zero when lat/lon was given
	Lat, Lon     float64
	LatLon       bool
	ContextID    int64
	Safety       string // red, amber or green for a safety-map place
	TrustedAdult string // green places only
}

// Validate checks everything about a harm location that needs no
// database, in the order a form is filled in, so the first error is the one
// a person expects to fix first.
func (in *HarmLocationInput) Validate(tax *Taxonomy, now time.Time) (HarmFields, error) {
	var f HarmFields
	var err error
	var v string
	if f.Subject, err = NormalizeSubject(in.Subject); err != nil {
		return f, err
	}
	if f.Categories, err = checkCategories(tax, in.Categories); err != nil {
		return f, err
	}
	if v, err = checkTerm("familial", "invalid_familial", familialTerms, in.Familial); err != nil {
		return f, err
	}
	f.Familial = Familial(v)
	if v, err = checkTerm("layer", "invalid_layer", layerTerms, in.Layer); err != nil {
		return f, err
	}
	f.Layer = ctxmap.Layer(v)
	if f.Occurred, err = ParseOccurred(in.Occurred, now); err != nil {
		return f, err
	}
	if v, err = checkTerm("source", "invalid_source", sourceTerms, in.Source); err != nil {
		return f, err
	}
	f.Source = Source(v)
	if f.LocationType, err = checkTerm("location_type", "invalid_location_type", locationTypes, in.LocationType); err != nil {
		return f, err
	}
	if in.ContextID < 0 {
		return f, InvalidField("context_id", "invalid_context_id", "context_id must be a context record's id")
	}
	f.ContextID = in.ContextID
	f.Postcode, f.Lat, f.Lon, f.LatLon, err = checkPlace(in.Postcode, in.Lat, in.Lon, false)
	return f, err
}

// checkPlace validates a location given as a postcode or as lat/lon (not
// both). With unitOnly, sector and district input is refused: a context
// record is named by a full postcode.
func checkPlace(postcode string, lat, lon *float64, unitOnly bool) (pc geo.Postcode, la, lo float64, latlon bool, err error) {
	postcode = strings.TrimSpace(postcode)
	hasLL := lat != nil || lon != nil
	switch {
	case postcode != "" && hasLL:
		return pc, 0, 0, false, InvalidField("postcode", "ambiguous_location", "give either a postcode or lat/lon, not both")
	case postcode != "":
		if pc, err = geo.ParsePostcode(postcode); err != nil {
			var e *ctxmap.Error
			if errors.As(err, &e) {
				return pc, 0, 0, false, e.WithDetail("field", "postcode")
			}
			return pc, 0, 0, false, err
		}
		if unitOnly && pc.Precision != geo.PrecisionUnit {
			return pc, 0, 0, false, Unprocessable("postcode", "postcode_incomplete", "%q is a postcode sector or district; give the full postcode (like \"E8 3AA\")", pc.String())
		}
		return pc, 0, 0, false, nil
	case hasLL:
		if lat == nil || lon == nil {
			return pc, 0, 0, false, MissingField(map[bool]string{true: "lon", false: "lat"}[lat != nil])
		}
		if math.IsNaN(*lat) || math.IsNaN(*lon) || math.IsInf(*lat, 0) || math.IsInf(*lon, 0) {
			return pc, 0, 0, false, InvalidField("lat", "invalid_coordinates", "lat and lon must be numbers")
		}
		if !geo.InUK(*lat, *lon) {
			return pc, 0, 0, false, Unprocessable("lat", "outside_uk", "lat %.5f, lon %.5f is outside the UK (were latitude and longitude swapped?)", *lat, *lon)
		}
		return pc, *lat, *lon, true, nil
	}
	return pc, 0, 0, false, ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "a location is required: give a postcode or lat and lon").WithDetail("field", "postcode")
}

// checkCategories validates category codes against the taxonomy: unknown
// codes are refused, and so are retired ones for new records (a retired
// category stays readable on old records only), and so is a code given
// twice (a repeat is a slip in the form or the export, not a stronger
// signal, and merging it silently would hide the slip).
func checkCategories(tax *Taxonomy, codes []string) ([]string, error) {
	if len(codes) == 0 {
		return nil, MissingField("categories")
	}
	if len(codes) > 20 {
		return nil, InvalidField("categories", "too_many_categories", "at most 20 categories per record")
	}
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		c = strings.ToLower(strings.TrimSpace(c))
		cat, ok := tax.category(c)
		if !ok {
			return nil, InvalidField("categories", "unknown_category", "%q is not a harm category of this deployment's taxonomy (version %d)", Trunc(c, 40), tax.Version).WithDetail("category", Trunc(c, 40))
		}
		if cat.Retired {
			return nil, Unprocessable("categories", "retired_category", "category %q was retired in taxonomy version %d; choose a current one", c, cat.RetiredVersion).WithDetail("category", c)
		}
		if slices.Contains(out, c) {
			return nil, InvalidField("categories", "duplicate_category", "category %q is given twice; give each category once", c).WithDetail("category", c)
		}
		out = append(out, c)
	}
	return out, nil
}

// refuseBlank refuses a controlled-list field that was given but left
// empty where leaving it out means "unchanged" or "the default": an empty
// value is neither, so it gets the field's own invalid code, not a default.
func refuseBlank(field, code, codes, v string) error {
	if strings.TrimSpace(v) == "" {
		return InvalidField(field, code, "%s is empty; give one of %s, or leave the field out", field, codes)
	}
	return nil
}

// checkTerm validates a code from a controlled list; codes are
// case-insensitive on input and stored lower-case.
func checkTerm(field, code string, list []Term, v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return "", MissingField(field)
	}
	if _, ok := termLabel(list, v); !ok {
		return "", InvalidField(field, code, "%s must be one of %s, not %q", field, termCodes(list), Trunc(v, 40))
	}
	return v, nil
}

// Trunc shortens user input echoed in an error message (ctxmap.Truncate).
func Trunc(s string, n int) string { return ctxmap.Truncate(s, n) }

// CellRes is the finest H3 resolution a geocode supports: 8 for a unit
// postcode or a coordinate; 7 for a sector match (or a unit the directory
// itself places only to about a kilometre); 6 for a district match or
// anything vaguer (about 36 km², comparable to a postcode district), so a
// coarse geocode never pretends to street level.
func CellRes(match string, precisionM int) int {
	switch {
	case match == "district" || precisionM > 2*geo.SectorPrecisionM:
		return 6
	case match == "sector" || precisionM >= geo.SectorPrecisionM:
		return 7
	}
	return 8
}

// CellsFor returns the res 6, 7 and 8 cells of a point, as stored: cells
// finer than res are nil.
func CellsFor(lat, lon float64, res int) (r6 int64, r7, r8 *int64) {
	c := geo.CellsFor(lat, lon)
	r6 = int64(c[0])
	if res >= 7 {
		v := int64(c[1])
		r7 = &v
	}
	if res >= 8 {
		v := int64(c[2])
		r8 = &v
	}
	return r6, r7, r8
}

// LatLonPrecisionM is the precision recorded for a point given as lat/lon:
// about what a tap on a phone map is worth.
const LatLonPrecisionM = 10
