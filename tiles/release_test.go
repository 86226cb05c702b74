package tiles

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

func TestReleasePeriods(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	ps := ReleasePeriods(at, 36)
	var specs []string
	for _, p := range ps {
		specs = append(specs, p.Spec)
	}
	if len(ps) != 3+36+12+3 {
		t.Fatalf("%d periods, want 54: %v", len(ps), specs)
	}
	for _, want := range []string{"last-3m", "last-6m", "last-12m", "2023-12", "2026-11", "2024-Q1", "2026-Q4", "2024", "2026"} {
		if !slices.Contains(specs, want) {
			t.Errorf("missing %s in %v", want, specs)
		}
	}
	for _, no := range []string{"2023-Q4", "2023", "2026-12", "2023-11"} {
		if slices.Contains(specs, no) {
			t.Errorf("%s is outside the window but listed", no)
		}
	}
	for _, p := range ps {
		if p.Spec == "2026-Q4" && (p.First != (Month{2026, 10}) || p.Last != (Month{2026, 11})) {
			t.Errorf("2026-Q4 = %s..%s, want clamped to 2026-10..2026-11", p.First, p.Last)
		}
		if p.Spec == "last-12m" && (p.First != (Month{2025, 12}) || p.Last != (Month{2026, 11})) {
			t.Errorf("last-12m = %s..%s", p.First, p.Last)
		}
	}
	// last-12m equals 2026 when the release is made in January.
	jan := ReleasePeriods(time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), 36)
	n := 0
	for _, p := range jan {
		if p.First == (Month{2026, 1}) && p.Last == (Month{2026, 12}) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("2026 and last-12m in January 2027 are %d sets, want 1", n)
	}
}

// releaseFixture plants random records over a small area and returns the
// input and the records.
func releaseFixture(rng *rand.Rand, at time.Time, subjects int) ReleaseInput {
	in := ReleaseInput{DataTime: at, WindowMonths: 36, Categories: []string{"cce", "cse", "missing"}, ExtraFamilial: []bool{true, true, false}}
	w := WindowAt(at, 36)
	centres := []h3.LatLng{h3.NewLatLng(51.545, -0.055), h3.NewLatLng(51.55, -0.07), h3.NewLatLng(51.53, -0.04)}
	for s := range subjects {
		c := centres[rng.IntN(len(centres))]
		cell := h3.LatLngToCell(h3.NewLatLng(c.Lat+rng.NormFloat64()*0.004, c.Lng+rng.NormFloat64()*0.006), 8)
		m := w.First.Add(rng.IntN(w.Months() + 2)) // some just outside
		layer := ctxmap.LayerHarm
		switch rng.IntN(10) {
		case 0, 1:
			layer = ctxmap.LayerUnsafe
		case 2, 3:
			// A safety-map place: no category; green in the safe layer, red
			// in the unsafe one.
			layer = ctxmap.LayerSafe
			if rng.IntN(2) == 0 {
				layer = ctxmap.LayerUnsafe
			}
			in.Records = append(in.Records, ReleaseRecord{Layer: layer, Month: m, CategoryIndex: NoCategory,
				Observation: Observation{Subject: int64(s), Key: uint8(s * 37), Cell: cell}})
			continue
		}
		for ci := range in.Categories {
			if rng.IntN(2) == 0 || ci == 0 {
				in.Records = append(in.Records, ReleaseRecord{Layer: layer, Month: m, CategoryIndex: ci,
					Observation: Observation{Subject: int64(s), Key: uint8(s * 37), Cell: cell}})
			}
		}
	}
	return in
}

// TestBuildReleaseIsThePolicy checks every set of a release against Publish
// applied directly to the records the set's key selects.
func TestBuildReleaseIsThePolicy(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	in := releaseFixture(rand.New(rand.NewPCG(1, 2)), at, 4000)
	p, _ := NewPolicy(10)
	sets, err := p.BuildRelease(in)
	if err != nil {
		t.Fatal(err)
	}
	// harm and unsafe: all, extra-familial and each category; safe: all only.
	if want := (2*(3+2) + 1) * 54; len(sets) != want {
		t.Fatalf("%d sets, want %d", len(sets), want)
	}
	again, _ := p.BuildRelease(in)
	nonEmpty, safe := 0, 0
	for i, s := range sets {
		if s.Key.Layer == ctxmap.LayerSafe && s.Published.TotalCells() > 0 {
			safe++
		}
		if again[i].Key != s.Key || !slices.Equal(EncodeSet(again[i].Published), EncodeSet(s.Published)) {
			t.Fatalf("set %s differs between two builds", s.Key)
		}
		if i%7 != 0 { // a spread of keys is enough; Publish has its own tests
			continue
		}
		var obs []Observation
		for _, r := range in.Records {
			if r.Layer != s.Key.Layer || r.Month.Before(s.Key.First) || s.Key.Last.Before(r.Month) {
				continue
			}
			if r.CategoryIndex == NoCategory {
				if s.Key.Category == "" {
					obs = append(obs, r.Observation)
				}
				continue
			}
			c := in.Categories[r.CategoryIndex]
			if s.Key.Category == "" || s.Key.Category == c || s.Key.Category == ctxmap.ExtraFamilial && in.ExtraFamilial[r.CategoryIndex] {
				obs = append(obs, r.Observation)
			}
		}
		want := p.Publish(obs)
		if !slices.Equal(EncodeSet(want), EncodeSet(s.Published)) {
			t.Errorf("set %s: release differs from Publish over its records", s.Key)
		}
		if want.TotalCells() > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 10 || safe == 0 {
		t.Fatalf("only %d checked sets (%d safe sets) publish anything: the fixture does not exercise the policy", nonEmpty, safe)
	}
}

func TestEncodeSetRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	in := releaseFixture(rand.New(rand.NewPCG(3, 4)), at, 3000)
	p, _ := NewPolicy(10)
	sets, _ := p.BuildRelease(in)
	for _, s := range sets {
		b := EncodeSet(s.Published)
		got, err := DecodeSet(b, 10)
		if err != nil {
			t.Fatalf("%s: %v", s.Key, err)
		}
		for r := geo.MinRes; r <= geo.MaxRes; r++ {
			if !slices.Equal(got.Cells(r), s.Published.Cells(r)) {
				t.Fatalf("%s res %d: round trip differs", s.Key, r)
			}
		}
		if ChangedCells(got, s.Published) != 0 {
			t.Fatalf("%s: a set differs from itself", s.Key)
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 5}, append(EncodeSet(sets[0].Published), 0)} {
		if _, err := DecodeSet(bad, 10); err == nil {
			t.Errorf("DecodeSet(%v) accepted", bad)
		}
	}
}

