package tiles_test

import (
	"cmp"
	"github.com/ctxmap/ctxmap/geo"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/tiles"
)

// fixedSalt shifts every subject's key in the fixed data set. It was chosen
// once, by trying salts against the reference, so that the data reaches the
// cases TestPublishFixedDataSet names: secondary suppression with a tie, a
// dropped child taking its own children with it, and (at k=6) cells whose
// true count reaches k while their value does not.
const fixedSalt = 31

// fixedKey is the secret cell key of subject s in the fixed data set.
func fixedKey(s int64) uint8 { return uint8(s*37 + s*s*11 + int64(fixedSalt)) }

// fixedCells names the cells of the fixed data set: five resolution-6
// parents around central Manchester and some of their descendants.
type fixedCells struct {
	a6, b6, c6, d6, e6 h3.Cell
	a7, b7, c7         h3.Cell // children of a6
	d7a, d7b           h3.Cell // children of d6
}

func newFixedCells() fixedCells {
	var f fixedCells
	f.a6 = h3.LatLngToCell(h3.NewLatLng(53.48, -2.24), 6)
	ring := f.a6.GridDisk(1)
	f.b6, f.c6, f.d6, f.e6 = ring[1], ring[2], ring[3], ring[4]
	kids := f.a6.Children(7)
	f.a7, f.b7, f.c7 = kids[0], kids[1], kids[2]
	dk := f.d6.Children(7)
	f.d7a, f.d7b = dk[0], dk[1]
	return f
}

// fixedObservations is a small hand-made data set with known subjects and
// keys. Subjects are numbered by the place they are in; the comments give
// the true distinct counts.
func fixedObservations() []tiles.Observation {
	f := newFixedCells()
	var obs []tiles.Observation
	add := func(c h3.Cell, from, to int64) {
		for s := from; s <= to; s++ {
			obs = append(obs, tiles.Observation{Subject: s, Key: fixedKey(s), Cell: c})
		}
	}
	a8 := f.a7.Children(8)
	add(a8[0], 1, 15)  // 15
	add(a8[1], 16, 27) // 12
	add(a8[2], 28, 31) // 4, plus subject 1 below: 5
	add(a8[2], 1, 1)   // one child in two cells of a7 counts once there
	for i := 0; i < 5; i++ {
		add(a8[0], 2, 2) // repeated incidents of one child count once
	}
	add(f.a7, 32, 34)                                               // sector-only geocodes: a7 and a6, never res 8
	add(a8[3].Children(10)[0], 35, 35)                              // finer than 8: counted in a8[3]
	add(f.b7.Children(8)[0], 40, 49)                                // 10
	add(f.b7.Children(8)[1], 50, 51)                                // 2; b7: 12
	add(f.c7.Children(8)[0], 60, 64)                                // 5
	add(f.a6, 70, 71)                                               // district-only: a6 only; a6: 35+12+5+2 = 54
	add(f.b6.Children(8)[0], 100, 108)                              // b6: 9
	add(f.c6.Children(8)[5], 200, 209)                              // c6: 10 at every level
	add(f.d7a.Children(8)[0], 300, 321)                             // 22
	add(f.d7b.Children(8)[0], 330, 339)                             // 10
	add(f.d7b.Children(8)[1], 340, 343)                             // 4; d7b: 14
	add(f.d6, 350, 353)                                             // d6: 40
	add(f.e6.Children(8)[0], 360, 366)                              // e6: 7
	add(f.d6.Parent(5), 400, 420)                                   // coarser than 6: ignored
	obs = append(obs, tiles.Observation{Subject: 500, Cell: 12345}) // invalid: ignored
	return obs
}

// fixedExpected is what Publish makes of fixedObservations, cell id ->
// published value, at k=10 and k=6: computed once, checked by hand against
// the comments below and frozen.
//
// At k=10: a6 (54 young people, value 55) has candidate children a7 (35)
// and b7 (12, value 15): 55-35-15 = 5 is in 1..9, so b7 goes, and with it
// its child of 10. Under a7, the children of 15 and 12 both show 15:
// 35-15-15 = 5, so one goes, the lower id on the tie (881951b701fffff,
// which holds 15 young people). d6 (40) has d7a (22, value 20) and d7b
// (14, value 15): 40-20-15 = 5, so d7b goes with its child of 10. c6 has
// exactly 10 young people in one res-8 cell: all three levels show 10. b6
// (9), e6 (7), c7 (5) and the small res-8 cells are under k. The district
// and sector geocodes count only at 6 (and 7), the res-10 one at 8, the
// res-5 and the invalid ones nowhere.
//
// At k=6 the same three children go (the gaps of 5 are now exactly k-1), b6
// (9, value 10) shows at all three levels, and e6 (7 young people) has a
// true count of at least k but a value of 5 < k, so it shows nowhere.
var fixedExpected = map[int]map[string]int{
	10: {
		"861951b77ffffff": 55, // a6
		"871951b70ffffff": 35, // a7
		"881951b703fffff": 15, // a7's child of 12
		"861951b57ffffff": 40, // d6
		"871951b50ffffff": 20, // d7a
		"881951b501fffff": 20, // d7a's child of 22
		"861951b0fffffff": 10, // c6
		"871951b08ffffff": 10,
		"881951b08bfffff": 10,
	},
	6: {
		"861951b77ffffff": 55,
		"871951b70ffffff": 35,
		"881951b703fffff": 15,
		"861951b57ffffff": 40,
		"871951b50ffffff": 20,
		"881951b501fffff": 20,
		"861951b0fffffff": 10,
		"871951b08ffffff": 10,
		"881951b08bfffff": 10,
		"861951b2fffffff": 10, // b6, 9 young people
		"871951b28ffffff": 10,
		"881951b281fffff": 10,
	},
}

