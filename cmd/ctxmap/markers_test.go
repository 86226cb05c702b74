package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/tiles"
)

// recordRatesAnswer is GET /api/v1/record-rates as the tests read it.
type recordRatesAnswer struct {
	Release  int64 `json:"release"`
	K        int   `json:"k"`
	Measures []struct {
		Name   string `json:"name"`
		Parent string `json:"parent"`
	} `json:"measures"`
	Points []struct {
		Period   string `json:"period"`
		Measures []struct {
			Measure string `json:"measure"`
			Value   *int   `json:"value"`
			Share   *int   `json:"share"`
		} `json:"measures"`
	} `json:"points"`
}

// value is a measure's published value in a period; ok false if the
// answer has no such period or measure.
func (a recordRatesAnswer) value(period, measure string) (v *int, ok bool) {
	for _, p := range a.Points {
		if p.Period != period {
			continue
		}
		for _, m := range p.Measures {
			if m.Measure == measure {
				return m.Value, true
			}
		}
	}
	return nil, false
}

// mustDo calls the API and fails unless it answers want.
func (ts *testServer) mustDo(t *testing.T, role contexts.Role, want int, method, path, body string) map[string]any {
	t.Helper()
	status, out := ts.do(t, role, method, path, body)
	if status != want {
		t.Fatalf("%s %s: %d %v (want %d)", method, path, status, out, want)
	}
	return out
}

func idOf(m map[string]any) int64 { v, _ := m["id"].(float64); return int64(v) }

