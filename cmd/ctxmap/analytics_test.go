package main

// Before/after and rates (issue 12) against the whole server and PostGIS:
// every value is the current release's published values, nothing moves
// after a write until the next release, and a partnership total below k is
// never published.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/tiles"
)

type beforeAfterAnswer struct {
	Release      int64  `json:"release"`
	ReleaseLabel string `json:"release_label"`
	Caveat       string `json:"caveat"`
	Month        string `json:"month"`
	MonthFrom    string `json:"month_from"`
	Window       int    `json:"window"`
	Area         struct {
		Context *int64   `json:"context"`
		Res     int      `json:"res"`
		Cells   []string `json:"cells"`
	} `json:"area"`
	Points []tiles.BeforeAfterPoint `json:"points"`
}

type ratesAnswer struct {
	Release  int64             `json:"release"`
	Caveat   string            `json:"caveat"`
	Step     string            `json:"step"`
	Category string            `json:"category"`
	Points   []tiles.RatePoint `json:"points"`
}

// getJSON reads a route as an analyst, returning the raw body too, so
// snapshots compare bytes.
func getJSON[T any](t *testing.T, ts *testServer, path string) (T, string) {
	t.Helper()
	var out T
	r := ts.get(t, contexts.RoleAnalyst, path)
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return out, string(r.body)
}