func TestReleaserInterval(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := newMemReleases(clock)
	p, _ := NewPolicy(10)
	r, err := NewReleaser(store, p, ReleaseConfig{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.EnsureFirst(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureFirst(ctx); err != nil {
		t.Fatal(err)
	}
	if l, _ := store.List(ctx); len(l) != 1 || l[0].How != HowFirstStart {
		t.Fatalf("after two EnsureFirst: %+v", l)
	}
	now = now.Add(3 * 24 * time.Hour)
	_, err = r.Make(ctx, MakeRequest{How: HowAdmin, ByName: "ada"})
	var e *ctxmap.Error
	if !errors.As(err, &e) || e.Kind != ctxmap.KindRateLimited || e.Code != "release_too_soon" || e.Details["earliest"] != "2026-12-13T10:00:00Z" {
		t.Fatalf("within the interval: %v", err)
	}
	if _, err := r.Make(ctx, MakeRequest{How: HowForced, Force: true}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(7 * 24 * time.Hour)
	info, err := r.Make(ctx, MakeRequest{How: HowAdmin, ByName: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != 3 || info.MadeBy != "ada" || info.ChangedCells != 0 {
		t.Fatalf("third release: %+v", info)
	}
	if !slices.Equal(store.forced, []bool{false, true, false}) {
		t.Fatalf("audited forced flags %v", store.forced)
	}
}

func TestReleaserSchedule(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := newMemReleases(clock)
	p, _ := NewPolicy(10)
	r, _ := NewReleaser(store, p, ReleaseConfig{Clock: clock})
	ctx := context.Background()
	r.tryScheduled(ctx) // none yet: the first
	latest, _, _ := store.Latest(ctx)
	if latest.How != HowFirstStart || latest.Window.Last != (Month{2026, 10}) {
		t.Fatalf("first: %+v", latest)
	}
	if got := r.NextDue(latest, now); !got.Equal(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("next due %s", got)
	}
	for _, step := range []struct {
		at      time.Time
		wantIDs int
	}{
		{time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), 1}, // November not over
		{time.Date(2026, 12, 4, 23, 59, 0, 0, time.UTC), 1}, // before the 5th
		{time.Date(2026, 12, 5, 0, 1, 0, 0, time.UTC), 2},   // due
		{time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC), 2},   // November is released
		{time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), 3},
	} {
		now = step.at
		r.tryScheduled(ctx)
		if l, _ := store.List(ctx); len(l) != step.wantIDs {
			t.Fatalf("at %s: %d releases, want %d", now, len(l), step.wantIDs)
		}
	}
	latest, _, _ = store.Latest(ctx)
	if latest.How != HowScheduled || latest.Window.Last != (Month{2026, 12}) {
		t.Fatalf("scheduled: %+v", latest)
	}
}

func TestNewReleaserRefusesWeakSettings(t *testing.T) {
	p, _ := NewPolicy(10)
	for _, cfg := range []ReleaseConfig{{MinInterval: 23 * time.Hour}, {Keep: 1}, {Day: 29}, {WindowMonths: 121}} {
		if _, err := NewReleaser(newMemReleases(time.Now), p, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// BenchmarkBuildRelease1M computes a whole release (2 layers x 15 filters x
// 54 periods) from a million harm locations with 1.5 categories each over 36
// months: the compute part of PRODUCT.md's 60 s release target.
func BenchmarkBuildRelease1M(b *testing.B) {
	obs := benchObservations()
	at := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	w := WindowAt(at, 36)
	rng := rand.New(rand.NewPCG(7, 7))
	in := ReleaseInput{DataTime: at, WindowMonths: 36}
	for i := range 13 {
		in.Categories = append(in.Categories, fmt.Sprintf("c%02d", i))
		in.ExtraFamilial = append(in.ExtraFamilial, i > 0)
	}
	for _, o := range obs {
		layer := ctxmap.LayerHarm
		if rng.IntN(5) == 0 {
			layer = ctxmap.LayerUnsafe
		}
		m := w.First.Add(rng.IntN(36))
		c := rng.IntN(13)
		in.Records = append(in.Records, ReleaseRecord{Layer: layer, Month: m, CategoryIndex: c, Observation: o})
		if rng.IntN(2) == 0 {
			in.Records = append(in.Records, ReleaseRecord{Layer: layer, Month: m, CategoryIndex: (c + 1) % 13, Observation: o})
		}
	}
	p := mustPolicy(b, DefaultK)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sets, err := p.BuildRelease(in)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, s := range sets {
			n += len(EncodeSet(s.Published))
		}
		b.ReportMetric(float64(len(sets)), "sets")
		b.ReportMetric(float64(n), "stored-bytes")
	}
}
