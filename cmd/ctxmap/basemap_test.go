package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles/basemap/basemaptest"
	"github.com/ctxmap/ctxmap/web/webtest"
)

// TestServeLocalBasemap: `serve --basemap FILE.pmtiles` with an archive the
// test writes describes the basemap in /api/v1/config with a tile URL on
// ctxmap's own origin, and serves every tile of the archive byte for byte
// (gzip as stored), 204 where the archive has none, 400 for another format.
func TestServeLocalBasemap(t *testing.T) {
	path, want := basemaptest.Write(t, t.TempDir(), "zoomstack-test", orb.Point{-0.055, 51.545}, 10)
	ts := startServer(t, "--basemap", path)
	tok := ts.tokens[contexts.RolePractitioner]
	code, cfg := webtest.Call(t, ts.URL, tok, "GET", "/api/v1/config", "")
	if code != 200 {
		t.Fatalf("config: %d", code)
	}
	b, _ := cfg["basemap"].(map[string]any)
	tilesURL, _ := b["tiles"].([]any)
	if b == nil || b["type"] != "vector" || len(tilesURL) != 1 || tilesURL[0] != "/tiles/basemap/{z}/{x}/{y}.mvt" ||
		b["attribution"] != basemaptest.Attribution || b["maxzoom"] != 10.0 {
		t.Fatalf("config basemap = %v", cfg["basemap"])
	}
	for mt, raw := range want {
		req, _ := http.NewRequest("GET", ts.URL+fmt.Sprintf("/tiles/basemap/%d/%d/%d.mvt", mt.Z, mt.X, mt.Y), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
			t.Fatalf("%v: %d %v", mt, resp.StatusCode, resp.Header)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		if !bytes.Equal(got, raw) {
			t.Errorf("%v: served tile differs from the archive's", mt)
		}
	}
	for path, want := range map[string]int{"/tiles/basemap/10/0/0.mvt": 204, "/tiles/basemap/12/2045/1361.mvt": 204, "/tiles/basemap/3/3/2.png": 400} {
		resp, _ := ts.raw(t, contexts.RolePractitioner, "GET", path, "", "")
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	// Without a basemap the route is not there and the config says none.
	plain := startServer(t)
	if code, cfg := webtest.Call(t, plain.URL, plain.tokens[contexts.RolePractitioner], "GET", "/api/v1/config", ""); code != 200 || cfg["basemap"] != nil {
		t.Errorf("config without a basemap: %d %v", code, cfg["basemap"])
	}
	if resp, _ := plain.raw(t, contexts.RolePractitioner, "GET", "/tiles/basemap/3/3/2.mvt", "", ""); resp.StatusCode != 404 {
		t.Errorf("basemap tile without a basemap: %d, want 404", resp.StatusCode)
	}
}
