package tiles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ctxmap/ctxmap"
)

// How a release came to be made, as the list of releases and the audit log
// say it.
const (
	HowFirstStart = "first_start" // the server found no release at start
	HowScheduled  = "scheduled"   // the monthly schedule
	HowAdmin      = "admin"       // an admin asked, within the minimum interval rule
	HowOperator   = "operator"    // `ctxmap release` on the server's host
	HowForced     = "forced"      // `ctxmap release --force`: the interval ignored
)

// Release settings: defaults and the floor PRIVACY.md rule 12 sets.
const (
	DefaultMinInterval = 7 * 24 * time.Hour
	MinMinInterval     = 24 * time.Hour
	DefaultReleaseDay  = 5
	DefaultKeep        = 24
	// MinKeep keeps the previous release while replicas switch to a new
	// one, so a request that started on it can finish.
	MinKeep = 2
)

// ReleaseInfo describes one release: what the list of releases, the map and
// every export say about the values they show.
type ReleaseInfo struct {
	ID       int64
	DataTime time.Time // the records as they stood at this instant
	Window   Window    // the complete months covered
	K        int
	How      string
	// MadeByID and MadeBy name the admin who asked; empty for the schedule
	// and the operator.
	MadeByID       *int64
	MadeBy         string
	Sets           int
	PublishedCells int // published values over every set
	// ChangedCells counts the values that differ from the previous release
	// over the sets both have (revisions of months already released); -1
	// for the first release.
	ChangedCells int
	Duration     time.Duration
	// Totals says the release carries partnership totals (rates.go); a
	// release made before they existed has none, rather than all absent.
	Totals bool
}

// ReleaseRef names a release wherever its values travel: an export's
// metadata and rows, a download's headers. One type, so they all spell the
// data time and the months covered the same way.
type ReleaseRef struct {
	ID         int64  `json:"id"`
	DataTime   string `json:"data_time"` // RFC 3339, UTC
	FirstMonth string `json:"first_month"`
	LastMonth  string `json:"last_month"`
}

// Ref is how r is named beside its values.
func (r ReleaseInfo) Ref() ReleaseRef {
	return ReleaseRef{ID: r.ID, DataTime: r.DataTime.UTC().Format(time.RFC3339),
		FirstMonth: r.Window.First.String(), LastMonth: r.Window.Last.String()}
}

// Months is the complete months the release covers, first/last.
func (r ReleaseRef) Months() string { return r.FirstMonth + "/" + r.LastMonth }

// StoredSet is one set of a release in its stored form (EncodeSet), with
// its published partnership total.
type StoredSet struct {
	Key   SetKey
	Cells int
	Data  []byte
	Total Total
}

// ReleaseStore keeps releases. It is declared here, by its consumer; the
// PostGIS adapter implements it. Releases are immutable once written.
type ReleaseStore interface {
	// InRelease runs fn in one transaction that holds the release lock,
	// shared by every process on the database, so exactly one of them
	// makes a release at a time. With wait false it returns ran false at
	// once when another process holds the lock.
	InRelease(ctx context.Context, wait bool, fn func(context.Context, ReleaseTx) error) (ran bool, err error)
	// Latest is the current release; ok is false when none has been made.
	Latest(ctx context.Context) (info ReleaseInfo, ok bool, err error)
	// List returns the kept releases, newest first.
	List(ctx context.Context) ([]ReleaseInfo, error)
	// Set returns one stored set of a release; ok is false when the release
	// has no such set.
	Set(ctx context.Context, release int64, k SetKey) (data []byte, ok bool, err error)
	// Totals returns the partnership totals of a release's sets for one
	// filter ("" for all categories), every layer and period.
	Totals(ctx context.Context, release int64, category string) ([]StoredTotal, error)
	// Measures returns the record measures of a release (measures.go);
	// none for a release made before they existed.
	Measures(ctx context.Context, release int64) ([]MeasureValue, error)
}

// ReleaseTx is the work of making one release, inside the transaction
// InRelease opened: every read sees one snapshot of the records.
type ReleaseTx interface {
	// Now is the transaction's time: the data time of a release made in it.
	Now(ctx context.Context) (time.Time, error)
	Latest(ctx context.Context) (ReleaseInfo, bool, error)
	// Input reads the taxonomy, every active harm location whose month
	// lies in w, and the young people's record entries the record measures
	// count (Facts, dated in w) (DataTime and WindowMonths are left for
	// the caller).
	Input(ctx context.Context, w Window) (ReleaseInput, error)
	// Sets returns the stored sets of an earlier release.
	Sets(ctx context.Context, release int64) ([]StoredSet, error)
	// Write stores a new release and its sets, returning its id.
	Write(ctx context.Context, info ReleaseInfo, sets []StoredSet) (int64, error)
	// WriteMeasures stores the record measures of the release Write made.
	WriteMeasures(ctx context.Context, release int64, values []MeasureValue) error
	// Prune deletes all but the newest keep releases.
	Prune(ctx context.Context, keep int) error
	// Audit writes the release's entry to the audit log.
	Audit(ctx context.Context, info ReleaseInfo, forced bool) error
}

