package tiles

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

func mustPolicy(t testing.TB, k int) Policy {
	t.Helper()
	p, err := NewPolicy(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPolicyRefusesSmallK(t *testing.T) {
	for _, k := range []int{-1, 0, 1, 4} {
		_, err := NewPolicy(k)
		var e *ctxmap.Error
		if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid {
			t.Errorf("NewPolicy(%d) = %v, want KindInvalid", k, err)
		}
	}
	if p, err := NewPolicy(5); err != nil || p.K() != 5 {
		t.Errorf("NewPolicy(5) = %v, %v", p.K(), err)
	}
}

// The perturbation table is fixed, zero-mean per count and small.
func TestPerturbationTable(t *testing.T) {
	p, q := mustPolicy(t, 10), mustPolicy(t, 7)
	h := sha256.New()
	for count := 1; count <= ptableRows+3; count++ {
		sum, nonzero := 0, 0
		for key := 0; key < 256; key++ {
			a := p.Adjustment(count, uint8(key))
			if a < -2 || a > 2 {
				t.Fatalf("Adjustment(%d, %d) = %d, outside -2..2", count, key, a)
			}
			if a != q.Adjustment(count, uint8(key)) {
				t.Fatal("two policies have different tables")
			}
			sum += a
			if a != 0 {
				nonzero++
			}
			if count <= ptableRows {
				h.Write([]byte{byte(int8(a))})
			}
		}
		if sum != 0 || nonzero != 128 {
			t.Fatalf("row %d: sum %d, %d non-zero; want 0 and 128", count, sum, nonzero)
		}
	}
	// Rows differ from one count to the next, so adding one subject does
	// not shift a cell by a predictable amount.
	same := 0
	for key := 0; key < 256; key++ {
		if p.Adjustment(10, uint8(key)) == p.Adjustment(11, uint8(key)) {
			same++
		}
	}
	if same > 160 {
		t.Errorf("rows 10 and 11 agree on %d of 256 keys", same)
	}
	// Pin the table: changing it silently changes every published value.
	const want = "fb30f83f3873088ac36d1e5b4f9d42cc231605e428b215bd8ccc917928fd9ea8"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("perturbation table hash = %s; if the change is intended, bump PerturbationSeed and update", got)
	}
}

func TestValueRounding(t *testing.T) {
	p := mustPolicy(t, 10)
	for count := 0; count < 2000; count++ {
		for key := 0; key < 256; key += 7 {
			v := p.Value(count, uint8(key))
			if v%Rounding != 0 || v < 0 || abs(v-count) > 4 {
				t.Fatalf("Value(%d, %d) = %d", count, key, v)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// cellAt is a res-8 cell near a point in Manchester, offset by d steps.
func cellAt(lat, lng float64, res int) h3.Cell {
	return h3.LatLngToCell(h3.NewLatLng(lat, lng), res)
}

func allPublished(p *Published) []CellValue {
	var out []CellValue
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		out = append(out, p.Cells(r)...)
	}
	return out
}

// One young person with twenty incidents in one cell never shows.
func TestOneSubjectManyIncidents(t *testing.T) {
	p := mustPolicy(t, DefaultK)
	c := cellAt(53.48, -2.24, 8)
	var obs []Observation
	for i := 0; i < 20; i++ {
		obs = append(obs, Observation{Subject: 42, Key: 200, Cell: c})
	}
	// plus twenty distinct neighbouring cells for the same child
	for _, n := range c.GridDisk(2)[:19] {
		obs = append(obs, Observation{Subject: 42, Key: 200, Cell: n})
	}
	if got := allPublished(p.Publish(obs)); len(got) != 0 {
		t.Fatalf("one subject published %v", got)
	}
}

// k-1 children in one cell never show, at any resolution, for any k and
// any keys (the perturbation may push the value up, the threshold is on
// the true count).
func TestBelowKNeverShows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c := cellAt(53.48, -2.24, 8)
	for k := MinK; k <= 15; k++ {
		p := mustPolicy(t, k)
		for trial := 0; trial < 300; trial++ {
			var obs []Observation
			for s := 0; s < k-1; s++ {
				key := uint8(rng.IntN(256))
				for i := 0; i < 1+rng.IntN(5); i++ {
					obs = append(obs, Observation{Subject: int64(s), Key: key, Cell: c})
				}
			}
			if got := allPublished(p.Publish(obs)); len(got) != 0 {
				t.Fatalf("k=%d: %d subjects published %v", k, k-1, got)
			}
		}
	}
}

// A cell at exactly k is published when its value allows; the threshold
// is not silently higher.
func TestAtKPublishes(t *testing.T) {
	p := mustPolicy(t, 10)
	c := cellAt(53.48, -2.24, 8)
	var obs []Observation
	for s := 0; s < 30; s++ {
		obs = append(obs, Observation{Subject: int64(s), Key: uint8(s * 7), Cell: c})
	}
	pub := p.Publish(obs)
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		if pub.Len(r) != 1 {
			t.Fatalf("res %d: %d cells published, want 1", r, pub.Len(r))
		}
	}
	// All three levels hold the same 30 subjects, so the same value; the
	// children equal their parents (difference 0), so nothing is dropped.
	v6, _ := pub.Value(c.Parent(6))
	v8, _ := pub.Value(c)
	if v6 != v8 || v6 < 25 || v6 > 35 {
		t.Fatalf("values %d, %d", v6, v8)
	}
}

// A res-7 observation (sector-only geocode) counts at 7 and 6, never at 8.
func TestCoarseObservations(t *testing.T) {
	p := mustPolicy(t, 10)
	c7 := cellAt(53.48, -2.24, 7)
	var obs []Observation
	for s := 0; s < 40; s++ {
		obs = append(obs, Observation{Subject: int64(s), Key: uint8(s), Cell: c7})
	}
	pub := p.Publish(obs)
	if pub.Len(6) != 1 || pub.Len(7) != 1 || pub.Len(8) != 0 {
		t.Fatalf("published %d/%d/%d cells at res 6/7/8, want 1/1/0", pub.Len(6), pub.Len(7), pub.Len(8))
	}
	// finer than 8 is coarsened to 8, coarser than 6 and invalid ignored
	c10 := cellAt(53.48, -2.24, 10)
	obs = obs[:0]
	for s := 0; s < 40; s++ {
		obs = append(obs, Observation{Subject: int64(s), Key: uint8(s), Cell: c10},
			Observation{Subject: int64(1000 + s), Cell: cellAt(53.48, -2.24, 5)},
			Observation{Subject: int64(2000 + s), Cell: h3.Cell(12345)})
	}
	pub = p.Publish(obs)
	if _, ok := pub.Value(c10.Parent(8)); !ok || pub.Len(8) != 1 || pub.Len(6) != 1 {
		t.Fatalf("res 10 observations not coarsened to 8: %v", allPublished(pub))
	}
	if v, _ := pub.Value(c10.Parent(6)); v > 45 {
		t.Fatalf("res 5 or invalid observations were counted: %d", v)
	}
}

// genObservations makes a clustered data set around Manchester: hot spots
// where many subjects meet, sparse background, repeat observations,
// coarse (sector/district) geocodes, subjects with several cells.
func genObservations(rng *rand.Rand, subjects int) []Observation {
	type hot struct{ lat, lng, spread float64 }
	nh := 3 + rng.IntN(8)
	hots := make([]hot, nh)
	for i := range hots {
		hots[i] = hot{53.40 + rng.Float64()*0.2, -2.40 + rng.Float64()*0.35, 0.002 + rng.Float64()*0.03}
	}
	var obs []Observation
	for s := 0; s < subjects; s++ {
		subj := rng.Int64N(1 << 40)
		key := uint8(rng.IntN(256))
		for n := 1 + rng.IntN(4); n > 0; n-- {
			var lat, lng float64
			if rng.IntN(5) == 0 {
				lat, lng = 53.35+rng.Float64()*0.3, -2.5+rng.Float64()*0.5
			} else {
				h := hots[rng.IntN(nh)]
				lat, lng = h.lat+rng.NormFloat64()*h.spread, h.lng+rng.NormFloat64()*h.spread*1.6
			}
			res := 8
			switch rng.IntN(10) {
			case 0:
				res = 7
			case 1:
				res = 6
			}
			c := cellAt(lat, lng, res)
			for rep := rng.IntN(3); rep >= 0; rep-- {
				obs = append(obs, Observation{Subject: subj, Key: key, Cell: c})
			}
		}
	}
	rng.Shuffle(len(obs), func(i, j int) { obs[i], obs[j] = obs[j], obs[i] })
	return obs
}

// trueCounts counts distinct subjects and cell keys per cell at
// resolutions 6-8, independently of Publish (maps and h3's own Parent).
func trueCounts(obs []Observation) (count map[h3.Cell]int, key map[h3.Cell]uint8) {
	subj := map[h3.Cell]map[int64]uint8{}
	for _, o := range obs {
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

// referencePublish is a second, deliberately naive implementation of the
// policy (maps, h3's cgo Parent), to cross-check Publish exactly.
func referencePublish(p Policy, obs []Observation) map[h3.Cell]int {
	count, key := trueCounts(obs)
	pub := map[h3.Cell]int{}
	cand := map[int]map[h3.Cell]int{}
	for c, n := range count {
		if n >= p.K() && p.Value(n, key[c]) >= p.K() {
			r := c.Resolution()
			if cand[r] == nil {
				cand[r] = map[h3.Cell]int{}
			}
			cand[r][c] = p.Value(n, key[c])
		}
	}
	for c, v := range cand[6] {
		pub[c] = v
	}
	for r := 7; r <= 8; r++ {
		byParent := map[h3.Cell][]h3.Cell{}
		for c := range cand[r] {
			byParent[c.Parent(r-1)] = append(byParent[c.Parent(r-1)], c)
		}
		for par, kids := range byParent {
			pv, ok := pub[par]
			if !ok {
				continue
			}
			slices.Sort(kids)
			d := pv
			for _, c := range kids {
				d -= cand[r][c]
			}
			drop := h3.Cell(0)
			if d >= 1 && d <= p.K()-1 {
				drop = kids[0]
				for _, c := range kids {
					if cand[r][c] < cand[r][drop] {
						drop = c
					}
				}
			}
			for _, c := range kids {
				if c != drop {
					pub[c] = cand[r][c]
				}
			}
		}
	}
	return pub
}

// checkInvariants asserts PRIVACY.md rules 6-8 on a published set, against
// the true counts of the data it came from. It returns the number of
// children secondary suppression removed.
func checkInvariants(t *testing.T, p Policy, obs []Observation, pub *Published) (suppressed int) {
	t.Helper()
	count, key := trueCounts(obs)
	k := p.K()
	for _, cv := range allPublished(pub) {
		n := count[cv.Cell]
		if n < k {
			t.Fatalf("cell %s published with true count %d < k=%d", cv.Cell, n, k)
		}
		if cv.Value < k || cv.Value%Rounding != 0 || cv.Value != p.Value(n, key[cv.Cell]) {
			t.Fatalf("cell %s value %d (true %d)", cv.Cell, cv.Value, n)
		}
		if r := cv.Cell.Resolution(); r > geo.MinRes {
			if _, ok := pub.Value(cv.Cell.Parent(r - 1)); !ok {
				t.Fatalf("cell %s published without its parent", cv.Cell)
			}
		}
	}
	for r := geo.MinRes; r < geo.MaxRes; r++ {
		for _, parent := range pub.Cells(r) {
			d := parent.Value
			for _, ch := range parent.Cell.Children(r + 1) {
				if v, ok := pub.Value(ch); ok {
					d -= v
				} else if n := count[ch]; n >= k && p.Value(n, key[ch]) >= k {
					suppressed++
				}
			}
			if d >= 1 && d <= k-1 {
				t.Fatalf("parent %s (%d) minus published children = %d, in 1..%d", parent.Cell, parent.Value, d, k-1)
			}
		}
	}
	return suppressed
}

func publishedMap(pub *Published) map[h3.Cell]int {
	m := map[h3.Cell]int{}
	for _, cv := range allPublished(pub) {
		m[cv.Cell] = cv.Value
	}
	return m
}

// The property test of PRIVACY.md's adversarial list, over many random
// data sets and thresholds: threshold on true distinct counts, values as
// the policy defines them, parents before children, parent minus published
// children never in 1..k-1, order independence, agreement with a naive
// reference implementation, and adding one subject never exposing a
// below-k cell.
func TestPublishProperties(t *testing.T) {
	seeds := 80
	if testing.Short() {
		seeds = 20
	}
	suppressed, published := 0, 0
	for seed := 0; seed < seeds; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		k := []int{5, 7, 10, 10, 12, 20}[seed%6]
		p := mustPolicy(t, k)
		obs := genObservations(rng, 100+rng.IntN(1500))
		pub := p.Publish(obs)
		suppressed += checkInvariants(t, p, obs, pub)
		published += len(allPublished(pub))

		if got, want := publishedMap(pub), referencePublish(p, obs); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: Publish and the reference disagree: %d vs %d cells", seed, len(got), len(want))
		}

		shuffled := slices.Clone(obs)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if again := p.Publish(shuffled); !reflect.DeepEqual(again, pub) {
			t.Fatalf("seed %d: publishing the same observations in another order differs", seed)
		}

		// Add one child, several times, and check again.
		grown := slices.Clone(obs)
		for i := 0; i < 5; i++ {
			o := obs[rng.IntN(len(obs))]
			grown = append(grown, Observation{Subject: -1 - int64(i), Key: uint8(rng.IntN(256)), Cell: o.Cell})
			checkInvariants(t, p, grown, p.Publish(grown))
		}
	}
	if suppressed == 0 || published == 0 {
		t.Fatalf("the random data never exercised secondary suppression (%d) or publication (%d)", suppressed, published)
	}
	t.Logf("%d cells published, %d children suppressed by the hierarchy rule", published, suppressed)
}

func TestSecondarySuppression(t *testing.T) {
	p := mustPolicy(t, 10)
	tests := []struct {
		parent   int
		children []int32
		drop     int
	}{
		{30, []int32{10, 15}, 0},     // 30-25 = 5: drop the 10 -> 20
		{30, []int32{15, 10}, 1},     // the smallest, wherever it is
		{25, []int32{10, 10}, 0},     // tie: the first (lowest id)
		{30, []int32{15, 15}, -1},    // 0 is fine
		{30, []int32{20}, -1},        // 10 = k is fine
		{30, []int32{25}, 0},         // 5: drop the only child
		{20, nil, -1},                // no children
		{20, []int32{15, 15}, -1},    // negative (distinct subjects overlap) is fine
		{50, []int32{10, 10, 25}, 0}, // 5 -> drop a 10 -> 15
	}
	for _, tt := range tests {
		got := p.secondary(tt.parent, tt.children)
		if got != tt.drop {
			t.Errorf("secondary(%d, %v) = %d, want %d", tt.parent, tt.children, got, tt.drop)
			continue
		}
		if got >= 0 {
			d := tt.parent
			for i, v := range tt.children {
				if i != got {
					d -= int(v)
				}
			}
			if d >= 1 && d <= 9 {
				t.Errorf("after dropping, difference %d still in 1..9", d)
			}
		}
	}
}
