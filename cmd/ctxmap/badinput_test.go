package main

// The bad-input matrix (issue 11, "In the suite"): every route the OpenAPI
// document lists, times malformed variants made from what the document says
// about it (its path and query parameters with their types, whether it takes
// a body and which fields that body has), times every role and no sign-in.
// No answer may be a 5xx, every 4xx must carry the JSON error shape, and no
// refused request may write a row.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
)

// matrixUnchecked are the public tables a refused request may write, each
// with the reason. Every other table must have the same rows before and
// after each route's share of the matrix.
var matrixUnchecked = map[string]string{
	// Refusals are audited: failed sign-ins, forbidden reads and the like.
	"audit_log":      "records refusals by design (PRIVACY.md: who tried what)",
	"login_failures": "counts wrong passwords for the login limit (issue 11 finding 5): a refused sign-in is recorded by design",
	"retention_runs": "the server's scheduled retention run records itself when it starts, whatever the requests",
}

// matrixCountOnly are tables whose row count is compared but not their
// content, because a request that is let in legitimately touches a column.
var matrixCountOnly = map[string]string{
	"api_tokens":      "last_used_at moves on every authenticated request, refused or not",
	"spatial_ref_sys": "PostGIS's static reference table: large, never written by ctxmap",
}

// matrixAccepted are the non-GET routes that may answer 2xx to a matrix
// variant, with why that writes nothing. Any other 2xx to a write is a
// malformed request accepted.
var matrixAccepted = map[string]string{
	"DELETE /api/v1/session":        "signing out a bearer token has no session cookie to delete",
	"POST /api/v1/auth/oidc/logout": "signing out a bearer token has no session cookie to end",
}

// openAPIDoc is the part of the OpenAPI document the matrix reads.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		Roles      []string `json:"x-roles"`
		Parameters []struct {
			Name     string `json:"name"`
			In       string `json:"in"`
			Required bool   `json:"required"`
			Schema   struct {
				Type string `json:"type"`
			} `json:"schema"`
		} `json:"parameters"`
		RequestBody *struct {
			Description string `json:"description"`
		} `json:"requestBody"`
	} `json:"paths"`
}

// matrixRoute is one operation of the document with what the matrix needs
// to make a request that is right but for the one thing a variant breaks.
type matrixRoute struct {
	method, path string // path in OpenAPI syntax
	pathParams   []string
	query        []queryParam
	body         map[string]any // a well-formed body; nil when the route takes none
	required     []string       // body fields the document does not mark optional
}

type queryParam struct {
	name, typ string
	required  bool
}

// variant is one malformed request: a path (with query), a body and its
// Content-Type, and an extra header.
type variant struct {
	name, path, contentType string
	body                    []byte
	header                  [2]string
	// bodyBroken marks a variant whose body is malformed: a write route
	// must never accept it.
	bodyBroken bool
}

