package tiles

import (
	"math"
	"slices"
	"testing"

	"github.com/uber/h3-go/v4"
)

const eps = 1e-9

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// handGrid is the worked example's study area: a resolution 7 cell in
// Leeds and the two rings around it (19 cells). The centre and its six
// neighbours hold 10 each, the twelve cells of ring 2 nothing.
func handGrid(t *testing.T) (area []h3.Cell, x []float64, centre h3.Cell) {
	t.Helper()
	centre = h3.LatLngToCell(h3.LatLng{Lat: 53.7997, Lng: -1.5492}, 7)
	area = h3.GridDisk(centre, 2)
	slices.Sort(area)
	ring1 := h3.GridDisk(centre, 1)
	x = make([]float64, len(area))
	for i, c := range area {
		if slices.Contains(ring1, c) {
			x[i] = 10
		}
	}
	return area, x, centre
}

// TestGiStarWorkedExample checks Gi* against numbers derived by hand.
//
// n = 19 cells, sum x = 70, sum x^2 = 700, so mean = 70/19 and
// S^2 = 700/19 - (70/19)^2 = (13300 - 4900)/361 = 8400/361, S = sqrt(8400)/19.
// Gi* = (L - mean*W) / (S * sqrt((n*W - W^2)/(n-1))) with L the sum over the
// neighbourhood (the cell and its ring-1 neighbours inside the area) and W
// its size. The 19s cancel: Gi* = (19L - 70W) / sqrt(8400 (19W - W^2) / 18).
//
//   - centre: W = 7, L = 70: (1330 - 490) / sqrt(8400*84/18) = 840/sqrt(39200) = 3*sqrt(2) = 4.2426407;
//     p = erfc(3) = 2.2090497e-5, a significant hot spot at 0.05.
//   - ring 1: W = 7 (all of its neighbours are in the area), L = itself, the
//     centre and two ring-1 neighbours = 40: (760 - 490)/sqrt(39200) = 270/sqrt(39200) = 1.3637059.
//   - ring 2, the six "corner" cells touching one ring-1 cell: W = 1 + 1 + 2
//     (itself, one ring-1 cell, two ring-2 cells; ring 3 is outside the area) = 4,
//     L = 10: (190 - 280)/sqrt(8400*60/18) = -90/sqrt(28000) = -0.5378529.
//   - ring 2, the six "edge" cells touching two ring-1 cells: W = 5, L = 20:
//     (380 - 350)/sqrt(8400*70/18) = 30/sqrt(32666.67) = 0.1659850.
func TestGiStarWorkedExample(t *testing.T) {
	area, x, centre := handGrid(t)
	ring1 := h3.GridDisk(centre, 1)
	nb := Neighbourhoods(area)
	gi := make([]GiStar, len(area))
	GiStarStep(x, nb, gi)
	corners, edges := 0, 0
	for i, c := range area {
		var want float64
		switch {
		case c == centre:
			want = 3 * math.Sqrt2
			if !near(gi[i].P, 2.2090496998585438e-05, 1e-12) {
				t.Errorf("centre p = %v, want erfc(3)", gi[i].P)
			}
		case slices.Contains(ring1, c):
			want = 270 / math.Sqrt(39200)
		default:
			touching := 0
			for _, nbr := range h3.GridDisk(c, 1) {
				if slices.Contains(ring1, nbr) {
					touching++
				}
			}
			if touching == 1 {
				corners++
				want = -90 / math.Sqrt(28000)
			} else {
				edges++
				want = 30 / math.Sqrt(8400.0*70/18)
			}
		}
		if !near(gi[i].Z, want, eps) {
			t.Errorf("%s: Gi* = %.9f, want %.9f", c, gi[i].Z, want)
		}
		if !near(gi[i].P, math.Erfc(math.Abs(want)/math.Sqrt2), eps) {
			t.Errorf("%s: p = %v", c, gi[i].P)
		}
	}
	if corners != 6 || edges != 6 {
		t.Fatalf("ring 2 has %d corner and %d edge cells, want 6 and 6", corners, edges)
	}
}

// TestGiStarUndefined: a step where every cell has the same value (all
// absent, typically) shows no clustering rather than NaN.
func TestGiStarUndefined(t *testing.T) {
	area, _, _ := handGrid(t)
	for _, v := range []float64{0, 15} {
		x := make([]float64, len(area))
		for i := range x {
			x[i] = v
		}
		gi := make([]GiStar, len(area))
		GiStarStep(x, Neighbourhoods(area), gi)
		for _, g := range gi {
			if g != (GiStar{0, 1}) {
				t.Fatalf("constant %v: got %+v, want z 0 p 1", v, g)
			}
		}
	}
}

