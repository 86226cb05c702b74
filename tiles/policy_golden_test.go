package tiles_test

import (
	"testing"

	"github.com/ctxmap/ctxmap/tiles"
)

// goldenKeys are the cell keys of the golden perturbation table: the ends
// of the range, a small odd key, the middle and two high keys.
var goldenKeys = [6]uint8{0, 1, 17, 128, 200, 255}

// goldenPerturbation pins the perturbation table (PRIVACY.md rule 7): for
// a cell of count distinct young people whose cell key is goldenKeys[i],
// value[i] is what Policy.Value publishes and adj[i] the table's
// adjustment. The literals were computed once from the code, checked
// against the independent reference of policy_reference_test.go, and
// frozen: a refactor that changes one of them changes published figures.
// Counts past 512 reuse the rows cyclically (513 shows row 1's entries).
var goldenPerturbation = []struct {
	count int
	value [6]int
	adj   [6]int
}{
	{1, [6]int{0, 0, 5, 0, 0, 0}, [6]int{0, 0, 2, 0, 0, 1}},
	{2, [6]int{0, 5, 0, 5, 0, 5}, [6]int{-2, 1, 0, 1, 0, 1}},
	{3, [6]int{5, 5, 5, 5, 5, 0}, [6]int{0, 0, 0, 0, 1, -1}},
	{4, [6]int{5, 0, 5, 5, 5, 5}, [6]int{0, -2, -1, 0, 2, 0}},
	{5, [6]int{5, 5, 5, 5, 5, 5}, [6]int{0, 2, 1, 2, 1, 0}},
	{6, [6]int{5, 5, 5, 5, 5, 5}, [6]int{0, -1, -1, 1, -1, 0}},
	{7, [6]int{5, 5, 5, 5, 10, 5}, [6]int{-2, 0, -1, 0, 1, 0}},
	{8, [6]int{5, 10, 10, 10, 10, 10}, [6]int{-1, 0, 0, 1, 2, 0}},
	{9, [6]int{10, 10, 5, 10, 5, 10}, [6]int{1, 0, -2, 0, -2, 0}},
	{10, [6]int{10, 10, 10, 10, 10, 10}, [6]int{1, 0, 0, 0, 0, 1}},
	{11, [6]int{10, 10, 10, 10, 10, 10}, [6]int{1, -1, 0, 0, 1, -1}},
	{12, [6]int{10, 10, 10, 10, 10, 10}, [6]int{0, 0, 0, -1, 0, 0}},
	{13, [6]int{15, 15, 15, 15, 15, 15}, [6]int{0, 0, 1, 2, 1, 0}},
	{14, [6]int{15, 10, 15, 15, 15, 15}, [6]int{0, -2, 0, 0, 0, 0}},
	{15, [6]int{15, 15, 15, 15, 15, 15}, [6]int{2, 0, 1, 0, -1, 0}},
	{16, [6]int{15, 15, 15, 15, 15, 15}, [6]int{0, 0, -1, -1, -1, 1}},
	{17, [6]int{15, 15, 15, 15, 15, 15}, [6]int{-1, 0, 0, 0, 0, 0}},
	{18, [6]int{15, 20, 20, 20, 20, 20}, [6]int{-1, 0, 0, 1, 2, 0}},
	{19, [6]int{20, 20, 20, 20, 20, 20}, [6]int{0, 0, 0, 0, -1, 1}},
	{20, [6]int{20, 20, 20, 20, 20, 20}, [6]int{-1, 0, 0, -1, 1, 0}},
	{21, [6]int{20, 20, 20, 20, 20, 20}, [6]int{-1, 1, -1, 0, 1, 0}},
	{22, [6]int{20, 25, 20, 20, 20, 20}, [6]int{-1, 1, 0, 0, 0, 0}},
	{23, [6]int{25, 25, 25, 25, 25, 20}, [6]int{0, 0, 0, 0, 0, -2}},
	{24, [6]int{25, 25, 25, 25, 25, 25}, [6]int{0, 0, 1, 0, 1, 0}},
	{25, [6]int{25, 25, 25, 25, 25, 25}, [6]int{2, 0, 0, -2, 0, 0}},
	{26, [6]int{25, 25, 25, 25, 25, 25}, [6]int{-1, -1, 1, 1, -1, 1}},
	{27, [6]int{25, 25, 30, 25, 30, 25}, [6]int{0, 0, 1, -1, 2, 0}},
	{28, [6]int{30, 30, 25, 30, 30, 30}, [6]int{2, 0, -1, 1, 1, 1}},
	{29, [6]int{30, 30, 30, 30, 30, 30}, [6]int{0, -1, 0, 0, 0, 0}},
	{30, [6]int{30, 30, 30, 30, 30, 30}, [6]int{-1, 0, 2, 0, -1, -1}},
	{31, [6]int{30, 30, 30, 30, 30, 30}, [6]int{-1, 0, 0, 0, 0, -1}},
	{32, [6]int{30, 30, 35, 30, 30, 30}, [6]int{0, 0, 1, -2, 0, 0}},
	{33, [6]int{35, 35, 35, 35, 35, 35}, [6]int{0, 1, 0, 0, 0, 0}},
	{34, [6]int{35, 35, 35, 35, 35, 35}, [6]int{0, 0, 0, 1, 0, 1}},
	{35, [6]int{35, 35, 35, 35, 35, 35}, [6]int{0, 1, 0, 1, 0, 0}},
	{36, [6]int{35, 35, 35, 35, 35, 35}, [6]int{1, 1, -2, 1, 1, 0}},
	{37, [6]int{35, 40, 35, 35, 40, 35}, [6]int{0, 2, 0, -1, 2, 0}},
	{38, [6]int{40, 35, 35, 40, 40, 40}, [6]int{0, -1, -1, 2, 0, 1}},
	{39, [6]int{40, 40, 40, 40, 40, 40}, [6]int{1, -1, -1, 0, 0, 0}},
	{40, [6]int{40, 40, 40, 40, 40, 40}, [6]int{-1, 0, 0, 1, -1, 0}},
	{100, [6]int{100, 100, 100, 100, 100, 100}, [6]int{0, 0, 0, 0, -1, -2}},
	{511, [6]int{510, 510, 510, 515, 510, 510}, [6]int{0, 0, -1, 2, -1, 0}},
	{512, [6]int{510, 510, 510, 510, 510, 510}, [6]int{0, 0, -1, 0, 0, 0}},
	{513, [6]int{515, 515, 515, 515, 515, 515}, [6]int{0, 0, 2, 0, 0, 1}},
	{1000, [6]int{1000, 1000, 1000, 1000, 1000, 1000}, [6]int{0, 0, 0, -1, -1, 0}},
}

