package web

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
)

// MaxGeocodeBatch is the most queries one POST /api/v1/geocode may carry;
// the rule lives in geo, where the directory enforces it too.
const MaxGeocodeBatch = geo.MaxGeocodeBatch

// PostcodeDirectory is what the geocoding routes need from the imported
// postcode directory (geo/postcodes.Store in production). It is declared
// here, by its consumer, and speaks only geo's pure result types, so web
// can be tested with a fake and does not link the directory's pgx code.
type PostcodeDirectory interface {
	// Lookup places one postcode, sector or outcode, without fallback.
	Lookup(ctx context.Context, pc string) (geo.PostcodeResult, error)
	// Geocode places up to geo.MaxGeocodeBatch queries, in query order.
	Geocode(ctx context.Context, queries []string) ([]geo.PostcodeResult, error)
	// Nearest returns up to limit live postcodes within radiusM metres.
	Nearest(ctx context.Context, lat, lon float64, limit int, radiusM float64) ([]geo.PostcodeResult, error)
}

func (s *Server) postcodeRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/postcodes/{postcode}", Tag: "geocoding",
		Summary: "Geocode one postcode (or a sector like \"E8 3\" or an outcode like \"E8\") from the imported directory",
		Params:  []Param{P("postcode", "a UK postcode, any case and spacing")}, Errors: []int{404, 422}, Response: geo.PostcodeResult{}}, s.lookupPostcode)
	s.route(api, Op{Method: "GET", Path: "/postcodes", Tag: "geocoding", Summary: "Nearest postcodes to a point, by distance",
		Params: []Param{
			{Name: "lat", In: "query", Required: true, Type: "number", Desc: "latitude (WGS84)"},
			{Name: "lon", In: "query", Required: true, Type: "number", Desc: "longitude (WGS84)"},
			{Name: "limit", In: "query", Type: "integer", Desc: "1..100, default 10"},
			{Name: "radius_m", In: "query", Type: "number", Desc: "search radius in metres, up to 50,000"},
		}, Errors: []int{400}, Response: Fields{"postcodes": []geo.PostcodeResult{}}}, s.nearestPostcodes)
	s.route(api, Op{Method: "POST", Path: "/geocode", Tag: "geocoding",
		Summary: "Bulk geocode up to 1,000 queries; each result has a match level (unit, terminated, sector, district, none) and precision in metres",
		Body:    `{"queries":[{"postcode":"E8 3AA","location_type":"park"}, ...]} or the bare array`,
		Request: OneOf{geocodeBody{}, []geocodeQuery{}}, Example: geocodeBody{Queries: []geocodeQuery{{Postcode: "E8 3AA", LocationType: "park"}}}, Errors: []int{400, 413, 422}, Response: Fields{"results": []geocodeResult{}}}, s.bulkGeocode)
}

// lookupPostcode handles GET /api/v1/postcodes/{postcode}.
func (s *Server) lookupPostcode(w http.ResponseWriter, r *http.Request) error {
	pc, err := url.PathUnescape(mux.Vars(r)["postcode"])
	if err != nil {
		return badParam("postcode", "not a valid path segment")
	}
	res, err := s.postcodes.Lookup(r.Context(), pc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func floatParam(q url.Values, name string, required bool) (float64, bool, error) {
	v := q.Get(name)
	if v == "" {
		if required {
			return 0, false, badParam(name, "required")
		}
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !finite(f) {
		return 0, false, badParam(name, "must be a finite number")
	}
	return f, true, nil
}

// finite refuses NaN and infinities, which JSON cannot even carry back.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// nearestPostcodes handles GET /api/v1/postcodes?lat=&lon=.
func (s *Server) nearestPostcodes(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lat, _, err := floatParam(q, "lat", true)
	if err != nil {
		return err
	}
	lon, _, err := floatParam(q, "lon", true)
	if err != nil {
		return err
	}
	if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return badParam("lat/lon", "out of range")
	}
	limit := geo.DefaultNearestLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > geo.MaxNearestLimit {
			return badParam("limit", "must be 1..%d", geo.MaxNearestLimit)
		}
	}
	radius, ok, err := floatParam(q, "radius_m", false)
	if err != nil {
		return err
	}
	if !ok {
		radius = geo.DefaultNearestRadiusM
	}
	if radius <= 0 || radius > geo.MaxNearestRadiusM {
		return badParam("radius_m", "must be in (0, %d]", geo.MaxNearestRadiusM)
	}
	res, err := s.postcodes.Nearest(r.Context(), lat, lon, limit, radius)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"postcodes": res})
	return nil
}

// geocodeBody is the bulk geocoder's request as an object.
type geocodeBody struct {
	Queries []geocodeQuery `json:"queries"`
}

type geocodeQuery struct {
	Postcode     string `json:"postcode"`
	LocationType string `json:"location_type,omitempty"`
}

type geocodeResult struct {
	geo.PostcodeResult
	LocationType string `json:"location_type,omitempty"`
	// DisplayName follows the naming convention ("Park, E8 3AA") when a
	// location type was given, so callers name records consistently.
	DisplayName string `json:"display_name,omitempty"`
}

// bulkGeocode handles POST /api/v1/geocode.
func (s *Server) bulkGeocode(w http.ResponseWriter, r *http.Request) error {
	var raw json.RawMessage
	if err := decode(r, &raw); err != nil {
		return err
	}
	var queries []geocodeQuery
	body := bytes.TrimSpace(raw)
	var err error
	if len(body) > 0 && body[0] == '[' {
		err = strictUnmarshal(body, &queries)
	} else {
		var wrapped geocodeBody
		err = strictUnmarshal(body, &wrapped)
		queries = wrapped.Queries
	}
	if err != nil {
		return err
	}
	if len(queries) == 0 {
		return ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "send at least one query: {\"queries\":[{\"postcode\":\"E8 3AA\"}]}")
	}
	if len(queries) > MaxGeocodeBatch {
		return ctxmap.Errorf(ctxmap.KindTooLarge, "batch_too_large", "at most %d queries per request; got %d", MaxGeocodeBatch, len(queries))
	}
	for i, q := range queries {
		if q.LocationType != "" {
			if _, ok := contexts.LocationTypeLabel(q.LocationType); !ok {
				return ctxmap.Errorf(ctxmap.KindUnprocessable, "unknown_location_type", "query %d: location_type %q is not in the taxonomy", i, q.LocationType)
			}
		}
	}
	pcs := make([]string, len(queries))
	for i, q := range queries {
		pcs[i] = q.Postcode
	}
	results, err := s.postcodes.Geocode(r.Context(), pcs)
	if err != nil {
		return err
	}
	out := make([]geocodeResult, len(results))
	for i, res := range results {
		out[i] = geocodeResult{PostcodeResult: res, LocationType: queries[i].LocationType}
		if queries[i].LocationType != "" && res.Postcode != "" {
			out[i].DisplayName = contexts.DisplayName(queries[i].LocationType, "", res.Postcode, nil, nil)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}
