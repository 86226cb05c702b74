package web

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
)

func harmBody(subject string) string {
	return fmt.Sprintf(`{"subject":%q,"categories":["cse"],"familial":"extra","layer":"harm","occurred":"2026-02",
		"source":"referral","postcode":"E8 3AB","location_type":"park"}`, subject)
}

// TestSubjectLimitAnswers429: beyond the daily cap a young person new to
// the practitioner is 429 subject_limit with when to try again; one they
// recorded before is still accepted.
func TestSubjectLimitAnswers429(t *testing.T) {
	rs := newRecordsServer(t, postgres.WithSubjectDailyCap(2))
	P := contexts.RolePractitioner
	for _, id := range []string{"CAP-1", "CAP-2", "cap-1"} {
		if status, out := rs.call(t, P, "POST", "/api/v1/harm-locations", harmBody(id)); status != 201 {
			t.Fatalf("%s: %d %v", id, status, out)
		}
	}
	status, out := rs.call(t, P, "POST", "/api/v1/harm-locations", harmBody("CAP-3"))
	e, _ := out["error"].(map[string]any)
	details, _ := e["details"].(map[string]any)
	msg, _ := e["message"].(string)
	if status != 429 || e["code"] != "subject_limit" || details["retry_at"] != "2026-03-21T12:00:00Z" ||
		!regexp.MustCompile(`2 young people new to you in the last 24 hours.*nothing was saved.*from 2026-03-21 12:00 UTC`).MatchString(msg) {
		t.Fatalf("over the cap: %d %v", status, out)
	}
	if status, out := rs.call(t, P, "GET", "/api/v1/subjects/CAP-3/harm-locations?purpose=assessment", ""); status != 200 || len(out["harm_locations"].([]any)) != 0 {
		t.Fatalf("the refused record was written: %d %v", status, out)
	}
}

// TestAdminAlertRoutes: a burst raises one alert that only admins read and
// mark read.
func TestAdminAlertRoutes(t *testing.T) {
	rs := newRecordsServer(t, postgres.WithBurstAlert(2))
	P, A, D := contexts.RolePractitioner, contexts.RoleAnalyst, contexts.RoleAdmin
	for _, id := range []string{"B-1", "B-2", "B-3"} {
		if status, out := rs.call(t, P, "POST", "/api/v1/harm-locations", harmBody(id)); status != 201 {
			t.Fatalf("%s: %d %v", id, status, out)
		}
	}
	if status, _ := rs.call(t, A, "GET", "/api/v1/admin/alerts", ""); status != 403 {
		t.Fatalf("analyst read alerts: %d", status)
	}
	status, out := rs.call(t, D, "GET", "/api/v1/admin/alerts", "")
	alerts, _ := out["alerts"].([]any)
	if status != 200 || len(alerts) != 1 {
		t.Fatalf("alerts: %d %v", status, out)
	}
	a := alerts[0].(map[string]any)
	if a["kind"] != "subject_burst" || a["count"] != 3.0 || a["user_name"] != "web-practitioner" || a["read_at"] != nil {
		t.Fatalf("alert %v", a)
	}
	status, out = rs.call(t, D, "POST", fmt.Sprintf("/api/v1/admin/alerts/%d/read", int(a["id"].(float64))), "")
	if status != 200 || out["read_at"] == nil || out["read_by"] != "web-admin" {
		t.Fatalf("mark read: %d %v", status, out)
	}
	if status, out := rs.call(t, D, "GET", "/api/v1/admin/alerts?unread=true", ""); status != 200 || len(out["alerts"].([]any)) != 0 {
		t.Fatalf("unread: %d %v", status, out)
	}
	if status, _ := rs.call(t, D, "GET", "/api/v1/admin/alerts?unread=maybe", ""); status != 400 {
		t.Fatalf("bad unread: %d", status)
	}
}

// TestSmallLinkCountsOverHTTP: rule 14 as clients see it.
func TestSmallLinkCountsOverHTTP(t *testing.T) {
	rs := newRecordsServer(t)
	P, L, A := contexts.RolePractitioner, contexts.RoleContextLead, contexts.RoleAnalyst
	_, c := rs.call(t, L, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","postcode":"E8 3AA"}`)
	id := int(c["id"].(float64))
	if status, out := rs.call(t, P, "POST", fmt.Sprintf("/api/v1/contexts/%d/links", id), `{"subject":"ONE-1","reason":"Named it"}`); status != 201 {
		t.Fatalf("link: %d %v", status, out)
	}
	for _, role := range []contexts.Role{L, A} {
		_, out := rs.call(t, role, "GET", fmt.Sprintf("/api/v1/contexts/%d/links/summary", id), "")
		yp, _ := out["young_people"].(map[string]any)
		if v, ok := yp["count"]; !ok || v != nil || yp["fewer_than"] != 10.0 {
			t.Fatalf("%s summary %v", role, out)
		}
		_, out = rs.call(t, role, "GET", fmt.Sprintf("/api/v1/contexts/%d/chronology", id), "")
		for _, e := range out["events"].([]any) {
			ev := e.(map[string]any)
			if ev["event"] == contexts.EventLinked && !regexp.MustCompile(`^\d{4}-\d{2}$`).MatchString(ev["at"].(string)) {
				t.Fatalf("%s link event at %v", role, ev["at"])
			}
		}
	}
	_, out := rs.call(t, P, "GET", fmt.Sprintf("/api/v1/contexts/%d/links/summary", id), "")
	if yp, _ := out["young_people"].(map[string]any); yp["count"] != 1.0 {
		t.Fatalf("practitioner summary %v", out)
	}
}
