package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/tiles"
)

func TestGenerateIsDeterministicAndImportable(t *testing.T) {
	c := genConfig{n: 3000, subjects: 400, seed: 7, now: time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC),
		unsafeShare: 0.15, olderShare: 0.15, monthOnly: 0.10, uniformShare: 0.10}
	var a, b bytes.Buffer
	if err := generate(c, &a); err != nil {
		t.Fatal(err)
	}
	if err := generate(c, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same config gave different CSVs")
	}
	recs, err := csv.NewReader(&a).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "subject,categories,familial,layer,occurred,source,location_type,lat,lon" {
		t.Fatalf("header %q", got)
	}
	if len(recs)-1 != c.n {
		t.Fatalf("%d rows, want %d", len(recs)-1, c.n)
	}
	subjects := map[string]bool{}
	for _, r := range recs[1:] {
		subjects[r[0]] = true
		occurred := r[4]
		if len(occurred) == len("2006-01") {
			occurred += "-01"
		}
		d, err := time.Parse("2006-01-02", occurred)
		if err != nil || !d.Before(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) || d.Before(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("occurred %q outside the 24 complete months before May 2026", r[4])
		}
		lat, _ := strconv.ParseFloat(r[7], 64)
		lon, _ := strconv.ParseFloat(r[8], 64)
		if lat < londonBBox[1] || lat > londonBBox[3] || lon < londonBBox[0] || lon > londonBBox[2] {
			t.Fatalf("%v,%v outside the data area", lat, lon)
		}
		if r[3] != "harm" && r[3] != "unsafe" {
			t.Fatalf("layer %q", r[3])
		}
	}
	if len(subjects) > c.subjects || len(subjects) < c.subjects*9/10 {
		t.Fatalf("%d distinct subjects, want about %d", len(subjects), c.subjects)
	}
}

func TestHeatFuncFollowsResForZoom(t *testing.T) {
	sql := heatFuncSQL()
	for _, want := range []string{"IF z <= 9 THEN", "ELSIF z <= 11 THEN", "ELSE", "l.h3_r6 = h.h3", "l.h3_r7 = h.h3", "l.h3_r8 = h.h3", "margin => 64.0 / 4096"} {
		if !strings.Contains(sql, want) {
			t.Errorf("function lacks %q", want)
		}
	}
}

func TestParseCopy(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("PGCOPY\n\xff\r\n\x00")
	b.Write(make([]byte, 8)) // flags, header extension length
	be := binary.BigEndian
	row := func(subject int64, key int16, cell int64) {
		b.Write(be.AppendUint16(nil, 3))
		b.Write(be.AppendUint32(nil, 8))
		b.Write(be.AppendUint64(nil, uint64(subject)))
		b.Write(be.AppendUint32(nil, 2))
		b.Write(be.AppendUint16(nil, uint16(key)))
		b.Write(be.AppendUint32(nil, 8))
		b.Write(be.AppendUint64(nil, uint64(cell)))
	}
	row(42, 200, 0x88195da49bfffff)
	row(7, 3, 0x8819400001fffff)
	b.Write(be.AppendUint16(nil, 0xffff))
	got, err := parseCopy(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []tiles.Observation{{Subject: 42, Key: 200, Cell: h3.Cell(0x88195da49bfffff)}, {Subject: 7, Key: 3, Cell: h3.Cell(0x8819400001fffff)}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := parseCopy(b.Bytes()[:b.Len()-2]); err == nil {
		t.Fatal("a stream without its trailer was accepted")
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	if pct(d, 50) != 50*time.Millisecond || pct(d, 99) != 99*time.Millisecond || pct(d[:1], 99) != time.Millisecond {
		t.Fatalf("p50 %v p99 %v", pct(d, 50), pct(d, 99))
	}
}

func TestLuaCyclesEveryPath(t *testing.T) {
	var b bytes.Buffer
	if err := writeLua(&b, []string{"/tiles/heat/12/1/2.mvt?x=1", "/tiles/heat/12/3/4.mvt"}, ""); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{`"/tiles/heat/12/1/2.mvt?x=1",`, `"/tiles/heat/12/3/4.mvt",`, "function request()", "function setup(thread)"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

// A tile server answering like ctxmap: gzip or identity by Accept-Encoding.
func fakeTileServer(t *testing.T) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.mapbox-vector-tile")
		w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("ETag", `"a"`)
			_, _ = io.WriteString(w, "zipped")
			return
		}
		w.Header().Set("ETag", `"a-identity"`)
		_, _ = io.WriteString(w, "plain tile")
	}))
}

func TestFixedServesTheCopiedEncodings(t *testing.T) {
	ts := fakeTileServer(t)
	defer ts.Close()
	ctx := context.Background()
	gz, err := copyResponse(ctx, ts.URL, http.Header{}, "gzip")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := copyResponse(ctx, ts.URL, http.Header{}, "")
	if err != nil {
		t.Fatal(err)
	}
	h := fixedHandler(gz, raw)
	for _, c := range []struct{ accept, body, enc, etag string }{
		{"gzip, deflate", "zipped", "gzip", `"a"`},
		{"", "plain tile", "", `"a-identity"`},
	} {
		req := httptest.NewRequest("GET", "/any/path", nil)
		if c.accept != "" {
			req.Header.Set("Accept-Encoding", c.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Body.String() != c.body || rec.Header().Get("Content-Encoding") != c.enc || rec.Header().Get("ETag") != c.etag {
			t.Errorf("Accept-Encoding %q: body %q, encoding %q, etag %q", c.accept, rec.Body.String(),
				rec.Header().Get("Content-Encoding"), rec.Header().Get("ETag"))
		}
		if rec.Header().Get("Date") != "" {
			t.Errorf("Accept-Encoding %q: the copied Date was kept", c.accept)
		}
	}
}

func TestWaitReleaseWaitsForAnotherID(t *testing.T) {
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/config" || r.Header.Get("Authorization") != "Bearer x" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		id := 4
		if calls.Add(1) > 3 {
			id = 5
		}
		fmt.Fprintf(w, `{"k": 10, "release": {"id": %d, "data_time": "2026-12-05T00:00:00Z"}}`, id)
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer x"}}
	if id, err := releaseID(ctx, ts.Client(), ts.URL, h); err != nil || id != 4 {
		t.Fatalf("releaseID = %d, %v; want 4", id, err)
	}
	id, err := waitRelease(ctx, ts.Client(), ts.URL, h, 4)
	if err != nil || id != 5 {
		t.Fatalf("waitRelease = %d, %v; want 5", id, err)
	}
}
