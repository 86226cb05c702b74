package geo

import (
	"fmt"
	"time"
)

// Match says how a postcode query was placed, from best to worst. The web
// API returns it verbatim and stored records keep it, so the values are part
// of the contract; every package compares against these constants rather
// than against string literals.
type Match string

// The match levels.
const (
	// MatchUnit: the full postcode is live in the directory.
	MatchUnit Match = "unit"
	// MatchTerminated: the full postcode existed but Royal Mail has
	// withdrawn it; it keeps its last location, because old case records
	// quote old postcodes and a place does not move when its code retires.
	MatchTerminated Match = "terminated"
	// MatchSector: placed at the mean position of the sector ("E8 3"),
	// because only the sector was given or the unit was unknown or unlocated.
	MatchSector Match = "sector"
	// MatchDistrict: placed at the mean position of the outcode ("E8").
	MatchDistrict Match = "district"
	// MatchNone: not placed at all.
	MatchNone Match = "none"
)

// Whole reports whether the match placed a whole postcode (live or
// terminated) rather than a sector or district fallback: only a whole
// postcode is precise enough to identify one place.
func (m Match) Whole() bool { return m == MatchUnit || m == MatchTerminated }

// Match names the level a query of this precision is placed at when the
// directory holds it.
func (p Precision) Match() Match {
	switch p {
	case PrecisionUnit:
		return MatchUnit
	case PrecisionSector:
		return MatchSector
	case PrecisionDistrict:
		return MatchDistrict
	}
	return MatchNone
}

// PostcodeResult is one geocoded postcode, shaped for the JSON API. The
// single lookup, each query of a bulk geocode and each nearest postcode are
// all this type, so the API has one spelling per value; the fields a kind of
// answer does not use are omitted. Lat and Lon are nil when the query could
// not be placed (match "none") or the directory holds the postcode without a
// grid reference; Note then says which.
type PostcodeResult struct {
	// Query is the input as given; set by a bulk geocode so callers can
	// match results to queries even when the input was malformed.
	Query string `json:"query,omitempty"`
	// Postcode is the normalised input: "E8 3AA", "E8 3" or "E8". Empty
	// when the input was malformed.
	Postcode string `json:"postcode,omitempty"`
	// Lat and Lon are WGS84 degrees, rounded to six places.
	Lat   *float64 `json:"lat"`
	Lon   *float64 `json:"lon"`
	Match Match    `json:"match"`
	// PrecisionM is roughly how far the true place may be from Lat/Lon: a
	// few tens of metres for a unit, the sector's or district's spread for
	// a fallback. Zero when there is no location.
	PrecisionM int `json:"precision_m"`
	// Introduced and Terminated are the months the directory gives (ONSPD
	// records both; Code-Point Open lists live postcodes only).
	Introduced *Month `json:"introduced,omitempty"`
	Terminated *Month `json:"terminated,omitempty"`
	// Admin holds the area codes the directory had for a unit match.
	Admin *Admin `json:"admin,omitempty"`
	// DistanceM is set for nearest postcodes: metres from the query point
	// (WGS84 ellipsoid).
	DistanceM *float64 `json:"distance_m,omitempty"`
	// Note explains a partial answer in a sentence: no grid reference, a
	// fallback, or why a query was not placed.
	Note string `json:"note,omitempty"`
	// Error is set, in bulk results only, for a query that is not a
	// postcode; the batch as a whole still succeeds.
	Error *QueryError `json:"error,omitempty"`
}

// QueryError is the per-query failure inside a bulk result, mirroring the
// API's {"code","message"} error shape.
type QueryError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Admin holds GSS area codes for a postcode; fields the imported directory
// did not have are empty. Code-Point Open carries country, county, local
// authority and ward; ONSPD/NSPL add region, LSOA/MSOA 2021 and police force.
type Admin struct {
	Country string `json:"country,omitempty"`
	Region  string `json:"region,omitempty"`
	County  string `json:"county,omitempty"`
	LAD     string `json:"lad,omitempty"`
	Ward    string `json:"ward,omitempty"`
	LSOA21  string `json:"lsoa21,omitempty"`
	MSOA21  string `json:"msoa21,omitempty"`
	PFA     string `json:"pfa,omitempty"`
}

// Empty reports whether the directory had no area code at all, so a result
// can leave Admin out instead of sending an empty object.
func (a *Admin) Empty() bool { return *a == Admin{} }

// Month is a calendar month: ONSPD dates postcodes' introduction and
// termination to the month, and reporting a day would claim precision the
// data does not have. It marshals as "YYYY-MM".
type Month struct {
	Year  int
	Month time.Month
}

// MonthOf is the month t falls in, as a pointer because results carry
// months as optional fields.
func MonthOf(t time.Time) *Month { return &Month{Year: t.Year(), Month: t.Month()} }

// String formats the month as "2019-06".
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// MarshalText writes "YYYY-MM", which JSON encodes as a string.
func (m Month) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads "YYYY-MM", so API clients written in Go can decode
// results.
func (m *Month) UnmarshalText(b []byte) error {
	t, err := time.Parse("2006-01", string(b))
	if err != nil {
		return fmt.Errorf("month %q: want YYYY-MM", b)
	}
	*m = Month{Year: t.Year(), Month: t.Month()}
	return nil
}

// Limits of a geocoding request, shared by the directory that enforces them
// and the API that documents and checks them.
const (
	// MaxGeocodeBatch is the most queries one bulk geocode takes; a bigger
	// batch is refused with KindTooLarge.
	MaxGeocodeBatch = 1000
	// DefaultNearestLimit is how many nearest postcodes a caller gets when
	// it names no limit: a map click wants a handful.
	DefaultNearestLimit = 10
	// MaxNearestLimit is the most nearest postcodes one call returns.
	MaxNearestLimit = 100
	// DefaultNearestRadiusM is the search radius in metres when the caller
	// gives none.
	DefaultNearestRadiusM = 2000
	// MaxNearestRadiusM is the largest radius in metres: beyond 50 km a
	// postcode is no longer "near" for a safeguarding partnership.
	MaxNearestRadiusM = 50_000
)
