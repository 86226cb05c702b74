package web

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/paulmach/orb/maptile"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/ctxmap/ctxmap/geo"
)

// TestLabelFontsAreServedBeforeSignIn: the map's fonts come from ctxmap
// itself, as the font files, to anyone (the sign-in page needs no data).
func TestLabelFontsAreServedBeforeSignIn(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	for _, f := range labelFonts {
		w := us.send("GET", f.Path, "")
		if w.Code != 200 || w.Header().Get("Content-Type") != "font/ttf" || w.Body.Len() < 10_000 {
			t.Errorf("GET %s = %d %q, %d bytes", f.Path, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
	}
	if w := us.send("GET", "/fonts/go-regular.ttf", ""); !bytes.Equal(w.Body.Bytes(), goregular.TTF) {
		t.Error("the regular font is not the Go Regular TrueType file")
	}
}

// fakePlaces answers a fixed tile for every request.
type fakePlaces struct{ asked []maptile.Tile }

func (f *fakePlaces) PlacesTile(_ context.Context, t maptile.Tile) ([]byte, error) {
	f.asked = append(f.asked, t)
	return []byte("tile bytes"), nil
}

func (f *fakePlaces) Place(context.Context, string) (geo.PostcodePlace, error) {
	return geo.PostcodePlace{}, nil
}

// TestPlacesTileNeedsSignInAndRevalidates: the places tile needs a sign-in,
// passes the parsed tile on, and answers a matching If-None-Match with 304.
func TestPlacesTileNeedsSignInAndRevalidates(t *testing.T) {
	us := newTileServer(t, newHeatStore(t, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)))
	fp := &fakePlaces{}
	us.places = fp
	if w := us.send("GET", "/tiles/places/13/4094/2722.mvt", ""); w.Code != 401 {
		t.Fatalf("without sign-in: %d", w.Code)
	}
	w := us.send("GET", "/tiles/places/13/4094/2722.mvt", "", tileAuth, "Accept-Encoding: gzip")
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || len(fp.asked) != 1 || fp.asked[0] != maptile.New(4094, 2722, 13) {
		t.Fatalf("tile: %d %v, asked %v", w.Code, w.Header(), fp.asked)
	}
	if w2 := us.send("GET", "/tiles/places/13/4094/2722.mvt", "", tileAuth, "Accept-Encoding: gzip", "If-None-Match: "+w.Header().Get("ETag")); w2.Code != 304 {
		t.Errorf("revalidation: %d", w2.Code)
	}
	if w := us.send("GET", "/tiles/places/13/99999/2722.mvt", "", tileAuth); w.Code != 400 {
		t.Errorf("a tile off the map: %d", w.Code)
	}
}
