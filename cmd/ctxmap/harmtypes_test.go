package main

// Issue 13's recording lines against the whole server with real PostGIS:
// harm types archived one at a time leave the others in the next release;
// categories can be corrected, audited with old and new; safety-map places
// (red, amber, green) need no harm category and green ones are the safe
// layer, under the disclosure control of every layer (PRIVACY.md rules 1,
// 6-9, 12, 14 and the adversarial cases); no record is made without an
// explicit location type.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/web/webtest"
)

// typeSite, safeSite, redSite and amberSite are remote places (Inverness,
// Aberystwyth, Plymouth, Norwich) that no other test records at.
var (
	typeSite  = [2]float64{57.4778, -4.2247}
	safeSite  = [2]float64{52.4153, -4.0829}
	redSite   = [2]float64{50.3755, -4.1427}
	amberSite = [2]float64{52.6309, 1.2974}
)

// recordTypes records one young person at a place with several harm types.
func (ts *testServer) recordTypes(t *testing.T, subject string, site [2]float64, cats ...string) int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"subject": subject, "categories": cats, "familial": "extra", "layer": "harm",
		"occurred": recentMonth(), "source": "referral", "lat": site[0], "lon": site[1], "location_type": "street",
	})
	status, out := ts.do(t, contexts.RolePractitioner, "POST", "/api/v1/harm-locations", string(body))
	if status != 201 {
		t.Fatalf("record %s: %d %v", subject, status, out)
	}
	return int64(out["id"].(float64))
}

// safetyPlace records a safety-map place as a practitioner token.
func (ts *testServer) safetyPlace(t *testing.T, token, subject, rating string, site [2]float64) (int, map[string]any) {
	t.Helper()
	in := map[string]any{"subject": subject, "rating": rating, "mapped": recentMonth(), "lat": site[0], "lon": site[1], "location_type": "youth_club"}
	if rating == "green" {
		in["trusted_adult"] = "youth_worker"
	}
	body, _ := json.Marshal(in)
	return webtest.Call(t, ts.URL, token, "POST", "/api/v1/safety-places", string(body))
}

