package tiles

import (
	"context"
	"fmt"
	"slices"

	"github.com/ctxmap/ctxmap"
)

// Record measures: the partnership's rates of extra-familial referral and
// outcome markers, of relocations in response to extra-familial harm and of
// contextual factors whose plan attends to them (issue 13; the briefing's
// recommendations 1-3). Each is a count of distinct young people per month
// and per quarter of a release's window, computed in the release's
// transaction from the records as they stood at its data time and stored
// with it (PRIVACY.md rule 12): no request counts records, so a write
// changes no figure until the next release.
//
// Each value is published as a partnership total is (rates.go): the true
// count must reach k, the value is perturbed with the sum of the young
// people's keys and rounded, and a value below k is absent (never 0). A
// narrower measure (the extra-familial referrals among all referrals, the
// kinds of relocation, the factors with actions) is a child of its parent,
// as a cell is of its parent cell (rule 8): it is published only when its
// parent is, and the smallest published children are held back until the
// parent minus the sum of its published children is not 1 to k-1, so a
// difference never says how many young people the children leave out.

// FactKind says what a RecordFact is.
type FactKind uint8

// The kinds of fact a release reads from young people's records.
const (
	FactReferral   FactKind = iota + 1 // a current referral marker
	FactOutcome                        // a current outcome marker
	FactRelocation                     // a relocation
	FactFactor                         // a contextual factor identified in an assessment
)

// RecordFact is one entry of a young person's record as a release reads
// it: its kind, its month, the young person (Subject, Key as in
// Observation) and what the measures ask of it.
type RecordFact struct {
	Kind    FactKind
	Month   Month
	Subject int64
	Key     uint8
	// Extra: a marker whose familial context counts as extra-familial.
	Extra bool
	// Relocation indexes ReleaseInput.RelocationKinds.
	Relocation int
	// Addressed: a factor with a plan action that addresses it.
	Addressed bool
}

// The record measures' names, as the release stores them and the API
// answers them. The kinds of relocation add "relocations_" + kind.
const (
	MeasureReferrals      = "referrals"
	MeasureReferralsExtra = "referrals_extra_familial"
	MeasureOutcomes       = "outcomes"
	MeasureOutcomesExtra  = "outcomes_extra_familial"
	MeasureRelocations    = "relocations"
	MeasureFactors        = "factors"
	MeasureFactorsActions = "factors_with_actions"
)

// RelocationMeasure names the measure of one kind of relocation.
func RelocationMeasure(kind string) string { return MeasureRelocations + "_" + kind }

// MeasureDef is one record measure: its name, what it counts in words, and
// its parent ("" for a headline measure).
type MeasureDef struct {
	Name   string `json:"name"`
	Label  string `json:"label"`
	Parent string `json:"parent,omitempty"`
	in     func(f []RecordFact) bool
}

// Measures lists the record measures in their published order, given the
// kinds of relocation (the taxonomy's codes and labels, in order).
func Measures(relocationKinds, relocationLabels []string) []MeasureDef {
	has := func(k FactKind, also func(RecordFact) bool) func([]RecordFact) bool {
		return func(fs []RecordFact) bool {
			return slices.ContainsFunc(fs, func(f RecordFact) bool { return f.Kind == k && (also == nil || also(f)) })
		}
	}
	extra := func(f RecordFact) bool { return f.Extra }
	defs := []MeasureDef{
		{Name: MeasureReferrals, Label: "young people with a referral marker", in: has(FactReferral, nil)},
		{Name: MeasureReferralsExtra, Label: "young people with a referral marked extra-familial (extra or both)", Parent: MeasureReferrals, in: has(FactReferral, extra)},
		{Name: MeasureOutcomes, Label: "young people with an outcome marker", in: has(FactOutcome, nil)},
		{Name: MeasureOutcomesExtra, Label: "young people with an outcome marked extra-familial (extra or both)", Parent: MeasureOutcomes, in: has(FactOutcome, extra)},
		{Name: MeasureRelocations, Label: "young people relocated in response to extra-familial harm", in: has(FactRelocation, nil)},
	}
	for i, k := range relocationKinds {
		label := k
		if i < len(relocationLabels) {
			label = relocationLabels[i]
		}
		defs = append(defs, MeasureDef{Name: RelocationMeasure(k), Label: "young people relocated: " + label, Parent: MeasureRelocations,
			in: has(FactRelocation, func(f RecordFact) bool { return f.Relocation == i })})
	}
	defs = append(defs,
		MeasureDef{Name: MeasureFactors, Label: "young people with a contextual factor identified in an assessment", in: has(FactFactor, nil)},
		MeasureDef{Name: MeasureFactorsActions, Label: "young people every one of whose contextual factors identified in the period has a plan action", Parent: MeasureFactors,
			in: func(fs []RecordFact) bool {
				seen := false
				for _, f := range fs {
					if f.Kind == FactFactor {
						if !f.Addressed {
							return false
						}
						seen = true
					}
				}
				return seen
			}})
	return defs
}

