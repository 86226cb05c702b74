package main

// Hardening of the running server at its edges: hostile or malformed
// input never becomes a 500, link counts are no oracle across teams,
// secrets stay out of usage text, and points are named by the naming
// convention. Each case was once a 500, a silent wrong answer or a leak.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap/geo/geotest"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
)

func TestBadInputNeverA500(t *testing.T) {
	ts := startServer(t)
	cases := []struct {
		role         contexts.Role
		method, path string
		body         string
		status       int
	}{
		{contexts.RoleContextLead, "POST", "/api/v1/contexts", `{"kind":"group","name":"a\u0000b"}`, 400},
		{contexts.RolePractitioner, "GET", "/api/v1/contexts?near=NaN,0", "", 400},
		{contexts.RolePractitioner, "GET", "/api/v1/contexts?near=Inf,0", "", 400},
		{contexts.RolePractitioner, "GET", "/api/v1/contexts?near=91,0", "", 400},
		{contexts.RoleAdmin, "GET", "/api/v1/audit?record=%00", "", 400},
		{contexts.RoleAnalyst, "GET", "/api/v1/heat/cells?res=8&period=%zz", "", 400},
		{contexts.RoleAnalyst, "GET", "/api/v1/heat/cells?res=8&familial=extra", "", 400},
		{contexts.RoleAnalyst, "GET", "/api/v1/heat/cells?res=8&source=referral", "", 400},
		{contexts.RoleAnalyst, "GET", "/api/v1/heat/cells?res=8&category=extra_familial", "", 200},
		{contexts.RoleAnalyst, "GET", "/api/v1/postcodes?lat=Inf&lon=0", "", 400},
		{"", "POST", "/api/v1/session", `[]`, 400},
	}
	for _, c := range cases {
		status, body := ts.do(t, c.role, c.method, c.path, c.body)
		if status != c.status {
			t.Errorf("%s %s %s: %d, want %d (%v)", c.role, c.method, c.path, status, c.status, body)
		}
		if msg := fmt.Sprint(body); strings.Contains(msg, "web.") || strings.Contains(msg, "struct {") {
			t.Errorf("%s: error shows internal type names: %s", c.path, msg)
		}
	}
	// Load balancers probe with HEAD.
	req, _ := http.NewRequest("HEAD", ts.URL+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD /healthz: %d", resp.StatusCode)
	}
}

func TestLinkSummaryIsNoOracleAcrossTeams(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	_, otherTeam, err := postgres.NewUsers(ts.Pool).AddUser(ctx, nil, "other-practitioner", contexts.RolePractitioner, "Other Team", "")
	if err != nil {
		t.Fatal(err)
	}
	status, out := ts.do(t, contexts.RoleContextLead, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","lat":51.55,"lon":-0.06}`)
	if status != 201 {
		t.Fatalf("create context: %d %v", status, out)
	}
	id := int64(out["id"].(float64))
	link := func(token, subject, reason string) int {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/contexts/%d/links", ts.URL, id),
			bytes.NewBufferString(fmt.Sprintf(`{"subject":%q,"reason":%q}`, subject, reason)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The practitioner probing is the one who sees exact counts (an analyst
	// sees a count under k only as "fewer than k", PRIVACY.md rule 14).
	count := func() int {
		status, out := ts.do(t, contexts.RolePractitioner, "GET", fmt.Sprintf("/api/v1/contexts/%d/links/summary", id), "")
		if status != 200 {
			t.Fatalf("summary: %d %v", status, out)
		}
		status, an := ts.do(t, contexts.RoleAnalyst, "GET", fmt.Sprintf("/api/v1/contexts/%d/links/summary", id), "")
		if yp, _ := an["young_people"].(map[string]any); status != 200 || yp["count"] != nil || yp["fewer_than"] == nil {
			t.Fatalf("analyst's summary of a small count: %d %v", status, an)
		}
		return int(out["young_people"].(map[string]any)["count"].(float64))
	}
	if got := link(otherTeam, "CMS-SECRET-42", "seen at the park by youth workers"); got != 201 {
		t.Fatalf("other team's link: %d", got)
	}
	before := count()
	// Team A links the same young person: the count must move exactly as it
	// does for a young person nobody else has linked, or it tells team A
	// that another team works with this child.
	if got := link(ts.tokens[contexts.RolePractitioner], "CMS-SECRET-42", "seen at the park in the evenings"); got != 201 {
		t.Fatalf("link: %d", got)
	}
	afterKnown := count()
	if got := link(ts.tokens[contexts.RolePractitioner], "CMS-NOBODY-7", "seen at the park in the evenings"); got != 201 {
		t.Fatalf("link: %d", got)
	}
	afterNew := count()
	if afterKnown-before != 1 || afterNew-afterKnown != 1 {
		t.Fatalf("counts %d -> %d -> %d: linking an already-linked child is distinguishable", before, afterKnown, afterNew)
	}
	// A link reason naming the young person would store the id in clear.
	if got := link(ts.tokens[contexts.RolePractitioner], "CMS-NOBODY-8", "CMS-NOBODY-8 hangs around here"); got != 422 {
		t.Fatalf("reason with the subject id: %d, want 422", got)
	}
}

func TestSecretsStayOutOfUsageText(t *testing.T) {
	t.Setenv("CTXMAP_SECRET", "do-not-print-this-secret-0123456789abcdef")
	t.Setenv("DATABASE_URL", "postgres://user:do-not-print-this-password@db/x")
	for _, args := range [][]string{{"serve", "--bogus"}, {"migrate", "--help"}, {"import", "harm-locations", "--help"}} {
		out, _ := runCLI(t, "", args...)
		if strings.Contains(out, "do-not-print") {
			t.Fatalf("%v printed a secret:\n%s", args, out)
		}
	}
	t.Setenv("CTXMAP_K", "1e2")
	if out, err := runCLI(t, "", "serve"); err == nil || !strings.Contains(err.Error(), "CTXMAP_K") {
		t.Fatalf("a malformed CTXMAP_K was accepted: %v %s", err, out)
	}
}

// A place opened from a map click is named after its nearest postcode, so
// the same park opened by postcode is recognised as the same record.
func TestPointContextsFollowTheNamingConvention(t *testing.T) {
	ts := startServer(t)
	file := geotest.SharedData(t, "codepoint-open/CSV/ec.csv")
	if out, err := runCLI(t, "", "import", "postcodes", "--database-url="+ts.DBURL, "--format", "codepoint", file); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	status, pc := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/postcodes/EC1A1AA", "")
	if status != 200 {
		t.Fatalf("lookup: %d %v", status, pc)
	}
	lat, lon := pc["lat"].(float64), pc["lon"].(float64)
	status, out := ts.do(t, contexts.RoleContextLead, "POST", "/api/v1/contexts",
		fmt.Sprintf(`{"kind":"location","location_type":"bus_stop","lat":%f,"lon":%f}`, lat+0.0002, lon))
	if status != 201 {
		t.Fatalf("create by point: %d %v", status, out)
	}
	if name, _ := out["display_name"].(string); !strings.HasSuffix(name, ", EC1A 1AA") {
		t.Fatalf("display name %q does not follow type + postcode", name)
	}
	status, dup := ts.do(t, contexts.RoleContextLead, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"bus_stop","postcode":"EC1A 1AA"}`)
	details, _ := dup["error"].(map[string]any)["details"].(map[string]any)
	if status != 409 || details["existing_id"] != out["id"] {
		t.Fatalf("same stop by postcode: %d %v, want 409 with existing_id %v", status, dup, out["id"])
	}
}