func TestBadInputMatrix(t *testing.T) {
	begin := time.Now()
	ts := startServer(t)
	fx := matrixFixtures(t, ts)
	var doc openAPIDoc
	if status, raw := getRaw(t, ts.URL+"/api/v1/openapi.json"); status != 200 || json.Unmarshal(raw, &doc) != nil {
		t.Fatalf("openapi.json: %d", status)
	}
	routes := matrixRoutes(t, doc, fx)
	roles := append([]contexts.Role{"", roleBadToken}, contexts.Roles...)

	before := tableSnapshot(t, ts.Pool)
	type failure struct{ what, detail string }
	var mu sync.Mutex
	var failures []failure
	byStatus := map[int]int{}
	fail := func(what, detail string) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, failure{what, detail})
	}
	// A redirect is the answer: following one would turn a write on a path
	// the router cleans ("links/..%2F..") into a read of where it points.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	total := 0
	for _, rt := range routes {
		vs := rt.variants(fx)
		if len(vs) < 10 {
			t.Errorf("%s %s: only %d variants", rt.method, rt.path, len(vs))
		}
		type job struct {
			v    variant
			role contexts.Role
		}
		jobs := make(chan job)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					status, ct, raw, err := matrixSend(client, ts, j.role, rt.method, j.v)
					what := fmt.Sprintf("%s %s [%s] as %q", rt.method, rt.path, j.v.name, j.role)
					if err != nil {
						fail(what, "transport: "+err.Error())
						continue
					}
					mu.Lock()
					byStatus[status]++
					mu.Unlock()
					switch {
					case status >= 500:
						fail(what, fmt.Sprintf("%d %s", status, trim(raw)))
					case status >= 400:
						if msg := errorShape(ct, raw); msg != "" {
							fail(what, fmt.Sprintf("%d: %s: %s", status, msg, trim(raw)))
						}
					case status < 300 && rt.method != "GET" && matrixAccepted[rt.method+" "+rt.path] == "":
						fail(what, fmt.Sprintf("a malformed write was accepted: %d %s", status, trim(raw)))
					case status < 300 && j.v.bodyBroken && rt.body != nil:
						fail(what, fmt.Sprintf("a malformed body was accepted: %d %s", status, trim(raw)))
					}
				}
			}()
		}
		for _, v := range vs {
			for _, role := range roles {
				jobs <- job{v, role}
				total++
			}
		}
		close(jobs)
		wg.Wait()
		// Compare after each route, so a write is pinned on the route that made it.
		after := tableSnapshot(t, ts.Pool)
		for _, d := range before.diff(after) {
			fail(rt.method+" "+rt.path, "rows written by refused requests: "+d)
		}
		before = after
	}
	elapsed := time.Since(begin)
	t.Logf("bad-input matrix: %d routes, %d requests in %v (with set-up); answers by status %v", len(routes), total, elapsed.Round(10*time.Millisecond), byStatus)
	if total < 1000 {
		t.Errorf("only %d requests; the matrix must send at least 1,000", total)
	}
	sort.Slice(failures, func(i, j int) bool { return failures[i].what < failures[j].what })
	for i, f := range failures {
		if i == 60 {
			t.Errorf("... and %d more", len(failures)-i)
			break
		}
		t.Errorf("%s: %s", f.what, f.detail)
	}
}

// matrixIDs are the records the variants that need a real path id use, so
// a malformed body reaches the decoder and the validation behind the id.
type matrixIDs struct {
	context, harm, intervention, link int64
	subject, category                 string
	h3                                string
}