func TestPerturbationGoldenTable(t *testing.T) {
	for _, k := range []int{tiles.MinK, tiles.DefaultK, 20} {
		p, err := tiles.NewPolicy(k)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range goldenPerturbation {
			for i, key := range goldenKeys {
				if got := p.Adjustment(row.count, key); got != row.adj[i] {
					t.Errorf("k=%d: Adjustment(%d, %d) = %d, golden %d", k, row.count, key, got, row.adj[i])
				}
				if got := p.Value(row.count, key); got != row.value[i] {
					t.Errorf("k=%d: Value(%d, %d) = %d, golden %d", k, row.count, key, got, row.value[i])
				}
			}
		}
	}
}

// The golden table itself is consistent with rule 7: each value is the
// count plus its adjustment, floored at zero, rounded to the nearest 5. So
// a wrong literal cannot hide in it.
func TestPerturbationGoldenTableIsRule7(t *testing.T) {
	for _, row := range goldenPerturbation {
		for i := range goldenKeys {
			if want := refRound(max(row.count+row.adj[i], 0)); row.value[i] != want {
				t.Errorf("golden row %d, key %d: value %d, but count+adj %d rounds to %d",
					row.count, goldenKeys[i], row.value[i], row.count+row.adj[i], want)
			}
		}
	}
	// The perturbation is not the identity on the golden spread: a table
	// of zeros would change published values.
	moved := 0
	for _, row := range goldenPerturbation {
		for i := range goldenKeys {
			if row.value[i] != refRound(row.count) {
				moved++
			}
		}
	}
	if moved < 20 {
		t.Fatalf("only %d golden values differ from the unperturbed rounding", moved)
	}
}

// Every row of the table is a permutation of the fixed slot multiset
// (16 x -2, 48 x -1, 128 x 0, 48 x +1, 16 x +2), so each row sums to zero,
// and rows repeat every 512 counts; an empty cell has no adjustment.
func TestPerturbationRowsSumToZero(t *testing.T) {
	p, err := tiles.NewPolicy(tiles.DefaultK)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]int{-2: 16, -1: 48, 0: 128, 1: 48, 2: 16}
	for count := 1; count <= 2*512+3; count++ {
		sum, hist := 0, map[int]int{}
		for key := 0; key < 256; key++ {
			a := p.Adjustment(count, uint8(key))
			sum += a
			hist[a]++
			if count > 512 && a != p.Adjustment(count-512, uint8(key)) {
				t.Fatalf("Adjustment(%d, %d) = %d, but row %d has %d", count, key, a, count-512, p.Adjustment(count-512, uint8(key)))
			}
		}
		if sum != 0 {
			t.Fatalf("row %d sums to %d, want 0", count, sum)
		}
		for a, n := range want {
			if hist[a] != n {
				t.Fatalf("row %d has %d entries %+d, want %d (histogram %v)", count, hist[a], a, n, hist)
			}
		}
	}
	for _, count := range []int{0, -1, -512} {
		for key := 0; key < 256; key++ {
			if a := p.Adjustment(count, uint8(key)); a != 0 {
				t.Fatalf("Adjustment(%d, %d) = %d, want 0", count, key, a)
			}
		}
	}
}

// Policy's table and values are the documented construction, recomputed
// independently (FNV-1a-64 of the seed, SplitMix64, Fisher-Yates over the
// slot multiset), for every row and key, and past the table's end.
func TestPerturbationMatchesDocumentedConstruction(t *testing.T) {
	p, err := tiles.NewPolicy(tiles.DefaultK)
	if err != nil {
		t.Fatal(err)
	}
	if got := refFNV1a64(""); got != 14695981039346656037 {
		t.Fatalf("reference FNV-1a of the empty string = %d", got)
	}
	if got := refFNV1a64("a"); got != 0xaf63dc4c8601ec8c { // the published FNV-1a-64 test vector
		t.Fatalf("reference FNV-1a of \"a\" = %#x", got)
	}
	for count := 0; count <= 1100; count++ {
		for key := 0; key < 256; key++ {
			if a, b := p.Adjustment(count, uint8(key)), refAdjustment(count, uint8(key)); a != b {
				t.Fatalf("Adjustment(%d, %d) = %d, documented table %d", count, key, a, b)
			}
			if a, b := p.Value(count, uint8(key)), refValue(count, uint8(key)); a != b {
				t.Fatalf("Value(%d, %d) = %d, reference %d", count, key, a, b)
			}
		}
	}
}
