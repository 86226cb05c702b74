package tiles

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Places far apart, so their resolution 6 cells differ.
var (
	ratePlaceA = [2]float64{53.4808, -2.2426} // Manchester
	ratePlaceB = [2]float64{51.4545, -2.5879} // Bristol
)

// unperturbed gives young people first..first+n-1 keys whose sum the
// perturbation table leaves alone at count n+before (the keys of the
// before young people already counted summing to sumBefore): with them a
// published value is the count rounded to 5, which a reader can check by
// hand. It returns the keys and their sum.
func unperturbed(t *testing.T, p Policy, n, before int, sumBefore uint8) ([]uint8, uint8) {
	t.Helper()
	keys := make([]uint8, n)
	sum := sumBefore
	for i := range n - 1 {
		keys[i] = uint8(7*i + 3)
		sum += keys[i]
	}
	for k := range 256 {
		if p.Adjustment(n+before, sum+uint8(k)) == 0 {
			keys[n-1] = uint8(k)
			return keys, sum + uint8(k)
		}
	}
	t.Fatalf("no key leaves count %d unperturbed", n+before)
	return nil, 0
}

func observationsAt(place [2]float64, firstSubject int64, keys []uint8) []Observation {
	c := geo.CellsFor(place[0], place[1])[2]
	out := make([]Observation, len(keys))
	for i, k := range keys {
		out[i] = Observation{Subject: firstSubject + int64(i), Key: k, Cell: c}
	}
	return out
}

// TestPublishTotal works the partnership total out by hand: distinct young
// people, published like a cell, absent (never 0) below k, and absent when
// it minus the published resolution 6 cells would be 1 to k-1.
func TestPublishTotal(t *testing.T) {
	p, _ := NewPolicy(10)
	twelve, sum12 := unperturbed(t, p, 12, 0, 0)
	inA := observationsAt(ratePlaceA, 1, twelve)

	t.Run("12 young people at one place: 10, as their cells", func(t *testing.T) {
		// Young person 1 also has twenty more incidents in other cells:
		// still one young person.
		obs := append([]Observation(nil), inA...)
		for i := range 20 {
			obs = append(obs, Observation{Subject: 1, Key: twelve[0], Cell: geo.CellsFor(ratePlaceA[0]+float64(i)*0.001, ratePlaceA[1])[2]})
		}
		pub := p.Publish(obs)
		got := p.PublishTotal(obs, pub)
		// 12 + 0 (unperturbed) rounds to 10; the resolution 6 cell is the
		// same 12 young people, so 10 - 10 = 0: nothing to hold back.
		if got != (Total{Value: 10, Published: true}) {
			t.Fatalf("total %+v, want 10", got)
		}
		if v, ok := pub.Value(geo.Parent(inA[0].Cell, 6)); !ok || v != 10 {
			t.Fatalf("the resolution 6 cell is %d %v, want 10", v, ok)
		}
	})

	t.Run("9 young people: absent, not 0", func(t *testing.T) {
		obs := inA[:9]
		if got := p.PublishTotal(obs, p.Publish(obs)); got.Published || got.Value != 0 {
			t.Fatalf("9 young people give %+v", got)
		}
	})

	t.Run("6 more elsewhere: 18 young people show as 20, 20 - 10 = 10 is not below k", func(t *testing.T) {
		six, _ := unperturbed(t, p, 6, 12, sum12)
		obs := append(append([]Observation(nil), inA...), observationsAt(ratePlaceB, 100, six)...)
		pub := p.Publish(obs)
		if pub.Len(6) != 1 {
			t.Fatalf("%d resolution 6 cells published, want 1 (6 young people in Bristol are not)", pub.Len(6))
		}
		if got := p.PublishTotal(obs, pub); got != (Total{Value: 20, Published: true}) {
			t.Fatalf("total %+v, want 20", got)
		}
	})

	t.Run("3 more elsewhere: 15 young people would show 15, and 15 - 10 = 5 would count the unpublished: absent", func(t *testing.T) {
		three, _ := unperturbed(t, p, 3, 12, sum12)
		obs := append(append([]Observation(nil), inA...), observationsAt(ratePlaceB, 100, three)...)
		if got := p.PublishTotal(obs, p.Publish(obs)); got.Published {
			t.Fatalf("total %+v published; 15 - 10 = 5 is between 1 and k-1", got)
		}
	})

	t.Run("the same young people give the same total, whatever the order", func(t *testing.T) {
		obs := append([]Observation(nil), inA...)
		rev := append([]Observation(nil), obs...)
		for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
			rev[i], rev[j] = rev[j], rev[i]
		}
		if a, b := p.PublishTotal(obs, p.Publish(obs)), p.PublishTotal(rev, p.Publish(rev)); a != b {
			t.Fatalf("%+v != %+v", a, b)
		}
	})
}

// rateRecords are hand-made records for the service tests: 12 young people
// harmed at place A in 2026-01 (unperturbed: 10), 9 of the same in 2026-02
// (absent), and for cce only, 12 feeling unsafe at place A in 2026-03.
func rateRecords(t *testing.T, p Policy) []record {
	t.Helper()
	twelve, _ := unperturbed(t, p, 12, 0, 0)
	c := geo.CellsFor(ratePlaceA[0], ratePlaceA[1])[2]
	var recs []record
	for i, k := range twelve {
		recs = append(recs, record{int64(i + 1), k, c, ctxmap.LayerHarm, "cse", Month{2026, 1}})
		if i < 9 {
			recs = append(recs, record{int64(i + 1), k, c, ctxmap.LayerHarm, "cse", Month{2026, 2}})
		}
		recs = append(recs, record{int64(i + 1), k, c, ctxmap.LayerUnsafe, "cce", Month{2026, 3}})
	}
	return recs
}