func TestArchivingOneHarmTypeKeepsTheOthersInTheNextRelease(t *testing.T) {
	ts := startServer(t)
	site := cellAt(typeSite[0], typeSite[1], 8)
	var ids []int64
	for i := range k {
		ids = append(ids, ts.recordTypes(t, fmt.Sprintf("TYPES-%d", i), typeSite, "cce", "county_lines", "serious_youth_violence"))
	}
	ts.release(t)
	published := func(cat string) bool {
		q := "period=" + recentMonth()
		if cat != "" {
			q += "&category=" + cat
		}
		_, ok := ts.cells(t, 8, q)[site]
		return ok
	}
	for _, c := range []string{"", "cce", "county_lines", "serious_youth_violence"} {
		if !published(c) {
			t.Fatalf("%d young people with %q not published", k, c)
		}
	}
	// County lines was never an issue for any of them: archive that type
	// only, on every record.
	for _, id := range ids {
		status, out := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/harm-locations/%d/types/county_lines/archive", id),
			`{"reason":"never_an_issue","note":"Reviewed at the strategy meeting: no county lines concern"}`)
		if status != 200 {
			t.Fatalf("archive one type: %d %v", status, out)
		}
		if out["archived"] != nil || !slices.Equal(strs(out["categories"]), []string{"cce", "serious_youth_violence"}) {
			t.Fatalf("after archiving county lines the record is %v", out)
		}
	}
	if !published("county_lines") {
		t.Fatal("archiving a type changed the published values before a release")
	}
	ts.release(t)
	for c, want := range map[string]bool{"": true, "cce": true, "serious_youth_violence": true, "county_lines": false} {
		if got := published(c); got != want {
			t.Errorf("after the next release %q published %v, want %v", c, got, want)
		}
	}

	// The young person's record keeps all three types, with the archived
	// one's reason, note and who, and says so in its history.
	status, out := ts.do(t, contexts.RolePractitioner, "GET", "/api/v1/subjects/TYPES-0/harm-locations?purpose=review", "")
	if status != 200 {
		t.Fatalf("read: %d %v", status, out)
	}
	rec := out["harm_locations"].([]any)[0].(map[string]any)
	types := rec["types"].([]any)
	if len(types) != 3 {
		t.Fatalf("types %v", types)
	}
	for _, ty := range types {
		m := ty.(map[string]any)
		archived := m["category"] == "county_lines"
		if (m["status"] == "archived") != archived || (m["ended"] != nil) != archived || m["started"] != recentMonth() {
			t.Errorf("type %v", m)
		}
		if archived && m["ended"].(map[string]any)["reason"] != "never_an_issue" {
			t.Errorf("archived type %v", m)
		}
	}
	if !historyHas(rec, "type_archived", "county_lines") {
		t.Errorf("history %v", rec["history"])
	}

	// Correcting a wrong type: serious youth violence was meant to be
	// gangs. One correction removes one and adds the other, audited with
	// the old and new categories.
	status, out = ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/harm-locations/%d/categories", ids[0]),
		fmt.Sprintf(`{"add":[{"category":"gangs","started":%q}],"remove":["serious_youth_violence"],"note":"Misread the referral form"}`, recentMonth()))
	if status != 200 || !slices.Equal(strs(out["categories"]), []string{"cce", "gangs"}) {
		t.Fatalf("correct: %d %v", status, out)
	}
	if !historyHas(out, "type_removed", "serious_youth_violence") || !historyHas(out, "type_added", "gangs") {
		t.Errorf("history after the correction %v", out["history"])
	}
	status, audit := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/audit?action=harm_location.correct", "")
	entries, _ := audit["entries"].([]any)
	if status != 200 || len(entries) != 1 {
		t.Fatalf("audit: %d %v", status, audit)
	}
	e := entries[0].(map[string]any)
	d := e["detail"].(map[string]any)
	if e["user"] == "" || e["record"] != fmt.Sprintf("harm-location:%d", ids[0]) ||
		!slices.Equal(strs(d["old"]), []string{"cce", "serious_youth_violence"}) || !slices.Equal(strs(d["new"]), []string{"cce", "gangs"}) {
		t.Fatalf("audit entry %v", e)
	}

	// Archiving the whole record still works, and ends its types with it.
	status, out = ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/harm-locations/%d/archive", ids[1]),
		`{"reason":"no_longer_an_issue","note":"Moved out of the area"}`)
	if status != 200 || out["archived"] == nil {
		t.Fatalf("whole archive: %d %v", status, out)
	}
	for _, ty := range out["types"].([]any) {
		if ty.(map[string]any)["status"] == "active" {
			t.Errorf("a type of an archived record is active: %v", ty)
		}
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func historyHas(rec map[string]any, event, category string) bool {
	for _, h := range rec["history"].([]any) {
		m := h.(map[string]any)
		if m["event"] == event && m["category"] == category {
			return true
		}
	}
	return false
}

// safeSnapshot is every published value a reader can get about the safe
// layer and the probe site: cells JSON at each resolution and period, the
// site's z12 tile, the CSV export and TileJSON of the layer, and the release.
func (ts *testServer) safeSnapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{"layer=safe&period=last-12m", "layer=safe&period=last-3m", "layer=safe&period=" + recentMonth(),
		"layer=unsafe&period=" + recentMonth()} {
		for res := 6; res <= 8; res++ {
			r := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/api/v1/heat/cells?res=%d&%s", res, q))
			if r.status != 200 {
				t.Fatalf("cells %s: %d %s", q, r.status, r.body)
			}
			fmt.Fprintf(&b, "%s res %d: %s\n", q, res, r.body)
		}
	}
	tile := maptile.At([2]float64{safeSite[1], safeSite[0]}, 12)
	r := ts.get(t, contexts.RoleAnalyst, fmt.Sprintf("/tiles/heat/12/%d/%d.mvt?layer=safe&period=last-12m", tile.X, tile.Y))
	fmt.Fprintf(&b, "tile %d %s %x\n", r.status, r.header.Get("ETag"), r.body)
	csv := ts.get(t, contexts.RoleAnalyst, "/api/v1/exports/heat.csv?layer=safe&period=last-12m")
	fmt.Fprintf(&b, "csv %d %s\n", csv.status, csv.body)
	tj := ts.get(t, contexts.RoleAnalyst, "/tiles/heat.json?layer=safe&period=last-12m")
	fmt.Fprintf(&b, "tilejson %d %s\n", tj.status, tj.body)
	fmt.Fprintf(&b, "release %d\n", ts.servedRelease(t))
	return b.String()
}

