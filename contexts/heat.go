package contexts

import (
	"time"

	"github.com/uber/h3-go/v4"
)

// HeatQuery selects active (not archived) harm locations for aggregation.
// It carries no subject: aggregation never asks about one young person.
type HeatQuery struct {
	Layer    string    // "harm" or "unsafe"
	Category string    // a category code, or "" for all
	From, To time.Time // first day of the first month (inclusive) .. first day after the last month (exclusive), UTC
}

// Observation is one (subject, cell) pair; the same pair may come more than
// once (one per incident) and the consumer counts distinct subjects. Cell is the finest H3
// cell the record's geocode supports: resolution 8 for a unit postcode or a
// lat/lon, 7 or 6 for sector- or district-only matches, so coarse records
// never land in fine cells. Key is the subject's secret cell key (0..255),
// used by the disclosure-control perturbation.
type Observation struct {
	Subject int64
	Key     uint8
	Cell    h3.Cell
}
