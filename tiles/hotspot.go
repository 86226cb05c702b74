package tiles

import (
	"math"
	"slices"

	"github.com/uber/h3-go/v4"
)

// Emerging hot spot analysis (ArcGIS Pro's Emerging Hot Spot Analysis, on
// published values only: PRIVACY.md rule 9). This file is the pure
// computation; hotspotsvc.go reads a release's sets into it. The rules are
// written down, with their sources, in docs/ANALYTICS.md.

// DefaultHotspotAlpha is the significance level used when a request gives
// none, for both the Gi* z-scores and the Mann-Kendall trend.
const DefaultHotspotAlpha = 0.05

// HotspotCategory is one of the seventeen patterns of ArcGIS Pro's
// Emerging Hot Spot Analysis.
type HotspotCategory string

// The categories, as their codes appear in JSON, CSV, GeoJSON and tiles.
const (
	NoPattern            HotspotCategory = "no_pattern"
	NewHotSpot           HotspotCategory = "new_hot_spot"
	ConsecutiveHotSpot   HotspotCategory = "consecutive_hot_spot"
	IntensifyingHotSpot  HotspotCategory = "intensifying_hot_spot"
	PersistentHotSpot    HotspotCategory = "persistent_hot_spot"
	DiminishingHotSpot   HotspotCategory = "diminishing_hot_spot"
	SporadicHotSpot      HotspotCategory = "sporadic_hot_spot"
	OscillatingHotSpot   HotspotCategory = "oscillating_hot_spot"
	HistoricalHotSpot    HotspotCategory = "historical_hot_spot"
	NewColdSpot          HotspotCategory = "new_cold_spot"
	ConsecutiveColdSpot  HotspotCategory = "consecutive_cold_spot"
	IntensifyingColdSpot HotspotCategory = "intensifying_cold_spot"
	PersistentColdSpot   HotspotCategory = "persistent_cold_spot"
	DiminishingColdSpot  HotspotCategory = "diminishing_cold_spot"
	SporadicColdSpot     HotspotCategory = "sporadic_cold_spot"
	OscillatingColdSpot  HotspotCategory = "oscillating_cold_spot"
	HistoricalColdSpot   HotspotCategory = "historical_cold_spot"
)

// HotspotCategoryInfo describes a category for people: the map's legend
// and the documents read these, so the UI repeats none of them.
type HotspotCategoryInfo struct {
	Code HotspotCategory `json:"code"`
	// Kind is "hot", "cold" or "none".
	Kind        string `json:"kind"`
	Label       string `json:"label"`
	Description string `json:"description"`
}

var hotspotCategories = []HotspotCategoryInfo{
	{NewHotSpot, "hot", "New hot spot", "A significant hot spot in the final step, and never before."},
	{ConsecutiveHotSpot, "hot", "Consecutive hot spot", "One unbroken run of at least two significant hot spot steps ending with the final step, never a hot spot before the run, and hot in less than 90% of steps."},
	{IntensifyingHotSpot, "hot", "Intensifying hot spot", "A significant hot spot in at least 90% of steps including the final one, with clustering of high values increasing significantly over time."},
	{PersistentHotSpot, "hot", "Persistent hot spot", "A significant hot spot in at least 90% of steps including the final one, with no significant trend in the intensity of clustering."},
	{DiminishingHotSpot, "hot", "Diminishing hot spot", "A significant hot spot in at least 90% of steps including the final one, with clustering of high values decreasing significantly over time."},
	{SporadicHotSpot, "hot", "Sporadic hot spot", "A significant hot spot in the final step that has been an on-and-off hot spot before, hot in less than 90% of steps and never a significant cold spot."},
	{OscillatingHotSpot, "hot", "Oscillating hot spot", "A significant hot spot in the final step that has been a significant cold spot in an earlier step, hot in less than 90% of steps."},
	{HistoricalHotSpot, "hot", "Historical hot spot", "Not a significant hot spot in the final step, but one in at least 90% of steps."},
	{NewColdSpot, "cold", "New cold spot", "A significant cold spot in the final step, and never before."},
	{ConsecutiveColdSpot, "cold", "Consecutive cold spot", "One unbroken run of at least two significant cold spot steps ending with the final step, never a cold spot before the run, and cold in less than 90% of steps."},
	{IntensifyingColdSpot, "cold", "Intensifying cold spot", "A significant cold spot in at least 90% of steps including the final one, with clustering of low values increasing significantly over time."},
	{PersistentColdSpot, "cold", "Persistent cold spot", "A significant cold spot in at least 90% of steps including the final one, with no significant trend in the intensity of clustering."},
	{DiminishingColdSpot, "cold", "Diminishing cold spot", "A significant cold spot in at least 90% of steps including the final one, with clustering of low values decreasing significantly over time."},
	{SporadicColdSpot, "cold", "Sporadic cold spot", "A significant cold spot in the final step that has been an on-and-off cold spot before, cold in less than 90% of steps and never a significant hot spot."},
	{OscillatingColdSpot, "cold", "Oscillating cold spot", "A significant cold spot in the final step that has been a significant hot spot in an earlier step, cold in less than 90% of steps."},
	{HistoricalColdSpot, "cold", "Historical cold spot", "Not a significant cold spot in the final step, but one in at least 90% of steps."},
	{NoPattern, "none", "No pattern detected", "None of the hot or cold spot patterns above."},
}

