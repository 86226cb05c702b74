package tiles

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctxmap/ctxmap"
)

// memReleases is an in-memory ReleaseStore over a list of records, for the
// tests of the releaser and of the service: the PostGIS adapter has its own
// tests against the same interface.
type memReleases struct {
	mu       sync.Mutex // the "release lock"
	data     sync.Mutex // guards the fields below
	now      func() time.Time
	cats     []string
	ef       []bool
	records  []ReleaseRecord
	releases []ReleaseInfo
	sets     map[int64][]StoredSet
	measures map[int64][]MeasureValue
	facts    []RecordFact
	audits   []ReleaseInfo
	forced   []bool
	nextID   int64
	// src, when set, is where releases read their records from: one
	// query per layer, category and month, as the live service once did.
	src      Source
	setReads atomic.Int64
	setErr   atomic.Pointer[error]
	gate     atomic.Pointer[chan struct{}] // when set, Set waits for it
}

func newMemReleases(now func() time.Time) *memReleases {
	return &memReleases{now: now, cats: []string{"cce", "cse", "gangs"}, ef: []bool{true, true, true}, sets: map[int64][]StoredSet{}}
}

func (m *memReleases) InRelease(ctx context.Context, wait bool, fn func(context.Context, ReleaseTx) error) (bool, error) {
	if wait {
		m.mu.Lock()
	} else if !m.mu.TryLock() {
		return false, nil
	}
	defer m.mu.Unlock()
	m.data.Lock()
	snap := &memTx{m: m, now: m.now(), records: slices.Clone(m.records)}
	m.data.Unlock()
	return true, fn(ctx, snap)
}

func (m *memReleases) Latest(context.Context) (ReleaseInfo, bool, error) {
	m.data.Lock()
	defer m.data.Unlock()
	if len(m.releases) == 0 {
		return ReleaseInfo{}, false, nil
	}
	return m.releases[len(m.releases)-1], true, nil
}

func (m *memReleases) List(context.Context) ([]ReleaseInfo, error) {
	m.data.Lock()
	defer m.data.Unlock()
	out := slices.Clone(m.releases)
	slices.Reverse(out)
	return out, nil
}

func (m *memReleases) Set(ctx context.Context, id int64, k SetKey) ([]byte, bool, error) {
	m.setReads.Add(1)
	if g := m.gate.Load(); g != nil {
		select {
		case <-*g:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	if e := m.setErr.Load(); e != nil && *e != nil {
		return nil, false, *e
	}
	m.data.Lock()
	defer m.data.Unlock()
	for _, s := range m.sets[id] {
		if s.Key == k {
			return s.Data, true, nil
		}
	}
	return nil, false, nil
}

type memTx struct {
	m       *memReleases
	now     time.Time
	records []ReleaseRecord
}

func (t *memTx) Now(context.Context) (time.Time, error) { return t.now, nil }
func (t *memTx) Latest(ctx context.Context) (ReleaseInfo, bool, error) {
	return t.m.Latest(ctx)
}
func (t *memTx) Input(ctx context.Context, w Window) (ReleaseInput, error) {
	t.m.data.Lock()
	in := ReleaseInput{Categories: t.m.cats, ExtraFamilial: t.m.ef, Facts: append([]RecordFact(nil), t.m.facts...), RelocationKinds: []string{"out_of_area", "within_area", "secure"}}
	t.m.data.Unlock()
	if src := t.m.src; src != nil {
		for _, l := range ctxmap.Layers() {
			for ci, c := range t.m.cats {
				for m := w.First; !w.Last.Before(m); m = m.Add(1) {
					obs, err := src.Observations(ctx, Query{Layer: l, Category: c, From: m.Start(), To: m.Add(1).Start()})
					if err != nil {
						return in, err
					}
					for _, o := range obs {
						in.Records = append(in.Records, ReleaseRecord{Layer: l, Month: m, CategoryIndex: ci, Observation: o})
					}
				}
			}
		}
		return in, nil
	}
	for _, r := range t.records {
		if w.Contains(r.Month, r.Month) {
			in.Records = append(in.Records, r)
		}
	}
	return in, nil
}
func (t *memTx) Sets(_ context.Context, id int64) ([]StoredSet, error) {
	t.m.data.Lock()
	defer t.m.data.Unlock()
	return t.m.sets[id], nil
}
func (t *memTx) Write(_ context.Context, info ReleaseInfo, sets []StoredSet) (int64, error) {
	t.m.data.Lock()
	defer t.m.data.Unlock()
	t.m.nextID++
	info.ID = t.m.nextID
	t.m.releases = append(t.m.releases, info)
	t.m.sets[info.ID] = sets
	return info.ID, nil
}
func (t *memTx) WriteMeasures(_ context.Context, id int64, values []MeasureValue) error {
	t.m.data.Lock()
	defer t.m.data.Unlock()
	if t.m.measures == nil {
		t.m.measures = map[int64][]MeasureValue{}
	}
	t.m.measures[id] = values
	return nil
}

func (m *memReleases) Measures(_ context.Context, id int64) ([]MeasureValue, error) {
	m.data.Lock()
	defer m.data.Unlock()
	return m.measures[id], nil
}

func (t *memTx) Prune(_ context.Context, keep int) error {
	t.m.data.Lock()
	defer t.m.data.Unlock()
	for len(t.m.releases) > keep {
		delete(t.m.sets, t.m.releases[0].ID)
		t.m.releases = t.m.releases[1:]
	}
	return nil
}
func (t *memTx) Audit(_ context.Context, info ReleaseInfo, forced bool) error {
	t.m.data.Lock()
	defer t.m.data.Unlock()
	t.m.audits = append(t.m.audits, info)
	t.m.forced = append(t.m.forced, forced)
	return nil
}

func (m *memReleases) Totals(_ context.Context, id int64, category string) ([]StoredTotal, error) {
	m.data.Lock()
	defer m.data.Unlock()
	var out []StoredTotal
	for _, s := range m.sets[id] {
		if s.Key.Category == category {
			out = append(out, StoredTotal{Key: s.Key, Total: s.Total})
		}
	}
	return out, nil
}
