package web

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The heat tile route served by dispatch, ahead of the router, answers
// exactly as the router's own route does: the same statuses, headers,
// bodies, access-log lines and metrics, for tiles and for every way of
// getting one wrong.
func TestHeatTileDispatchAnswersAsTheRouter(t *testing.T) {
	store := newHeatStore(t, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC))
	fast, routed := newTileServer(t, store), newTileServer(t, store)
	routed.tileHandler = nil // every request through gorilla/mux
	tile := heatTilePathAt(12)
	gzTag := fast.send("GET", tile, "", tileAuth, "Accept-Encoding: gzip").Header().Get("ETag")
	routed.send("GET", tile, "", tileAuth, "Accept-Encoding: gzip")
	gz := "Accept-Encoding: gzip"
	for _, c := range []struct {
		method, path string
		header       []string
	}{
		{"GET", tile, []string{tileAuth, gz}},
		{"GET", tile + "?layer=harm&period=last-12m", []string{tileAuth, gz}},
		{"GET", tile, []string{tileAuth}},
		{"HEAD", tile, []string{tileAuth, gz}},
		{"HEAD", tile, []string{tileAuth}},
		{"GET", tile, []string{tileAuth, gz, "If-None-Match: " + gzTag}},
		{"HEAD", tile, []string{tileAuth, gz, "If-None-Match: " + gzTag}},
		{"GET", tile, []string{tileAuth, gz, "Range: bytes=0-9"}},
		{"GET", tile, []string{tileAuth, "X-Request-Id: client-7"}},
		{"GET", tile, nil},
		{"GET", tile, []string{"Authorization: Bearer wrong", gz}},
		{"GET", tile, []string{"Authorization: Basic eDp5", gz}},
		{"GET", "/tiles/heat/3/8/0.mvt", []string{tileAuth}},
		{"GET", "/tiles/heat/99/0/0.mvt", []string{tileAuth}},
		{"GET", "/tiles/heat/012/1/1.mvt", []string{tileAuth}},
		{"GET", "/tiles/heat/1/123456789/1.mvt", []string{tileAuth}},
		{"GET", "/tiles/heat/%31/0/0.mvt", []string{tileAuth, gz}},
		{"GET", tile + "?from=2025-01", []string{tileAuth}},
		{"GET", tile + "?layer=harm&layer=unsafe", []string{tileAuth}},
		{"GET", tile + "?category=nope", []string{tileAuth}},
		{"GET", tile + "?period=2099", []string{tileAuth}},
		{"GET", tile + "?layer=%zz", []string{tileAuth}},
		{"GET", tile + "?x=a%00b", []string{tileAuth}},
		{"GET", tile + "?layer=harm&&period=last-12m&", []string{tileAuth, gz}},
		{"GET", tile + "?=x&layer&cb=1+2", []string{tileAuth, gz}},
		{"GET", tile + "?period=last-12m&period=last-12m", []string{tileAuth}},
		{"GET", tile + "?layer=harm;period=last-12m", []string{tileAuth}},
		{"GET", tile + "?layer=%68arm", []string{tileAuth, gz}},
		{"GET", tile + "?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&from=1", []string{tileAuth}},
		{"GET", tile + "?layer=\xff", []string{tileAuth}},
		{"POST", tile, []string{tileAuth}},
		{"DELETE", tile, []string{tileAuth}},
		{"GET", "/tiles/heat/a/0/0.mvt", []string{tileAuth}},
		{"GET", "/tiles/heat/1/0/0.mvt/", []string{tileAuth}},
		{"GET", "/tiles/heat/1/0/0.pbf", []string{tileAuth}},
		{"GET", "/tiles/heat/1/0.mvt", []string{tileAuth}},
		{"GET", "/tiles/heat//0/0.mvt", []string{tileAuth}},
		{"GET", "/tiles/heat/1/0/0.mvt.mvt", []string{tileAuth}},
		{"GET", "/tiles/heat/+1/0/0.mvt", []string{tileAuth}},
	} {
		name := c.method + " " + c.path + " " + strings.Join(c.header, "; ")
		f, r := fast.send(c.method, c.path, "", c.header...), routed.send(c.method, c.path, "", c.header...)
		if f.Code != r.Code {
			t.Errorf("%s: status %d, the router's %d", name, f.Code, r.Code)
		}
		fh, rh := f.Header().Clone(), r.Header().Clone()
		fh.Del("X-Request-Id")
		rh.Del("X-Request-Id")
		if a, b := fmt.Sprint(fh), fmt.Sprint(rh); a != b {
			t.Errorf("%s: headers\n%s\nthe router's\n%s", name, a, b)
		}
		if a, b := withoutRequestIDs(f.Body.String()), withoutRequestIDs(r.Body.String()); a != b {
			t.Errorf("%s: body %q, the router's %q", name, a, b)
		}
	}
	if a, b := accessLog(fast.logs.String()), accessLog(routed.logs.String()); a != b {
		t.Errorf("access log\n%s\nthe router's\n%s", a, b)
	}
	for _, m := range []string{"ctxmap_http_requests_total", "ctxmap_http_request_duration_seconds"} {
		a, b := metricCounts(t, fast, m), metricCounts(t, routed, m)
		if a != b {
			t.Errorf("%s\n%s\nthe router's\n%s", m, a, b)
		}
	}
	if !strings.Contains(metricCounts(t, fast, "ctxmap_http_requests_total"), `route="`+heatTileRoute+`",status="304"`) {
		t.Errorf("no 304 counted for the heat tile route:\n%s", metricCounts(t, fast, "ctxmap_http_requests_total"))
	}
}