// HotspotCategories lists every category with its label and definition,
// hot spots first, in the order a legend shows them.
func HotspotCategories() []HotspotCategoryInfo { return slices.Clone(hotspotCategories) }

// GiStar is one cell's Getis-Ord Gi* at one step: the statistic is itself
// a z-score; P is its two-sided p-value.
type GiStar struct {
	Z float64 `json:"z"`
	P float64 `json:"p"`
}

// CellHotspot is one study-area cell's analysis: its Gi* at every step,
// the Mann-Kendall test on that series of z-scores, and its category.
type CellHotspot struct {
	Cell     h3.Cell
	Gi       []GiStar
	Trend    MannKendall
	Category HotspotCategory
}

// Neighbourhoods returns, for each cell of area, the indexes in area of the
// cell itself and of its H3 ring-1 neighbours that are in the area: the
// binary weights of Gi* (1 for these, 0 for every other cell). Neighbours
// outside the study area are not features of the analysis, as ArcGIS
// leaves bins outside an analysis mask out.
func Neighbourhoods(area []h3.Cell) [][]int32 {
	index := make(map[h3.Cell]int32, len(area))
	for i, c := range area {
		index[c] = int32(i)
	}
	out := make([][]int32, len(area))
	flat := make([]int32, 0, 7*len(area))
	for i, c := range area {
		start := len(flat)
		for _, nb := range h3.GridDisk(c, 1) {
			if j, ok := index[nb]; ok {
				flat = append(flat, j)
			}
		}
		out[i] = flat[start:len(flat):len(flat)]
	}
	return out
}

// GiStarStep computes Gi* for every cell of one step. x[i] is the value
// of cell i of the study area (0 where nothing is published: suppressed
// and empty cells are the same by design), nb its neighbourhood from
// Neighbourhoods. With binary weights, W_i = |nb[i]| and
//
//	Gi* = (sum_{j in nb[i]} x_j - mean*W_i) / (S * sqrt((n*W_i - W_i^2)/(n-1)))
//
// where mean and S = sqrt(sum x_j^2/n - mean^2) are over all n cells. Where
// the statistic is undefined (every value equal, or a neighbourhood that is
// the whole area) there is no evidence of clustering: z 0, p 1.
func GiStarStep(x []float64, nb [][]int32, out []GiStar) {
	n := float64(len(x))
	var sum, sum2 float64
	for _, v := range x {
		sum += v
		sum2 += v * v
	}
	mean := sum / n
	s := math.Sqrt(max(0, sum2/n-mean*mean))
	for i, js := range nb {
		w := float64(len(js))
		den := s * math.Sqrt((n*w-w*w)/(n-1))
		if len(x) < 2 || !(den > 1e-12*max(1, math.Abs(mean))) {
			out[i] = GiStar{0, 1}
			continue
		}
		var local float64
		for _, j := range js {
			local += x[j]
		}
		z := (local - mean*w) / den
		out[i] = GiStar{z, twoSidedP(z)}
	}
}

