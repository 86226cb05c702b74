package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/tiles"
)

// fakeReleases is a tiles.ReleaseStore holding at most the releases the
// test makes, and the ReleaseTx those releases are made in: its input is a
// fixed list of records.
type fakeReleases struct {
	mu       sync.Mutex
	now      time.Time
	records  []tiles.ReleaseRecord
	releases []tiles.ReleaseInfo
	sets     map[int64][]tiles.StoredSet
	measures map[int64][]tiles.MeasureValue
}

func (f *fakeReleases) InRelease(ctx context.Context, _ bool, fn func(context.Context, tiles.ReleaseTx) error) (bool, error) {
	return true, fn(ctx, f)
}

func (f *fakeReleases) Latest(context.Context) (tiles.ReleaseInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.releases) == 0 {
		return tiles.ReleaseInfo{}, false, nil
	}
	return f.releases[len(f.releases)-1], true, nil
}

func (f *fakeReleases) List(context.Context) ([]tiles.ReleaseInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tiles.ReleaseInfo(nil), f.releases...), nil
}

func (f *fakeReleases) Set(_ context.Context, id int64, k tiles.SetKey) ([]byte, bool, error) {
	sets, _ := f.Sets(context.Background(), id)
	for _, s := range sets {
		if s.Key == k {
			return s.Data, true, nil
		}
	}
	return nil, false, nil
}

func (f *fakeReleases) Totals(_ context.Context, id int64, category string) ([]tiles.StoredTotal, error) {
	sets, _ := f.Sets(context.Background(), id)
	var out []tiles.StoredTotal
	for _, s := range sets {
		if s.Key.Category == category {
			out = append(out, tiles.StoredTotal{Key: s.Key, Total: s.Total})
		}
	}
	return out, nil
}

func (f *fakeReleases) Now(context.Context) (time.Time, error) { return f.now, nil }

func (f *fakeReleases) Input(context.Context, tiles.Window) (tiles.ReleaseInput, error) {
	return tiles.ReleaseInput{Categories: []string{"cse"}, ExtraFamilial: []bool{true}, Records: f.records}, nil
}

func (f *fakeReleases) Sets(_ context.Context, id int64) ([]tiles.StoredSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sets[id], nil
}

func (f *fakeReleases) Write(_ context.Context, info tiles.ReleaseInfo, sets []tiles.StoredSet) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info.ID = int64(len(f.releases) + 1)
	f.releases = append(f.releases, info)
	f.sets[info.ID] = sets
	return info.ID, nil
}

func (f *fakeReleases) WriteMeasures(_ context.Context, id int64, values []tiles.MeasureValue) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.measures == nil {
		f.measures = map[int64][]tiles.MeasureValue{}
	}
	f.measures[id] = values
	return nil
}

func (f *fakeReleases) Measures(_ context.Context, id int64) ([]tiles.MeasureValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.measures[id], nil
}

func (f *fakeReleases) Prune(context.Context, int) error                     { return nil }
func (f *fakeReleases) Audit(context.Context, tiles.ReleaseInfo, bool) error { return nil }

// heatPlace is where the test's records are, and heatTilePathAt the tile
// over it.
var heatPlace = orb.Point{-0.0555, 51.5455}

func heatTilePathAt(z maptile.Zoom) string {
	t := maptile.At(heatPlace, z)
	return fmt.Sprintf("/tiles/heat/%d/%d/%d.mvt", t.Z, t.X, t.Y)
}

// newHeatStore holds one release made from 300 records: 20 young people in
// each of 15 cells around heatPlace, in the last two complete months.
func newHeatStore(t testing.TB, now time.Time) *fakeReleases {
	t.Helper()
	f := &fakeReleases{now: now, sets: map[int64][]tiles.StoredSet{}}
	last := tiles.MonthOf(now).Add(-1)
	for c := range 15 {
		// The record's finest cell, as the store files a unit postcode.
		cell := geo.CellsFor(heatPlace.Lat()+float64(c%5-2)*0.004, heatPlace.Lon()+float64(c/5-1)*0.006)[2]
		for s := range 20 {
			subject := int64(c*100 + s)
			f.records = append(f.records, tiles.ReleaseRecord{Layer: ctxmap.LayerHarm, Month: last.Add(-(s % 2)),
				Observation: tiles.Observation{Subject: subject, Key: uint8(subject * 37), Cell: cell}})
		}
	}
	pol, err := tiles.NewPolicy(tiles.DefaultK)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tiles.NewReleaser(f, pol, tiles.ReleaseConfig{WindowMonths: 12})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Make(t.Context(), tiles.MakeRequest{How: tiles.HowForced, Force: true}); err != nil {
		t.Fatal(err)
	}
	return f
}

// newTileServer is a Server whose heat service reads store's releases.
func newTileServer(t testing.TB, store *fakeReleases) *unitServer {
	t.Helper()
	heat, err := tiles.NewService(store, tiles.Config{Clock: func() time.Time { return store.now }})
	if err != nil {
		t.Fatal(err)
	}
	return newUnitServer(t, Config{}, heat)
}

var tileAuth = "Authorization: Bearer " + analystToken

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// heatFeatures decodes an uncompressed tile and counts its heat features.
func heatFeatures(t *testing.T, raw []byte) int {
	t.Helper()
	layers, err := mvt.Unmarshal(raw)
	if err != nil {
		t.Fatalf("not an MVT: %v", err)
	}
	for _, l := range layers {
		if l.Name == tiles.HeatLayer {
			return len(l.Features)
		}
	}
	t.Fatalf("no %s layer in %d layers", tiles.HeatLayer, len(layers))
	return 0
}

func checkTileHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Type"); got != mvtType {
		t.Errorf("Content-Type %q", got)
	}
	if got := h.Get("Vary"); got != "Accept-Encoding, Cookie, Authorization" {
		t.Errorf("Vary %q", got)
	}
	if got := h.Get("Cache-Control"); got != "private, no-cache" {
		t.Errorf("Cache-Control %q", got)
	}
}

// A client that takes gzip gets the stored bytes as they are, under the
// tile's ETag; one that does not gets the same MVT decompressed, under an
// ETag of its own.
func TestHeatTileEncodings(t *testing.T) {
	us := newTileServer(t, newHeatStore(t, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)))
	path := heatTilePathAt(12)

	gz := us.send("GET", path, "", tileAuth, "Accept-Encoding: br, gzip")
	if gz.Code != http.StatusOK {
		t.Fatalf("gzip: %d %s", gz.Code, gz.Body)
	}
	checkTileHeaders(t, gz.Header())
	if got := gz.Header().Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", got)
	}
	etag := gz.Header().Get("ETag")
	if etag != tiles.ETag(gz.Body.Bytes()) {
		t.Fatalf("ETag %s is not the gzip body's %s", etag, tiles.ETag(gz.Body.Bytes()))
	}
	raw := gunzip(t, gz.Body.Bytes())
	if n := heatFeatures(t, raw); n == 0 {
		t.Fatal("the tile over the records has no heat features")
	}

	id := us.send("GET", path, "", tileAuth)
	if id.Code != http.StatusOK {
		t.Fatalf("identity: %d %s", id.Code, id.Body)
	}
	checkTileHeaders(t, id.Header())
	if got := id.Header().Get("Content-Encoding"); got != "" {
		t.Fatalf("Content-Encoding %q for a client that did not ask for gzip", got)
	}
	if !bytes.Equal(id.Body.Bytes(), raw) {
		t.Fatal("the identity body is not the gzip body decompressed")
	}
	if want := strings.TrimSuffix(etag, `"`) + `-identity"`; id.Header().Get("ETag") != want {
		t.Fatalf("identity ETag %s, want %s", id.Header().Get("ETag"), want)
	}
}

// If-None-Match with the representation's ETag is 304 with no body; the
// other representation's ETag does not match.
func TestHeatTileNotModified(t *testing.T) {
	us := newTileServer(t, newHeatStore(t, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)))
	path := heatTilePathAt(12)
	gzTag := us.send("GET", path, "", tileAuth, "Accept-Encoding: gzip").Header().Get("ETag")
	idTag := us.send("GET", path, "", tileAuth).Header().Get("ETag")
	for _, c := range []struct {
		name, encoding, ifNoneMatch string
		status                      int
	}{
		{"gzip, its tag", "gzip", gzTag, 304},
		{"identity, its tag", "", idTag, 304},
		{"gzip, a list holding its tag", "gzip", `"other", ` + gzTag, 304},
		{"gzip, the identity tag", "gzip", idTag, 200},
		{"identity, the gzip tag", "", gzTag, 200},
		{"gzip, a stale tag", "gzip", `"0123"`, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			hdr := []string{tileAuth, "If-None-Match: " + c.ifNoneMatch}
			if c.encoding != "" {
				hdr = append(hdr, "Accept-Encoding: "+c.encoding)
			}
			w := us.send("GET", path, "", hdr...)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d", w.Code, c.status)
			}
			if c.status == 304 && w.Body.Len() != 0 {
				t.Fatalf("304 with a %d-byte body", w.Body.Len())
			}
			if w.Header().Get("ETag") == "" || w.Header().Get("Vary") == "" {
				t.Fatalf("headers %v", w.Header())
			}
		})
	}
}

// The same tile of the same release has the same ETag and bytes on every
// request, from the cache or freshly encoded by another replica.
func TestHeatTileETagIsStable(t *testing.T) {
	store := newHeatStore(t, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC))
	us, replica := newTileServer(t, store), newTileServer(t, store)
	path := heatTilePathAt(11)
	first := us.send("GET", path, "", tileAuth, "Accept-Encoding: gzip")
	for i, w := range []*bytes.Buffer{
		us.send("GET", path, "", tileAuth, "Accept-Encoding: gzip").Body,
		replica.send("GET", path, "", tileAuth, "Accept-Encoding: gzip").Body,
	} {
		if !bytes.Equal(w.Bytes(), first.Body.Bytes()) {
			t.Fatalf("request %d: other bytes", i+2)
		}
	}
	if a, b := first.Header().Get("ETag"), replica.send("GET", path, "", tileAuth, "Accept-Encoding: gzip").Header().Get("ETag"); a == "" || a != b {
		t.Fatalf("ETags %q and %q", a, b)
	}
	other := us.send("GET", heatTilePathAt(6), "", tileAuth, "Accept-Encoding: gzip")
	if other.Code != 200 || other.Header().Get("ETag") == first.Header().Get("ETag") {
		t.Fatalf("another tile: %d, same ETag %s", other.Code, other.Header().Get("ETag"))
	}
}

// Tiles need a sign-in; a tile off the grid is refused before any release
// is read.
func TestHeatTileRefusals(t *testing.T) {
	us := newTileServer(t, newHeatStore(t, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)))
	if w := us.send("GET", heatTilePathAt(12), ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", w.Code)
	}
	if w := us.send("GET", "/tiles/heat/3/8/0.mvt", "", tileAuth); w.Code != http.StatusBadRequest {
		t.Fatalf("x beyond the zoom's grid: %d %s", w.Code, w.Body)
	}
}
