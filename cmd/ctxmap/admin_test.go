package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/web/webtest"
)

// TestAdminRoutesAreAdminsOnly: the administration routes answer admins
// only (analysts, practitioners and context leads get 403), and the list of
// contexts past their review date answers admins and context leads.
func TestAdminRoutesAreAdminsOnly(t *testing.T) {
	ts := startServer(t)
	admin := []struct{ method, path, body string }{
		{"GET", "/api/v1/audit", ""}, {"GET", "/api/v1/audit?format=csv", ""}, {"GET", "/api/v1/admin/catalogue", ""},
		{"GET", "/api/v1/users", ""}, {"POST", "/api/v1/users", `{"name":"sneaky","role":"admin","team":"x"}`},
		{"POST", "/api/v1/users/1/disable", ""}, {"POST", "/api/v1/users/1/reset", ""}, {"GET", "/api/v1/admin/retention", ""},
		{"POST", "/api/v1/taxonomy/categories", `{"code":"sneaky","label":"Sneaky","extra_familial":true}`},
		{"POST", "/api/v1/taxonomy/categories/cse/retire", ""},
	}
	for _, r := range admin {
		for _, role := range []contexts.Role{contexts.RoleAnalyst, contexts.RolePractitioner, contexts.RoleContextLead} {
			if status, out := ts.do(t, role, r.method, r.path, r.body); status != 403 || errCode(out) != "forbidden" {
				t.Errorf("%s %s as %s: %d %v, want 403", r.method, r.path, role, status, out)
			}
		}
		if status, _ := ts.do(t, "", r.method, r.path, r.body); status != 401 {
			t.Errorf("%s %s anonymous: %d, want 401", r.method, r.path, status)
		}
	}
	for _, role := range []contexts.Role{contexts.RoleAdmin, contexts.RoleContextLead} {
		if status, out := ts.do(t, role, "GET", "/api/v1/reviews/overdue", ""); status != 200 || out["contexts"] == nil {
			t.Errorf("overdue reviews as %s: %d %v", role, status, out)
		}
	}
	for _, role := range []contexts.Role{contexts.RoleAnalyst, contexts.RolePractitioner} {
		if status, _ := ts.do(t, role, "GET", "/api/v1/reviews/overdue", ""); status != 403 {
			t.Errorf("overdue reviews as %s: %d, want 403", role, status)
		}
	}
	// Nothing was written by the refused requests.
	var n int
	if err := ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE name = 'sneaky'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a refused request added a user (%d, %v)", n, err)
	}
}

// TestReadPurposeOverHTTP: a practitioner's read of a young person's records
// without a purpose, or with one not on the list, is a 400 naming the
// allowed values; with one it is answered and the audit search finds the
// read by its purpose, with the why in words.
func TestReadPurposeOverHTTP(t *testing.T) {
	ts := startServer(t)
	P := contexts.RolePractitioner
	ts.record(t, harmPoint{subject: "WHY-1", lat: 51.545, lon: -0.055, category: ts.categories(t)[0], layer: "harm"})
	base := "/api/v1/subjects/WHY-1/harm-locations"
	for _, tc := range []struct{ query, code string }{
		{"", "purpose_required"}, {"?purpose=nosy", "invalid_purpose"}, {"?purpose=other", "purpose_note_required"},
		{"?purpose=review&purpose_note=x", "purpose_note_unexpected"}, {"?purpose=review&purpose=panel", "invalid_parameter"},
	} {
		status, out := ts.do(t, P, "GET", base+tc.query, "")
		if status != 400 || errCode(out) != tc.code {
			t.Errorf("%q: %d %v, want 400 %s", tc.query, status, out, tc.code)
			continue
		}
		msg := out["error"].(map[string]any)["message"].(string)
		if (tc.code == "purpose_required" || tc.code == "invalid_purpose") && !strings.Contains(msg, "assessment, review, panel, other") {
			t.Errorf("%s does not name the allowed values: %s", tc.code, msg)
		}
	}
	if status, out := ts.do(t, P, "GET", base+"?purpose=other&purpose_note="+url.QueryEscape("duplicate check before panel"), ""); status != 200 {
		t.Fatalf("read with a purpose: %d %v", status, out)
	}
	status, out := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/audit?purpose=other&action=harm_locations.read", "")
	entries, _ := out["entries"].([]any)
	if status != 200 || len(entries) != 1 {
		t.Fatalf("audit by purpose: %d %v", status, out)
	}
	e := entries[0].(map[string]any)
	if e["reason"] != "other: duplicate check before panel" || e["purpose"] != "other" || e["user_name"] != "test-practitioner" {
		t.Errorf("the read's entry: %v", e)
	}
	// The taxonomy serves the purposes the UI asks about.
	_, tax := ts.do(t, P, "GET", "/api/v1/taxonomy", "")
	if ps, _ := tax["read_purposes"].([]any); len(ps) != 4 {
		t.Errorf("taxonomy read_purposes: %v", tax["read_purposes"])
	}
}