var (
	requestIDField = regexp.MustCompile(`"request_id":"[0-9a-f]+"`)
	msField        = regexp.MustCompile(`"(time|ms)":[^,]+,`)
)

func withoutRequestIDs(s string) string { return requestIDField.ReplaceAllString(s, `"request_id":""`) }

// accessLog is a server's log without what differs between servers and runs.
func accessLog(s string) string { return msField.ReplaceAllString(withoutRequestIDs(s), "") }

// metricCounts are a metric's series and their counts (a histogram's
// sample counts, not its timings), one a line, sorted.
func metricCounts(t *testing.T, us *unitServer, name string) string {
	t.Helper()
	mfs, err := us.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			n := m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				n = float64(h.GetSampleCount())
			}
			lines = append(lines, fmt.Sprintf("{%s} %g", strings.Join(labels, ","), n))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// heatTileCoords accepts exactly the paths the tile route's mux pattern
// matches, and returns its variables.
func FuzzHeatTileCoords(f *testing.F) {
	pattern := regexp.MustCompile(`^/tiles/heat/([0-9]+)/([0-9]+)/([0-9]+)\.mvt$`)
	for _, s := range []string{"/tiles/heat/12/2047/1361.mvt", "/tiles/heat/1/2/3.mvt.mvt", "/tiles/heat//1/2.mvt",
		"/tiles/heat/1/2/3.mvt/", "/tiles/heat/١/2/3.mvt", "/tiles/heat/1/2/.mvt", "/tiles/contexts/1/2/3.mvt", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got, ok := heatTileCoords(path)
		m := pattern.FindStringSubmatch(path)
		if ok != (m != nil) {
			t.Fatalf("%q: matched %v, the pattern %v", path, ok, m != nil)
		}
		if ok && (got[0] != m[1] || got[1] != m[2] || got[2] != m[3]) {
			t.Fatalf("%q: %v, the pattern's %v", path, got, m[1:])
		}
	})
}

// noFilterTricks names the first refused parameter in its table's order,
// then the first repeated one, whatever the query's order; parameters a
// route allows, and unknown ones, pass.
func TestNoFilterTricksNamesTheFirstOffender(t *testing.T) {
	for _, c := range []struct {
		query   string
		allowed []string
		want    string // the quoted name in the message; "" for no error
	}{
		{"layer=harm&period=last-12m&cb=1", nil, ""},
		{"group=a&from=2025-01&subject=1", nil, `"from" is not a supported filter`},
		{"subject=1&group=a", nil, `"subject" is not a supported filter`},
		{"from=2025-01&to=2025-02&group=a", []string{"from", "to"}, `"group" is not a supported filter`},
		{"from=2025-01&to=2025-02", []string{"from", "to"}, ""},
		{"period=a&period=b&layer=a&layer=b", nil, `give "layer" at most once`},
		{"to=a&to=b&h3=a&h3=b", []string{"from", "to"}, `give "h3" at most once`},
		{"layer=a&layer=b&k=3", nil, `"k" is not a supported filter`},
		{"cb=1&cb=2", nil, ""},
	} {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 { // map order varies from call to call
			err := noFilterTricks(q, c.allowed...)
			if got := fmt.Sprint(err); (c.want == "") != (err == nil) || !strings.Contains(got, c.want) {
				t.Fatalf("%s (allowed %v): %v, want %s", c.query, c.allowed, err, c.want)
			}
		}
	}
}

// A query plainQuery accepts is one url.ParseQuery parses without error to
// the same names, first values and counts, and one checkRequest would pass.
func FuzzPlainQuery(f *testing.F) {
	for _, s := range []string{"layer=harm&period=last-12m", "a=1&&b=2&", "=x&y", "a=1;b=2", "a=%41", "a+b=c", "a=\x00", "a=\xff",
		"a=1&a=2&b", "layer=a=b", strings.Repeat("a=1&", 9)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, ok := plainQuery(raw, false)
		if !ok {
			return
		}
		// What checkRequest found plain splits the same without the check.
		if pk, okk := plainQuery(raw, true); !okk || pk != p {
			t.Fatalf("%q: known plain, split %v %v; checked, %v", raw, pk, okk, p)
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("%q: plain, but ParseQuery says %v", raw, err)
		}
		if !utf8.ValidString(raw) || strings.ContainsRune(raw, 0) {
			t.Fatalf("%q: plain, but checkRequest would refuse it", raw)
		}
		for name, vs := range q {
			if p.get(name) != vs[0] || p.count(name) != len(vs) {
				t.Fatalf("%q: %s is %q (%d times), ParseQuery's %q", raw, name, p.get(name), p.count(name), vs)
			}
		}
		for _, kv := range p.kv[:p.n] {
			if _, ok := q[kv[0]]; !ok {
				t.Fatalf("%q: %s is not in ParseQuery's %v", raw, kv[0], q)
			}
		}
	})
}
