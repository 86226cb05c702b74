package tiles

import (
	"math"
	"slices"
)

// MannKendall is the result of the Mann-Kendall trend test on one series:
// S (the sum of the signs of every later-minus-earlier difference), its
// variance with the correction for ties, the normal approximation's z
// (continuity-corrected) and the two-sided p-value. A positive Z is an
// upward trend.
type MannKendall struct {
	S   int
	Var float64
	Z   float64
	P   float64
}

// MannKendallTest runs the test on xs in time order. Values are tied only
// when exactly equal: the Gi* series it is used on repeat a value only when
// a step's published values repeat, and then bit for bit. With fewer than
// two values, or every value tied, there is no evidence of a trend: Z is 0
// and P is 1.
func MannKendallTest(xs []float64) MannKendall {
	n := len(xs)
	s := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			switch {
			case xs[j] > xs[i]:
				s++
			case xs[j] < xs[i]:
				s--
			}
		}
	}
	// Var(S) = [n(n-1)(2n+5) - sum over tie groups t(t-1)(2t+5)] / 18.
	v := float64(n*(n-1)*(2*n+5)) / 18
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	for i := 0; i < n; {
		j := i + 1
		for j < n && sorted[j] == sorted[i] {
			j++
		}
		if t := j - i; t > 1 {
			v -= float64(t*(t-1)*(2*t+5)) / 18
		}
		i = j
	}
	mk := MannKendall{S: s, Var: v, P: 1}
	if v <= 0 || s == 0 {
		return mk
	}
	sd := math.Sqrt(v)
	if s > 0 {
		mk.Z = float64(s-1) / sd
	} else {
		mk.Z = float64(s+1) / sd
	}
	mk.P = twoSidedP(mk.Z)
	return mk
}

// twoSidedP is the two-sided p-value of a standard normal z.
func twoSidedP(z float64) float64 {
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}