// TestContextualRecordOnTheYoungPersonsRecord: a practitioner adds
// markers (and corrects one, history kept), a relocation and factors with
// plan actions; the record read needs a purpose and is audited; other teams
// see nothing of it and can change none of it; other roles get 403.
func TestContextualRecordOnTheYoungPersonsRecord(t *testing.T) {
	ts := startServer(t)
	const yp = "YP-CTX-1"
	day := recentMonth() + "-05"
	m := ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/markers",
		fmt.Sprintf(`{"subject":%q,"kind":"referral","familial":"extra","date":%q}`, yp, day))
	if m["kind"] != "referral" || m["familial"] != "extra" || m["date"] != day || m["corrected"] != nil {
		t.Fatalf("marker: %v", m)
	}
	ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/markers",
		fmt.Sprintf(`{"subject":%q,"kind":"outcome","familial":"none","date":%q}`, yp, day))
	fixed := ts.mustDo(t, contexts.RolePractitioner, 201, "POST", fmt.Sprintf("/api/v1/markers/%d/correct", idOf(m)),
		fmt.Sprintf(`{"familial":"both","date":%q,"reason":"Harm at home found at assessment"}`, day))
	if fixed["familial"] != "both" || fixed["corrects"] != float64(idOf(m)) || fixed["kind"] != "referral" {
		t.Fatalf("correction: %v", fixed)
	}
	if status, out := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/markers/%d/correct", idOf(m)),
		fmt.Sprintf(`{"familial":"intra","date":%q,"reason":"again"}`, day)); status != 409 || errCode(out) != "marker_corrected" {
		t.Fatalf("correcting a corrected marker: %d %v", status, out)
	}
	ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/relocations",
		fmt.Sprintf(`{"subject":%q,"date":%q,"kind":"out_of_area","note":"Placed with extended family"}`, yp, day))
	ctxRec := ts.mustDo(t, contexts.RoleContextLead, 201, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","lat":51.55,"lon":-0.06}`)
	f1 := ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/factors",
		fmt.Sprintf(`{"subject":%q,"identified_on":%q,"description":"Exploited at the park by older peers","context_id":%d}`, yp, day, idOf(ctxRec)))
	f2 := ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/factors",
		fmt.Sprintf(`{"subject":%q,"identified_on":%q,"description":"Recruited at bus stops","location_type":"bus_stop","area_kind":"postcode_district","area":"e8"}`, yp, day))
	if f1["addressed"] != false || f1["context_name"] == "" || f2["area"] != "E8" || f2["location_type"] != "bus_stop" {
		t.Fatalf("factors: %v %v", f1, f2)
	}
	for _, bad := range []struct{ body, code string }{
		{fmt.Sprintf(`{"subject":%q,"identified_on":%q,"description":"x","context_id":%d,"location_type":"park","area_kind":"postcode_district","area":"E8"}`, yp, day, idOf(ctxRec)), "factor_place_twice"},
		{fmt.Sprintf(`{"subject":%q,"identified_on":%q,"description":"x"}`, yp, day), "factor_place_missing"},
		{fmt.Sprintf(`{"subject":%q,"identified_on":%q,"description":"x","location_type":"park","area_kind":"postcode_district","area":"E8 3AA"}`, yp, day), "area_not_district"},
		{fmt.Sprintf(`{"subject":%q,"identified_on":%q,"description":"x","location_type":"park","area_kind":"ward","area":"Nowhere"}`, yp, day), "no_wards"},
		{fmt.Sprintf(`{"subject":%q,"identified_on":"2999-01-01","description":"x","context_id":%d}`, yp, idOf(ctxRec)), "date_in_future"},
	} {
		if status, out := ts.do(t, contexts.RolePractitioner, "POST", "/api/v1/factors", bad.body); status/100 != 4 || errCode(out) != bad.code {
			t.Errorf("factor %s: %d %v (want %s)", bad.body, status, out, bad.code)
		}
	}
	act := ts.mustDo(t, contexts.RolePractitioner, 201, "POST", fmt.Sprintf("/api/v1/factors/%d/actions", idOf(f1)),
		`{"action":"Detached youth work at the park","partner_agency":"youth_services","due_date":"2027-01-31"}`)
	if act["status"] != "planned" || act["partner_agency"] != "youth_services" {
		t.Fatalf("action: %v", act)
	}

	read := func(role contexts.Role) (int, contexts.ContextualRecord) {
		t.Helper()
		status, _ := ts.do(t, role, "GET", "/api/v1/subjects/"+yp+"/contextual-record", "")
		if status != 400 && status != 403 {
			t.Fatalf("a read without a purpose: %d", status)
		}
		r := ts.get(t, role, "/api/v1/subjects/"+yp+"/contextual-record?purpose=review")
		var rec contexts.ContextualRecord
		if r.status == 200 {
			if err := json.Unmarshal(r.body, &rec); err != nil {
				t.Fatal(err)
			}
		}
		return r.status, rec
	}
	_, rec := read(contexts.RolePractitioner)
	if len(rec.Markers) != 3 || len(rec.Relocations) != 1 || len(rec.Factors) != 2 || rec.Unaddressed != 1 {
		t.Fatalf("the record: %+v", rec)
	}
	var corrected, current int
	for _, mk := range rec.Markers {
		if mk.Corrected != nil {
			corrected++
			if mk.Corrected.Reason != "Harm at home found at assessment" || mk.Familial != "extra" {
				t.Errorf("history: %+v", mk)
			}
		} else {
			current++
		}
	}
	if corrected != 1 || current != 2 {
		t.Fatalf("markers: %d corrected, %d current", corrected, current)
	}
	if !rec.Factors[0].Addressed || rec.Factors[1].Addressed || len(rec.Factors[0].Actions) != 1 {
		t.Fatalf("the reviewer's flags: %+v", rec.Factors)
	}
	// A relocation or a factor entered in error is withdrawn with a reason and stays in the history.
	relID := idOf(ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/relocations",
		fmt.Sprintf(`{"subject":%q,"date":%q,"kind":"within_area"}`, yp, day)))
	wr := ts.mustDo(t, contexts.RolePractitioner, 200, "POST", fmt.Sprintf("/api/v1/relocations/%d/withdraw", relID), `{"reason":"Entered on the wrong record"}`)
	if w, _ := wr["withdrawn"].(map[string]any); w == nil || w["reason"] != "Entered on the wrong record" {
		t.Fatalf("withdrawn relocation: %v", wr)
	}
	if status, out := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/relocations/%d/withdraw", relID), `{"reason":"again"}`); status != 409 || errCode(out) != "already_withdrawn" {
		t.Fatalf("withdrawing twice: %d %v", status, out)
	}
	f3 := ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/factors",
		fmt.Sprintf(`{"subject":%q,"identified_on":%q,"description":"Duplicate","context_id":%d}`, yp, day, idOf(ctxRec)))
	ts.mustDo(t, contexts.RolePractitioner, 200, "POST", fmt.Sprintf("/api/v1/factors/%d/withdraw", idOf(f3)), `{"reason":"A duplicate"}`)
	if status, out := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/factors/%d/actions", idOf(f3)), `{"action":"x","partner_agency":"police"}`); status != 409 || errCode(out) != "factor_withdrawn" {
		t.Fatalf("an action on a withdrawn factor: %d %v", status, out)
	}
	if _, rec := read(contexts.RolePractitioner); len(rec.Relocations) != 2 || len(rec.Factors) != 3 || rec.Unaddressed != 1 || rec.Factors[2].Withdrawn == nil {
		t.Fatalf("after the withdrawals (history kept, a withdrawn factor not flagged): %+v", rec)
	}
	// A dropped action does not address its factor.
	ts.mustDo(t, contexts.RolePractitioner, 200, "PATCH", fmt.Sprintf("/api/v1/factors/%d/actions/%d", idOf(f1), idOf(act)), `{"status":"dropped"}`)
	if _, rec := read(contexts.RolePractitioner); rec.Unaddressed != 2 {
		t.Fatalf("after dropping the action: %d unaddressed", rec.Unaddressed)
	}

	t.Run("a retried write with an Idempotency-Key makes one entry", func(t *testing.T) {
		body := fmt.Sprintf(`{"subject":%q,"date":%q,"kind":"secure"}`, yp, day)
		var ids []string
		for i := range 2 {
			resp, out := ts.raw(t, contexts.RolePractitioner, "POST", "/api/v1/relocations", "application/json", body, "Idempotency-Key", "reloc-1")
			var v map[string]any
			_ = json.Unmarshal([]byte(out), &v)
			if resp.StatusCode != 201 || (i == 1) != (resp.Header.Get("Idempotent-Replayed") == "true") {
				t.Fatalf("attempt %d: %d %s", i+1, resp.StatusCode, out)
			}
			ids = append(ids, fmt.Sprint(v["id"]))
		}
		var n int
		if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM yp_relocations WHERE kind = 'secure'`).Scan(&n); err != nil || n != 1 || ids[0] != ids[1] {
			t.Fatalf("ids %v, %d rows (%v)", ids, n, err)
		}
	})
	t.Run("other teams see nothing and change nothing", func(t *testing.T) {
		_, tok, err := postgres.NewUsers(ts.Pool).AddUser(t.Context(), nil, "test-other-practitioner", contexts.RolePractitioner, "team-other", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens["other"] = tok
		if _, rec := read("other"); len(rec.Markers)+len(rec.Relocations)+len(rec.Factors) != 0 {
			t.Fatalf("another team reads: %+v", rec)
		}
		for _, c := range []struct{ method, path, body string }{
			{"POST", fmt.Sprintf("/api/v1/markers/%d/correct", idOf(fixed)), fmt.Sprintf(`{"familial":"none","date":%q,"reason":"x"}`, day)},
			{"POST", fmt.Sprintf("/api/v1/factors/%d/actions", idOf(f2)), `{"action":"x","partner_agency":"police"}`},
			{"POST", fmt.Sprintf("/api/v1/factors/%d/withdraw", idOf(f2)), `{"reason":"x"}`},
			{"POST", fmt.Sprintf("/api/v1/relocations/%d/withdraw", relID), `{"reason":"x"}`},
			{"PATCH", fmt.Sprintf("/api/v1/factors/%d/actions/%d", idOf(f1), idOf(act)), `{"status":"done"}`},
		} {
			if status, out := ts.do(t, "other", c.method, c.path, c.body); status != 404 {
				t.Errorf("%s %s by another team: %d %v", c.method, c.path, status, out)
			}
		}
	})
	t.Run("other roles get 403", func(t *testing.T) {
		for _, role := range []contexts.Role{contexts.RoleAnalyst, contexts.RoleContextLead, contexts.RoleAdmin} {
			if status, _ := read(role); status != 403 {
				t.Errorf("%s reads the record: %d", role, status)
			}
			if status, _ := ts.do(t, role, "POST", "/api/v1/markers", fmt.Sprintf(`{"subject":"YP-X","kind":"referral","familial":"extra","date":%q}`, day)); status != 403 {
				t.Errorf("%s adds a marker: %d", role, status)
			}
		}
		if status, _ := ts.do(t, contexts.RolePractitioner, "GET", "/api/v1/record-rates", ""); status != 403 {
			t.Errorf("a practitioner reads the record rates: %d", status)
		}
	})
	t.Run("audited: the read with its purpose, the correction with its reason", func(t *testing.T) {
		for _, c := range []struct{ action, reason string }{
			{"contextual_record.read", "review"}, {"marker.correct", "Harm at home found at assessment"},
			{"marker.create", ""}, {"relocation.create", ""}, {"relocation.withdraw", "Entered on the wrong record"}, {"factor.withdraw", "A duplicate"}, {"factor.create", ""}, {"factor_action.create", ""}, {"factor_action.update", ""},
		} {
			var n int
			if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = $1 AND ($2 = '' OR reason LIKE $2 || '%')`,
				c.action, c.reason).Scan(&n); err != nil || n == 0 {
				t.Errorf("%s audit entries: %d %v", c.action, n, err)
			}
		}
		var leaked int
		if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE detail::text LIKE '%YP-CTX-1%' OR record LIKE '%YP-CTX-1%'`).Scan(&leaked); err != nil || leaked != 0 {
			t.Errorf("the person id is in the audit log %d times (%v)", leaked, err)
		}
	})
}

// recordSnapshot is every record rate the analyst can read, month and
// quarter.
func (ts *testServer) recordSnapshot(t *testing.T) string {
	t.Helper()
	_, a := getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates?step=month")
	_, b := getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates?step=quarter")
	return a + b
}

// expectedMeasure is the policy's value for the young people with an entry
// of table dated in month (for markers: current referrals), computed by
// hand from their stored keys: what a release stores for that headline
// measure.
func (ts *testServer) expectedMeasure(t *testing.T, table string, month string) tiles.Total {
	t.Helper()
	m, _ := tiles.ParseMonth(month)
	dateCol := map[string]string{"yp_markers": "marked_on", "yp_relocations": "relocated_on", "yp_factors": "identified_on"}[table]
	extra := " AND x.withdrawn_at IS NULL"
	if table == "yp_markers" {
		extra = " AND x.kind = 'referral' AND x.corrected_at IS NULL"
	}
	var n, key int
	if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*), coalesce(sum(cell_key), 0) FROM subjects WHERE id IN (
		SELECT x.subject_id FROM `+table+` x WHERE x.`+dateCol+` >= $1 AND x.`+dateCol+` < $2`+extra+`)`,
		m.Start(), m.Add(1).Start()).Scan(&n, &key); err != nil {
		t.Fatal(err)
	}
	p, _ := tiles.NewPolicy(k)
	if n < k || p.Value(n, uint8(key%256)) < k {
		return tiles.Total{}
	}
	return tiles.Total{Value: p.Value(n, uint8(key%256)), Published: true}
}

