package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
)

// reportsServer is a records server holding one park (review overdue since
// 2026-03-01, today being 2026-03-20) with two young people linked by one
// practitioner team and one overdue intervention.
func reportsServer(t *testing.T) (*recordsServer, int64) {
	t.Helper()
	rs := newRecordsServer(t)
	st, c := rs.call(t, contexts.RoleContextLead, "POST", "/api/v1/contexts",
		`{"kind":"location","location_type":"park","postcode":"E8 3AA","review_date":"2026-03-01"}`)
	if st != 201 {
		t.Fatalf("create context: %d %v", st, c)
	}
	id := int64(c["id"].(float64))
	if st, out := rs.call(t, contexts.RoleContextLead, "POST", fmt.Sprintf("/api/v1/contexts/%d/interventions", id),
		`{"action":"=cmd|' /C calc'!A0 lighting","partner_agency":"parks","side":"environment","due_date":"2026-03-10"}`); st != 201 {
		t.Fatalf("add intervention: %d %v", st, out)
	}
	// The database's clock, not the store's "today", dates the record: put
	// it in the store's March 2026.
	if _, err := rs.pool.Exec(context.Background(), `UPDATE context_interventions SET created_at = '2026-03-05T10:00:00Z'`); err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{"W-1", "W-2"} {
		if st, out := rs.call(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/contexts/%d/links", id),
			`{"subject":"`+subject+`","reason":"Named it"}`); st != 201 {
			t.Fatalf("link: %d %v", st, out)
		}
	}
	// Link counts reach roles other than practitioners as of the latest
	// release: record one made now.
	if _, err := rs.pool.Exec(context.Background(), `INSERT INTO releases
			(data_time, first_month, last_month, k, how, sets, published_cells, duration_ms)
		VALUES (clock_timestamp(), '2024-01-01', '2026-02-01', 10, 'operator', 0, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	return rs, id
}

// get returns the status, headers and body of an authenticated GET.
func (rs *recordsServer) get(t *testing.T, role contexts.Role, path string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", rs.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+rs.tokens[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (rs *recordsServer) lastAudit(t *testing.T) (action string, detail map[string]any) {
	t.Helper()
	if err := rs.pool.QueryRow(context.Background(), `SELECT action, coalesce(detail, '{}') FROM audit_log ORDER BY id DESC LIMIT 1`).
		Scan(&action, &detail); err != nil {
		t.Fatal(err)
	}
	return action, detail
}

func TestReportRoutesRoles(t *testing.T) {
	rs := newRecordsServer(t)
	paths := []string{"/api/v1/reports"}
	for _, spec := range contexts.ReportSpecs() {
		paths = append(paths, "/api/v1/reports/"+spec.Name, "/api/v1/reports/"+spec.Name+"?format=csv")
	}
	for _, p := range paths {
		for _, role := range append([]contexts.Role{""}, contexts.Roles...) {
			want := 200
			switch role {
			case "":
				want = 401
			case contexts.RolePractitioner:
				want = 403
			}
			if st, out := rs.call(t, role, "GET", p, ""); st != want {
				t.Errorf("GET %s as %q: %d, want %d (%v)", p, role, st, want, out)
			}
		}
	}
}

// TestReportJSONAuditedWithFewerThanK: an analyst's (and a context lead's)
// reports show the park's two linked young people as "fewer than 10" in
// every report that shows link counts (PRIVACY.md rule 14), and each read
// is audit-logged (rule 11).
func TestReportJSONAuditedWithFewerThanK(t *testing.T) {
	rs, id := reportsServer(t)
	for _, role := range []contexts.Role{contexts.RoleAnalyst, contexts.RoleContextLead} {
		for _, name := range []string{contexts.ReportOverdue, contexts.ReportReviews} {
			st, out := rs.call(t, role, "GET", "/api/v1/reports/"+name, "")
			if st != 200 {
				t.Fatalf("%s: %d %v", name, st, out)
			}
			rows := out["rows"].([]any)
			if len(rows) != 1 {
				t.Fatalf("%s rows %v", name, rows)
			}
			row := rows[0].(map[string]any)
			if row["context_id"].(float64) != float64(id) {
				t.Fatalf("%s row %v", name, row)
			}
			if b, _ := json.Marshal(row["young_people"]); string(b) != `{"count":null,"fewer_than":10}` {
				t.Fatalf("%s as %s shows young_people %s, want fewer than 10", name, role, b)
			}
			if out["k"].(float64) != 10 {
				t.Fatalf("k %v", out["k"])
			}
			action, detail := rs.lastAudit(t)
			if action != "report.read" || detail["report"] != name || detail["rows"].(float64) != 1 {
				t.Fatalf("audit %s %v", action, detail)
			}
		}
	}
	st, out := rs.call(t, contexts.RoleAnalyst, "GET", "/api/v1/reports/overdue-interventions", "")
	row := out["rows"].([]any)[0].(map[string]any)
	if st != 200 || row["days_overdue"].(float64) != 10 || row["partner_agency"] != "parks" || row["due_date"] != "2026-03-10" {
		t.Fatalf("overdue row %v", row)
	}
	st, out = rs.call(t, contexts.RoleAnalyst, "GET", "/api/v1/reports/interventions?from=2026-03&to=2026-03", "")
	if st != 200 || fmt.Sprint(out["summary"]) != "[map[interventions:1 month:2026-03]]" {
		t.Fatalf("interventions %d %v", st, out["summary"])
	}
}

func TestReportCSV(t *testing.T) {
	rs, id := reportsServer(t)
	st, h, body := rs.get(t, contexts.RoleAnalyst, "/api/v1/reports/overdue-interventions?format=csv")
	if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("%d %v %s", st, h, body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"context_id", "display_name", "kind", "kind_label", "location_type", "location_type_label", "intervention_id", "action",
			"partner_agency", "partner_agency_label", "side", "side_label", "status", "status_label", "due_date", "days_overdue",
			"young_people", "teams"},
		{fmt.Sprint(id), "Park, E8 3AA", "location", "Location / neighbourhood", "park", "Park", "1", "'=cmd|' /C calc'!A0 lighting",
			"parks", "Parks and open spaces", "environment", "Environment and wider systems", "planned", "Planned", "2026-03-10", "10",
			"fewer than 10", "Team practitioner"},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("CSV\n got %q\nwant %q", recs, want)
	}
	if action, detail := rs.lastAudit(t); action != "export.report_csv" || detail["report"] != "overdue-interventions" {
		t.Fatalf("audit %s %v", action, detail)
	}
	// A monthly report: the header is the first line, whatever the grouping.
	_, _, body = rs.get(t, contexts.RoleAdmin, "/api/v1/reports/interventions?format=csv&by=partner_agency&from=2026-01&to=2026-03")
	if got := strings.SplitN(string(body), "\n", 2)[0]; got != "month,partner_agency,partner_agency_label,interventions" {
		t.Fatalf("header %q", got)
	}
	if !strings.Contains(string(body), "2026-03,parks,Parks and open spaces,1\n") {
		t.Fatalf("body %s", body)
	}
}

func TestReportBadParams(t *testing.T) {
	rs := newRecordsServer(t)
	cases := []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/reports/interventions?from=2026-3", 400, "invalid_month"},
		{"/api/v1/reports/interventions?from=2026-02&to=2025-01", 400, "invalid_window"},
		{"/api/v1/reports/interventions?from=2020-01&to=2026-01", 400, "invalid_window"},
		{"/api/v1/reports/contexts?by=team", 400, "invalid_grouping"},
		{"/api/v1/reports/time-to-close?period=last-12m", 400, "unknown_parameter"},
		{"/api/v1/reports/reviews?due_within=1000", 400, "invalid_parameter"},
		{"/api/v1/reports/reviews?format=xml", 400, "invalid_parameter"},
		{"/api/v1/reports/reviews?format=csv&format=json", 400, "invalid_parameter"},
		{"/api/v1/reports/children", 404, "route_not_found"},
	}
	for _, tc := range cases {
		before, _ := rs.lastAuditCount(t)
		st, out := rs.call(t, contexts.RoleAnalyst, "GET", tc.path, "")
		e, _ := out["error"].(map[string]any)
		if st != tc.status || e == nil || e["code"] != tc.code || e["message"] == "" || e["request_id"] == "" {
			t.Errorf("%s: %d %v, want %d %s", tc.path, st, out, tc.status, tc.code)
		}
		if after, _ := rs.lastAuditCount(t); after != before {
			t.Errorf("%s: a refused report was audited as read", tc.path)
		}
	}
}

func (rs *recordsServer) lastAuditCount(t *testing.T) (int, error) {
	t.Helper()
	var n int
	err := rs.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action IN ('report.read', 'export.report_csv')`).Scan(&n)
	return n, err
}

