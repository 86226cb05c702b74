package tiles_test

import (
	"github.com/ctxmap/ctxmap/geo"
	"slices"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/tiles"
)

// This file is a second implementation of the disclosure-control policy,
// written from its documentation (PRIVACY.md rules 6-8 and the doc comments
// of tiles/policy.go), not from the code: it never calls Policy.Value,
// Policy.Adjustment or Policy.Publish, so a refactor that changes what they
// compute cannot change the reference with it.

// The documented perturbation table: PerturbationSeed "ctxmap-ptable-v1",
// 512 count rows (larger counts reuse row (count-1) mod 512), each row a
// Fisher-Yates shuffle of 16 x -2, 48 x -1, 128 x 0, 48 x +1, 16 x +2
// (in that order before shuffling) driven by SplitMix64 seeded with
// FNV-1a-64(seed) XOR count*0x9E3779B97F4A7C15. The doc comment does not
// spell out how a random number becomes an index; the reference takes the
// textbook form (i from 255 down to 1, j = r mod (i+1)), and
// TestReferenceTableMatchesPolicy says whether the code agrees.
const (
	refSeed     = "ctxmap-ptable-v1"
	refRows     = 512
	refRounding = 5
	golden64    = 0x9E3779B97F4A7C15
)

// refFNV1a64 is FNV-1a, 64 bits, from its specification (offset basis
// 14695981039346656037, prime 1099511628211).
func refFNV1a64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// refSplitMix64 is Steele, Lea and Flood's SplitMix64 generator.
type refSplitMix64 uint64

func (s *refSplitMix64) next() uint64 {
	*s += golden64
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// refTable is the perturbation table built from the description above.
var refTable = func() [][256]int {
	var slots [256]int
	i := 0
	// the multiset in ascending order, as the documentation lists it
	for _, run := range [][2]int{{-2, 16}, {-1, 48}, {0, 128}, {1, 48}, {2, 16}} {
		for j := 0; j < run[1]; j++ {
			slots[i] = run[0]
			i++
		}
	}
	seed := refFNV1a64(refSeed)
	t := make([][256]int, refRows)
	for c := 1; c <= refRows; c++ {
		row := slots
		rng := refSplitMix64(seed ^ (uint64(c) * golden64))
		for i := 255; i > 0; i-- {
			j := int(rng.next() % uint64(i+1))
			row[i], row[j] = row[j], row[i]
		}
		t[c-1] = row
	}
	return t
}()

// refAdjustment is the table entry for count distinct subjects whose keys
// sum to key (mod 256); an empty cell has none.
func refAdjustment(count int, key uint8) int {
	if count <= 0 {
		return 0
	}
	return refTable[(count-1)%refRows][key]
}

// refValue is PRIVACY.md rule 7: perturb, never below zero, round to the
// nearest 5 (5 is odd, so there are no ties).
func refValue(count int, key uint8) int {
	return refRound(max(count+refAdjustment(count, key), 0))
}

// refRound rounds a non-negative v to the nearest multiple of 5.
func refRound(v int) int {
	r := v % refRounding
	if r*2 > refRounding {
		return v - r + refRounding
	}
	return v - r
}

// refCounts counts distinct subjects and sums their keys per cell at
// resolutions 6 to 8, with maps and h3's own Parent. An observation finer
// than 8 counts in its resolution-8 ancestor, one at 7 only at 7 and 6;
// invalid cells and cells coarser than 6 are ignored. Each subject carries
// one key (the data sets of these tests never disagree).
func refCounts(obs []tiles.Observation) (count map[h3.Cell]int, key map[h3.Cell]uint8) {
	subj := map[h3.Cell]map[int64]uint8{}
	for _, o := range obs {
		if !o.Cell.IsValid() || o.Cell.Resolution() < geo.MinRes {
			continue
		}
		for r := geo.MinRes; r <= min(geo.MaxRes, o.Cell.Resolution()); r++ {
			p := o.Cell.Parent(r)
			if subj[p] == nil {
				subj[p] = map[int64]uint8{}
			}
			subj[p][o.Subject] = o.Key
		}
	}
	count, key = map[h3.Cell]int{}, map[h3.Cell]uint8{}
	for c, ss := range subj {
		count[c] = len(ss)
		var sum uint8
		for _, k := range ss {
			sum += k
		}
		key[c] = sum
	}
	return count, key
}

// refStats says what the reference saw while publishing, so tests can
// check that their data reached the cases they mean to test.
type refStats struct {
	// gaps counts, per value of "parent minus the sum of its candidate
	// children under it" before secondary suppression, how many published
	// parents had it.
	gaps map[int]int
	// secondary is the number of children removed by secondary suppression;
	// primary the number of cells with a true count of at least k removed
	// because their value fell below k; orphaned the candidates dropped
	// because their parent was not published.
	secondary, primary, orphaned int
}

// refPublish is the policy of PRIVACY.md rules 6 and 8 as Publish's doc
// comment states it: candidates have a true count and a value of at least
// k; resolution 6 candidates are published; a finer candidate only under a
// published parent; under each published parent, when its value minus its
// published children's is in 1..k-1, the smallest child (lowest id on
// ties) goes, with its descendants.
func refPublish(k int, obs []tiles.Observation) (map[h3.Cell]int, refStats) {
	count, key := refCounts(obs)
	st := refStats{gaps: map[int]int{}}
	cand := map[int]map[h3.Cell]int{}
	for c, n := range count {
		if n < k {
			continue
		}
		v := refValue(n, key[c])
		if v < k {
			st.primary++
			continue
		}
		r := c.Resolution()
		if cand[r] == nil {
			cand[r] = map[h3.Cell]int{}
		}
		cand[r][c] = v
	}
	pub := map[h3.Cell]int{}
	for c, v := range cand[geo.MinRes] {
		pub[c] = v
	}
	for r := geo.MinRes + 1; r <= geo.MaxRes; r++ {
		kids := map[h3.Cell][]h3.Cell{}
		for c := range cand[r] {
			kids[c.Parent(r-1)] = append(kids[c.Parent(r-1)], c)
		}
		for par, cs := range kids {
			pv, ok := pub[par]
			if !ok {
				st.orphaned += len(cs)
				continue
			}
			slices.Sort(cs)
			d := pv
			for _, c := range cs {
				d -= cand[r][c]
			}
			st.gaps[d]++
			drop := h3.Cell(0)
			if d >= 1 && d <= k-1 {
				drop = cs[0]
				for _, c := range cs[1:] {
					if cand[r][c] < cand[r][drop] {
						drop = c
					}
				}
				st.secondary++
			}
			for _, c := range cs {
				if c != drop {
					pub[c] = cand[r][c]
				}
			}
		}
	}
	return pub, st
}

// publishedMap flattens a published set into cell -> value.
func publishedMap(p *tiles.Published) map[h3.Cell]int {
	m := map[h3.Cell]int{}
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		for _, cv := range p.Cells(r) {
			m[cv.Cell] = cv.Value
		}
	}
	return m
}