// TestAuditCSVExport: the export holds the filtered entries under a header
// line (who, what, when, why), points to the next page when there is more,
// and is itself audited as an export.
func TestAuditCSVExport(t *testing.T) {
	ts := startServer(t)
	for range 3 {
		ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/users", "")
	}
	resp, body := ts.raw(t, contexts.RoleAdmin, "GET", "/api/v1/audit?format=csv&action=users.list&limit=2", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "ctxmap-audit.csv") {
		t.Fatalf("export: %d %v", resp.StatusCode, resp.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "id,at,user_id,user_name,action,record,reason,purpose,detail,request_id" || len(rows) != 3 {
		t.Fatalf("csv: %v", rows)
	}
	for _, r := range rows[1:] {
		if r[4] != "users.list" || r[3] != "test-admin" {
			t.Errorf("row %v", r)
		}
	}
	link := resp.Header.Get("Link")
	if !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "before="+rows[2][0]) {
		t.Errorf("Link %q does not name the next page before %s", link, rows[2][0])
	}
	status, out := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/audit?action=export.audit_csv", "")
	if entries, _ := out["entries"].([]any); status != 200 || len(entries) != 1 {
		t.Fatalf("the export is not audited: %d %v", status, out)
	}
	if status, out := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/audit?format=xml", ""); status != 400 {
		t.Errorf("format=xml: %d %v", status, out)
	}
	if status, out := ts.do(t, contexts.RoleAdmin, "GET", fmt.Sprintf("/api/v1/audit?format=csv&limit=%d", contexts.AuditExportMax+1), ""); status != 400 {
		t.Errorf("an export over the limit: %d %v", status, out)
	}
}

// TestUsersOverHTTP: the users screen's API. A new user's password and token
// are in the answer that made them and nowhere after; both work; a reset
// stops the old token at once; a disabled user can neither sign in nor use
// a token.
func TestUsersOverHTTP(t *testing.T) {
	ts := startServer(t)
	A := contexts.RoleAdmin
	status, out := ts.do(t, A, "POST", "/api/v1/users", `{"name":"new-lead","role":"context_lead","team":"Partnership"}`)
	if status != 201 {
		t.Fatalf("add: %d %v", status, out)
	}
	pw, tok := out["password"].(string), out["token"].(string)
	id := int64(out["user"].(map[string]any)["id"].(float64))
	if pw == "" || tok == "" {
		t.Fatalf("credentials %v", out)
	}
	if resp, body := ts.raw(t, A, "POST", "/api/v1/users", "application/json", `{"name":"keyed","role":"analyst","team":"x"}`,
		"Idempotency-Key", "k-1"); resp.StatusCode != 400 || !strings.Contains(body, "idempotency_key_unsupported") {
		t.Errorf("a keyed user create: %d %s (its secrets would be kept for the retry)", resp.StatusCode, body)
	}
	me := func(token string) int {
		s, _ := webtest.Call(t, ts.URL, token, "GET", "/api/v1/me", "")
		return s
	}
	login := func(password string) int {
		s, _ := ts.do(t, "", "POST", "/api/v1/session", fmt.Sprintf(`{"name":"new-lead","password":%q}`, password))
		return s
	}
	if me(tok) != 200 || login(pw) != 200 {
		t.Fatal("the new user's token or password does not work")
	}
	_, list := ts.do(t, A, "GET", "/api/v1/users", "")
	if b := fmt.Sprint(list); strings.Contains(b, pw) || strings.Contains(b, tok) || !strings.Contains(b, "new-lead") {
		t.Fatal("the list shows a secret, or not the user")
	}
	status, out = ts.do(t, A, "POST", fmt.Sprintf("/api/v1/users/%d/reset", id), "")
	if status != 200 || out["token"] == tok {
		t.Fatalf("reset: %d %v", status, out)
	}
	if me(tok) != 401 {
		t.Error("the old token works after a reset")
	}
	pw2, tok2 := out["password"].(string), out["token"].(string)
	if me(tok2) != 200 || login(pw) != 401 || login(pw2) != 200 {
		t.Error("after the reset the new secrets must work and the old password not")
	}
	if status, out = ts.do(t, A, "POST", fmt.Sprintf("/api/v1/users/%d/disable", id), ""); status != 200 || out["disabled"] != true {
		t.Fatalf("disable: %d %v", status, out)
	}
	if me(tok2) != 401 || login(pw2) != 401 {
		t.Error("a disabled user still gets in")
	}
	for path, code := range map[string]string{
		fmt.Sprintf("/api/v1/users/%d/reset", id): "user_disabled", "/api/v1/users/999999/disable": "not_found",
	} {
		if status, out := ts.do(t, A, "POST", path, ""); status/100 != 4 || errCode(out) != code {
			t.Errorf("%s: %d %v, want %s", path, status, out, code)
		}
	}
	_, mine := ts.do(t, A, "GET", "/api/v1/me", "")
	myID := int64(mine["user"].(map[string]any)["id"].(float64))
	if status, out := ts.do(t, A, "POST", fmt.Sprintf("/api/v1/users/%d/disable", myID), ""); status != 409 || errCode(out) != "cannot_disable_self" {
		t.Errorf("disabling oneself: %d %v", status, out)
	}
	_, audit := ts.do(t, A, "GET", "/api/v1/audit?action=user.&record="+url.QueryEscape(fmt.Sprintf("user:%d", id)), "")
	var acts []string
	for _, e := range audit["entries"].([]any) {
		acts = append(acts, e.(map[string]any)["action"].(string))
	}
	if strings.Join(acts, ",") != "user.disable,user.reset,user.add" {
		t.Errorf("audited %v", acts)
	}
	_, cat := ts.do(t, A, "GET", "/api/v1/admin/catalogue", "")
	if roles, _ := cat["roles"].([]any); len(roles) != len(contexts.Roles) {
		t.Errorf("catalogue roles %v", cat["roles"])
	}
}

