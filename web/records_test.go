package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
	"github.com/ctxmap/ctxmap/web/webtest"
)

// recordsServer is the web layer over a throw-away database, with one
// token per role and a tiny postcode directory.
type recordsServer struct {
	*httptest.Server
	pool   *pgxpool.Pool
	tokens map[contexts.Role]string
}

func newRecordsServer(t *testing.T, opts ...postgres.Option) *recordsServer {
	t.Helper()
	return newRecordsServerWrapped(t, nil, opts...)
}

// newRecordsServerWrapped is newRecordsServer with the records store seen
// through wrap, for tests that make it misbehave.
func newRecordsServerWrapped(t *testing.T, wrap func(Records) Records, opts ...postgres.Option) *recordsServer {
	t.Helper()
	pool := pgtest.New(t)
	geocoder := contexts.GeocoderFunc(func(_ context.Context, pcs []string) ([]contexts.Geocoded, error) {
		out := make([]contexts.Geocoded, len(pcs))
		for i, p := range pcs {
			out[i] = contexts.Geocoded{Postcode: p, Match: "none"}
			switch p {
			case "E8 3AA":
				out[i] = contexts.Geocoded{Postcode: p, Match: "unit", Lat: 51.543329, Lon: -0.066559, PrecisionM: 50}
			case "E8 3AB":
				out[i] = contexts.Geocoded{Postcode: p, Match: "unit", Lat: 51.543369, Lon: -0.067913, PrecisionM: 50}
			}
		}
		return out, nil
	})
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	records, err := postgres.NewStore(pool, []byte("web-test-secret-0123456789-abcdef"), geocoder,
		append([]postgres.Option{postgres.WithClock(func() time.Time { return now })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	users := postgres.NewUsers(pool)
	rs := &recordsServer{pool: pool, tokens: map[contexts.Role]string{}}
	for _, role := range contexts.Roles {
		_, tok, err := users.AddUser(context.Background(), nil, "web-"+string(role), role, "Team "+string(role), "")
		if err != nil {
			t.Fatal(err)
		}
		rs.tokens[role] = tok
	}
	var recs Records = records
	if wrap != nil {
		recs = wrap(records)
	}
	srv := New(Config{}, Deps{Users: users, Records: recs, Audit: records, Alerts: records,
		Idempotency: postgres.NewIdempotency(pool, []byte("web-test-secret-0123456789abcdef"))})
	rs.Server = httptest.NewServer(srv)
	t.Cleanup(rs.Close)
	return rs
}

func (rs *recordsServer) call(t *testing.T, role contexts.Role, method, path, body string) (int, map[string]any) {
	t.Helper()
	return webtest.Call(t, rs.URL, rs.tokens[role], method, path, body)
}

// TestRecordRoutesRoleMatrix calls every records route with every role and
// with no token: anonymous is 401, a role outside the route's list is 403,
// an allowed role gets past authorisation and never a 500. Analysts reach
// no harm-location or subject route.
func TestRecordRoutesRoleMatrix(t *testing.T) {
	rs := newRecordsServer(t)
	P, L, A, D := contexts.RolePractitioner, contexts.RoleContextLead, contexts.RoleAnalyst, contexts.RoleAdmin
	status, ctxBody := rs.call(t, L, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","postcode":"E8 3AA"}`)
	if status != 201 {
		t.Fatalf("create context: %d %v", status, ctxBody)
	}
	cid := int64(ctxBody["id"].(float64))
	status, harm := rs.call(t, P, "POST", "/api/v1/harm-locations", `{"subject":"W-1","categories":["cse"],"familial":"extra","layer":"harm",
		"occurred":"2026-02","source":"referral","postcode":"E8 3AB","location_type":"park"}`)
	if status != 201 {
		t.Fatalf("create harm location: %d %v", status, harm)
	}
	hid := int64(harm["id"].(float64))
	routes := []struct {
		method, path, body string
		allowed            []contexts.Role
	}{
		{"GET", "/api/v1/taxonomy", "", []contexts.Role{P, L, A, D}},
		{"POST", "/api/v1/taxonomy/categories", `{"code":"x_%s","label":"X","extra_familial":true}`, []contexts.Role{D}},
		{"POST", "/api/v1/taxonomy/categories/nope/retire", "", []contexts.Role{D}},
		{"POST", "/api/v1/harm-locations", `{"subject":"W-2","categories":["cce"],"familial":"extra","layer":"unsafe","occurred":"2026-01-02","source":"safety_map","lat":51.55,"lon":-0.06,"location_type":"street"}`, []contexts.Role{P}},
		{"GET", "/api/v1/subjects/W-1/harm-locations?purpose=assessment", "", []contexts.Role{P}},
		{"POST", fmt.Sprintf("/api/v1/harm-locations/%d/archive", hid), `{"reason":"never_an_issue","note":"x"}`, []contexts.Role{P}},
		{"POST", "/api/v1/contexts", `{"kind":"group","name":"Group %s"}`, []contexts.Role{L}},
		{"GET", "/api/v1/contexts?near=E8%203AA&radius_m=500", "", []contexts.Role{P, L, A, D}},
		{"GET", fmt.Sprintf("/api/v1/contexts/%d", cid), "", []contexts.Role{P, L, A, D}},
		{"PATCH", fmt.Sprintf("/api/v1/contexts/%d", cid), `{"description":"Lit poorly"}`, []contexts.Role{L}},
		{"POST", fmt.Sprintf("/api/v1/contexts/%d/assessments", cid), `{"side":"needs","note":"Thematic"}`, []contexts.Role{L}},
		{"POST", fmt.Sprintf("/api/v1/contexts/%d/interventions", cid), `{"action":"Lighting","partner_agency":"parks","side":"environment"}`, []contexts.Role{L}},
		{"PATCH", fmt.Sprintf("/api/v1/contexts/%d/interventions/1", cid), `{"status":"in_progress"}`, []contexts.Role{L}},
		{"POST", fmt.Sprintf("/api/v1/contexts/%d/links", cid), `{"subject":"W-1","reason":"Named it"}`, []contexts.Role{P}},
		{"GET", fmt.Sprintf("/api/v1/contexts/%d/links", cid), "", []contexts.Role{P}},
		{"DELETE", fmt.Sprintf("/api/v1/contexts/%d/links/1?reason=moved", cid), "", []contexts.Role{P}},
		{"GET", fmt.Sprintf("/api/v1/contexts/%d/links/summary", cid), "", []contexts.Role{P, L, A, D}},
		{"POST", fmt.Sprintf("/api/v1/contexts/%d/close", cid), `{"reason":"Safer","evidence":{"needs":"a","guardianship":"b","environment":"c"}}`, []contexts.Role{L}},
		{"POST", fmt.Sprintf("/api/v1/contexts/%d/reopen", cid), `{"reason":"Back"}`, []contexts.Role{L}},
		{"GET", fmt.Sprintf("/api/v1/contexts/%d/chronology", cid), "", []contexts.Role{P, L, A, D}},
		{"GET", "/api/v1/me/notifications", "", []contexts.Role{P, L, A, D}},
		{"POST", "/api/v1/me/notifications/read", `{"up_to":1000}`, []contexts.Role{P, L, A, D}},
		{"GET", "/api/v1/admin/alerts", "", []contexts.Role{D}},
		{"POST", "/api/v1/admin/alerts/1/read", "", []contexts.Role{D}},
	}
	for _, rt := range routes {
		for _, role := range append([]contexts.Role{""}, contexts.Roles...) {
			name := string(role)
			if name == "" {
				name = "anonymous"
			}
			t.Run(rt.method+" "+rt.path+" as "+name, func(t *testing.T) {
				body := rt.body
				if strings.Contains(body, "%s") {
					body = fmt.Sprintf(body, role)
				}
				status, out := rs.call(t, role, rt.method, rt.path, body)
				allowed := false
				for _, a := range rt.allowed {
					allowed = allowed || a == role
				}
				switch {
				case role == "":
					if status != 401 {
						t.Fatalf("anonymous got %d %v", status, out)
					}
				case !allowed:
					if status != 403 {
						t.Fatalf("%s got %d, want 403 (%v)", role, status, out)
					}
				default:
					if status == 401 || status == 403 || status >= 500 {
						t.Fatalf("%s got %d %v", role, status, out)
					}
				}
			})
		}
	}
}

// TestRecordRoutesAnswers checks the HTTP shapes a client relies on.
func TestRecordRoutesAnswers(t *testing.T) {
	rs := newRecordsServer(t)
	P, L, A := contexts.RolePractitioner, contexts.RoleContextLead, contexts.RoleAnalyst
	status, c := rs.call(t, L, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","postcode":"e8 3aa"}`)
	if status != 201 || c["display_name"] != "Park, E8 3AA" {
		t.Fatalf("create: %d %v", status, c)
	}
	id := c["id"].(float64)
	status, dup := rs.call(t, L, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","postcode":"E8 3AA"}`)
	e, _ := dup["error"].(map[string]any)
	details, _ := e["details"].(map[string]any)
	if status != 409 || e["code"] != "context_exists" || details["existing_id"] != id {
		t.Fatalf("duplicate: %d %v", status, dup)
	}
	status, near := rs.call(t, A, "GET", "/api/v1/contexts?near=51.5434,-0.0679&radius_m=1000&status=all", "")
	list, _ := near["contexts"].([]any)
	if status != 200 || len(list) != 1 || list[0].(map[string]any)["distance_m"].(float64) < 50 {
		t.Fatalf("nearby: %d %v", status, near)
	}
	// Without near, the workspace list: found by name, with review dates.
	status, found := rs.call(t, A, "GET", "/api/v1/contexts?q=park%20e8&status=open", "")
	list, _ = found["contexts"].([]any)
	if status != 200 || len(list) != 1 || found["lat"] != nil {
		t.Fatalf("list by name: %d %v", status, found)
	}
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/contexts?radius_m=500", 400, "invalid_parameter"},
		{"/api/v1/contexts?near=51.5,-0.1&q=park", 400, "invalid_parameter"},
		{"/api/v1/contexts?review=soon", 400, "invalid_review"},
		{"/api/v1/contexts?location_type=moon", 400, "invalid_location_type"},
		{"/api/v1/contexts?limit=0", 400, "invalid_parameter"},
		{"/api/v1/contexts?near=E8%203ZZ", 422, "postcode_not_found"},
		{"/api/v1/contexts?near=nowhere", 422, "postcode_malformed"},
		{"/api/v1/contexts?near=51.5,x", 400, "invalid_parameter"},
		{"/api/v1/contexts?near=51.5,-0.1&radius_m=999999", 400, "invalid_radius"},
		{"/api/v1/contexts?near=51.5,-0.1&kind=pub", 400, "invalid_kind"},
		{"/api/v1/contexts/99999", 404, "not_found"},
	} {
		status, out := rs.call(t, A, "GET", tc.path, "")
		e, _ := out["error"].(map[string]any)
		if status != tc.status || e["code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.path, status, out, tc.status, tc.code)
		}
	}
	status, out := rs.call(t, L, "POST", fmt.Sprintf("/api/v1/contexts/%d/assessments", int(id)), `{"side":"needs","note":"Call 07700 900123"}`)
	e, _ = out["error"].(map[string]any)
	if status != 422 || e["code"] != "personal_data" || !strings.Contains(e["message"].(string), "07700 900123") {
		t.Fatalf("personal data: %d %v", status, out)
	}
	status, out = rs.call(t, P, "POST", fmt.Sprintf("/api/v1/contexts/%d/links", int(id)), `{"subject":"W-9","reason":"Named it"}`)
	if status != 201 {
		t.Fatalf("link: %d %v", status, out)
	}
	lid := int(out["id"].(float64))
	status, out = rs.call(t, P, "DELETE", fmt.Sprintf("/api/v1/contexts/%d/links/%d", int(id), lid), `{"reason":"Moved away"}`)
	if status != 200 || out["unlinked"] != true {
		t.Fatalf("unlink: %d %v", status, out)
	}
	status, out = rs.call(t, P, "GET", fmt.Sprintf("/api/v1/contexts/%d/chronology", int(id)), "")
	events, _ := out["events"].([]any)
	if status != 200 || len(events) != 3 {
		t.Fatalf("chronology: %d %v", status, out)
	}
	// An analyst sees link events only once a release is made.
	status, out = rs.call(t, A, "GET", fmt.Sprintf("/api/v1/contexts/%d/chronology", int(id)), "")
	if events, _ = out["events"].([]any); status != 200 || len(events) != 1 {
		t.Fatalf("analyst's chronology before a release: %d %v", status, out)
	}
	status, out = rs.call(t, P, "GET", "/api/v1/subjects/W-404/harm-locations?purpose=assessment", "")
	if list, ok := out["harm_locations"].([]any); status != 200 || !ok || len(list) != 0 {
		t.Fatalf("unknown subject: %d %v", status, out)
	}
	status, out = rs.call(t, P, "POST", "/api/v1/harm-locations", `{"subject":"W-1","categories":["cse"],"familial":"extra","layer":"harm","occurred":"2026-02","source":"referral","postcode":"E8 3AB","location_type":"park","colour":"red"}`)
	e, _ = out["error"].(map[string]any)
	if status != 400 || e["code"] != "unknown_field" {
		t.Fatalf("unknown field: %d %v", status, out)
	}
}