// The true counts the comments of fixedObservations claim, so the data
// set says what its expectations assume.
func TestFixedDataSetCounts(t *testing.T) {
	f := newFixedCells()
	count, _ := refCounts(fixedObservations())
	want := map[h3.Cell]int{
		f.a6: 54, f.a7: 35, f.b7: 12, f.c7: 5,
		f.a7.Children(8)[0]: 15, f.a7.Children(8)[2]: 5, f.a7.Children(8)[3]: 1,
		f.b6: 9, f.c6: 10, f.d6: 40, f.d7a: 22, f.d7b: 14, f.e6: 7,
		f.d6.Parent(5): 0, h3.Cell(12345): 0,
	}
	for c, n := range want {
		if count[c] != n {
			t.Errorf("cell %s: %d distinct young people, the data set's comments say %d", c, count[c], n)
		}
	}
}

// Publish on the fixed data set gives exactly the frozen cells and values,
// in id order per resolution, whatever the order of the observations, and
// agrees with the independent reference.
func TestPublishFixedDataSet(t *testing.T) {
	obs := fixedObservations()
	for _, k := range []int{10, 6} {
		p, err := tiles.NewPolicy(k)
		if err != nil {
			t.Fatal(err)
		}
		pub := p.Publish(obs)
		got := map[string]int{}
		for r := geo.MinRes; r <= geo.MaxRes; r++ {
			cells := pub.Cells(r)
			if pub.Len(r) != len(cells) {
				t.Errorf("k=%d res %d: Len %d, Cells %d", k, r, pub.Len(r), len(cells))
			}
			if !slices.IsSortedFunc(cells, func(a, b tiles.CellValue) int { return cmp.Compare(a.Cell, b.Cell) }) {
				t.Errorf("k=%d res %d: cells not in id order", k, r)
			}
			for _, cv := range cells {
				if cv.Cell.Resolution() != r {
					t.Errorf("k=%d: cell %s listed at res %d", k, cv.Cell, r)
				}
				if v, ok := pub.Value(cv.Cell); !ok || v != cv.Value {
					t.Errorf("k=%d: Value(%s) = %d, %v; Cells says %d", k, cv.Cell, v, ok, cv.Value)
				}
				got[cv.Cell.String()] = cv.Value
			}
		}
		if want := fixedExpected[k]; !reflect.DeepEqual(got, want) {
			t.Errorf("k=%d: published\n%v\nwant\n%v", k, got, want)
		}
		// Suppressed and empty cells are both simply absent.
		f := newFixedCells()
		for _, c := range []h3.Cell{f.b7, f.d7b, f.a7.Children(8)[0], f.b7.Children(8)[0], f.e6, f.c7, f.d6.Parent(5), f.a6.Children(9)[0]} {
			if v, ok := pub.Value(c); ok {
				t.Errorf("k=%d: cell %s published (%d), want absent", k, c, v)
			}
		}
		ref, st := refPublish(k, obs)
		if m := publishedMap(pub); !reflect.DeepEqual(m, ref) {
			t.Errorf("k=%d: Publish %v\nreference %v", k, m, ref)
		}
		if st.secondary != 3 || st.gaps[5] != 3 || st.primary != map[int]int{10: 0, 6: 3}[k] {
			t.Errorf("k=%d: the data no longer reaches its cases: %+v", k, st)
		}
		rng := rand.New(rand.NewPCG(uint64(k), 1))
		for range 5 {
			shuffled := slices.Clone(obs)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if again := p.Publish(shuffled); !reflect.DeepEqual(publishedMap(again), publishedMap(pub)) {
				t.Fatalf("k=%d: another order of the same observations publishes differently", k)
			}
		}
	}
}