// TestRecordRatesFollowTheRelease runs PRIVACY.md's adversarial cases on
// the record rates: adding young people one at a time (threshold probe) and
// any single write change nothing before a release; a named child recorded
// by another team changes nothing either (membership probe: the unit is
// distinct young people); after a release the values are the policy's for
// the records at its data time, a measure below k is absent (null, never
// 0), and a child measure is held back by the parent rule.
func TestRecordRatesFollowTheRelease(t *testing.T) {
	ts := startServer(t)
	month := recentMonth()
	day := month + "-07"
	first := ts.release(t)
	rt, _ := getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates")
	if v, ok := rt.value(month, tiles.MeasureReferrals); !ok || v != nil || rt.Release != first || rt.K != k {
		t.Fatalf("with no records: %v %v %+v", v, ok, rt)
	}
	before := ts.recordSnapshot(t)
	subjects := make([]string, k+2)
	t.Run("threshold probe: young people added one at a time change no rate before a release", func(t *testing.T) {
		for i := range subjects {
			subjects[i] = fmt.Sprintf("RR-%d", i)
			ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/markers",
				fmt.Sprintf(`{"subject":%q,"kind":"referral","familial":"extra","date":%q}`, subjects[i], day))
			ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/relocations",
				fmt.Sprintf(`{"subject":%q,"kind":"out_of_area","date":%q}`, subjects[i], day))
			f := ts.mustDo(t, contexts.RolePractitioner, 201, "POST", "/api/v1/factors",
				fmt.Sprintf(`{"subject":%q,"identified_on":%q,"description":"Peers at the station","location_type":"station","area_kind":"postcode_district","area":"E8"}`, subjects[i], day))
			ts.mustDo(t, contexts.RolePractitioner, 201, "POST", fmt.Sprintf("/api/v1/factors/%d/actions", idOf(f)), `{"action":"Patrols","partner_agency":"transport"}`)
			if got := ts.recordSnapshot(t); got != before {
				t.Fatalf("after young person %d the record rates changed before a release", i+1)
			}
		}
	})

	second := ts.release(t)
	t.Run("after a release: the policy's values, children by the parent rule", func(t *testing.T) {
		rt, _ := getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates")
		if rt.Release != second {
			t.Fatalf("serves release %d, not %d", rt.Release, second)
		}
		for _, c := range []struct{ table, parent, child string }{
			{"yp_markers", tiles.MeasureReferrals, tiles.MeasureReferralsExtra},
			{"yp_relocations", tiles.MeasureRelocations, tiles.RelocationMeasure("out_of_area")},
			{"yp_factors", tiles.MeasureFactors, tiles.MeasureFactorsActions},
		} {
			want := ts.expectedMeasure(t, c.table, month)
			if !want.Published {
				t.Fatalf("%d young people give no %s: %+v", k+2, c.parent, want)
			}
			// Every young person is in the child too, so it equals the parent.
			for _, name := range []string{c.parent, c.child} {
				if v, _ := rt.value(month, name); v == nil || *v != want.Value {
					t.Errorf("%s in %s: %v, the policy gives %d", name, month, v, want.Value)
				}
			}
			var stored *int
			m, _ := tiles.ParseMonth(month)
			if err := ts.Pool.QueryRow(t.Context(), `SELECT value FROM release_measures WHERE release_id = $1 AND measure = $2
				AND first_month = $3 AND last_month = $3`, second, c.parent, m.Start()).Scan(&stored); err != nil || stored == nil || *stored != want.Value {
				t.Errorf("stored %s: %v %v", c.parent, stored, err)
			}
		}
		for _, none := range []string{tiles.MeasureOutcomes, tiles.RelocationMeasure("secure")} {
			if v, ok := rt.value(month, none); !ok || v != nil {
				t.Errorf("%s with no young people: %v %v (want null)", none, v, ok)
			}
		}
	})

	t.Run("single write and membership probe change nothing until the next release", func(t *testing.T) {
		now := ts.recordSnapshot(t)
		was, _ := getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates?step=month")
		// Another team records one of the same young people: distinct young
		// people, so even the next release shows the same values, and the
		// writer cannot tell whether the child was on record already.
		_, tok, err := postgres.NewUsers(ts.Pool).AddUser(t.Context(), nil, "test-second-practitioner", contexts.RolePractitioner, "team-second", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens["second"] = tok
		ts.mustDo(t, "second", 201, "POST", "/api/v1/markers", fmt.Sprintf(`{"subject":%q,"kind":"referral","familial":"extra","date":%q}`, subjects[0], day))
		if ts.recordSnapshot(t) != now {
			t.Fatal("one write changed a record rate before a release")
		}
		ts.release(t)
		got, _ := getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates?step=month")
		for _, name := range []string{tiles.MeasureReferrals, tiles.MeasureReferralsExtra} {
			x, _ := was.value(month, name)
			y, _ := got.value(month, name)
			if x == nil || y == nil || *x != *y {
				t.Errorf("%s: %v before, %v after another team recorded a young person already counted", name, x, y)
			}
		}
	})

	t.Run("corrections leave the aggregate at the next release; below k is absent", func(t *testing.T) {
		var ids []int64
		if err := ts.Pool.QueryRow(t.Context(), `SELECT array_agg(m.id ORDER BY m.id) FROM yp_markers m JOIN teams t ON t.id = m.team_id
			WHERE m.corrected_at IS NULL AND t.name = 'team-practitioner'`).Scan(&ids); err != nil {
			t.Fatal(err)
		}
		now := ts.recordSnapshot(t)
		// Three of the twelve become "none" (the first young person stays
		// extra through the second team's marker): referrals 12 and
		// extra-familial 10, whose published difference must not be 1..k-1;
		// then five more become intra, leaving 5 < k.
		for _, id := range ids[:3] {
			ts.mustDo(t, contexts.RolePractitioner, 201, "POST", fmt.Sprintf("/api/v1/markers/%d/correct", id),
				fmt.Sprintf(`{"familial":"none","date":%q,"reason":"Not extra-familial after assessment"}`, day))
		}
		if ts.recordSnapshot(t) != now {
			t.Fatal("corrections changed a record rate before a release")
		}
		ts.release(t)
		rt, _ := getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates")
		parent, _ := rt.value(month, tiles.MeasureReferrals)
		child, _ := rt.value(month, tiles.MeasureReferralsExtra)
		if parent == nil {
			t.Fatal("referrals of 12 young people absent")
		}
		if child != nil && *parent-*child >= 1 && *parent-*child <= k-1 {
			t.Fatalf("referrals %d minus extra-familial %d lands in 1..k-1", *parent, *child)
		}
		for _, id := range ids[3:8] {
			ts.mustDo(t, contexts.RolePractitioner, 201, "POST", fmt.Sprintf("/api/v1/markers/%d/correct", id),
				fmt.Sprintf(`{"familial":"intra","date":%q,"reason":"Harm at home only"}`, day))
		}
		ts.release(t)
		rt, _ = getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates")
		if v, _ := rt.value(month, tiles.MeasureReferralsExtra); v != nil {
			t.Fatalf("5 young people with extra-familial referrals published as %d", *v)
		}
	})

	t.Run("withdrawn relocations leave the next release", func(t *testing.T) {
		var ids []int64
		if err := ts.Pool.QueryRow(t.Context(), `SELECT array_agg(id ORDER BY id) FROM yp_relocations`).Scan(&ids); err != nil {
			t.Fatal(err)
		}
		now := ts.recordSnapshot(t)
		for _, id := range ids[:5] {
			ts.mustDo(t, contexts.RolePractitioner, 200, "POST", fmt.Sprintf("/api/v1/relocations/%d/withdraw", id), `{"reason":"Entered in error"}`)
		}
		if ts.recordSnapshot(t) != now {
			t.Fatal("withdrawals changed a record rate before a release")
		}
		ts.release(t)
		rt, _ := getJSON[recordRatesAnswer](t, ts, "/api/v1/record-rates")
		if v, _ := rt.value(month, tiles.MeasureRelocations); v != nil {
			t.Fatalf("7 relocated young people published as %d", *v)
		}
		if want := ts.expectedMeasure(t, "yp_relocations", month); want.Published {
			t.Fatalf("the policy publishes 7 young people: %+v", want)
		}
	})

	var n int
	if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id
		WHERE a.action = 'report.record_rates' AND u.name = 'test-analyst' AND a.record LIKE 'release:%'`).Scan(&n); err != nil || n == 0 {
		t.Errorf("report.record_rates audit entries: %d %v", n, err)
	}
}
