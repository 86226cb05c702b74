package postgres

import (
	"context"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/geo/postcodes"
)

// DirectoryGeocoder adapts the imported postcode directory to Geocoder,
// splitting big requests (a bulk import's distinct postcodes) into the
// directory's batch size. Units held without a grid reference that the
// directory could not place by their area count as not found. It also
// names places given as a point after their nearest postcode.
func DirectoryGeocoder(d *postcodes.Store) contexts.Geocoder { return directoryGeocoder{d} }

type directoryGeocoder struct{ d *postcodes.Store }

func (g directoryGeocoder) Geocode(ctx context.Context, pcs []string) ([]contexts.Geocoded, error) {
	out := make([]contexts.Geocoded, 0, len(pcs))
	for start := 0; start < len(pcs); start += postcodes.MaxBatch {
		res, err := g.d.Geocode(ctx, pcs[start:min(start+postcodes.MaxBatch, len(pcs))])
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			gc := contexts.Geocoded{Postcode: r.Postcode, Match: string(r.Match), PrecisionM: r.PrecisionM}
			if r.Lat == nil || r.Lon == nil {
				gc.Match = string(geo.MatchNone)
			} else {
				gc.Lat, gc.Lon = *r.Lat, *r.Lon
			}
			out = append(out, gc)
		}
	}
	return out, nil
}

// NearestPostcode returns the live postcode nearest to a point within
// withinM metres, or "" when there is none.
func (g directoryGeocoder) NearestPostcode(ctx context.Context, lat, lon, withinM float64) (string, error) {
	res, err := g.d.Nearest(ctx, lat, lon, 1, withinM)
	if err != nil || len(res) == 0 {
		return "", err
	}
	return res[0].Postcode, nil
}
