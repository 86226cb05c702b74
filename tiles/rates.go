package tiles

import (
	"context"
	"fmt"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Rates: how many distinct young people had an active harm location in the
// whole partnership in a month or quarter, per layer and filter. A
// partnership total is one more published value of a release's set, made
// in the release's transaction from the same records as the set's cells and
// published under the same policy: the true count must reach k, the value is
// perturbed by the subjects' cell key and rounded, and a total below k is
// absent, never 0. Like a parent cell (PRIVACY.md rule 8), the total is
// also absent when it minus the sum of the set's published resolution 6
// cells would be 1 to k-1, so it never says how many young people the
// published cells leave out. The service reads totals from the current
// release only, so a write changes no rate until the next release.

// Total is a set's published partnership total; Published false means
// absent (fewer than k young people, none, or held back by rule 8).
type Total struct {
	Value     int
	Published bool
}

// PublishTotal publishes the partnership total of a set's observations,
// given the cells Publish made of the same observations. It counts the
// observations Publish counts (valid cells of resolution 6 or finer), each
// young person once, with the key Publish takes for them.
func (p Policy) PublishTotal(obs []Observation, pub *Published) Total {
	sc := make([]subjCell, 0, len(obs))
	for _, o := range obs {
		if !geo.ValidCell(o.Cell) || geo.CellRes(o.Cell) < geo.MinRes {
			continue
		}
		c := o.Cell
		if geo.CellRes(c) > geo.MaxRes {
			c = geo.Parent(c, geo.MaxRes)
		}
		sc = append(sc, subjCell{o.Subject, pack(c, o.Key)})
	}
	sc = radixSortBySubject(sc, make([]subjCell, len(sc)))
	count := 0
	var key uint8
	for i := 0; i < len(sc); {
		lowest := sc[i].packed
		j := i
		for j < len(sc) && sc[j].subject == sc[i].subject {
			lowest = min(lowest, sc[j].packed)
			j++
		}
		count++
		key += uint8(lowest)
		i = j
	}
	if count < p.k {
		return Total{}
	}
	v := p.Value(count, key)
	if v < p.k {
		return Total{}
	}
	children := 0
	for _, cv := range pub.Cells(geo.MinRes) {
		children += cv.Value
	}
	if d := v - children; d >= 1 && d <= p.k-1 {
		return Total{}
	}
	return Total{Value: v, Published: true}
}

// Caveat says in words what every published figure is, for answers that
// carry figures without the full policy (Describe).
func (p Policy) Caveat() string {
	return fmt.Sprintf("Values are perturbed and rounded to the nearest %d; absent (null) means fewer than %d young people, or none.", Rounding, p.k)
}

// StoredTotal is one set's partnership total as a release stores it.
type StoredTotal struct {
	Key   SetKey
	Total Total
}

// RatesRequest asks for the partnership's rates: Step month or quarter
// (empty: month), Category one category code, ctxmap.ExtraFamilial or
// ctxmap.AllCategories (empty: the extra-familial figure, the headline
// rate of extra-familial harm).
type RatesRequest struct {
	Step     string
	Category string
}

// RatePoint is one month or quarter of the rates: the published totals of
// both layers side by side, nil where absent. First and Last are the months
// covered; a quarter the release's window cuts covers fewer than three.
type RatePoint struct {
	Period string `json:"period"`
	First  string `json:"first"`
	Last   string `json:"last"`
	Months int    `json:"months"`
	Harm   *int   `json:"harm"`
	Unsafe *int   `json:"unsafe"`
}

// Rates is the partnership's rate series from one release.
type Rates struct {
	Release  ReleaseInfo
	Step     string
	Category string // "" for all categories
	Points   []RatePoint
}

// Rates returns the published partnership totals of the current release,
// month by month or quarter by quarter over its window, harm and unsafe side
// by side.
func (s *Service) Rates(ctx context.Context, req RatesRequest) (*Rates, error) {
	step := Step(req.Step)
	if step == "" {
		step = StepMonth
	}
	if step != StepMonth && step != StepQuarter {
		return nil, errInvalid("step_unsupported", "step %q is not supported; use %s or %s", ctxmap.Truncate(string(step), echoRunes), StepMonth, StepQuarter)
	}
	cat := req.Category
	if cat == "" {
		cat = ctxmap.ExtraFamilial
	}
	_, cat, err := s.checkLayerCategory(ctx, DefaultLayer, cat)
	if err != nil {
		return nil, err
	}
	rel, err := s.current.get(ctx)
	if err != nil {
		return nil, err
	}
	if !rel.Totals {
		return nil, ctxmap.Errorf(ctxmap.KindUnavailable, "rates_not_released",
			"the current data release (%d) was made before partnership rates were published; they appear with the next release", rel.ID)
	}
	stored, err := s.releases.Totals(ctx, rel.ID, cat)
	if err != nil {
		return nil, fmt.Errorf("tiles: reading release %d totals: %w", rel.ID, err)
	}
	byKey := make(map[SetKey]Total, len(stored))
	for _, st := range stored {
		byKey[st.Key] = st.Total
	}
	out := &Rates{Release: rel, Step: string(step), Category: cat}
	for _, per := range rateSteps(rel, step) {
		pt := RatePoint{Period: per.Spec, First: per.First.String(), Last: per.Last.String(), Months: per.NumMonths()}
		for _, l := range ctxmap.Layers() {
			if !l.Categorised() {
				continue // rates are of harm and feeling unsafe; safe places are a map layer
			}
			k := SetKey{Layer: l, Category: cat, First: per.First, Last: per.Last}
			t, ok := byKey[k]
			if !ok {
				return nil, fmt.Errorf("tiles: release %d has no total for set %s", rel.ID, k)
			}
			var v *int
			if t.Published {
				value := t.Value
				v = &value
			}
			switch l {
			case ctxmap.LayerHarm:
				pt.Harm = v
			case ctxmap.LayerUnsafe:
				pt.Unsafe = v
			}
		}
		out.Points = append(out.Points, pt)
	}
	return out, nil
}

// rateSteps lists the months of a release's window, or the quarters that
// start inside it (the one holding the release's month clamped to its
// complete months, as ParsePeriod clamps): each is a set of the release.
func rateSteps(rel ReleaseInfo, step Step) []Period {
	var out []Period
	for m := rel.Window.First; !rel.Window.Last.Before(m); m = m.Add(1) {
		if step == StepMonth {
			out = append(out, Period{Spec: m.String(), First: m, Last: m})
			continue
		}
		if (int(m.Month)-1)%3 != 0 {
			continue
		}
		p, err := ParsePeriod(fmt.Sprintf("%04d-Q%d", m.Year, (int(m.Month)-1)/3+1), rel.DataTime)
		if err == nil && rel.Window.Contains(p.First, p.Last) {
			out = append(out, p)
		}
	}
	return out
}