// MeasureValue is one published value of a record measure for the months
// First..Last; Total.Published false is absent.
type MeasureValue struct {
	Measure     string
	First, Last Month
	Total       Total
}

// PublishMeasures computes every record measure for every month and
// quarter of the window of a release made at in.DataTime, under the policy.
// It is pure and its output is in a fixed order (measures, then periods).
func (p Policy) PublishMeasures(in ReleaseInput) []MeasureValue {
	w := WindowAt(in.DataTime, in.WindowMonths)
	defs := Measures(in.RelocationKinds, nil)
	// One young person's facts, month by month of the window.
	type person struct {
		key    uint8
		months [][]RecordFact
	}
	people := map[int64]*person{}
	var order []int64
	for _, f := range in.Facts {
		m := f.Month.index() - w.First.index()
		if m < 0 || m >= w.Months() {
			continue
		}
		pp := people[f.Subject]
		if pp == nil {
			pp = &person{key: f.Key, months: make([][]RecordFact, w.Months())}
			people[f.Subject] = pp
			order = append(order, f.Subject)
		}
		pp.months[m] = append(pp.months[m], f)
	}
	slices.Sort(order) // the sum of keys does not depend on order, but reading is simpler
	rel := ReleaseInfo{DataTime: in.DataTime, Window: w}
	var out []MeasureValue
	for _, step := range []Step{StepMonth, StepQuarter} {
		for _, per := range rateSteps(rel, step) {
			a, b := per.First.index()-w.First.index(), per.Last.index()-w.First.index()
			counts := make([]int, len(defs))
			keys := make([]uint8, len(defs))
			var fs []RecordFact
			for _, id := range order {
				pp := people[id]
				fs = fs[:0]
				for m := a; m <= b; m++ {
					fs = append(fs, pp.months[m]...)
				}
				if len(fs) == 0 {
					continue
				}
				for i, d := range defs {
					if d.in(fs) {
						counts[i]++
						keys[i] += pp.key
					}
				}
			}
			vals := make([]Total, len(defs))
			for i := range defs {
				vals[i] = p.measureTotal(counts[i], keys[i])
			}
			p.holdBackChildren(defs, vals)
			for i, d := range defs {
				out = append(out, MeasureValue{Measure: d.Name, First: per.First, Last: per.Last, Total: vals[i]})
			}
		}
	}
	return out
}

// measureTotal publishes one count: at least k young people and a value of
// at least k, or absent.
func (p Policy) measureTotal(count int, key uint8) Total {
	if count < p.k {
		return Total{}
	}
	v := p.Value(count, key)
	if v < p.k {
		return Total{}
	}
	return Total{Value: v, Published: true}
}