// TestTaxonomyScreenOverHTTP: an admin adds a category and the taxonomy, and
// with it the map's category picker and the heat filters, know it at once;
// retired, it stays readable but is marked retired.
func TestTaxonomyScreenOverHTTP(t *testing.T) {
	ts := startServer(t)
	status, out := ts.do(t, contexts.RoleAdmin, "POST", "/api/v1/taxonomy/categories", `{"code":"knife_crime","label":"Knife crime","extra_familial":true}`)
	if status != 201 {
		t.Fatalf("add: %d %v", status, out)
	}
	find := func() map[string]any {
		_, tax := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/taxonomy", "")
		for _, c := range tax["categories"].([]any) {
			if m := c.(map[string]any); m["code"] == "knife_crime" {
				return m
			}
		}
		return nil
	}
	if c := find(); c == nil || c["retired"] != false {
		t.Fatalf("added category: %v", c)
	}
	// The heat filters know it (until a release holds it, its period is
	// what is refused, never the category).
	if _, out := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/heat/cells?category=knife_crime&period=last-12m&res=6", ""); errCode(out) == "category_unsupported" {
		t.Errorf("the heat filters do not know the new category: %v", out)
	}
	if _, out := ts.do(t, contexts.RoleAnalyst, "GET", "/api/v1/heat/cells?category=knife_crimes&period=last-12m&res=6", ""); errCode(out) != "category_unsupported" {
		t.Errorf("an unknown category is not refused as one: %v", out)
	}
	if status, out := ts.do(t, contexts.RoleAdmin, "POST", "/api/v1/taxonomy/categories/knife_crime/retire", ""); status != 200 {
		t.Fatalf("retire: %d %v", status, out)
	}
	if c := find(); c == nil || c["retired"] != true {
		t.Fatalf("retired category: %v", c)
	}
	if status, out := ts.do(t, contexts.RoleAdmin, "POST", "/api/v1/taxonomy/categories/knife_crime/retire", ""); status != 409 {
		t.Errorf("retiring twice: %d %v", status, out)
	}
}

// TestRetentionCommand: `ctxmap retention --dry-run` lists and erases
// nothing; `ctxmap retention run` erases exactly that, each erasure in the
// audit log; the retention screen then shows the runs.
func TestRetentionCommand(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	ts.record(t, harmPoint{subject: "GONE-1", lat: 51.545, lon: -0.055, category: ts.categories(t)[0], layer: "harm"})
	ts.record(t, harmPoint{subject: "KEPT-1", lat: 51.545, lon: -0.055, category: ts.categories(t)[0], layer: "harm"})
	if _, err := ts.Pool.Exec(ctx, `UPDATE harm_locations SET created_at = now() - interval '8 years'
		WHERE subject_id = (SELECT subject_id FROM harm_locations ORDER BY id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Pool.Exec(ctx, `UPDATE subjects SET created_at = now() - interval '8 years'`); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := Run(ctx, append(append([]string{"retention"}, args...), "--database-url", ts.DBURL, "--secret", testSecret), nil, &out, &errs)
		return out.String() + errs.String(), err
	}
	if out, err := run(); err == nil || !strings.Contains(out, "usage") {
		t.Errorf("no argument: %v %s", err, out)
	}
	count := func() int {
		var n int
		if err := ts.Pool.QueryRow(ctx, `SELECT count(*) FROM harm_locations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	out, err := run("--dry-run")
	if err != nil || !strings.Contains(out, "would erase 1 record(s)") || !strings.Contains(out, "young_person") || count() != 2 {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = run("run")
	if err != nil || !strings.Contains(out, "erased 1 record(s)") || count() != 1 {
		t.Fatalf("run: %v\n%s", err, out)
	}
	_, audit := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/audit?action=retention.", "")
	var acts []string
	for _, e := range audit["entries"].([]any) {
		acts = append(acts, e.(map[string]any)["action"].(string))
	}
	if strings.Join(acts, ",") != "retention.erase,retention.dry_run" {
		t.Errorf("retention audited as %v", acts)
	}
	status, st := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/admin/retention", "")
	runs, _ := st["runs"].([]any)
	if status != 200 || len(runs) < 2 || st["policy"].(map[string]any)["young_person_years"] != float64(contexts.DefaultYoungPersonYears) {
		t.Errorf("retention status: %d %v", status, st)
	}
}
