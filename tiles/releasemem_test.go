package tiles

import (
	"context"
	"slices"
	"sync"
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
	audits   []ReleaseInfo
	forced   []bool
	nextID   int64
}

func newMemReleases(now func() time.Time) *memReleases {
	return &memReleases{now: now, cats: []string{"cce", "cse", "gangs"}, ef: []bool{true, true, true}, sets: map[int64][]StoredSet{}}
}

// add records one active harm location (one row per category).
func (m *memReleases) add(layer ctxmap.Layer, month Month, cats []string, o Observation) {
	m.data.Lock()
	defer m.data.Unlock()
	for _, c := range cats {
		m.records = append(m.records, ReleaseRecord{Layer: layer, Month: month, CategoryIndex: slices.Index(m.cats, c), Observation: o})
	}
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

func (m *memReleases) Set(_ context.Context, id int64, k SetKey) ([]byte, bool, error) {
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
func (t *memTx) Input(_ context.Context, w Window) (ReleaseInput, error) {
	in := ReleaseInput{Categories: t.m.cats, ExtraFamilial: t.m.ef}
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
