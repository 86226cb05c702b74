package tiles

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// radixKeys are a million H3-like keys: the same mode and resolution bits,
// random below, as Publish sorts them.
func radixKeys(n int) []uint64 {
	rng := rand.New(rand.NewPCG(1, 2))
	a := make([]uint64, n)
	for i := range a {
		a[i] = 0x0880_0000_0000_0000 | rng.Uint64()&0x000F_FFFF_FFFF_FFFF
	}
	return a
}

func radixSubjects(n int) []subjCell {
	rng := rand.New(rand.NewPCG(3, 4))
	a := make([]subjCell, n)
	for i := range a {
		a[i] = subjCell{subject: rng.Int64N(1<<40) - 1<<39, packed: uint64(i)}
	}
	return a
}

func TestRadixSorts(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 10_000} {
		a := radixKeys(n)
		want := slices.Clone(a)
		slices.Sort(want)
		if got := radixSortUint64(a, make([]uint64, n)); !slices.Equal(got, want) {
			t.Fatalf("uint64 n=%d: not sorted", n)
		}
		s := radixSubjects(n)
		// Repeat subjects so stability is tested.
		for i := 1; i < n; i += 3 {
			s[i].subject = s[i-1].subject
		}
		wantS := slices.Clone(s)
		slices.SortStableFunc(wantS, func(x, y subjCell) int {
			switch {
			case x.subject < y.subject:
				return -1
			case x.subject > y.subject:
				return 1
			}
			return 0
		})
		if got := radixSortBySubject(s, make([]subjCell, n)); !slices.Equal(got, wantS) {
			t.Fatalf("by subject n=%d: not sorted stably", n)
		}
	}
}

func BenchmarkRadixUint64(b *testing.B) {
	src := radixKeys(1 << 20)
	a, buf := make([]uint64, len(src)), make([]uint64, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(a, src)
		radixSortUint64(a, buf)
	}
}

func BenchmarkRadixBySubject(b *testing.B) {
	src := radixSubjects(1 << 20)
	a, buf := make([]subjCell, len(src)), make([]subjCell, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(a, src)
		radixSortBySubject(a, buf)
	}
}