// ReleaseConfig is the release schedule and its limits; zero values get
// the defaults above.
type ReleaseConfig struct {
	WindowMonths int
	Keep         int
	// MinInterval is the least time between two releases that any user of
	// the service may cause; only the operator may force one sooner.
	MinInterval time.Duration
	// Day of the month (1-28) a scheduled release becomes due, for the month
	// before; 0 means DefaultReleaseDay. Scheduled off disables the schedule.
	Day          int
	ScheduledOff bool
	Clock        func() time.Time
	Logger       *slog.Logger
}

// Releaser makes releases: on a schedule, at first start, on an admin's
// request within the minimum interval, or when the operator forces one.
type Releaser struct {
	store  ReleaseStore
	policy Policy
	cfg    ReleaseConfig
}

// NewReleaser checks cfg and returns a Releaser publishing under policy.
func NewReleaser(store ReleaseStore, policy Policy, cfg ReleaseConfig) (*Releaser, error) {
	if cfg.WindowMonths == 0 {
		cfg.WindowMonths = DefaultWindowMonths
	}
	if cfg.WindowMonths < 1 || cfg.WindowMonths > MaxWindowMonths {
		return nil, fmt.Errorf("tiles: a release window of %d months; use 1 to %d", cfg.WindowMonths, MaxWindowMonths)
	}
	if cfg.Keep == 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.Keep < MinKeep {
		return nil, fmt.Errorf("tiles: keeping %d releases; keep at least %d", cfg.Keep, MinKeep)
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = DefaultMinInterval
	}
	if cfg.MinInterval < MinMinInterval {
		return nil, fmt.Errorf("tiles: a minimum interval of %s between releases; PRIVACY.md rule 12 allows no less than %s", cfg.MinInterval, MinMinInterval)
	}
	if cfg.Day == 0 {
		cfg.Day = DefaultReleaseDay
	}
	if cfg.Day < 1 || cfg.Day > 28 {
		return nil, fmt.Errorf("tiles: release day %d; use 1 to 28 (every month has it)", cfg.Day)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Releaser{store: store, policy: policy, cfg: cfg}, nil
}

// Config is the releaser's settings with defaults applied.
func (r *Releaser) Config() ReleaseConfig { return r.cfg }

// MakeRequest says who asks for a release and how.
type MakeRequest struct {
	How    string
	ByID   *int64
	ByName string
	Force  bool // ignore the minimum interval (the operator only); audited as forced
	// minCheck marks the schedule and the first start: under the lock, make
	// one only if it is (still) due. The interval guards against users
	// causing releases; a due month is released whatever the interval.
	minCheck bool
}

// ErrNotDue is returned by the schedule's attempt when, under the lock, no
// release turned out to be due (another replica made it first).
var ErrNotDue = errors.New("tiles: no release is due")

// Make makes a release now for req, waiting for another process's release
// to finish first. Unless req.Force, a release within the minimum interval
// of the latest is refused with a KindRateLimited error naming the earliest
// allowed time (details "earliest"), whichever replica made the latest.
func (r *Releaser) Make(ctx context.Context, req MakeRequest) (ReleaseInfo, error) {
	var info ReleaseInfo
	_, err := r.store.InRelease(ctx, true, func(ctx context.Context, tx ReleaseTx) error {
		var err error
		info, err = r.makeIn(ctx, tx, req)
		return err
	})
	return info, err
}

func (r *Releaser) makeIn(ctx context.Context, tx ReleaseTx, req MakeRequest) (ReleaseInfo, error) {
	now, err := tx.Now(ctx)
	if err != nil {
		return ReleaseInfo{}, err
	}
	latest, ok, err := tx.Latest(ctx)
	if err != nil {
		return ReleaseInfo{}, err
	}
	if req.minCheck && !r.due(now, latest, ok) {
		return ReleaseInfo{}, ErrNotDue
	}
	if ok && !req.Force && !req.minCheck {
		if earliest := latest.DataTime.Add(r.cfg.MinInterval); now.Before(earliest) {
			e := ctxmap.Errorf(ctxmap.KindRateLimited, "release_too_soon",
				"the latest release (%d) was made at %s; releases are at least %s apart, so the earliest next one is %s",
				latest.ID, latest.DataTime.UTC().Format(time.RFC3339), r.cfg.MinInterval, earliest.UTC().Format(time.RFC3339))
			e.Details = map[string]any{"earliest": earliest.UTC().Format(time.RFC3339), "retry_after_seconds": int(earliest.Sub(now).Seconds()) + 1}
			return ReleaseInfo{}, e
		}
	}
	start := time.Now()
	w := WindowAt(now, r.cfg.WindowMonths)
	in, err := tx.Input(ctx, w)
	if err != nil {
		return ReleaseInfo{}, err
	}
	in.DataTime, in.WindowMonths = now, r.cfg.WindowMonths
	sets, err := r.policy.BuildRelease(in)
	if err != nil {
		return ReleaseInfo{}, err
	}
	stored := make([]StoredSet, len(sets))
	info := ReleaseInfo{DataTime: now, Window: w, K: r.policy.K(), How: req.How, MadeByID: req.ByID, MadeBy: req.ByName,
		Sets: len(sets), ChangedCells: -1, Totals: true}
	for i, s := range sets {
		n := s.Published.TotalCells()
		stored[i] = StoredSet{Key: s.Key, Cells: n, Data: EncodeSet(s.Published), Total: s.Total}
		info.PublishedCells += n
	}
	if ok {
		if info.ChangedCells, err = r.changed(ctx, tx, latest, sets); err != nil {
			return ReleaseInfo{}, err
		}
	}
	info.Duration = time.Since(start)
	if info.ID, err = tx.Write(ctx, info, stored); err != nil {
		return ReleaseInfo{}, err
	}
	if err := tx.WriteMeasures(ctx, info.ID, r.policy.PublishMeasures(in)); err != nil {
		return ReleaseInfo{}, err
	}
	if err := tx.Prune(ctx, r.cfg.Keep); err != nil {
		return ReleaseInfo{}, err
	}
	if err := tx.Audit(ctx, info, req.Force); err != nil {
		return ReleaseInfo{}, err
	}
	return info, nil
}

// changed counts the values of the new sets that differ from the previous
// release's set of the same key.
func (r *Releaser) changed(ctx context.Context, tx ReleaseTx, prev ReleaseInfo, sets []ReleaseSet) (int, error) {
	old, err := tx.Sets(ctx, prev.ID)
	if err != nil {
		return 0, err
	}
	byKey := make(map[SetKey][]byte, len(old))
	for _, s := range old {
		byKey[s.Key] = s.Data
	}
	n := 0
	for _, s := range sets {
		b, ok := byKey[s.Key]
		if !ok {
			continue
		}
		p, err := DecodeSet(b, prev.K)
		if err != nil {
			return 0, err
		}
		n += ChangedCells(p, s.Published)
	}
	return n, nil
}

// due reports whether a scheduled release is due at now: the release day of
// this month has come and the latest release does not yet cover last month.
// With no release at all one is always due.
func (r *Releaser) due(now time.Time, latest ReleaseInfo, ok bool) bool {
	if !ok {
		return true
	}
	if r.cfg.ScheduledOff {
		return false
	}
	lastComplete := MonthOf(now).Add(-1)
	dueAt := MonthOf(now).Start().AddDate(0, 0, r.cfg.Day-1)
	return !now.Before(dueAt) && latest.Window.Last.Before(lastComplete)
}

// NextDue is when the schedule will next make a release after latest; the
// zero time when the schedule is off.
func (r *Releaser) NextDue(latest ReleaseInfo, now time.Time) time.Time {
	if r.cfg.ScheduledOff {
		return time.Time{}
	}
	// The release covering the month after latest's last is made in the
	// month after that one.
	due := latest.Window.Last.Add(2).Start().AddDate(0, 0, r.cfg.Day-1)
	if due.Before(now) {
		return now
	}
	return due
}

// EnsureFirst makes the first release when there is none, so a new
// deployment (make run) shows its map at once. Replicas starting together
// make one between them.
func (r *Releaser) EnsureFirst(ctx context.Context) error {
	_, ok, err := r.store.Latest(ctx)
	if err != nil || ok {
		return err
	}
	_, err = r.Make(ctx, MakeRequest{How: HowFirstStart, minCheck: true})
	if errors.Is(err, ErrNotDue) {
		return nil
	}
	return err
}

// RunSchedule makes the scheduled releases until ctx ends, checking every
// `every`. Exactly one replica does the work: the others find the lock
// taken, or find under it that the release is no longer due.
func (r *Releaser) RunSchedule(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.tryScheduled(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Releaser) tryScheduled(ctx context.Context) {
	latest, ok, err := r.store.Latest(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.cfg.Logger.Warn("release schedule: reading the latest release", "err", err)
		}
		return
	}
	if !r.due(r.cfg.Clock(), latest, ok) {
		return
	}
	how := HowScheduled
	if !ok {
		how = HowFirstStart
	}
	var info ReleaseInfo
	ran, err := r.store.InRelease(ctx, false, func(ctx context.Context, tx ReleaseTx) error {
		var err error
		info, err = r.makeIn(ctx, tx, MakeRequest{How: how, minCheck: true})
		return err
	})
	switch {
	case errors.Is(err, ErrNotDue) || !ran:
	case err != nil:
		if ctx.Err() == nil {
			r.cfg.Logger.Error("release schedule: making a release", "err", err)
		}
	default:
		r.cfg.Logger.Info("release made", "id", info.ID, "how", info.How, "covers_to", info.Window.Last.String(),
			"published_cells", info.PublishedCells, "changed_cells", info.ChangedCells, "duration", info.Duration)
	}
}

// List returns the kept releases, newest first.
func (r *Releaser) List(ctx context.Context) ([]ReleaseInfo, error) { return r.store.List(ctx) }
