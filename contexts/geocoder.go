package contexts

import (
	"context"

	"github.com/ctxmap/ctxmap/geo/postcodes"
)

// DirectoryGeocoder adapts the imported postcode directory to Geocoder,
// splitting big requests (a bulk import's distinct postcodes) into the
// directory's batch size. Units held without a grid reference that the
// directory could not place by their area count as not found.
func DirectoryGeocoder(d *postcodes.Store) Geocoder {
	return GeocoderFunc(func(ctx context.Context, pcs []string) ([]Geocoded, error) {
		out := make([]Geocoded, 0, len(pcs))
		for start := 0; start < len(pcs); start += postcodes.MaxBatch {
			res, err := d.Geocode(ctx, pcs[start:min(start+postcodes.MaxBatch, len(pcs))])
			if err != nil {
				return nil, err
			}
			for _, r := range res {
				g := Geocoded{Postcode: r.Postcode, Match: string(r.Match), PrecisionM: r.PrecisionM}
				if r.Lat == nil || r.Lon == nil {
					g.Match = string(postcodes.MatchNone)
				} else {
					g.Lat, g.Lon = *r.Lat, *r.Lon
				}
				out = append(out, g)
			}
		}
		return out, nil
	})
}
