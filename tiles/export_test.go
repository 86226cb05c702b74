package tiles

import (
	"context"
	"sync"
	"testing"
	"time"
)

// SourceRig is a service whose releases are computed from a Source, for the
// tests inside and outside the package: what a write does is invisible until
// Release is called, as in production.
type SourceRig struct {
	store *memReleases
	rel   *Releaser
	svc   *Service
}

var rigs sync.Map // *Service -> *SourceRig

// SourceService returns a service over an in-memory release store whose
// releases read src for the categories cats (every one extra-familial), with
// a first release already made at cfg.Clock's time.
func SourceService(t testing.TB, src Source, cfg Config, cats ...string) (*Service, *SourceRig) {
	t.Helper()
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	store := newMemReleases(now)
	store.src = src
	store.cats = cats
	store.ef = make([]bool, len(cats))
	for i := range store.ef {
		store.ef[i] = true
	}
	svc, err := NewService(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := NewReleaser(store, svc.Policy(), ReleaseConfig{Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	rig := &SourceRig{store: store, rel: rel, svc: svc}
	rig.Release(t)
	rigs.Store(svc, rig)
	return svc, rig
}

// Release makes a new release (forced: tests make several in a row) and
// tells the service at once.
func (r *SourceRig) Release(t testing.TB) ReleaseInfo {
	t.Helper()
	info, err := r.rel.Make(context.Background(), MakeRequest{How: HowForced, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	r.svc.ReleaseMade()
	return info
}

// SetReads counts the sets the service read from the release store: a
// request that really recomputes reads one.
func (r *SourceRig) SetReads() int64 { return r.store.setReads.Load() }

// rigOf returns the rig of a service made by SourceService.
func rigOf(t testing.TB, s *Service) *SourceRig {
	t.Helper()
	r, ok := rigs.Load(s)
	if !ok {
		t.Fatal("not a SourceService")
	}
	return r.(*SourceRig)
}
