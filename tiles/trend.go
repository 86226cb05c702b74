package tiles

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

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

// Step is the time step of a trend: a month or a quarter. Each step of a
// trend is one published set of the release (a month's, or a quarter's,
// which the release publishes under the same policy), never a sum of
// months: a quarter's distinct young people are not the sum of its months'.
type Step string

// The steps a series can take (trends, hot spots, rates): each is one
// published set of the release.
const (
	StepMonth   = "month"
	StepQuarter = "quarter"
)

// TrendRequest asks for a series for one cell or an area made of whole
// cells (all at one resolution). From and To are inclusive: months
// "YYYY-MM", or for quarter steps also quarters "YYYY-Qn". Empty To means
// the release's last month, empty From the eleventh month before To. With
// quarter steps the series has every quarter that starts between From and
// To; the last may be cut back to the release's last month.
type TrendRequest struct {
	Cells    []string
	Layer    ctxmap.Layer
	Category string
	Step     Step
	From, To string
}

// TrendPoint is one step of an area's trend, from that step's published
// set. Value is the sum of the published values of the area's cells that
// were published in the step, and PublishedCells how many of them were:
// an area partly published reports the sum over its published cells only
// (its other cells are suppressed or empty, which look the same, and are
// never counted as 0 nor estimated). A step with no published cell has a
// null Value, never 0.
type TrendPoint struct {
	// Period is the step as a period parameter: "2025-04" or "2025-Q2".
	Period string `json:"period"`
	// Label names it for people, e.g. "Apr 2025", "Q2 2025", or
	// "Q2 2025 (Apr to May only)" for a quarter the release has not closed.
	Label          string `json:"label"`
	FirstMonth     string `json:"first_month"`
	LastMonth      string `json:"last_month"`
	Value          *int   `json:"value"`
	PublishedCells int    `json:"published_cells"`
}

// Trend is an area's series and what it was computed from.
type Trend struct {
	Step Step
	// Res and Cells are the area: its whole cells, in id order.
	Res     int
	Cells   []string
	Points  []TrendPoint
	Release ReleaseInfo
}

// Published reports how many steps have a value.
func (t *Trend) Published() int {
	n := 0
	for _, p := range t.Points {
		if p.Value != nil {
			n++
		}
	}
	return n
}

// ParseStep reads the step parameter; empty means months.
func ParseStep(s string) (Step, error) {
	switch Step(s) {
	case "", StepMonth:
		return StepMonth, nil
	case StepQuarter:
		return StepQuarter, nil
	}
	return "", errInvalid("step_unsupported", "step %q is not supported; use month or quarter", ctxmap.Truncate(s, echoRunes))
}

// Trend returns the published series for the requested cells, and the
// release it comes from. Each step is that step's published set, so a
// trend reveals nothing the tiles for that month or quarter do not. Months
// after the release's last are refused or, when the range straddles it,
// cut off.
func (s *Service) Trend(ctx context.Context, req TrendRequest) (*Trend, error) {
	layer, category, err := s.checkLayerCategory(ctx, req.Layer, req.Category)
	if err != nil {
		return nil, err
	}
	step, err := ParseStep(string(req.Step))
	if err != nil {
		return nil, err
	}
	cells, err := parseTrendCells(req.Cells)
	if err != nil {
		return nil, err
	}
	rel, err := s.current.get(ctx)
	if err != nil {
		return nil, err
	}
	from, to, err := s.trendRange(rel, step, req.From, req.To)
	if err != nil {
		return nil, err
	}
	out := &Trend{Step: step, Res: geo.CellRes(cells[0]), Release: rel}
	for _, c := range cells {
		out.Cells = append(out.Cells, c.String())
	}
	for _, st := range trendSteps(step, from, to, rel.Window.Last) {
		h, err := s.set(ctx, rel, setKey{release: rel.ID, layer: layer, category: category, first: st.first, last: st.last})
		if err != nil {
			return nil, err
		}
		pt := st.point()
		pt.Value, pt.PublishedCells = h.areaValue(cells)
		out.Points = append(out.Points, pt)
	}
	return out, nil
}

// areaValue is the one rule for an area of whole cells in a published set:
// the sum of its published cells' values and how many were published, or
// nil when none was (suppressed and empty cells are unknown, never 0).
func (h *heatSet) areaValue(cells []h3.Cell) (*int, int) {
	sum, n := 0, 0
	for _, c := range cells {
		if v, ok := h.pub.Value(c); ok {
			sum += v
			n++
		}
	}
	if n == 0 {
		return nil, 0
	}
	return &sum, n
}