func matrixFixtures(t *testing.T, ts *testServer) matrixIDs {
	t.Helper()
	fx := matrixIDs{subject: "MATRIX-1"}
	fx.category = ts.categories(t)[0]
	mustID := func(role contexts.Role, method, path, body string) int64 {
		t.Helper()
		status, out := ts.do(t, role, method, path, body)
		id, _ := out["id"].(float64)
		if status != 201 || id == 0 {
			t.Fatalf("fixture %s %s: %d %v", method, path, status, out)
		}
		return int64(id)
	}
	fx.context = mustID(contexts.RoleContextLead, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","lat":51.55,"lon":-0.06}`)
	fx.harm = ts.record(t, harmPoint{subject: fx.subject, lat: 51.545, lon: -0.055, category: fx.category, layer: "harm"})
	fx.intervention = mustID(contexts.RoleContextLead, "POST", fmt.Sprintf("/api/v1/contexts/%d/interventions", fx.context),
		`{"action":"Lighting","partner_agency":"parks","side":"environment"}`)
	fx.link = mustID(contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/contexts/%d/links", fx.context),
		fmt.Sprintf(`{"subject":%q,"reason":"Seen there"}`, fx.subject))
	fx.h3 = cellAt(51.545, -0.055, 8).String()
	// The release made at start writes its rows while the server comes up;
	// wait for it so it is not taken for a refused request's write.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := ts.Pool.QueryRow(t.Context(), `SELECT count(*) FROM releases`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no release 30 s after start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fx
}

// matrixBodies are well-formed bodies for every route that takes one, keyed
// by method and OpenAPI path. None is sent as it is: each variant breaks it.
var matrixBodies = map[string]string{
	"POST /api/v1/session":                                      `{"name":"test-admin","password":"not the password"}`,
	"POST /api/v1/taxonomy/categories":                          `{"code":"matrix_cat","label":"Matrix","census_code":"11A","extra_familial":true}`,
	"POST /api/v1/harm-locations":                               `{"subject":"MATRIX-2","categories":["{cat}"],"familial":"extra","layer":"harm","occurred":"{month}","source":"referral","lat":51.545,"lon":-0.055,"location_type":"park","context_id":{context}}`,
	"POST /api/v1/harm-locations/{id}/archive":                  `{"reason":"never_an_issue","note":"Mistaken"}`,
	"POST /api/v1/harm-locations/{id}/types/{category}/archive": `{"reason":"never_an_issue","note":"Mistaken"}`,
	"POST /api/v1/harm-locations/{id}/categories":               `{"add":[{"category":"{cat}","started":"{month}"}],"remove":["{cat}"],"note":"Misread"}`,
	"POST /api/v1/safety-places":                                `{"subject":"MATRIX-4","rating":"green","mapped":"{month}","trusted_adult":"youth_worker","lat":51.545,"lon":-0.055,"location_type":"youth_club","context_id":{context}}`,
	"POST /api/v1/contexts":                                     `{"kind":"location","location_type":"street","name":"Matrix Row","lat":51.546,"lon":-0.056,"description":"Thematic","review_date":"{future}"}`,
	"PATCH /api/v1/contexts/{id}":                               `{"name":"Matrix Park","description":"Lit poorly","review_date":"{future}"}`,
	"POST /api/v1/contexts/{id}/assessments":                    `{"side":"needs","note":"Thematic note"}`,
	"POST /api/v1/contexts/{id}/interventions":                  `{"action":"Lighting","partner_agency":"parks","side":"environment","status":"planned","due_date":"{future}","done_date":""}`,
	"PATCH /api/v1/contexts/{id}/interventions/{iid}":           `{"action":"More lighting","partner_agency":"parks","side":"environment","status":"in_progress","due_date":"{future}","done_date":""}`,
	"POST /api/v1/contexts/{id}/links":                          `{"subject":"MATRIX-3","reason":"Seen there","label":"Matrix referral"}`,
	"PATCH /api/v1/contexts/{id}/links/{lid}":                   `{"label":"Matrix label"}`,
	"POST /api/v1/contexts/similar":                             `{"kind":"location","location_type":"street","name":"Matrix Row","lat":51.546,"lon":-0.056}`,
	"POST /api/v1/contexts/{id}/close":                          `{"reason":"Safer","evidence":{"needs":"a","guardianship":"b","environment":"c"}}`,
	"POST /api/v1/contexts/{id}/reopen":                         `{"reason":"Back again"}`,
	"DELETE /api/v1/contexts/{id}/links/{lid}":                  `{"reason":"Moved away"}`,
	"PUT /api/v1/allocations":                                   `{"allocations":[{"subject":"MATRIX-9","team":"team-admin"}]}`,
	"POST /api/v1/geocode":                                      `{"queries":[{"postcode":"E8 3AA","location_type":"park"}]}`,
	"POST /api/v1/me/notifications/read":                        `{"up_to":1}`,
	"POST /api/v1/users":                                        `{"name":"matrix-user","role":"analyst","team":"Matrix"}`,
	"POST /api/v1/markers":                                      `{"subject":"MATRIX-4","kind":"referral","familial":"extra","date":"2026-01-05","note":"Referral"}`,
	"POST /api/v1/markers/{id}/correct":                         `{"familial":"both","date":"2026-01-05","note":"n","reason":"Corrected"}`,
	"POST /api/v1/relocations":                                  `{"subject":"MATRIX-4","date":"2026-01-05","kind":"secure","note":"n"}`,
	"POST /api/v1/relocations/{id}/withdraw":                    `{"reason":"Entered in error"}`,
	"POST /api/v1/factors/{id}/withdraw":                        `{"reason":"Entered in error"}`,
	"POST /api/v1/factors":                                      `{"subject":"MATRIX-4","identified_on":"2026-01-05","description":"Peers","context_id":{context}}`,
	"POST /api/v1/factors/{id}/actions":                         `{"action":"Patrols","partner_agency":"police","status":"planned","due_date":"{future}","done_date":""}`,
	"PATCH /api/v1/factors/{id}/actions/{aid}":                  `{"action":"Patrols","partner_agency":"police","status":"in_progress","due_date":"{future}","done_date":""}`,
}

// matrixQueryValues are good values for the required query parameters.
func matrixQueryValues(fx matrixIDs) map[string]string {
	return map[string]string{"near": "51.545,-0.055", "res": "8", "h3": fx.h3, "lat": "51.545", "lon": "-0.055", "purpose": "assessment", "state": "no-such-state"}
}

// goodPathValue is a value for a path parameter that names a real record,
// or for routes whose success would write, one that names none.
func goodPathValue(fx matrixIDs, path, name string) string {
	switch {
	case name == "id" && strings.HasPrefix(path, "/api/v1/harm-locations/"):
		return fmt.Sprint(fx.harm)
	case name == "id" && strings.HasPrefix(path, "/api/v1/admin/alerts/"):
		return "1" // there are no alerts: marking one read is a 404
	case name == "id" && strings.HasPrefix(path, "/api/v1/users/"):
		return "999999" // no such user: a real one would be disabled or reset
	case name == "id":
		return fmt.Sprint(fx.context)
	case name == "aid":
		return "999999" // no such plan action: the body still reaches the decoder
	case name == "iid":
		return fmt.Sprint(fx.intervention)
	case name == "lid":
		return fmt.Sprint(fx.link)
	case name == "nid":
		return "1" // the matrix user has no notifications: marking one read is a 404
	case name == "code":
		return "no_such_category" // a real one would be retired by a variant without a body
	case name == "category":
		return "no_such_category" // a real one would be archived by a variant that keeps the body valid
	case name == "subject":
		return fx.subject
	case name == "postcode":
		return "E8%203AA"
	case name == "z":
		return "10"
	case name == "x":
		return "511"
	case name == "y":
		return "340"
	case name == "ext":
		return "mvt" // the matrix server has no basemap: the route answers its 404
	}
	return ""
}

var bodyField = regexp.MustCompile(`"?\b([a-z_]+)\b"?(\[\])?(\?)?`)

func matrixRoutes(t *testing.T, doc openAPIDoc, fx matrixIDs) []matrixRoute {
	t.Helper()
	month := recentMonth()
	future := time.Now().AddDate(0, 2, 0).Format("2006-01-02")
	qv := matrixQueryValues(fx)
	var routes []matrixRoute
	for path, item := range doc.Paths {
		for method, op := range item {
			rt := matrixRoute{method: strings.ToUpper(method), path: path}
			key := rt.method + " " + path
			for _, p := range op.Parameters {
				switch p.In {
				case "path":
					rt.pathParams = append(rt.pathParams, p.Name)
					if goodPathValue(fx, path, p.Name) == "" {
						t.Fatalf("%s: no good value for path parameter %q: add it to goodPathValue", key, p.Name)
					}
				case "query":
					rt.query = append(rt.query, queryParam{name: p.Name, typ: p.Schema.Type, required: p.Required})
					if p.Required && qv[p.Name] == "" {
						t.Fatalf("%s: no good value for required query parameter %q: add it to matrixQueryValues", key, p.Name)
					}
				}
			}
			sample, hasSample := matrixBodies[key]
			if (op.RequestBody != nil) != hasSample {
				t.Fatalf("%s: the document says requestBody=%v but matrixBodies has %v: keep them in step", key, op.RequestBody != nil, hasSample)
			}
			if hasSample {
				sample = strings.NewReplacer("{cat}", fx.category, "{month}", month, "{future}", future,
					"{context}", fmt.Sprint(fx.context)).Replace(sample)
				if err := json.Unmarshal([]byte(sample), &rt.body); err != nil {
					t.Fatalf("%s: sample body: %v", key, err)
				}
				// Which fields the document names, and which it marks optional.
				named := map[string]bool{}
				optional := map[string]bool{}
				for _, m := range bodyField.FindAllStringSubmatch(op.RequestBody.Description, -1) {
					named[m[1]] = true
					if m[3] == "?" {
						optional[m[1]] = true
					}
				}
				for f := range rt.body {
					if !named[f] {
						t.Fatalf("%s: sample field %q is not in the document's body %q", key, f, op.RequestBody.Description)
					}
					if !optional[f] && f != "context_id" && f != "postcode" {
						rt.required = append(rt.required, f)
					}
				}
				sort.Strings(rt.required)
			}
			routes = append(routes, rt)
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].path+routes[i].method < routes[j].path+routes[j].method })
	if len(routes) < 30 {
		t.Fatalf("only %d routes in the OpenAPI document", len(routes))
	}
	return routes
}