// holdBackChildren applies the parent rule to one period's values: a child
// of an absent parent is absent, and while a published parent minus the sum
// of its published children is 1 to k-1 the smallest published child is
// held back.
func (p Policy) holdBackChildren(defs []MeasureDef, vals []Total) {
	for pi, parent := range defs {
		if parent.Parent != "" {
			continue
		}
		var kids []int
		for ci, d := range defs {
			if d.Parent == parent.Name {
				kids = append(kids, ci)
			}
		}
		if len(kids) == 0 {
			continue
		}
		if !vals[pi].Published {
			for _, ci := range kids {
				vals[ci] = Total{}
			}
			continue
		}
		for {
			sum, smallest := 0, -1
			for _, ci := range kids {
				if vals[ci].Published {
					sum += vals[ci].Value
					if smallest < 0 || vals[ci].Value < vals[smallest].Value {
						smallest = ci
					}
				}
			}
			if d := vals[pi].Value - sum; smallest < 0 || d < 1 || d > p.k-1 {
				break
			}
			vals[smallest] = Total{}
		}
	}
}

// RecordRatePoint is one month or quarter of the record rates: each
// measure's published value, in the order of RecordRates.Measures.
type RecordRatePoint struct {
	Period   string         `json:"period"`
	First    string         `json:"first"`
	Last     string         `json:"last"`
	Months   int            `json:"months"`
	Measures []MeasurePoint `json:"measures"`
}

// MeasurePoint is one measure's published value in one period, nil where
// absent. Share, for a measure with a parent, is its value as a whole
// percentage of the parent's, derived from the two published values only
// (PRIVACY.md rule 9); nil unless both are published.
type MeasurePoint struct {
	Measure string `json:"measure"`
	Value   *int   `json:"value"`
	Share   *int   `json:"share"`
}

// RecordRates is the record rate series of one release.
type RecordRates struct {
	Release  ReleaseInfo
	Step     string
	Measures []MeasureDef
	Points   []RecordRatePoint
}

// RecordRates returns the current release's published record measures,
// month by month or quarter by quarter over its window. relocationKinds and
// labels are the taxonomy's, so the answer names every measure the release
// holds.
func (s *Service) RecordRates(ctx context.Context, step Step, relocationKinds, relocationLabels []string) (*RecordRates, error) {
	if step == "" {
		step = StepMonth
	}
	if step != StepMonth && step != StepQuarter {
		return nil, errInvalid("step_unsupported", "step %q is not supported; use %s or %s", ctxmap.Truncate(string(step), echoRunes), StepMonth, StepQuarter)
	}
	rel, err := s.current.get(ctx)
	if err != nil {
		return nil, err
	}
	stored, err := s.releases.Measures(ctx, rel.ID)
	if err != nil {
		return nil, fmt.Errorf("tiles: reading release %d measures: %w", rel.ID, err)
	}
	if len(stored) == 0 {
		return nil, ctxmap.Errorf(ctxmap.KindUnavailable, "record_rates_not_released",
			"the current data release (%d) was made before the rates of markers, relocations and plans were published; they appear with the next release", rel.ID)
	}
	type key struct {
		m           string
		first, last Month
	}
	byKey := make(map[key]Total, len(stored))
	for _, v := range stored {
		byKey[key{v.Measure, v.First, v.Last}] = v.Total
	}
	defs := Measures(relocationKinds, relocationLabels)
	out := &RecordRates{Release: rel, Step: string(step), Measures: defs}
	for _, per := range rateSteps(rel, step) {
		pt := RecordRatePoint{Period: per.Spec, First: per.First.String(), Last: per.Last.String(), Months: per.NumMonths()}
		value := map[string]*int{}
		for _, d := range defs {
			var v *int
			if t, ok := byKey[key{d.Name, per.First, per.Last}]; ok && t.Published {
				n := t.Value
				v = &n
			}
			value[d.Name] = v
		}
		for _, d := range defs {
			mp := MeasurePoint{Measure: d.Name, Value: value[d.Name]}
			if c, par := value[d.Name], value[d.Parent]; d.Parent != "" && c != nil && par != nil && *par > 0 {
				pc := (*c*100 + *par/2) / *par
				mp.Share = &pc
			}
			pt.Measures = append(pt.Measures, mp)
		}
		out.Points = append(out.Points, pt)
	}
	return out, nil
}
