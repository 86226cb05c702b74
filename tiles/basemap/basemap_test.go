package basemap

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/tiles/basemap/basemaptest"
)

var hackney = orb.Point{-0.055, 51.545}

// TestArchiveServesTheTilesItHolds writes an archive and reads every tile
// back byte for byte, with its metadata; a tile it lacks is ErrNoTile.
func TestArchiveServesTheTilesItHolds(t *testing.T) {
	path, want := basemaptest.Write(t, t.TempDir(), "council", hackney, 8)
	a, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	info := a.Info()
	if info.Format != "mvt" || !info.Vector() || info.MinZoom != 0 || info.MaxZoom != 8 ||
		info.Attribution != basemaptest.Attribution || !slices.Equal(info.VectorLayers, []string{basemaptest.Layer}) {
		t.Errorf("Info() = %+v", info)
	}
	for mt, raw := range want {
		tl, err := a.Tile(context.Background(), int(mt.Z), int(mt.X), int(mt.Y))
		if err != nil {
			t.Fatalf("%v: %v", mt, err)
		}
		if tl.Encoding != "gzip" || tl.ContentType != "application/vnd.mapbox-vector-tile" || tl.ETag == "" {
			t.Errorf("%v: %+v", mt, tl)
		}
		zr, err := gzip.NewReader(bytes.NewReader(tl.Data))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		if !bytes.Equal(got, raw) {
			t.Errorf("%v: tile bytes differ from those written", mt)
		}
	}
	other := maptile.At(orb.Point{100, 10}, 8)
	for _, c := range [][3]int{{int(other.Z), int(other.X), int(other.Y)}, {9, 0, 0}, {2, 4, 0}, {-1, 0, 0}} {
		if _, err := a.Tile(context.Background(), c[0], c[1], c[2]); !errors.Is(err, ErrNoTile) {
			t.Errorf("Tile(%v) = %v, want ErrNoTile", c, err)
		}
	}
}

// TestOpenRefusesWhatIsNotAnArchive: a missing file, a file that is not
// PMTiles and a wrong name are clear KindInvalid errors.
func TestOpenRefusesWhatIsNotAnArchive(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pmtiles")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not a tile archive "), 20), 0o600); err != nil {
		t.Fatal(err)
	}
	good, _ := basemaptest.Write(t, dir, "good", hackney, 2)
	renamed := filepath.Join(dir, "good.mbtiles")
	data, _ := os.ReadFile(good)
	if err := os.WriteFile(renamed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, code := range map[string]string{filepath.Join(dir, "missing.pmtiles"): "basemap_unreadable", junk: "basemap_not_pmtiles", renamed: "basemap_name"} {
		var e *ctxmap.Error
		if _, err := Open(context.Background(), path, nil); !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid || e.Code != code {
			t.Errorf("Open(%s) = %v, want %s", filepath.Base(path), err, code)
		}
	}
}