// TestMannKendallWorkedExample: x = 1, 3, 2, 5, 5.
//
// Signs of x_j - x_i for i < j: from 1: + + + + (4); from 3: - + + (1);
// from 2: + + (2); from 5: 0. S = 7. Var(S) = [5*4*15 - 2*1*9]/18 =
// (300 - 18)/18 = 47/3 (one tie group of two 5s). Z = (S - 1)/sqrt(Var) =
// 6/sqrt(47/3) = 1.5158735, p = erfc(Z/sqrt 2) = 0.1295514.
func TestMannKendallWorkedExample(t *testing.T) {
	mk := MannKendallTest([]float64{1, 3, 2, 5, 5})
	if mk.S != 7 || !near(mk.Var, 47.0/3, eps) || !near(mk.Z, 1.5158734579197342, eps) || !near(mk.P, 0.1295513529044089, 1e-9) {
		t.Fatalf("got %+v", mk)
	}
	down := MannKendallTest([]float64{5, 5, 2, 3, 1})
	if down.S != -7 || !near(down.Z, -1.5158734579197342, eps) || !near(down.P, mk.P, eps) {
		t.Fatalf("reversed: %+v", down)
	}
	for _, xs := range [][]float64{nil, {3}, {2, 2, 2, 2}} {
		if got := MannKendallTest(xs); got.Z != 0 || got.P != 1 {
			t.Errorf("%v: %+v, want no trend", xs, got)
		}
	}
	// A strictly increasing series of 10: S = 45, Var = 10*9*25/18 = 125.
	inc := make([]float64, 10)
	for i := range inc {
		inc[i] = float64(i)
	}
	if got := MannKendallTest(inc); got.S != 45 || !near(got.Var, 125, eps) || !near(got.Z, 44/math.Sqrt(125), eps) {
		t.Fatalf("increasing: %+v", got)
	}
}

// series builds a Gi* series from a pattern: H a significant hot spot,
// C a significant cold spot, '.' neither.
func series(pattern string) []GiStar {
	out := make([]GiStar, len(pattern))
	for i, r := range pattern {
		switch r {
		case 'H':
			out[i] = GiStar{3, 0.003}
		case 'C':
			out[i] = GiStar{-3, 0.003}
		default:
			out[i] = GiStar{0.5, 0.6}
		}
	}
	return out
}

func TestClassify(t *testing.T) {
	up := MannKendall{Z: 3, P: 0.003}
	down := MannKendall{Z: -3, P: 0.003}
	flat := MannKendall{Z: 0.2, P: 0.8}
	for _, c := range []struct {
		pattern string
		trend   MannKendall
		want    HotspotCategory
	}{
		{"..........", flat, NoPattern},
		{".........H", flat, NewHotSpot},
		{"C........H", flat, NewHotSpot}, // new wins over oscillating
		{"......HHHH", flat, ConsecutiveHotSpot},
		{"CC....HHHH", flat, ConsecutiveHotSpot},
		{"..H...HHHH", flat, SporadicHotSpot},
		{"..H.H.H..H", flat, SporadicHotSpot},
		{"..C.H.H..H", flat, OscillatingHotSpot},
		{"HHHHHHHHHH", up, IntensifyingHotSpot},
		{".HHHHHHHHH", up, IntensifyingHotSpot}, // 9 of 10 is 90%
		{"HHHHHHHHHH", down, DiminishingHotSpot},
		{"HHHHHHHHHH", flat, PersistentHotSpot},
		{"HHHH.HHHHH", flat, PersistentHotSpot},
		{"HH.H.HHHHH", up, SporadicHotSpot}, // 8 of 10 is under 90%
		{"HHHHHHHHH.", down, HistoricalHotSpot},
		{"HHHHHHHHHC", flat, HistoricalHotSpot}, // the 90% pattern wins over new cold
		{".........C", flat, NewColdSpot},
		{"........CC", flat, ConsecutiveColdSpot},
		{"C..C....CC", flat, SporadicColdSpot},
		{"H..C....CC", flat, OscillatingColdSpot},
		{"CCCCCCCCCC", down, IntensifyingColdSpot},
		{"CCCCCCCCCC", up, DiminishingColdSpot},
		{"CCCCCCCCCC", flat, PersistentColdSpot},
		{"CCCCCCCCC.", up, HistoricalColdSpot},
		{"H.........", flat, NoPattern},
	} {
		if got := Classify(series(c.pattern), c.trend, 0.05); got != c.want {
			t.Errorf("%s trend z %v: %s, want %s", c.pattern, c.trend.Z, got, c.want)
		}
	}
	// alpha moves what counts as significant.
	g := []GiStar{{2, 0.04}, {2, 0.04}}
	if Classify(g, flat, 0.05) != PersistentHotSpot || Classify(g, flat, 0.01) != NoPattern {
		t.Fatal("alpha is not the significance level")
	}
}