// EmergingHotSpots runs the whole analysis. area lists the study area's
// cells (one resolution, no duplicates); series[t][i] is cell i's value at
// step t, steps in time order. alpha is the significance level for both
// the Gi* p-values and the trend's. The result is aligned with area.
func EmergingHotSpots(area []h3.Cell, series [][]float64, alpha float64) []CellHotspot {
	nb := Neighbourhoods(area)
	steps := len(series)
	out := make([]CellHotspot, len(area))
	gi := make([]GiStar, steps*len(area))
	for i := range out {
		out[i] = CellHotspot{Cell: area[i], Gi: gi[i*steps : (i+1)*steps : (i+1)*steps]}
	}
	col := make([]GiStar, len(area))
	for t, x := range series {
		GiStarStep(x, nb, col)
		for i := range out {
			out[i].Gi[t] = col[i]
		}
	}
	zs := make([]float64, steps)
	for i := range out {
		for t, g := range out[i].Gi {
			zs[t] = g.Z
		}
		out[i].Trend = MannKendallTest(zs)
		out[i].Category = Classify(out[i].Gi, out[i].Trend, alpha)
	}
	return out
}

// Classify applies ArcGIS Pro's pattern definitions to one cell's Gi*
// series and its trend (docs/ANALYTICS.md). A step is a hot (cold) spot
// when its p-value is at most alpha and z is positive (negative); "90% of
// the steps" means at least 9 in 10, counted exactly; the trend is
// significant when its p-value is at most alpha. Where two definitions fit
// (a cell hot in 90% of steps that is cold in the final one is also a new
// cold spot), the 90% patterns win, then new, consecutive, oscillating and
// sporadic, in that order.
func Classify(gi []GiStar, trend MannKendall, alpha float64) HotspotCategory {
	n := len(gi)
	if n == 0 {
		return NoPattern
	}
	hot := func(t int) bool { return gi[t].P <= alpha && gi[t].Z > 0 }
	cold := func(t int) bool { return gi[t].P <= alpha && gi[t].Z < 0 }
	nHot, nCold := 0, 0
	for t := range gi {
		if hot(t) {
			nHot++
		}
		if cold(t) {
			nCold++
		}
	}
	ninety := func(c int) bool { return 10*c >= 9*n }
	up := trend.P <= alpha && trend.Z > 0
	down := trend.P <= alpha && trend.Z < 0
	last := n - 1
	switch {
	case hot(last) && ninety(nHot):
		return pick(up, down, IntensifyingHotSpot, DiminishingHotSpot, PersistentHotSpot)
	case cold(last) && ninety(nCold):
		// Intensifying cold means ever colder: a downward trend.
		return pick(down, up, IntensifyingColdSpot, DiminishingColdSpot, PersistentColdSpot)
	case ninety(nHot):
		return HistoricalHotSpot
	case ninety(nCold):
		return HistoricalColdSpot
	case hot(last):
		return recent(n, nHot, nCold > 0, hot, NewHotSpot, ConsecutiveHotSpot, OscillatingHotSpot, SporadicHotSpot)
	case cold(last):
		return recent(n, nCold, nHot > 0, cold, NewColdSpot, ConsecutiveColdSpot, OscillatingColdSpot, SporadicColdSpot)
	}
	return NoPattern
}

// pick names a 90% pattern by its trend.
func pick(stronger, weaker bool, intensifying, diminishing, persistent HotspotCategory) HotspotCategory {
	switch {
	case stronger:
		return intensifying
	case weaker:
		return diminishing
	}
	return persistent
}

// recent names the pattern of a cell that is a spot of one side in the
// final step but in less than 90% of steps: count is how many steps are
// spots of that side, other whether any step was a spot of the other side.
func recent(n, count int, other bool, spot func(int) bool, newSpot, consecutive, oscillating, sporadic HotspotCategory) HotspotCategory {
	if count == 1 {
		return newSpot
	}
	run := 0
	for t := n - 1; t >= 0 && spot(t); t-- {
		run++
	}
	switch {
	case run == count: // run >= 2: count > 1 and every spot is in the final run
		return consecutive
	case other:
		return oscillating
	}
	return sporadic
}
