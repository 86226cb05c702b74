package tiles

import (
	"context"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Limits on trend requests: enough for three years of one area, small
// enough that one request cannot make the service publish hundreds of sets.
const (
	MaxTrendMonths = 36
	MaxTrendCells  = 500
)

// TrendRequest asks for a monthly series for one cell or an area made of
// whole cells (all at one resolution). From and To are months "YYYY-MM",
// inclusive; empty To means the last complete month, empty From the
// eleventh month before To.
type TrendRequest struct {
	Cells    []string
	Layer    ctxmap.Layer
	Category string
	From, To string
}

// TrendPoint is one month of a trend. Value is the sum of the published
// values of the requested cells published that month; PublishedCells says
// how many of them were, and Published whether any was. A month with no
// published cell is indistinguishable from an empty one, by design.
type TrendPoint struct {
	Month          string `json:"month"`
	Value          int    `json:"value"`
	Published      bool   `json:"published"`
	PublishedCells int    `json:"published_cells"`
}

// Trend returns the monthly published series for the requested cells, and
// the release it comes from. Each
// month is that month's published set, so a trend reveals nothing a month's
// tiles do not. Months after the last complete month are refused or, when
// the range straddles it, cut off.
func (s *Service) Trend(ctx context.Context, req TrendRequest) ([]TrendPoint, ReleaseInfo, error) {
	layer, category, err := s.checkLayerCategory(ctx, req.Layer, req.Category)
	if err != nil {
		return nil, ReleaseInfo{}, err
	}
	cells, err := parseTrendCells(req.Cells)
	if err != nil {
		return nil, ReleaseInfo{}, err
	}
	rel, err := s.current.get(ctx)
	if err != nil {
		return nil, ReleaseInfo{}, err
	}
	latest := rel.Window.Last
	to := latest
	if req.To != "" {
		if to, err = ParseMonth(req.To); err != nil {
			return nil, ReleaseInfo{}, err
		}
	}
	from := to.Add(-11)
	if req.From != "" {
		if from, err = ParseMonth(req.From); err != nil {
			return nil, ReleaseInfo{}, err
		}
	}
	if to.Before(from) {
		return nil, ReleaseInfo{}, errInvalid("trend_range_invalid", "from %s is after to %s", from, to)
	}
	if complete := MonthOf(s.clock()).Add(-1); complete.Before(from) {
		return nil, ReleaseInfo{}, errInvalid("period_incomplete", "trend from %s has no complete month yet; the latest is %s", from, complete)
	}
	if latest.Before(from) || from.Before(rel.Window.First) {
		return nil, ReleaseInfo{}, notReleased(rel, from, to)
	}
	if latest.Before(to) {
		to = latest
	}
	if n := to.index() - from.index() + 1; n > MaxTrendMonths {
		return nil, ReleaseInfo{}, errInvalid("trend_too_long", "a trend covers at most %d months; %s to %s is %d", MaxTrendMonths, from, to, n)
	}
	var out []TrendPoint
	for m := from; !to.Before(m); m = m.Add(1) {
		h, err := s.set(ctx, rel, setKey{release: rel.ID, layer: layer, category: category, first: m, last: m})
		if err != nil {
			return nil, ReleaseInfo{}, err
		}
		pt := TrendPoint{Month: m.String()}
		for _, c := range cells {
			if v, ok := h.pub.Value(c); ok {
				pt.Value += v
				pt.PublishedCells++
			}
		}
		pt.Published = pt.PublishedCells > 0
		out = append(out, pt)
	}
	return out, rel, nil
}

// parseTrendCells validates, deduplicates and orders the cells of an area;
// mixing resolutions is refused because nested cells would be counted twice.
func parseTrendCells(in []string) ([]h3.Cell, error) {
	if len(in) == 0 {
		return nil, errInvalid("cells_required", "give at least one H3 cell (resolution %d to %d)", geo.MinRes, geo.MaxRes)
	}
	if len(in) > MaxTrendCells {
		return nil, errInvalid("cells_too_many", "an area has at most %d cells; %d given", MaxTrendCells, len(in))
	}
	seen := make(map[h3.Cell]bool, len(in))
	var cells []h3.Cell
	for _, sc := range in {
		c, err := ParseCell(sc)
		if err != nil {
			return nil, err
		}
		if len(cells) > 0 && geo.CellRes(c) != geo.CellRes(cells[0]) {
			return nil, errInvalid("cells_mixed_resolution", "all cells of an area must have the same resolution (%d and %d given)", geo.CellRes(cells[0]), geo.CellRes(c))
		}
		if !seen[c] {
			seen[c] = true
			cells = append(cells, c)
		}
	}
	return cells, nil
}