// TestReportCatalogueAndDocument: the catalogue names every report with its
// labels, and the OpenAPI document describes each report's answer.
func TestReportCatalogueAndDocument(t *testing.T) {
	rs := newRecordsServer(t)
	st, out := rs.call(t, contexts.RoleAnalyst, "GET", "/api/v1/reports", "")
	if st != 200 || len(out["reports"].([]any)) != len(contexts.ReportSpecs()) {
		t.Fatalf("%d %v", st, out)
	}
	w := out["window"].(map[string]any)
	if w["default_from"] != "2025-03" || w["default_to"] != "2026-02" || w["latest"] != "2026-03" || w["max_months"].(float64) != 36 {
		t.Fatalf("window %v", w)
	}
	vocab := out["vocab"].(map[string]any)
	for _, key := range []string{"partner_agency", "status", "side", "kind", "location_type", "state"} {
		if len(vocab[key].([]any)) == 0 {
			t.Fatalf("no vocabulary for %s", key)
		}
	}
	_, doc := rs.call(t, "", "GET", "/api/v1/openapi.json", "")
	paths := doc["paths"].(map[string]any)
	for _, spec := range contexts.ReportSpecs() {
		op, ok := paths["/api/v1/reports/"+spec.Name].(map[string]any)
		if !ok {
			t.Fatalf("%s not documented", spec.Name)
		}
		get := op["get"].(map[string]any)
		schema := get["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		if ref, ok := schema["$ref"].(string); ok { // a named Go type is a component
			schema = doc["components"].(map[string]any)["schemas"].(map[string]any)[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		}
		props := schema["properties"].(map[string]any)
		for _, f := range []string{"rows", "summary", "columns", "summary_columns", "k", "as_of"} {
			if props[f] == nil {
				t.Fatalf("%s: the document lists no %s", spec.Name, f)
			}
		}
		if fmt.Sprint(get["x-roles"]) != "[context_lead analyst admin]" {
			t.Fatalf("%s roles %v", spec.Name, get["x-roles"])
		}
	}
}