func TestSafePlacesLayerUnderDisclosureControl(t *testing.T) {
	ts := startServer(t)
	users := postgres.NewUsers(ts.Pool)
	_, other, err := users.AddUser(t.Context(), nil, "other-team-worker", contexts.RolePractitioner, "Other team", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	prober := ts.tokens[contexts.RolePractitioner]
	site := cellAt(safeSite[0], safeSite[1], 8)

	// The server reports the safe layer, with its words, to the map.
	status, cfg := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/config", "")
	if status != 200 || !slices.Contains(strs(cfg["layers"]), "safe") || !strings.Contains(fmt.Sprint(cfg["layer_terms"]), "trusted adult") {
		t.Fatalf("config layers: %d %v %v", status, cfg["layers"], cfg["layer_terms"])
	}

	// Another team mapped two real young people's safe place; released.
	for _, s := range []string{"REAL-1", "REAL-2"} {
		if status, out := ts.safetyPlace(t, other, s, "green", safeSite); status != 201 {
			t.Fatalf("green place: %d %v", status, out)
		}
	}
	ts.release(t)
	before := ts.safeSnapshot(t)
	if strings.Contains(before, site.String()) {
		t.Fatal("two young people's safe place is published")
	}

	t.Run("threshold probe: synthetic young people one at a time change nothing before a release", func(t *testing.T) {
		for i := range k {
			if status, out := ts.safetyPlace(t, prober, fmt.Sprintf("SYNTHETIC-%d", i), "green", safeSite); status != 201 {
				t.Fatalf("green place: %d %v", status, out)
			}
			if ts.safeSnapshot(t) != before {
				t.Fatalf("after synthetic young person %d the published values changed", i+1)
			}
		}
	})
	t.Run("membership probe: recording a named child's id changes nothing before a release", func(t *testing.T) {
		for _, s := range []string{"REAL-1", "NEVER-RECORDED"} {
			if status, out := ts.safetyPlace(t, prober, s, "green", safeSite); status != 201 {
				t.Fatalf("green place: %d %v", status, out)
			}
			if ts.safeSnapshot(t) != before {
				t.Fatalf("recording %s changed the published values", s)
			}
		}
	})
	t.Run("single-write differencing: a red, an amber and an archive change nothing before a release", func(t *testing.T) {
		for _, r := range []string{"red", "amber"} {
			if status, out := ts.safetyPlace(t, prober, "ONE-MORE", r, safeSite); status != 201 {
				t.Fatalf("%s place: %d %v", r, status, out)
			}
			if ts.safeSnapshot(t) != before {
				t.Fatalf("one %s place changed the published values", r)
			}
		}
		_, out := ts.safetyPlace(t, prober, "ARCHIVE-ME", "green", safeSite)
		if status, out := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/harm-locations/%v/archive", out["id"]),
			`{"reason":"never_an_issue","note":"entered by mistake"}`); status != 200 {
			t.Fatalf("archive: %d %v", status, out)
		}
		if ts.safeSnapshot(t) != before {
			t.Fatal("an archive changed the published values")
		}
		if status, _ := ts.do(t, contexts.RolePractitioner, "POST", "/api/v1/releases", ""); status != 403 {
			t.Fatalf("a practitioner POST /releases: %d, want 403", status)
		}
	})

	// Red places count in the unsafe layer (all categories only), amber
	// places nowhere.
	for i := range k {
		for _, p := range []struct {
			rating string
			site   [2]float64
		}{{"red", redSite}, {"amber", amberSite}} {
			if status, out := ts.safetyPlace(t, prober, fmt.Sprintf("RAG-%d", i), p.rating, p.site); status != 201 {
				t.Fatalf("%s place: %d %v", p.rating, status, out)
			}
		}
	}
	ts.release(t)
	month := "period=" + recentMonth()
	v, ok := ts.cells(t, 8, "layer=safe&"+month)[site]
	if !ok || v < k || v%5 != 0 {
		t.Fatalf("safe place of %d young people: published=%v value %d", k+3, ok, v)
	}
	if _, ok := ts.cells(t, 8, "layer=harm&"+month)[site]; ok {
		t.Fatal("safe places count in the harm layer")
	}
	red, amber := cellAt(redSite[0], redSite[1], 8), cellAt(amberSite[0], amberSite[1], 8)
	unsafe := ts.cells(t, 8, "layer=unsafe&"+month)
	if _, ok := unsafe[red]; !ok {
		t.Error("red places are not in the unsafe layer")
	}
	if _, ok := unsafe[amber]; ok {
		t.Error("amber places are published in the unsafe layer")
	}
	for _, l := range []string{"harm", "safe"} {
		if _, ok := ts.cells(t, 8, "layer="+l+"&"+month)[amber]; ok {
			t.Errorf("amber places are published in the %s layer", l)
		}
	}
	cat := ts.categories(t)[0]
	if _, ok := ts.cells(t, 8, "layer=unsafe&category="+cat+"&"+month)[red]; ok {
		t.Error("a red place without a category counts under a category")
	}
	// The safe layer has no category filter: a clear 400, not an empty map.
	for _, q := range []string{"category=" + cat, "category=extra_familial"} {
		r := ts.get(t, contexts.RoleAnalyst, "/api/v1/heat/cells?res=8&layer=safe&"+q)
		if r.status != 400 || !strings.Contains(string(r.body), "category_not_for_layer") {
			t.Errorf("safe layer with %s: %d %s", q, r.status, r.body)
		}
	}
	// Parent minus published children never lands in 1..k-1 for the layer.
	for _, period := range []string{"last-12m", recentMonth()} {
		levels := map[int]map[h3.Cell]int{}
		for res := 6; res <= 8; res++ {
			levels[res] = ts.cells(t, res, "layer=safe&period="+period)
		}
		for res := 6; res < 8; res++ {
			for parent, pv := range levels[res] {
				sum := 0
				for _, child := range parent.Children(res + 1) {
					sum += levels[res+1][child]
				}
				if d := pv - sum; d >= 1 && d <= k-1 {
					t.Errorf("safe %s: parent %s (%d) minus children (%d) = %d", period, parent, pv, sum, d)
				}
			}
		}
	}

	// The young person's record shows the place with its rating and the
	// kind of trusted adult, and no harm category.
	status, out := ts.do(t, contexts.RolePractitioner, "GET", "/api/v1/subjects/SYNTHETIC-0/harm-locations?purpose=assessment", "")
	if status != 200 {
		t.Fatalf("read: %d %v", status, out)
	}
	rec := out["harm_locations"].([]any)[0].(map[string]any)
	if rec["safety"] != "green" || rec["layer"] != "safe" || rec["trusted_adult"] != "youth_worker" || len(rec["categories"].([]any)) != 0 || rec["source"] != "safety_map" {
		t.Fatalf("safe place on the record: %v", rec)
	}
}

