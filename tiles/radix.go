package tiles

import "slices"

// Aggregation sorts millions of 64-bit keys per publication; an LSD radix
// sort that skips the bytes all keys share (the H3 mode and resolution
// bits, mostly) is several times faster than a comparison sort here.
//
// The two sorts below are the same algorithm written out twice on purpose:
// a generic radixSort[T] with the key as a function (or as a type
// parameter's method) reads the key through an indirect call per element
// per pass and measured about twice as slow on a million keys
// (BenchmarkRadixUint64 18 -> 33-40 ms, BenchmarkRadixBySubject 37 -> 58-90
// ms), which Publish would pay on every release.

// radixSortUint64 sorts a ascending, using buf (len >= len(a)) as scratch,
// and returns whichever of the two holds the result.
func radixSortUint64(a, buf []uint64) []uint64 {
	if len(a) < 256 {
		slices.Sort(a)
		return a
	}
	and, or := ^uint64(0), uint64(0)
	for _, v := range a {
		and &= v
		or |= v
	}
	diff := and ^ or
	src, dst := a, buf[:len(a)]
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xFF == 0 {
			continue
		}
		var count [256]int
		for _, v := range src {
			count[(v>>shift)&0xFF]++
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, v := range src {
			b := (v >> shift) & 0xFF
			dst[count[b]] = v
			count[b]++
		}
		src, dst = dst, src
	}
	return src
}

// radixSortBySubject orders observations by subject (stable), returning
// whichever of a and buf holds the result. Subjects are compared as signed
// integers, so the sign bit is flipped to sort as unsigned.
func radixSortBySubject(a, buf []subjCell) []subjCell {
	key := func(s subjCell) uint64 { return uint64(s.subject) ^ (1 << 63) }
	if len(a) < 256 {
		slices.SortStableFunc(a, func(x, y subjCell) int {
			switch kx, ky := key(x), key(y); {
			case kx < ky:
				return -1
			case kx > ky:
				return 1
			}
			return 0
		})
		return a
	}
	and, or := ^uint64(0), uint64(0)
	for _, v := range a {
		k := key(v)
		and &= k
		or |= k
	}
	diff := and ^ or
	src, dst := a, buf[:len(a)]
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xFF == 0 {
			continue
		}
		var count [256]int
		for _, v := range src {
			count[(key(v)>>shift)&0xFF]++
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, v := range src {
			b := (key(v) >> shift) & 0xFF
			dst[count[b]] = v
			count[b]++
		}
		src, dst = dst, src
	}
	return src
}