// rateCategories is the tests' taxonomy plus the extra-familial figure, as
// cmd/ctxmap's category set answers.
type rateCategories struct{}

func (rateCategories) Known(_ context.Context, code string) (bool, error) {
	return testCategories[code] || code == ctxmap.ExtraFamilial, nil
}

func newRateService(t *testing.T, src Source) *Service {
	t.Helper()
	s, _ := SourceService(t, src, Config{Clock: func() time.Time { return testNow }, Categories: rateCategories{}}, "cce", "cse")
	return s
}

func TestRates(t *testing.T) {
	p, _ := NewPolicy(DefaultK)
	src := &fakeSource{recs: rateRecords(t, p)}
	s := newRateService(t, src)
	ctx := context.Background()
	ten := func(v *int) bool { return v != nil && *v == 10 }

	r, err := s.Rates(ctx, RatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Step != StepMonth || r.Category != ctxmap.ExtraFamilial || len(r.Points) != 36 || r.Points[35].Period != "2026-03" {
		t.Fatalf("default rates: step %s category %s, %d points, last %+v", r.Step, r.Category, len(r.Points), r.Points[len(r.Points)-1])
	}
	byPeriod := map[string]RatePoint{}
	for _, pt := range r.Points {
		byPeriod[pt.Period] = pt
	}
	if jan := byPeriod["2026-01"]; !ten(jan.Harm) || jan.Unsafe != nil {
		t.Fatalf("2026-01: %+v, want harm 10 and unsafe absent", jan)
	}
	if feb := byPeriod["2026-02"]; feb.Harm != nil || feb.Unsafe != nil {
		t.Fatalf("2026-02 (9 young people): %+v, want both absent", feb)
	}
	if mar := byPeriod["2026-03"]; mar.Harm != nil || !ten(mar.Unsafe) {
		t.Fatalf("2026-03: %+v, want unsafe 10", mar)
	}
	if dec := byPeriod["2025-12"]; dec.Harm != nil || dec.Unsafe != nil {
		t.Fatalf("a month with no records: %+v, want absent (null), never 0", dec)
	}

	q, err := s.Rates(ctx, RatesRequest{Step: StepQuarter, Category: "cse"})
	if err != nil {
		t.Fatal(err)
	}
	last := q.Points[len(q.Points)-1]
	// Q1 2026: the same 12 young people (January's and February's 9 are
	// among them), so the same value as January; no cse record is unsafe.
	if last.Period != "2026-Q1" || last.First != "2026-01" || last.Last != "2026-03" || last.Months != 3 || !ten(last.Harm) || last.Unsafe != nil {
		t.Fatalf("cse 2026-Q1: %+v", last)
	}
	if q.Points[0].Period != "2023-Q2" || len(q.Points) != 12 {
		t.Fatalf("quarters %d from %s, want 12 from 2023-Q2", len(q.Points), q.Points[0].Period)
	}
	cce, err := s.Rates(ctx, RatesRequest{Category: "cce"})
	if err != nil {
		t.Fatal(err)
	}
	if jan := cce.Points[33]; jan.Period != "2026-01" || jan.Harm != nil {
		t.Fatalf("cce 2026-01: %+v (the harm records are cse)", jan)
	}

	// Every rate is what the release published for that set, and a write
	// changes none of them until the next release.
	src.add(record{999, 1, geo.CellsFor(ratePlaceA[0], ratePlaceA[1])[2], ctxmap.LayerHarm, "cse", Month{2026, 2}},
		record{998, 2, geo.CellsFor(ratePlaceA[0], ratePlaceA[1])[2], ctxmap.LayerHarm, "cse", Month{2026, 2}},
		record{997, 3, geo.CellsFor(ratePlaceA[0], ratePlaceA[1])[2], ctxmap.LayerHarm, "cse", Month{2026, 2}})
	s.ReleaseMade()
	again, err := s.Rates(ctx, RatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if feb := again.Points[34]; feb.Harm != nil {
		t.Fatalf("three writes changed February before a release: %+v", feb)
	}
	rigOf(t, s).Release(t)
	after, err := s.Rates(ctx, RatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if feb := after.Points[34]; feb.Harm == nil || after.Release.ID == r.Release.ID {
		t.Fatalf("12 young people in February after a release: %+v (release %d)", feb, after.Release.ID)
	}
}

func TestRatesRefused(t *testing.T) {
	s := newRateService(t, &fakeSource{})
	ctx := context.Background()
	for _, req := range []RatesRequest{{Step: "week"}, {Step: "2026-Q1"}, {Category: "nope"}, {Category: "cse,cce"}} {
		if _, err := s.Rates(ctx, req); ctxmap.KindOf(err) != ctxmap.KindInvalid {
			t.Errorf("%+v: %v, want a 400", req, err)
		}
	}
}

// A release made before totals existed has none: rates say so rather than
// answering every total absent.
func TestRatesNeedAReleaseWithTotals(t *testing.T) {
	store := newMemReleases(func() time.Time { return testNow })
	store.releases = []ReleaseInfo{{ID: 1, DataTime: testNow, Window: WindowAt(testNow, 12), K: DefaultK}}
	s, err := NewService(store, Config{Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Rates(context.Background(), RatesRequest{Category: ctxmap.AllCategories})
	var e *ctxmap.Error
	if !errors.As(err, &e) || e.Code != "rates_not_released" {
		t.Fatalf("%v, want rates_not_released", err)
	}
}
