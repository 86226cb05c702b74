package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardWriter is the cheapest http.ResponseWriter, so the benchmark
// counts the server's allocations, not a recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkCachedHeatTile is a cached heat tile through the whole handler
// chain (request id, checks, routing, token, metrics, log level), what the
// benchmark against a fixed-body control measures over HTTP.
func BenchmarkCachedHeatTile(b *testing.B) {
	for _, enc := range []string{"gzip", "identity", "noquery"} {
		b.Run(enc, func(b *testing.B) {
			us := newTileServer(b, newHeatStore(b, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)))
			path := heatTilePathAt(12) + "?layer=harm&period=last-12m"
			if enc == "noquery" {
				path = heatTilePathAt(12)
			}
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+analystToken)
			if enc == "gzip" {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			if w := us.send("GET", req.URL.String(), "", tileAuth); w.Code != http.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				us.ServeHTTP(w, req)
			}
		})
	}
}
