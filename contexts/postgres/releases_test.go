package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
	"github.com/ctxmap/ctxmap/tiles"
)

// plantHarm writes active harm locations straight into the table, as a
// fixture: n young people at one res-8 cell in one month.
func plantHarm(t *testing.T, pool *pgxpool.Pool, firstSubject, n int, cell h3.Cell, month time.Time, layer string, cats ...string) {
	t.Helper()
	ll := cell.LatLng()
	for i := range n {
		s := int64(firstSubject + i)
		_, err := pool.Exec(context.Background(), `INSERT INTO harm_locations (subject_id, subject_key, team_id, created_by, layer,
			categories, familial, occurred_on, occurred_precision, source, location_type, match, precision_m, lat, lon,
			h3_r6, h3_r7, h3_r8, taxonomy_version)
			VALUES ($1, $2, 1, 1, $3, $4, 'extra', $5, 'day', 'referral', 'park', 'unit', 50, $6, $7, $8, $9, $10, 1)`,
			s, (s*37)%256, layer, cats, month, ll.Lat, ll.Lng, int64(cell.Parent(6)), int64(cell.Parent(7)), int64(cell))
		if err != nil {
			t.Fatal(err)
		}
	}
}

func releaser(t *testing.T, pool *pgxpool.Pool, now *time.Time) *tiles.Releaser {
	t.Helper()
	p, _ := tiles.NewPolicy(10)
	clock := time.Now
	if now != nil {
		clock = func() time.Time { return *now }
	}
	r, err := tiles.NewReleaser(NewReleases(pool), p, tiles.ReleaseConfig{Clock: clock, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReleaseStoreMakesAndReads(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	cell := h3.LatLngToCell(h3.NewLatLng(51.545, -0.055), 8)
	last := tiles.MonthOf(time.Now()).Add(-1)
	plantHarm(t, pool, 1, 30, cell, last.Start().AddDate(0, 0, 3), "harm", "cse", "cce")
	plantHarm(t, pool, 100, 12, cell, last.Add(-1).Start(), "unsafe", "missing")

	store := NewReleases(pool)
	r := releaser(t, pool, nil)
	if err := r.EnsureFirst(ctx); err != nil {
		t.Fatal(err)
	}
	info, ok, err := store.Latest(ctx)
	if err != nil || !ok {
		t.Fatalf("latest: %v %v", ok, err)
	}
	if info.How != tiles.HowFirstStart || info.Window.Last != last || info.Window.Months() != 36 || info.K != 10 || info.ChangedCells != -1 {
		t.Fatalf("release %+v", info)
	}
	// Every filter of the month: all, cse, extra-familial publish the cell;
	// missing (not extra-familial) does not in the harm layer.
	for cat, want := range map[string]bool{"": true, "cse": true, "cce": true, ctxmap.ExtraFamilial: true, "missing": false, "gangs": false} {
		b, ok, err := store.Set(ctx, info.ID, tiles.SetKey{Layer: ctxmap.LayerHarm, Category: cat, First: last, Last: last})
		if err != nil || !ok {
			t.Fatalf("set %q: %v %v", cat, ok, err)
		}
		pub, err := tiles.DecodeSet(b, 10)
		if err != nil {
			t.Fatal(err)
		}
		v, published := pub.Value(cell)
		if published != want {
			t.Errorf("harm/%q/%s: published %v (value %d), want %v", cat, last, published, v, want)
		}
		if published && (v < 25 || v > 35 || v%5 != 0) {
			t.Errorf("harm/%q: value %d for 30 young people", cat, v)
		}
	}
	b, _, _ := store.Set(ctx, info.ID, tiles.SetKey{Layer: ctxmap.LayerUnsafe, Category: "missing", First: last.Add(-1), Last: last.Add(-1)})
	if pub, _ := tiles.DecodeSet(b, 10); pub.TotalCells() == 0 {
		t.Error("unsafe/missing: 12 young people not published")
	}
	if _, ok, _ := store.Set(ctx, info.ID, tiles.SetKey{Layer: ctxmap.LayerHarm, First: last.Add(1), Last: last.Add(1)}); ok {
		t.Error("a month after the window has a set")
	}

	// A write changes nothing until the next release, which says what
	// changed and is audited.
	plantHarm(t, pool, 200, 40, cell, last.Start(), "harm", "gangs")
	b2, _, _ := store.Set(ctx, info.ID, tiles.SetKey{Layer: ctxmap.LayerHarm, Category: "gangs", First: last, Last: last})
	if pub, _ := tiles.DecodeSet(b2, 10); pub.TotalCells() != 0 {
		t.Fatal("a release changed after a write")
	}
	next, err := r.Make(ctx, tiles.MakeRequest{How: tiles.HowForced, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if next.ID <= info.ID || next.ChangedCells <= 0 {
		t.Fatalf("second release %+v", next)
	}
	var audits int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'release.make' AND detail->>'forced' = 'true'`).Scan(&audits); err != nil || audits != 1 {
		t.Fatalf("forced release audits: %d %v", audits, err)
	}
	// Releases are immutable.
	if _, err := pool.Exec(ctx, `UPDATE release_sets SET cells = '\x01' WHERE release_id = $1`, next.ID); err == nil {
		t.Fatal("a release set could be updated")
	}
	// Only Keep releases are kept.
	for range 3 {
		if _, err := r.Make(ctx, tiles.MakeRequest{How: tiles.HowForced, Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := store.List(ctx)
	if err != nil || len(list) != 3 || list[0].ID != next.ID+3 {
		t.Fatalf("kept releases %+v %v", list, err)
	}
}

// TestReleaseIntervalAcrossServers makes releases from two stores on two
// pools (two servers) at once: exactly one admin request wins within the
// interval, and the loser is told the earliest allowed time.
func TestReleaseIntervalAcrossServers(t *testing.T) {
	pool, url := pgtest.NewWithURL(t)
	ctx := context.Background()
	other, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	plantHarm(t, pool, 1, 20, h3.LatLngToCell(h3.NewLatLng(51.545, -0.055), 8), tiles.MonthOf(time.Now()).Add(-2).Start(), "harm", "cse")
	servers := []*tiles.Releaser{releaser(t, pool, nil), releaser(t, other, nil), releaser(t, pool, nil), releaser(t, other, nil)}
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, r := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Make(ctx, tiles.MakeRequest{How: tiles.HowAdmin, ByName: fmt.Sprint("admin", i)})
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, err := range errs {
		var e *ctxmap.Error
		switch {
		case err == nil:
			ok++
		case errors.As(err, &e) && e.Kind == ctxmap.KindRateLimited && e.Details["earliest"] != nil:
			refused++
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if ok != 1 || refused != 3 {
		t.Fatalf("%d made, %d refused; want 1 and 3", ok, refused)
	}
	list, _ := NewReleases(other).List(ctx)
	if len(list) != 1 || list[0].How != tiles.HowAdmin || !slices.Contains([]string{"admin0", "admin1", "admin2", "admin3"}, list[0].MadeBy) {
		t.Fatalf("releases %+v", list)
	}
}

// failingReader is a read replica that is away; it counts the attempts.
type failingReader struct{ tries *int }

func (f failingReader) Query(context.Context, string, ...any) (pgx.Rows, error) {
	*f.tries++
	return nil, errors.New("replica away")
}

func (f failingReader) QueryRow(context.Context, string, ...any) pgx.Row {
	*f.tries++
	return failingRow{}
}

type failingRow struct{}

func (failingRow) Scan(...any) error { return errors.New("replica away") }

// A read replica answers published reads when it has the release; one that
// has not replayed it yet (here: a second database with no release at all,
// as a standby is before the release's WAL arrives) or is away makes the
// primary answer, with the same bytes: lag never fails a read nor shows
// another release.
func TestReleaseReadsFallBackToThePrimaryWhenTheReplicaLags(t *testing.T) {
	pool := pgtest.New(t)
	lagging := pgtest.New(t)
	ctx := context.Background()
	cell := h3.LatLngToCell(h3.NewLatLng(51.545, -0.055), 8)
	last := tiles.MonthOf(time.Now()).Add(-1)
	plantHarm(t, pool, 1, 30, cell, last.Start().AddDate(0, 0, 3), "harm", "cse")
	if err := releaser(t, pool, nil).EnsureFirst(ctx); err != nil {
		t.Fatal(err)
	}
	primary := NewReleases(pool)
	info, ok, err := primary.Latest(ctx)
	if err != nil || !ok {
		t.Fatalf("latest: %v %v", ok, err)
	}
	key := tiles.SetKey{Layer: ctxmap.LayerHarm, First: last, Last: last}
	want, ok, err := primary.Set(ctx, info.ID, key)
	if err != nil || !ok {
		t.Fatalf("set on the primary: %v %v", ok, err)
	}
	wantTotals, err := primary.Totals(ctx, info.ID, "")
	if err != nil || len(wantTotals) == 0 {
		t.Fatalf("totals on the primary: %d %v", len(wantTotals), err)
	}
	var tries int
	for _, c := range []struct {
		name                    string
		reader                  Reader
		fromReader, fromPrimary int64
	}{
		{"up to date", pool, 2, 0},
		{"lagging", lagging, 0, 2},
		{"away", failingReader{&tries}, 0, 2},
	} {
		store := NewReleases(pool).ReadFrom(c.reader, nil)
		got, ok, err := store.Set(ctx, info.ID, key)
		if err != nil || !ok || !slices.Equal(got, want) {
			t.Errorf("%s: set %v %v, same bytes %v", c.name, ok, err, slices.Equal(got, want))
		}
		totals, err := store.Totals(ctx, info.ID, "")
		if err != nil || !slices.Equal(totals, wantTotals) {
			t.Errorf("%s: totals %d, %v; want %d", c.name, len(totals), err, len(wantTotals))
		}
		if st := store.ReadStats(); st.FromReader != c.fromReader || st.FromPrimary != c.fromPrimary {
			t.Errorf("%s: %+v, want %d from the reader and %d from the primary", c.name, st, c.fromReader, c.fromPrimary)
		}
	}
	// A reader that failed is skipped for readerRetry: the away case's
	// second read went straight to the primary.
	if tries != 1 {
		t.Errorf("the away reader was tried %d times, want once", tries)
	}
	// A set the release does not have is still absent, after asking both.
	store := NewReleases(pool).ReadFrom(lagging, nil)
	if _, ok, err := store.Set(ctx, info.ID+1, key); ok || err != nil {
		t.Errorf("set of a release that does not exist: %v %v", ok, err)
	}
}
