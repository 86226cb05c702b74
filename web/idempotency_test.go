package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
)

// Issue 11, finding 7: a client that retries a create after a lost answer
// created it twice. With an Idempotency-Key the retry gets the first answer.

// keyed sends a JSON create with an Idempotency-Key (none when key is "")
// signed with token and returns the status, the raw body and whether the
// answer was a replay.
func (rs *recordsServer) keyed(t *testing.T, token, key, method, path, body string) (int, string, bool) {
	t.Helper()
	req, err := http.NewRequest(method, rs.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(idempotencyHeader, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header.Get(replayedHeader) == "true"
}

func (rs *recordsServer) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := rs.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func idOf(t *testing.T, body string) int64 {
	t.Helper()
	var v struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.ID == 0 {
		t.Fatalf("no id in %s (%v)", body, err)
	}
	return v.ID
}

// Every create: a retry with the same key gets the first answer (status,
// body, so the same id) and writes no second row; the same key with
// another body is 422 idempotency_key_reused and writes nothing.
func TestIdempotentCreatesReplayTheFirstAnswer(t *testing.T) {
	rs := newRecordsServer(t)
	P, L, D := rs.tokens[contexts.RolePractitioner], rs.tokens[contexts.RoleContextLead], rs.tokens[contexts.RoleAdmin]
	status, body, _ := rs.keyed(t, L, "", "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","postcode":"E8 3AA"}`)
	if status != 201 {
		t.Fatalf("a context to work on: %d %s", status, body)
	}
	ctx := fmt.Sprintf("/api/v1/contexts/%d", idOf(t, body))
	for _, c := range []struct {
		token, path, table, body, other string
	}{
		{P, "/api/v1/harm-locations", "harm_locations", harmBody("IDEM-1"), harmBody("IDEM-2")},
		{L, "/api/v1/contexts", "contexts", `{"kind":"location","location_type":"park","postcode":"E8 3AB"}`, `{"kind":"group","name":"Idem group"}`},
		{L, ctx + "/assessments", "context_assessments", `{"side":"needs","note":"Boredom after school"}`, `{"side":"needs","note":"Something else"}`},
		{L, ctx + "/interventions", "context_interventions", `{"action":"Detached youth work","partner_agency":"youth_services","side":"guardianship"}`,
			`{"action":"CCTV","partner_agency":"community_safety","side":"environment"}`},
		{P, ctx + "/links", "context_links", `{"subject":"IDEM-3","reason":"Seen there"}`, `{"subject":"IDEM-4","reason":"Seen there"}`},
		{D, "/api/v1/taxonomy/categories", "harm_categories", `{"code":"idem_cat","label":"Idem","extra_familial":true}`, `{"code":"idem_other","label":"Other","extra_familial":true}`},
	} {
		before := rs.count(t, c.table)
		s1, b1, replayed1 := rs.keyed(t, c.token, "key-1", "POST", c.path, c.body)
		if s1 != 201 || replayed1 {
			t.Fatalf("%s: first request %d %s (replayed %v)", c.path, s1, b1, replayed1)
		}
		if c.table != "harm_categories" {
			idOf(t, b1)
		}
		s2, b2, replayed2 := rs.keyed(t, c.token, "key-1", "POST", c.path, c.body)
		if s2 != s1 || b2 != b1 || !replayed2 {
			t.Fatalf("%s: retry %d %s (replayed %v), want the first answer %d %s", c.path, s2, b2, replayed2, s1, b1)
		}
		if n := rs.count(t, c.table); n != before+1 {
			t.Fatalf("%s: %d rows written, want 1", c.path, n-before)
		}
		s3, b3, _ := rs.keyed(t, c.token, "key-1", "POST", c.path, c.other)
		if code := codeOf(b3); s3 != 422 || code != "idempotency_key_reused" {
			t.Fatalf("%s: same key, other body: %d %s, want 422 idempotency_key_reused", c.path, s3, b3)
		}
		if n := rs.count(t, c.table); n != before+1 {
			t.Fatalf("%s: the refused request wrote %d rows", c.path, n-before-1)
		}
		// Without a key nothing is remembered: the other body is created.
		if s4, b4, _ := rs.keyed(t, c.token, "", "POST", c.path, c.other); s4 != 201 {
			t.Fatalf("%s: without a key: %d %s", c.path, s4, b4)
		}
	}
}

func codeOf(body string) string {
	var e errorBody
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error.Code
}

// Keys are each user's own: two practitioners using the same key create
// one record each, and neither gets the other's answer.
func TestIdempotencyKeysArePerUser(t *testing.T) {
	rs := newRecordsServer(t)
	_, other, err := postgres.NewUsers(rs.pool).AddUser(context.Background(), nil, "web-practitioner-2", contexts.RolePractitioner, "Team practitioner", "")
	if err != nil {
		t.Fatal(err)
	}
	P := rs.tokens[contexts.RolePractitioner]
	s1, b1, _ := rs.keyed(t, P, "shared-key", "POST", "/api/v1/harm-locations", harmBody("PER-USER-1"))
	s2, b2, replayed := rs.keyed(t, other, "shared-key", "POST", "/api/v1/harm-locations", harmBody("PER-USER-1"))
	if s1 != 201 || s2 != 201 || replayed || idOf(t, b1) == idOf(t, b2) {
		t.Fatalf("two users, one key: %d %s and %d %s (replayed %v), want two records", s1, b1, s2, b2, replayed)
	}
	if n := rs.count(t, "harm_locations"); n != 2 {
		t.Fatalf("%d harm locations, want 2", n)
	}
	// The same key on another route is another request too.
	status, body, _ := rs.keyed(t, rs.tokens[contexts.RoleContextLead], "shared-key", "POST", "/api/v1/contexts", `{"kind":"group","name":"Per user"}`)
	if status != 201 {
		t.Fatalf("the key on another route: %d %s", status, body)
	}
}

// Concurrent duplicates write once: each answer is the first one or 409
// idempotency_in_progress while it runs.
func TestConcurrentDuplicatesWriteOnce(t *testing.T) {
	rs := newRecordsServer(t)
	P := rs.tokens[contexts.RolePractitioner]
	var mu sync.Mutex
	bodies := map[string]int{}
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, body, _ := rs.keyed(t, P, "same-key", "POST", "/api/v1/harm-locations", harmBody("RACE-1"))
			mu.Lock()
			defer mu.Unlock()
			statuses[status]++
			if status == 201 {
				bodies[body]++
			} else if status != 409 || codeOf(body) != "idempotency_in_progress" {
				t.Errorf("a duplicate: %d %s", status, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	if statuses[201] < 1 || len(bodies) != 1 {
		t.Fatalf("answers %v with %d different bodies, want at least one 201 and one body", statuses, len(bodies))
	}
	if n := rs.count(t, "harm_locations"); n != 1 {
		t.Fatalf("%d harm locations, want 1", n)
	}
}

// A refused create stores nothing: the key may be retried with a corrected
// body. A malformed key is a 400 before anything runs.
func TestRefusedCreateFreesItsKey(t *testing.T) {
	rs := newRecordsServer(t)
	P := rs.tokens[contexts.RolePractitioner]
	bad := strings.Replace(harmBody("FREE-1"), `"layer":"harm"`, `"layer":"nowhere"`, 1)
	if status, body, _ := rs.keyed(t, P, "fix-me", "POST", "/api/v1/harm-locations", bad); status/100 != 4 {
		t.Fatalf("a bad layer: %d %s", status, body)
	}
	if status, body, replayed := rs.keyed(t, P, "fix-me", "POST", "/api/v1/harm-locations", harmBody("FREE-1")); status != 201 || replayed {
		t.Fatalf("the corrected retry: %d %s (replayed %v)", status, body, replayed)
	}
	for _, key := range []string{strings.Repeat("k", 256), "has space", "tab\tkey"} {
		status, body, _ := rs.keyed(t, P, key, "POST", "/api/v1/harm-locations", harmBody("FREE-2"))
		if status != 400 || codeOf(body) != "invalid_idempotency_key" {
			t.Errorf("key %q: %d %s, want 400 invalid_idempotency_key", key, status, body)
		}
	}
	if n := rs.count(t, "harm_locations"); n != 1 {
		t.Fatalf("%d harm locations, want 1", n)
	}
}

// Every create route documents the header and the errors it brings, and
// every route answering 201 is a create that honours it.
func TestCreatesDocumentTheIdempotencyKey(t *testing.T) {
	s := New(Config{}, Deps{})
	doc := s.openAPI()
	paths := doc["paths"].(map[string]any)
	n := 0
	for _, op := range s.Ops() {
		if op.Status != http.StatusCreated {
			continue
		}
		n++
		if op.SecretAnswer && !op.Idempotent {
			continue // its answer is never kept (Op.SecretAnswer)
		}
		if !op.Idempotent {
			t.Errorf("%s %s answers 201 but does not honour %s", op.Method, op.Path, idempotencyHeader)
			continue
		}
		o := paths[openAPIPath(op.Path)].(map[string]any)[strings.ToLower(op.Method)].(map[string]any)
		found := false
		for _, p := range o["parameters"].([]any) {
			pm := p.(map[string]any)
			found = found || (pm["name"] == idempotencyHeader && pm["in"] == "header" && pm["required"] == false)
		}
		responses := o["responses"].(map[string]any)
		if !found || responses["409"] == nil || responses["422"] == nil {
			t.Errorf("%s %s: header documented %v, responses %v", op.Method, op.Path, found, responses)
		}
	}
	if n < 7 {
		t.Fatalf("only %d create routes", n)
	}
}

// diesAfterCreate is a records store whose server dies (the connection is
// aborted) after its first harm location has been created, before any
// answer.
type diesAfterCreate struct {
	Records
	died *atomic.Bool
}

func (d diesAfterCreate) CreateHarmLocation(ctx context.Context, a *contexts.Actor, in contexts.HarmLocationInput) (*contexts.HarmLocation, error) {
	h, err := d.Records.CreateHarmLocation(ctx, a, in)
	if err == nil && d.died.CompareAndSwap(false, true) {
		panic(http.ErrAbortHandler)
	}
	return h, err
}

// A server that dies after the create committed and before it answered:
// the client sees a reset, and its retry with the same key gets the
// record that was committed instead of making a second one. (Before the
// answer was stored in the create's transaction, the dying request freed
// its key and the retry created the record twice.)
func TestRetryAfterADeathBetweenCommitAndAnswerGetsTheCommittedRecord(t *testing.T) {
	rs := newRecordsServerWrapped(t, func(r Records) Records { return diesAfterCreate{r, new(atomic.Bool)} })
	P := rs.tokens[contexts.RolePractitioner]
	req, err := http.NewRequest("POST", rs.URL+"/api/v1/harm-locations", strings.NewReader(harmBody("DIES-1")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+P)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(idempotencyHeader, "dies-1")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the dying request was answered %d", resp.StatusCode)
	}
	if n := rs.count(t, "harm_locations"); n != 1 {
		t.Fatalf("%d harm locations committed before the death, want 1", n)
	}
	var committed int64
	if err := rs.pool.QueryRow(context.Background(), `SELECT id FROM harm_locations`).Scan(&committed); err != nil {
		t.Fatal(err)
	}
	status, body, replayed := rs.keyed(t, P, "dies-1", "POST", "/api/v1/harm-locations", harmBody("DIES-1"))
	if status != 201 || !replayed || idOf(t, body) != committed {
		t.Fatalf("the retry: %d %s (replayed %v), want the committed record %d", status, body, replayed, committed)
	}
	if n := rs.count(t, "harm_locations"); n != 1 {
		t.Fatalf("%d harm locations after the retry, want 1", n)
	}
}