func TestHotspotCategoriesComplete(t *testing.T) {
	cats := HotspotCategories()
	if len(cats) != 17 {
		t.Fatalf("%d categories, want 17", len(cats))
	}
	seen := map[HotspotCategory]bool{}
	for _, c := range cats {
		if seen[c.Code] || c.Label == "" || c.Description == "" || (c.Kind != "hot" && c.Kind != "cold" && c.Kind != "none") {
			t.Errorf("bad category %+v", c)
		}
		seen[c.Code] = true
	}
}

// plantedCube is a study area of 127 resolution 7 cells (a centre and six
// rings) over 24 steps with two planted clusters in a sparse background:
// A, a cell and its ring, whose values rise from 60 to 175; B, another,
// whose values fall from 180 to 65. Background cells hold 10 now and then.
func plantedCube(steps int) (area []h3.Cell, cube [][]float64, a, b h3.Cell) {
	centre := h3.LatLngToCell(h3.LatLng{Lat: 53.4808, Lng: -2.2426}, 7)
	area = h3.GridDisk(centre, 6)
	slices.Sort(area)
	ringA := h3.GridDiskDistances(centre, 3)[3]
	a, b = ringA[0], ringA[len(ringA)/2]
	inA, inB := h3.GridDisk(a, 1), h3.GridDisk(b, 1)
	cube = make([][]float64, steps)
	for t := range cube {
		x := make([]float64, len(area))
		for i, c := range area {
			switch {
			case slices.Contains(inA, c):
				x[i] = float64(60 + 5*t)
			case slices.Contains(inB, c):
				x[i] = float64(180 - 5*t)
			case (uint64(c)>>12+uint64(t))%7 == 0:
				x[i] = 10
			}
		}
		cube[t] = x
	}
	return area, cube, a, b
}

func TestEmergingHotSpotsFindsPlantedTrends(t *testing.T) {
	area, cube, a, b := plantedCube(24)
	res := EmergingHotSpots(area, cube, DefaultHotspotAlpha)
	got := map[h3.Cell]CellHotspot{}
	for _, r := range res {
		got[r.Cell] = r
	}
	if c := got[a]; c.Category != IntensifyingHotSpot || c.Trend.Z <= 0 {
		t.Errorf("rising cluster: %s, trend %+v, gi %v", c.Category, c.Trend, c.Gi)
	}
	if c := got[b]; c.Category != DiminishingHotSpot || c.Trend.Z >= 0 {
		t.Errorf("falling cluster: %s, trend %+v, gi %v", c.Category, c.Trend, c.Gi)
	}
	// Far from both clusters, nothing is a hot spot.
	counts := map[HotspotCategory]int{}
	for _, r := range res {
		counts[r.Category]++
		if r.Category == IntensifyingHotSpot || r.Category == DiminishingHotSpot {
			if h3.GridDistance(r.Cell, a) > 1 && h3.GridDistance(r.Cell, b) > 1 {
				t.Errorf("%s is %s, far from both planted clusters", r.Cell, r.Category)
			}
		}
	}
	t.Logf("categories: %v", counts)
}

func TestEmergingHotSpotsDeterministic(t *testing.T) {
	area, cube, _, _ := plantedCube(12)
	one := EmergingHotSpots(area, cube, 0.05)
	two := EmergingHotSpots(area, cube, 0.05)
	for i := range one {
		if one[i].Category != two[i].Category || one[i].Trend != two[i].Trend || !slices.Equal(one[i].Gi, two[i].Gi) {
			t.Fatalf("cell %d differs between runs", i)
		}
	}
}
