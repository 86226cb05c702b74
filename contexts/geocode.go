package contexts

import (
	"context"
	"fmt"

	"github.com/ctxmap/ctxmap"
)

// Geocoder places postcodes. It is declared here, by its consumer, so the
// records store can be tested without a postcode directory; the directory
// (geo/postcodes) is adapted to it at wiring time.
type Geocoder interface {
	// Geocode returns one result per input postcode, in input order.
	// Postcodes the directory does not know have Match "none"; an error
	// means the directory itself failed.
	Geocode(ctx context.Context, postcodes []string) ([]Geocoded, error)
}

// Geocoded is where a postcode is and how precisely: Match is "unit" or
// "terminated" for a whole postcode found in the directory, "sector" or
// "district" when only that part could be placed, "none" when nothing.
type Geocoded struct {
	Postcode   string // normalised, as found
	Match      string
	Lat, Lon   float64
	PrecisionM int
}

// GeocoderFunc adapts a function to Geocoder.
type GeocoderFunc func(ctx context.Context, postcodes []string) ([]Geocoded, error)

// Geocode calls f.
func (f GeocoderFunc) Geocode(ctx context.Context, postcodes []string) ([]Geocoded, error) {
	return f(ctx, postcodes)
}

// PostcodeNamer is the optional Geocoder capability CreateContext uses to
// follow the naming convention ("Bus stop, E9 6EF") for a place given as a
// point, so the same stop opened by postcode or by a map click is one record.
type PostcodeNamer interface {
	// NearestPostcode returns the live postcode nearest to a point within
	// withinM metres, or "" when there is none.
	NearestPostcode(ctx context.Context, lat, lon, withinM float64) (string, error)
}

// NamingRadiusM is how close a postcode must be to name a point: about a
// street's length, so the name still says where the place is.
const NamingRadiusM = 150

// GeocodeOne places one parsed postcode with g, mapping "not found" to a
// 422 and a missing directory to a 503.
func GeocodeOne(ctx context.Context, g Geocoder, postcode string) (Geocoded, error) {
	if g == nil {
		return Geocoded{}, ctxmap.Errorf(ctxmap.KindUnavailable, "geocoder_unavailable", "no postcode directory is configured; give lat and lon instead")
	}
	res, err := g.Geocode(ctx, []string{postcode})
	if err != nil {
		return Geocoded{}, fmt.Errorf("geocode %s: %w", postcode, err)
	}
	if len(res) != 1 || res[0].Match == "" || res[0].Match == "none" {
		return Geocoded{}, PostcodeNotFound(postcode)
	}
	return res[0], nil
}
