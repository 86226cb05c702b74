package tiles

import (
	"context"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
)

// Source gives the service the observations to aggregate. It is declared
// here, by its consumer; the records store implements it. Observations must
// cover only active (not archived) harm locations with the query's layer and
// category whose occurrence month lies in [q.From, q.To).
type Source interface {
	Observations(ctx context.Context, q Query) ([]Observation, error)
}

// Query selects active harm locations for aggregation. It carries no
// subject: aggregation never asks about one young person.
type Query struct {
	Layer    ctxmap.Layer
	Category string    // a category code, ctxmap.ExtraFamilial, or "" for all
	From, To time.Time // first day of the first month (inclusive) .. first day after the last month (exclusive), UTC
}

// Observation is one (subject, cell) pair; the same pair may come more than
// once (one per incident) and Publish counts distinct subjects. Cell is the
// finest H3 cell the record's geocode supports: resolution 8 for a unit
// postcode or a lat/lon, 7 or 6 for sector- or district-only matches, so
// coarse records never land in fine cells. Key is the subject's secret cell
// key (0..255), used by the disclosure-control perturbation.
type Observation struct {
	Subject int64
	Key     uint8
	Cell    h3.Cell
}
