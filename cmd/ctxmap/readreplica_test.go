package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"regexp"
	"strconv"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
)

// TestDatabaseReadURLServesPublishedReads: with --database-read-url, the
// published values of a release are read through the second pool (here a
// second pool on the same database; make test-scale runs it on a real
// streaming replica) and counted on /metrics; without it the counter is
// absent and everything reads the primary, as before.
func TestDatabaseReadURLServesPublishedReads(t *testing.T) {
	plain := startServer(t)
	if r := plain.get(t, contexts.RoleAdmin, "/metrics"); r.status != 200 || regexp.MustCompile(`ctxmap_published_reads_total`).Match(maybeGunzip(t, r)) {
		t.Fatalf("without a read URL: metrics %d, and the read replica's counter is there", r.status)
	}

	ts := startServer(t)
	read := serveOn(t, t.Context(), ts.DBURL, "warn", "--database-read-url", ts.DBURL)
	rs := &testServer{URL: read, Pool: ts.Pool, DBURL: ts.DBURL, tokens: ts.tokens}
	cat := rs.categories(t)[0]
	for i := range 2 * k {
		rs.recordAs(t, rs.tokens[contexts.RolePractitioner], "READ-"+strconv.Itoa(i), cat)
	}
	id := rs.release(t)
	probe := cellAt(probeSite[0], probeSite[1], 8)
	if v := rs.cells(t, 8, "period=last-12m")[probe]; v < k {
		t.Fatalf("release %d through the read pool: probe cell %d", id, v)
	}
	if a, b := rs.cells(t, 7, "period=last-12m"), ts.cells(t, 7, "period=last-12m"); len(a) == 0 || len(a) != len(b) {
		t.Fatalf("the read pool's server and the plain one differ: %d and %d cells", len(a), len(b))
	}
	m := regexp.MustCompile(`ctxmap_published_reads_total\{answered_by="replica"\} (\d+)`).FindSubmatch(maybeGunzip(t, rs.get(t, contexts.RoleAdmin, "/metrics")))
	if m == nil || string(m[1]) == "0" {
		t.Fatalf("no published read answered through --database-read-url: %q", m)
	}
	if status, out := rs.do(t, contexts.RoleAnalyst, "GET", "/api/v1/postcodes?lat=51.545&lon=-0.055", ""); status != 200 {
		t.Fatalf("nearest postcodes through the read pool: %d %v", status, out)
	}
}

// maybeGunzip is a raw response's body, unzipped when it came gzipped.
func maybeGunzip(t *testing.T, r rawResp) []byte {
	t.Helper()
	if r.header.Get("Content-Encoding") == "gzip" {
		return gunzipBytes(t, r.body)
	}
	return r.body
}

func gunzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
