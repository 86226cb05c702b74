package tiles_test

import (
	"fmt"
	"github.com/ctxmap/ctxmap/geo"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/tiles"
)

// clusteredObservations makes a random data set around Greater Manchester
// shaped like the real thing: a few hot spots where many young people meet
// (some tight, some spread over several cells), a sparse background,
// several places per young person, repeated incidents, and some records
// geocoded only to a sector (res 7) or district (res 6).
func clusteredObservations(rng *rand.Rand, subjects int) []tiles.Observation {
	type spot struct{ lat, lng, sd float64 }
	spots := make([]spot, 2+rng.IntN(6))
	for i := range spots {
		spots[i] = spot{53.38 + rng.Float64()*0.2, -2.45 + rng.Float64()*0.4, 0.001 + rng.Float64()*0.025}
	}
	var obs []tiles.Observation
	for s := range subjects {
		key := uint8(rng.Uint32())
		for places := 1 + rng.IntN(3); places > 0; places-- {
			var lat, lng float64
			if rng.IntN(6) == 0 {
				lat, lng = 53.33+rng.Float64()*0.3, -2.5+rng.Float64()*0.5
			} else {
				sp := spots[rng.IntN(len(spots))]
				lat, lng = sp.lat+rng.NormFloat64()*sp.sd, sp.lng+rng.NormFloat64()*sp.sd*1.7
			}
			res := 8
			if u := rng.IntN(12); u == 0 {
				res = 7
			} else if u == 1 {
				res = 6
			}
			c := h3.LatLngToCell(h3.NewLatLng(lat, lng), res)
			for n := rng.IntN(3); n >= 0; n-- {
				obs = append(obs, tiles.Observation{Subject: int64(s)*7919 + 13, Key: key, Cell: c})
			}
		}
	}
	return obs
}

// hierarchyReport is what checkHierarchy found in one published set.
type hierarchyReport struct {
	published, parents int
	suppressed         int // candidates under a published parent that are absent
}

// checkHierarchy asserts PRIVACY.md rules 6 and 8 on pub from the public
// API and the true counts only: every published cell has a true count and
// a value of at least k and the value rule 7 gives; every cell finer than 6
// sits inside a published parent; a published parent minus the sum of its
// published children is never in 1..k-1.
func checkHierarchy(t *testing.T, k int, obs []tiles.Observation, pub *tiles.Published) hierarchyReport {
	t.Helper()
	count, key := refCounts(obs)
	var rep hierarchyReport
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		for _, cv := range pub.Cells(r) {
			rep.published++
			n := count[cv.Cell]
			if n < k || cv.Value < k || cv.Value != refValue(n, key[cv.Cell]) {
				t.Fatalf("k=%d: cell %s shows %d with %d young people", k, cv.Cell, cv.Value, n)
			}
			if r > geo.MinRes {
				if _, ok := pub.Value(cv.Cell.Parent(r - 1)); !ok {
					t.Fatalf("k=%d: cell %s is published, its parent is not", k, cv.Cell)
				}
			}
			if r == geo.MaxRes {
				continue
			}
			rep.parents++
			d := cv.Value
			for _, ch := range cv.Cell.Children(r + 1) {
				if v, ok := pub.Value(ch); ok {
					d -= v
				} else if n := count[ch]; n >= k && refValue(n, key[ch]) >= k {
					rep.suppressed++
				}
			}
			if d >= 1 && d <= k-1 {
				t.Fatalf("k=%d: parent %s shows %d, minus its published children %d: in 1..%d", k, cv.Cell, cv.Value, d, k-1)
			}
		}
	}
	return rep
}

// The hierarchy rule at the thresholds where an off-by-one bound would
// leak (6, 11, 16: k-1 is a multiple of the rounding base, so a gap of
// exactly k-1 can occur) and at 5 and 20, on random data that must reach
// the boundary. Values are multiples of 5, so gaps are too: at k=5 the band
// 1..4 is empty and secondary suppression can never happen (the test then
// insists on gaps of exactly k, the first one allowed); at k=20 the largest
// gap in the band is 15.
func TestHierarchyPropertyAtThresholds(t *testing.T) {
	for _, k := range []int{5, 6, 11, 16, 20} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			p, err := tiles.NewPolicy(k)
			if err != nil {
				t.Fatal(err)
			}
			edge := (k - 1) / tiles.Rounding * tiles.Rounding // largest gap that must be suppressed
			var total hierarchyReport
			edgeGaps, gapsAtK := 0, 0
			for seed := range 6 {
				rng := rand.New(rand.NewPCG(uint64(k), uint64(seed)))
				obs := clusteredObservations(rng, 300+rng.IntN(900))
				pub := p.Publish(obs)
				rep := checkHierarchy(t, k, obs, pub)
				ref, st := refPublish(k, obs)
				if got := publishedMap(pub); !reflect.DeepEqual(got, ref) {
					t.Fatalf("k=%d seed %d: Publish (%d cells) and the reference (%d) disagree", k, seed, len(got), len(ref))
				}
				if rep.suppressed != st.secondary {
					t.Fatalf("k=%d seed %d: %d candidates missing under published parents, the reference suppressed %d", k, seed, rep.suppressed, st.secondary)
				}
				total.published += rep.published
				total.parents += rep.parents
				total.suppressed += rep.suppressed
				if edge > 0 {
					edgeGaps += st.gaps[edge]
				}
				gapsAtK += st.gaps[k]
			}
			t.Logf("k=%d: %d cells published, %d parents checked, %d children suppressed, %d gaps of %d, %d gaps of k",
				k, total.published, total.parents, total.suppressed, edgeGaps, edge, gapsAtK)
			if total.parents < 50 {
				t.Errorf("k=%d: only %d published parents: the data does not test the hierarchy", k, total.parents)
			}
			switch {
			case edge == 0:
				if total.suppressed != 0 {
					t.Errorf("k=%d: %d children suppressed although no gap can be in 1..%d", k, total.suppressed, k-1)
				}
				if gapsAtK == 0 {
					t.Errorf("k=%d: the data never reached a gap of exactly k", k)
				}
			case total.suppressed == 0 || edgeGaps == 0:
				t.Errorf("k=%d: the data did not exercise secondary suppression at its edge (%d suppressed, %d gaps of %d)",
					k, total.suppressed, edgeGaps, edge)
			}
		})
	}
}