func TestNoRecordWithoutAnExplicitLocationType(t *testing.T) {
	ts := startServer(t)
	harm := fmt.Sprintf(`{"subject":"YP-1","categories":["cce"],"familial":"extra","layer":"harm","occurred":%q,"source":"referral","postcode":"E8 3AA"`, recentMonth())
	safe := fmt.Sprintf(`{"subject":"YP-1","rating":"red","mapped":%q,"postcode":"E8 3AA"`, recentMonth())
	for _, c := range []struct{ path, body string }{
		{"/api/v1/harm-locations", harm + `}`},
		{"/api/v1/harm-locations", harm + `,"location_type":""}`},
		{"/api/v1/safety-places", safe + `}`},
		{"/api/v1/safety-places", safe + `,"location_type":" "}`},
	} {
		status, out := ts.do(t, contexts.RolePractitioner, "POST", c.path, c.body)
		e, _ := out["error"].(map[string]any)
		d, _ := e["details"].(map[string]any)
		if status != 400 || errCode(out) != "missing_field" || d["field"] != "location_type" {
			t.Errorf("%s %s: %d %v", c.path, c.body, status, out)
		}
	}
	// And the other choices a form might default are required too.
	for _, body := range []string{
		fmt.Sprintf(`{"subject":"YP-1","mapped":%q,"postcode":"E8 3AA","location_type":"park"}`, recentMonth()),
		fmt.Sprintf(`{"subject":"YP-1","rating":"green","mapped":%q,"postcode":"E8 3AA","location_type":"park"}`, recentMonth()),
	} {
		if status, out := ts.do(t, contexts.RolePractitioner, "POST", "/api/v1/safety-places", body); status != 400 || errCode(out) != "missing_field" {
			t.Errorf("%s: %d %v", body, status, out)
		}
	}
}