// url builds the route's path with good values, overriding one path
// parameter when override is not "" and adding query (already encoded).
func (rt matrixRoute) url(fx matrixIDs, param, value string, query []string) string {
	p := rt.path
	for _, name := range rt.pathParams {
		v := goodPathValue(fx, rt.path, name)
		if name == param {
			v = value
		}
		p = strings.Replace(p, "{"+name+"}", v, 1)
	}
	if len(query) > 0 {
		p += "?" + strings.Join(query, "&")
	}
	return p
}

// goodQuery is the route's required query parameters with good values,
// leaving out skip and replacing the value of override.
func (rt matrixRoute) goodQuery(fx matrixIDs, skip string) []string {
	qv := matrixQueryValues(fx)
	var q []string
	for _, p := range rt.query {
		if p.required && p.name != skip {
			q = append(q, p.name+"="+qv[p.name])
		}
	}
	return q
}

const hugeLen = 70_000

func (rt matrixRoute) variants(fx matrixIDs) []variant {
	var vs []variant
	add := func(v variant) { vs = append(vs, v) }
	good := rt.url(fx, "", "", rt.goodQuery(fx, ""))
	with := func(extra ...string) string { return rt.url(fx, "", "", append(rt.goodQuery(fx, ""), extra...)) }

	// Whatever the route: odd query names and values, odd paths, a header.
	add(variant{name: "unknown query parameter", path: with("zz_unknown=1")})
	add(variant{name: "query name not UTF-8", path: with("%FF=1")})
	add(variant{name: "query value not UTF-8", path: with("zz=%C3%28")})
	add(variant{name: "query value with NUL", path: with("zz=a%00b")})
	add(variant{name: "huge query value", path: with("zz=" + strings.Repeat("q", 16_000))})
	add(variant{name: "path with a trailing slash", path: rt.url(fx, "", "", nil) + "/"})
	add(variant{name: "path with %FF appended", path: rt.url(fx, "", "", nil) + "%FF"})
	add(variant{name: "path with NUL appended", path: rt.url(fx, "", "", nil) + "%00"})
	add(variant{name: "header not UTF-8", path: good, header: [2]string{"X-Note", "caf\xe9"}})
	if rt.body == nil {
		add(variant{name: "unexpected malformed JSON body", path: good, contentType: "application/json", body: []byte(`{"a":`)})
		add(variant{name: "unexpected body of another type", path: good, contentType: "text/plain", body: []byte(`{"zz_unknown":1}`)})
	}

	// Each documented query parameter.
	for _, p := range rt.query {
		q := func(v string) string {
			rest := append([]string(nil), rt.goodQuery(fx, p.name)...)
			return rt.url(fx, "", "", append(rest, p.name+"="+v))
		}
		add(variant{name: p.name + " not UTF-8", path: q("%FF")})
		add(variant{name: p.name + " with NUL", path: q("%00")})
		add(variant{name: p.name + " huge", path: q(strings.Repeat("9", 16_000))})
		add(variant{name: p.name + " empty", path: q("")})
		if rt.method != "GET" && p.typ == "string" {
			// A free-text parameter of a write (DELETE's ?reason=): any
			// other value is a fine reason and would be acted on.
			continue
		}
		add(variant{name: p.name + " SQL-ish", path: q("1%27%3B%20DROP%20TABLE%20users%3B--")})
		add(variant{name: p.name + " repeated", path: q("1&" + p.name + "=2")})
		for _, v := range []string{"abc", "-1", "0", "99999999999999999999", "1e309", "NaN", "-Inf", "0x10"} {
			if p.typ == "integer" || p.typ == "number" || v == "abc" || v == "-1" {
				add(variant{name: p.name + "=" + v, path: q(v)})
			}
		}
		if p.required {
			add(variant{name: "missing " + p.name, path: rt.url(fx, "", "", rt.goodQuery(fx, p.name))})
		}
	}

	// Each path parameter.
	for _, name := range rt.pathParams {
		for _, v := range []string{"0", "-1", "99999999999999999999", "%FF", "%C3%28", "%00", "abc", "%20", "..%2F..", strings.Repeat("7", 4000)} {
			add(variant{name: name + "=" + trim([]byte(v)), path: rt.url(fx, name, v, rt.goodQuery(fx, ""))})
		}
	}

	if rt.body == nil {
		return vs
	}
	sample, _ := json.Marshal(rt.body)
	bodyVariant := func(name string, body []byte) {
		add(variant{name: name, path: good, contentType: "application/json", body: body, bodyBroken: true})
	}
	mutate := func(f func(m map[string]any)) []byte {
		m := map[string]any{}
		for k, v := range rt.body {
			m[k] = v
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	bodyVariant("malformed JSON", []byte(`{"a":`))
	bodyVariant("truncated body", sample[:len(sample)/2])
	bodyVariant("empty body", nil)
	bodyVariant("a JSON string", []byte(`"x"`))
	bodyVariant("a JSON number", []byte(`42`))
	bodyVariant("trailing data", append(append([]byte{}, sample...), []byte(`{}`)...))
	bodyVariant("byte order mark", append([]byte("\xef\xbb\xbf"), sample...))
	bodyVariant("deep nesting", []byte(strings.Repeat("[", 20_000)+strings.Repeat("]", 20_000)))
	bodyVariant("over the body limit", mutate(func(m map[string]any) { m["zz_pad"] = strings.Repeat("x", 2<<20) }))
	bodyVariant("unknown field", mutate(func(m map[string]any) { m["zz_unknown"] = 1 }))
	bodyVariant("raw NUL byte", insertRaw(sample, "\x00"))
	bodyVariant("raw invalid UTF-8", insertRaw(sample, "\xff\xfe"))
	if _, ok := rt.body["queries"]; !ok {
		// The bulk geocoder also takes a bare array.
		bodyVariant("a JSON array", []byte(`[]`))
	}
	for _, ct := range []string{"text/plain", "application/jsonx", "application/json; charset=latin1", "application/x-www-form-urlencoded", ""} {
		add(variant{name: "Content-Type " + fmt.Sprintf("%q", ct), path: good, contentType: ct, body: sample, bodyBroken: true})
	}
	if rt.method != "PATCH" {
		bodyVariant("empty object", []byte(`{}`))
	}
	for _, f := range rt.required {
		if _, ok := rt.body[f].(bool); ok {
			// A missing boolean reads as false: encoding/json cannot tell
			// the two apart without a pointer (see the report on issue 11).
			continue
		}
		bodyVariant("missing "+f, mutate(func(m map[string]any) { delete(m, f) }))
	}
	fields := make([]string, 0, len(rt.body))
	for f := range rt.body {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		switch v := rt.body[f].(type) {
		case string:
			bodyVariant(f+" as a number", mutate(func(m map[string]any) { m[f] = 12345 }))
			bodyVariant(f+" as an object", mutate(func(m map[string]any) { m[f] = map[string]any{"a": 1} }))
			bodyVariant(f+" huge", mutate(func(m map[string]any) { m[f] = strings.Repeat("x", hugeLen) }))
			bodyVariant(f+" with NUL", mutate(func(m map[string]any) { m[f] = "a\x00b" }))
		case float64:
			bodyVariant(f+" as a string", mutate(func(m map[string]any) { m[f] = fmt.Sprint(v) }))
			bodyVariant(f+" as an array", mutate(func(m map[string]any) { m[f] = []any{v} }))
			bodyVariant(f+" out of range", mutate(func(m map[string]any) { m[f] = -1e20 }))
			bodyVariant(f+" overflowing", bytes.Replace(mutate(func(m map[string]any) { m[f] = "@@" }), []byte(`"@@"`), []byte(`1e309`), 1))
			bodyVariant(f+" past int64", bytes.Replace(mutate(func(m map[string]any) { m[f] = "@@" }), []byte(`"@@"`), []byte(`99999999999999999999`), 1))
		case bool:
			bodyVariant(f+" as a string", mutate(func(m map[string]any) { m[f] = "yes" }))
			bodyVariant(f+" as a number", mutate(func(m map[string]any) { m[f] = 1 }))
		case []any:
			bodyVariant(f+" as a string", mutate(func(m map[string]any) { m[f] = "cse" }))
			bodyVariant(f+" of numbers", mutate(func(m map[string]any) { m[f] = []any{1, 2} }))
			bodyVariant(f+" empty", mutate(func(m map[string]any) { m[f] = []any{} }))
			bodyVariant(f+" of a huge string", mutate(func(m map[string]any) { m[f] = []any{strings.Repeat("x", hugeLen)} }))
			if rt.path == "/api/v1/allocations" {
				break // a feed of 10,000 lines is a caseload, not a malformed body
			}
			bodyVariant(f+" of 10,000 items", mutate(func(m map[string]any) {
				many := make([]any, 10_000)
				for i := range many {
					many[i] = v[0]
				}
				m[f] = many
			}))
		case map[string]any:
			bodyVariant(f+" as a string", mutate(func(m map[string]any) { m[f] = "x" }))
			bodyVariant(f+" as an array", mutate(func(m map[string]any) { m[f] = []any{v} }))
			bodyVariant(f+" with an unknown key", mutate(func(m map[string]any) {
				n := map[string]any{"zz_unknown": "x"}
				for k, x := range v {
					n[k] = x
				}
				m[f] = n
			}))
			bodyVariant(f+" with a number value", mutate(func(m map[string]any) {
				n := map[string]any{}
				for k := range v {
					n[k] = 1
				}
				m[f] = n
			}))
		}
	}
	return vs
}

// matrixSend sends one variant as role and returns the answer.
func matrixSend(client *http.Client, ts *testServer, role contexts.Role, method string, v variant) (int, string, []byte, error) {
	var body io.Reader = http.NoBody
	if v.body != nil {
		body = bytes.NewReader(v.body)
	}
	req, err := http.NewRequest(method, ts.URL+v.path, body)
	if err != nil {
		return 0, "", nil, err
	}
	switch role {
	case "":
	case roleBadToken:
		req.Header.Set("Authorization", "Bearer ctxm_not-a-real-token")
	default:
		req.Header.Set("Authorization", "Bearer "+ts.tokens[role])
	}
	if v.contentType != "" {
		req.Header.Set("Content-Type", v.contentType)
	}
	if v.header[0] != "" {
		req.Header.Set(v.header[0], v.header[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw, err
}

// errorShape says what is wrong with an error answer, or "" when it is
// {"error":{"code","message"}} as JSON with both non-empty.
func errorShape(contentType string, raw []byte) string {
	if !strings.HasPrefix(contentType, "application/json") {
		return "Content-Type " + contentType
	}
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	switch {
	case json.Unmarshal(raw, &e) != nil:
		return "not JSON"
	case e.Error == nil:
		return "no error object"
	case e.Error.Code == "" || e.Error.Message == "":
		return "empty code or message"
	}
	return ""
}

// insertRaw puts raw bytes inside the first string of a JSON body, or
// inside its first key when it has no string value.
func insertRaw(sample []byte, raw string) []byte {
	if i := bytes.Index(sample, []byte(`":"`)); i >= 0 {
		return slices.Concat(sample[:i+3], []byte(raw), sample[i+3:])
	}
	return slices.Concat(sample[:2], []byte(raw), sample[2:])
}

func trim(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}

func getRaw(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// snapshot is every public table's row count and, for most, a digest of
// its rows.
type snapshot map[string]string

func tableSnapshot(t *testing.T, pool *pgxpool.Pool) snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, n := range names {
		if matrixUnchecked[n] != "" {
			continue
		}
		id := pgx.Identifier{n}.Sanitize()
		digest := `''`
		if matrixCountOnly[n] == "" {
			digest = fmt.Sprintf(`(SELECT coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '') FROM %s t)`, id)
		}
		parts = append(parts, fmt.Sprintf(`SELECT %s::text, (SELECT count(*) FROM %s)::text || ' rows ' || %s`, quoteLiteral(n), id, digest))
	}
	rows, err = pool.Query(ctx, strings.Join(parts, " UNION ALL "))
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{}
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		s[n] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// diff names the tables whose rows differ between s and after.
func (s snapshot) diff(after snapshot) []string {
	var out []string
	for n, v := range after {
		if s[n] != v {
			out = append(out, fmt.Sprintf("%s: %q -> %q", n, s[n], v))
		}
	}
	sort.Strings(out)
	return out
}