// trendRange resolves a trend's first and last months against a release.
func (s *Service) trendRange(rel ReleaseInfo, step Step, fromSpec, toSpec string) (from, to Month, err error) {
	latest := rel.Window.Last
	to = latest
	if toSpec != "" {
		if to, err = parseTrendBound(toSpec, step, true); err != nil {
			return
		}
	}
	from = to.Add(-11)
	if fromSpec != "" {
		if from, err = parseTrendBound(fromSpec, step, false); err != nil {
			return
		}
	} else {
		if step == StepQuarter {
			from = quarterStart(from)
		}
		// A default range never reaches before the release's window.
		if from.Before(rel.Window.First) {
			from = rel.Window.First
		}
	}
	if to.Before(from) {
		return from, to, errInvalid("trend_range_invalid", "from %s is after to %s", from, to)
	}
	if complete := MonthOf(s.clock()).Add(-1); complete.Before(from) {
		return from, to, errInvalid("period_incomplete", "trend from %s has no complete month yet; the latest is %s", from, complete)
	}
	if latest.Before(from) || from.Before(rel.Window.First) {
		return from, to, notReleased(rel, from, to)
	}
	if latest.Before(to) {
		to = latest
	}
	if n := to.index() - from.index() + 1; n > MaxTrendMonths {
		return from, to, errInvalid("trend_too_long", "a trend covers at most %d months; %s to %s is %d", MaxTrendMonths, from, to, n)
	}
	if step == StepQuarter && len(trendSteps(step, from, to, latest)) == 0 {
		return from, to, errInvalid("trend_range_invalid", "no quarter starts between %s and %s", from, to)
	}
	return from, to, nil
}

// parseTrendBound reads a from or to: a month, or with quarter steps also a
// quarter, which stands for its first month (from) or its last (to).
func parseTrendBound(s string, step Step, last bool) (Month, error) {
	if step == StepQuarter && len(s) == 7 && (s[5] == 'Q' || s[5] == 'q') && s[4] == '-' {
		y, okY := parseYear(s[:4])
		q, okQ := digits(s[6:])
		if okY && okQ && q >= 1 && q <= 4 {
			m := Month{y, time.Month(3*q - 2)}
			if last {
				m = m.Add(2)
			}
			return m, nil
		}
		return Month{}, errInvalid("month_invalid", "%q is not a quarter; use YYYY-Qn, e.g. 2025-Q1", ctxmap.Truncate(s, echoRunes))
	}
	return ParseMonth(s)
}

// trendStep is one step's months.
type trendStep struct {
	quarter     bool
	first, last Month
}

// trendSteps lists the steps from..to: every month, or every quarter that
// starts in the range, whole but cut back to latest, the release's last
// month (as the release itself cuts the quarter it has not closed), so
// each step is a set the release holds.
func trendSteps(step Step, from, to, latest Month) []trendStep {
	var out []trendStep
	for m := from; !to.Before(m); m = m.Add(1) {
		switch {
		case step == StepMonth:
			out = append(out, trendStep{first: m, last: m})
		case quarterStart(m) == m:
			last := m.Add(2)
			if latest.Before(last) {
				last = latest
			}
			out = append(out, trendStep{quarter: true, first: m, last: last})
		}
	}
	return out
}

func quarterStart(m Month) Month { return Month{m.Year, time.Month((int(m.Month)-1)/3*3 + 1)} }

// point is the step's labels, before its value.
func (st trendStep) point() TrendPoint {
	pt := TrendPoint{Period: st.first.String(), Label: monthLabel(st.first), FirstMonth: st.first.String(), LastMonth: st.last.String()}
	if st.quarter {
		q := (int(st.first.Month)-1)/3 + 1
		pt.Period = fmt.Sprintf("%04d-Q%d", st.first.Year, q)
		pt.Label = fmt.Sprintf("Q%d %d", q, st.first.Year)
		if full := st.first.Add(2); st.last != full {
			if st.last == st.first {
				pt.Label += " (" + st.first.Month.String()[:3] + " only)"
			} else {
				pt.Label += " (" + st.first.Month.String()[:3] + " to " + st.last.Month.String()[:3] + " only)"
			}
		}
	}
	return pt
}

// monthLabel names a month for people and chart axes: "Apr 2025", never a
// letter that April and August share.
func monthLabel(m Month) string { return m.Month.String()[:3] + " " + strconv.Itoa(m.Year) }

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
	slices.Sort(cells)
	return cells, nil
}
