package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
)

// TestAllocationsOverHTTP: issue 15's case-system feed. With --allocations
// required, the admin (the case system's account) PUTs the nightly CSV
// export; a practitioner records for a young person allocated to their
// team, and is refused with 403 and a clear message for anyone else; the
// whole feed is refused when a team is unknown; other roles cannot load
// one.
func TestAllocationsOverHTTP(t *testing.T) {
	ts := startServer(t, "--allocations", "required")
	harm := func(subject string) string {
		return `{"subject":"` + subject + `","categories":["cce"],"familial":"extra","layer":"harm","occurred":"2026-01","source":"referral","lat":51.545,"lon":-0.055,"location_type":"park"}`
	}
	if status, body := ts.do(t, contexts.RolePractitioner, "POST", "/api/v1/harm-locations", harm("HTTP-1")); status != 403 || errCode(body) != "no_allocations" {
		t.Fatalf("before any feed: %d %v", status, body)
	}
	csv := "person_ref,subject,team\nx,HTTP-1,team-practitioner\ny,HTTP-2,team-admin\n"
	resp, out := ts.raw(t, contexts.RoleAdmin, "PUT", "/api/v1/allocations", "text/csv", csv)
	var rep contexts.AllocationReport
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &rep) != nil || rep.YoungPeople != 2 || rep.Teams != 2 {
		t.Fatalf("PUT csv: %d %s", resp.StatusCode, out)
	}
	if status, body := ts.do(t, contexts.RolePractitioner, "POST", "/api/v1/harm-locations", harm("HTTP-1")); status != 201 {
		t.Fatalf("allocated: %d %v", status, body)
	}
	status, body := ts.do(t, contexts.RolePractitioner, "POST", "/api/v1/harm-locations", harm("HTTP-2"))
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if status != 403 || errCode(body) != "not_allocated" || !strings.Contains(msg, "not allocated to your team") {
		t.Fatalf("not allocated: %d %v", status, body)
	}
	if status, body := ts.do(t, contexts.RoleAdmin, "PUT", "/api/v1/allocations", `{"allocations":[{"subject":"HTTP-3","team":"no such team"}]}`); status != 422 || errCode(body) != "allocations_invalid" {
		t.Fatalf("unknown team: %d %v", status, body)
	}
	for _, role := range []contexts.Role{contexts.RolePractitioner, contexts.RoleAnalyst, contexts.RoleContextLead} {
		if status, _ := ts.do(t, role, "PUT", "/api/v1/allocations", `{"allocations":[{"subject":"HTTP-3","team":"team-practitioner"}]}`); status != 403 {
			t.Fatalf("%s loaded a feed: %d", role, status)
		}
	}
	if status, body := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/allocations", ""); status != 200 || body["required"] != true {
		t.Fatalf("status: %d %v", status, body)
	}
}