// expectedTotal is the policy's partnership total for the records as they
// stand, read from the database directly: what a release made now stores.
func (ts *testServer) expectedTotal(t *testing.T, layer ctxmap.Layer, cat, month string) tiles.Total {
	t.Helper()
	store, err := postgres.NewStore(ts.Pool, []byte(testSecret), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := tiles.ParseMonth(month)
	obs, err := store.Observations(t.Context(), tiles.Query{Layer: layer, Category: cat, From: m.Start(), To: m.Add(1).Start()})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tiles.NewPolicy(k)
	return p.PublishTotal(obs, p.Publish(obs))
}

// storedTotal is the total release id stored for a month's set.
func (ts *testServer) storedTotal(t *testing.T, release int64, layer ctxmap.Layer, cat, month string) *int {
	t.Helper()
	m, _ := tiles.ParseMonth(month)
	var v *int
	if err := ts.Pool.QueryRow(t.Context(), `SELECT total FROM release_sets WHERE release_id = $1 AND layer = $2
		AND category = $3 AND first_month = $4 AND last_month = $4`, release, string(layer), cat, m.Start()).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func rateAt(t *testing.T, r ratesAnswer, period string) tiles.RatePoint {
	t.Helper()
	for _, p := range r.Points {
		if p.Period == period {
			return p
		}
	}
	t.Fatalf("no rate for %s", period)
	return tiles.RatePoint{}
}

// checkAgainstCells requires every released month of a before/after to be
// the sum of the area's cells in /heat/cells for that month, or null when
// none is there.
func (ts *testServer) checkAgainstCells(t *testing.T, ba beforeAfterAnswer) {
	t.Helper()
	for _, pt := range ba.Points {
		if !pt.Released {
			if pt.Value != nil {
				t.Fatalf("%s is outside the release but has value %d", pt.Month, *pt.Value)
			}
			continue
		}
		cells := ts.cells(t, ba.Area.Res, "layer=harm&period="+pt.Month)
		sum, n := 0, 0
		for _, c := range ba.Area.Cells {
			if v, ok := cells[h3.Cell(h3.IndexFromString(c))]; ok {
				sum += v
				n++
			}
		}
		if n == 0 && pt.Value != nil || n > 0 && (pt.Value == nil || *pt.Value != sum) || pt.PublishedCells != n {
			t.Fatalf("%s: before/after %+v, the published cells sum to %d over %d", pt.Month, pt, sum, n)
		}
	}
}

func TestBeforeAfterAndRatesFollowTheRelease(t *testing.T) {
	ts := startServer(t)
	cat := ts.categories(t)[0]
	month := recentMonth()
	// A context at the probe site with one intervention: its before/after
	// defaults to the month the intervention was recorded (this month).
	status, c := ts.do(t, contexts.RoleContextLead, "POST", "/api/v1/contexts",
		fmt.Sprintf(`{"kind":"location","location_type":"park","lat":%f,"lon":%f}`, probeSite[0], probeSite[1]))
	if status != 201 {
		t.Fatalf("create context: %d %v", status, c)
	}
	ctxID := int64(c["id"].(float64))
	if status, out := ts.do(t, contexts.RoleContextLead, "POST", fmt.Sprintf("/api/v1/contexts/%d/interventions", ctxID),
		`{"action":"Lighting","partner_agency":"parks","side":"environment"}`); status != 201 {
		t.Fatalf("add intervention: %d %v", status, out)
	}
	baPath := fmt.Sprintf("/api/v1/before-after?context=%d&window=3", ctxID)
	ratesPath := "/api/v1/rates?category=" + cat
	snapshot := func() string {
		_, ba := getJSON[beforeAfterAnswer](t, ts, baPath)
		_, rt := getJSON[ratesAnswer](t, ts, ratesPath)
		_, q := getJSON[ratesAnswer](t, ts, "/api/v1/rates?step=quarter&category=all")
		return ba + rt + q
	}

	first := ts.release(t)
	ba, _ := getJSON[beforeAfterAnswer](t, ts, baPath)
	if ba.Release != first || ba.MonthFrom != "first_intervention" || ba.Month != tiles.MonthOf(time.Now()).String() ||
		len(ba.Points) != 7 || ba.Area.Res != 8 || len(ba.Area.Cells) != 7 || ba.Area.Context == nil || *ba.Area.Context != ctxID ||
		!slices.Contains(ba.Area.Cells, cellAt(probeSite[0], probeSite[1], 8).String()) || ba.Caveat == "" || ba.ReleaseLabel == "" {
		t.Fatalf("before/after of the context: %+v", ba)
	}
	ts.checkAgainstCells(t, ba)
	rt, _ := getJSON[ratesAnswer](t, ts, ratesPath)
	if p := rateAt(t, rt, month); p.Harm != nil || p.Unsafe != nil || rt.Release != first {
		t.Fatalf("rates with no records: %+v", p)
	}
	before := snapshot()

	t.Run("threshold probe: young people added one at a time change no rate and no before/after before a release", func(t *testing.T) {
		for i := range k + 2 {
			ts.recordAs(t, ts.tokens[contexts.RolePractitioner], fmt.Sprintf("RATE-%d", i), cat)
			if got := snapshot(); got != before {
				t.Fatalf("after young person %d the answers changed before a release", i+1)
			}
		}
	})

	var ids []int64
	t.Run("after a release: the release's published values, as the policy gives them", func(t *testing.T) {
		second := ts.release(t)
		want := ts.expectedTotal(t, ctxmap.LayerHarm, cat, month)
		if !want.Published {
			t.Fatalf("%d young people give no total: %+v", k+2, want)
		}
		rt, _ := getJSON[ratesAnswer](t, ts, ratesPath)
		p := rateAt(t, rt, month)
		stored := ts.storedTotal(t, second, ctxmap.LayerHarm, cat, month)
		if rt.Release != second || p.Harm == nil || *p.Harm != want.Value || stored == nil || *stored != want.Value || p.Unsafe != nil {
			t.Fatalf("rate for %s: %+v, stored %v, the policy gives %+v", month, p, stored, want)
		}
		ba, _ := getJSON[beforeAfterAnswer](t, ts, baPath)
		ts.checkAgainstCells(t, ba)
		if pt := ba.Points[1]; pt.Month != month || pt.Value == nil {
			t.Fatalf("the month of the records: %+v", pt)
		}
		// The same area as cells gives the same months.
		cells, _ := getJSON[beforeAfterAnswer](t, ts, fmt.Sprintf("/api/v1/before-after?cells=%s&month=%s&window=3",
			strings.Join(ba.Area.Cells, ","), ba.Month))
		a, _ := json.Marshal(cells.Points)
		b, _ := json.Marshal(ba.Points)
		if string(a) != string(b) || cells.MonthFrom != "request" {
			t.Fatalf("as cells: %s, as the context: %s", a, b)
		}
	})

	t.Run("one write changes nothing until the next release", func(t *testing.T) {
		now := snapshot()
		ids = append(ids, ts.recordAs(t, ts.tokens[contexts.RolePractitioner], "RATE-ONE-MORE", cat))
		if snapshot() != now {
			t.Fatal("one write changed a rate or a before/after")
		}
	})

	t.Run("after archives and a release a total below k is absent", func(t *testing.T) {
		var all []int64
		if err := ts.Pool.QueryRow(t.Context(), `SELECT array_agg(id ORDER BY id) FROM harm_locations WHERE archived_at IS NULL`).Scan(&all); err != nil {
			t.Fatal(err)
		}
		now := snapshot()
		for _, id := range all[:len(all)-(k-1)] {
			if status, out := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/harm-locations/%d/archive", id),
				`{"reason":"never_an_issue","note":"entered by mistake"}`); status != 200 {
				t.Fatalf("archive: %d %v", status, out)
			}
		}
		if snapshot() != now {
			t.Fatal("archives changed a rate before a release")
		}
		third := ts.release(t)
		rt, _ := getJSON[ratesAnswer](t, ts, ratesPath)
		if p := rateAt(t, rt, month); p.Harm != nil {
			t.Fatalf("%d young people: rate %d published", k-1, *p.Harm)
		}
		if v := ts.storedTotal(t, third, ctxmap.LayerHarm, cat, month); v != nil {
			t.Fatalf("release %d stores a total of %d for %d young people", third, *v, k-1)
		}
		ba, _ := getJSON[beforeAfterAnswer](t, ts, baPath)
		ts.checkAgainstCells(t, ba)
		if ba.Points[1].Value != nil {
			t.Fatalf("%d young people show in the before/after: %+v", k-1, ba.Points[1])
		}
	})

	for _, action := range []string{"heat.before_after", "heat.rates"} {
		var n int
		if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id
			WHERE a.action = $1 AND u.name = 'test-analyst' AND a.record LIKE 'release:%'`, action).Scan(&n); err != nil || n == 0 {
			t.Errorf("%s audit entries: %d %v", action, n, err)
		}
	}
}

func TestBeforeAfterAndRatesRefuseBadRequests(t *testing.T) {
	ts := startServer(t)
	status, c := ts.do(t, contexts.RoleContextLead, "POST", "/api/v1/contexts",
		fmt.Sprintf(`{"kind":"location","location_type":"park","lat":%f,"lon":%f}`, probeSite[0], probeSite[1]))
	if status != 201 {
		t.Fatalf("create context: %d %v", status, c)
	}
	id := int64(c["id"].(float64))
	cell := cellAt(probeSite[0], probeSite[1], 8).String()
	for path, code := range map[string]string{
		fmt.Sprintf("/api/v1/before-after?context=%d", id):                "month_required", // no intervention yet
		"/api/v1/before-after?context=999999&month=2026-01":               "not_found",
		"/api/v1/before-after?cells=" + cell + "&month=2026-01&window=4":  "window_unsupported",
		fmt.Sprintf("/api/v1/before-after?context=%d&cells=%s", id, cell): "invalid_parameter",
		"/api/v1/before-after?cells=" + cell + "&period=last-12m":         "invalid_parameter",
		"/api/v1/rates?step=week":                                         "step_unsupported",
		"/api/v1/rates?period=2026-01":                                    "invalid_parameter",
		"/api/v1/rates?category=no_such_category":                         "category_unsupported",
	} {
		r := ts.get(t, contexts.RoleAnalyst, path)
		var out map[string]any
		_ = json.Unmarshal(r.body, &out)
		if r.status < 400 || r.status >= 500 || errCode(out) != code {
			t.Errorf("GET %s: %d %s, want %s", path, r.status, r.body, code)
		}
	}
	if status, _ := ts.do(t, roleBadToken, "GET", "/api/v1/rates", ""); status != 401 {
		t.Errorf("rates without a sign-in: %d", status)
	}
}
