package tiles

import (
	"context"
	"slices"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Before and after: an area's published values for the months around a
// month of interest (an intervention's start), from the current release's
// monthly sets, the same sets the tiles and /heat/cells read. Nothing is
// derived: each month is the sum of the area's published cells, or absent.

// beforeAfterWindows are the windows a comparison may take, in months on each side.
var beforeAfterWindows = []int{3, 6, 12}

// DefaultBeforeAfterWindow is the window when none is asked for.
const DefaultBeforeAfterWindow = 6

// Phases of a before/after month.
const (
	PhaseBefore = "before"
	PhaseMonth  = "month" // the month of interest itself, on neither side
	PhaseAfter  = "after"
)

// PlaceRing is how far around a place its before/after area reaches: the
// resolution-8 cell holding it and its ring-1 neighbours (7 cells, about
// 5 km², some 2.5 km across). One resolution-8 cell alone is rarely
// published, and an intervention at a place changes its surroundings too.
const PlaceRing = 1

// PlaceCells is the area around a place (PlaceRing around its resolution 8
// cell), in id order.
func PlaceCells(lat, lon float64) []h3.Cell {
	c := geo.CellsFor(lat, lon)[2]
	cells := c.GridDisk(PlaceRing)
	slices.Sort(cells)
	return cells
}

// BeforeAfterRequest asks for an area's values around Month ("YYYY-MM"):
// Window months before it and after it (3, 6 or 12; 0 means
// DefaultBeforeAfterWindow). The area is Cells (whole cells of one
// resolution, as for trends) or, when Cells is empty, Place.
type BeforeAfterRequest struct {
	Cells    []string
	Place    *[2]float64 // lat, lon
	Layer    ctxmap.Layer
	Category string
	Month    string
	Window   int
}

// BeforeAfterPoint is one month. Value is the sum of the area's published
// cells that month, nil when none is published (fewer than k or none, never
// 0) or when the month is outside the release (Released false).
type BeforeAfterPoint struct {
	Month          string `json:"month"`
	Phase          string `json:"phase"`
	Offset         int    `json:"offset"`
	Released       bool   `json:"released"`
	Value          *int   `json:"value"`
	PublishedCells int    `json:"published_cells"`
}

// BeforeAfter is a comparison from one release.
type BeforeAfter struct {
	Release  ReleaseInfo
	Layer    ctxmap.Layer
	Category string
	Month    Month
	Window   int
	Cells    []h3.Cell
	Points   []BeforeAfterPoint
}

// BeforeAfter returns the area's published monthly values from Window
// months before req.Month to Window months after it. Months the release
// does not cover are listed unreleased; a range the release does not touch
// at all is refused.
func (s *Service) BeforeAfter(ctx context.Context, req BeforeAfterRequest) (*BeforeAfter, error) {
	layer, category, err := s.checkLayerCategory(ctx, req.Layer, req.Category)
	if err != nil {
		return nil, err
	}
	n := req.Window
	if n == 0 {
		n = DefaultBeforeAfterWindow
	}
	if !slices.Contains(beforeAfterWindows, n) {
		return nil, errInvalid("window_unsupported", "window %d is not supported; use 3, 6 or 12 months", n)
	}
	var cells []h3.Cell
	switch {
	case len(req.Cells) > 0:
		if cells, err = parseTrendCells(req.Cells); err != nil {
			return nil, err
		}
	case req.Place != nil:
		cells = PlaceCells(req.Place[0], req.Place[1])
	default:
		return nil, errInvalid("area_required", "give cells (H3 ids of one resolution) or a context")
	}
	if req.Month == "" {
		return nil, errInvalid("month_required", "give the month of interest, YYYY-MM")
	}
	mid, err := ParseMonth(req.Month)
	if err != nil {
		return nil, err
	}
	rel, err := s.current.get(ctx)
	if err != nil {
		return nil, err
	}
	first, last := mid.Add(-n), mid.Add(n)
	if last.Before(rel.Window.First) || rel.Window.Last.Before(first) {
		return nil, notReleased(rel, first, last)
	}
	out := &BeforeAfter{Release: rel, Layer: layer, Category: category, Month: mid, Window: n, Cells: cells}
	for i := -n; i <= n; i++ {
		m := mid.Add(i)
		pt := BeforeAfterPoint{Month: m.String(), Offset: i, Phase: PhaseMonth}
		switch {
		case i < 0:
			pt.Phase = PhaseBefore
		case i > 0:
			pt.Phase = PhaseAfter
		}
		if rel.Window.Contains(m, m) {
			pt.Released = true
			h, err := s.set(ctx, rel, setKey{release: rel.ID, layer: layer, category: category, first: m, last: m})
			if err != nil {
				return nil, err
			}
			pt.Value, pt.PublishedCells = h.areaValue(cells)
		}
		out.Points = append(out.Points, pt)
	}
	return out, nil
}
