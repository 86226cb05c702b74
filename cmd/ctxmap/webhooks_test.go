package main

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

const testWebhookSecret = "webhook-secret-webhook-secret-0123456789"

// receiver is the case system's webhook endpoint: it answers 503 while
// failing is above zero (counting it down) or down is set, and keeps every
// delivery it accepted after checking its signature.
type receiver struct {
	mu       sync.Mutex
	failing  int
	down     bool
	attempts map[string]int // delivery id -> requests seen
	got      []contexts.WebhookChange
	bodies   []string
	bad      []string
}

func newReceiver(t *testing.T, failing int) (*receiver, *httptest.Server) {
	r := &receiver{failing: failing, attempts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		id := req.Header.Get(contexts.WebhookIDHeader)
		r.attempts[id]++
		ts := req.Header.Get(contexts.WebhookTimestampHeader)
		want := contexts.WebhookSignature([]byte(testWebhookSecret), ts, body)
		if !hmac.Equal([]byte(want), []byte(req.Header.Get(contexts.WebhookSignatureHeader))) {
			r.bad = append(r.bad, "bad signature on delivery "+id)
		}
		if r.down || r.failing > 0 {
			r.failing--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var c contexts.WebhookChange
		if err := json.Unmarshal(body, &c); err != nil || fmt.Sprint(c.ID) != id {
			r.bad = append(r.bad, fmt.Sprintf("delivery %s: %v %s", id, err, body))
		}
		r.got = append(r.got, c)
		r.bodies = append(r.bodies, string(body))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) snapshot() ([]contexts.WebhookChange, []string, map[string]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	att := map[string]int{}
	for k, v := range r.attempts {
		att[k] = v
	}
	return append([]contexts.WebhookChange(nil), r.got...), append([]string(nil), r.bodies...), att, append([]string(nil), r.bad...)
}

// waitFor polls until ok holds, for up to 30 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func webhookSecretFile(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "webhook-secret")
	if err := os.WriteFile(f, []byte(testWebhookSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// linkedContext makes a context, records a young person and links them to
// it as the practitioner, and returns the context's id and the link's.
func (ts *testServer) linkedContext(t *testing.T, subject string) (int64, int64) {
	t.Helper()
	status, c := ts.do(t, contexts.RoleContextLead, "POST", "/api/v1/contexts", `{"kind":"location","location_type":"park","lat":51.55,"lon":-0.06}`)
	if status != 201 {
		t.Fatalf("open context: %d %v", status, c)
	}
	ctxID := int64(c["id"].(float64))
	ts.record(t, harmPoint{subject: subject, lat: 51.545, lon: -0.055, category: ts.categories(t)[0], layer: "harm"})
	status, l := ts.do(t, contexts.RolePractitioner, "POST", fmt.Sprintf("/api/v1/contexts/%d/links", ctxID),
		fmt.Sprintf(`{"subject":%q,"reason":"Seen there"}`, subject))
	if status != 201 {
		t.Fatalf("link: %d %v", status, l)
	}
	return ctxID, int64(l["id"].(float64))
}

// TestWebhooksAreSignedAndRetriedUntilDelivered: issue 15. A change to a
// context a young person is linked to reaches the case system's receiver,
// which fails the first deliveries: the queue retries with backoff until it
// answers 2xx, each attempt signed with the shared secret and carrying the
// same delivery id. The body names the context and the link by id and
// team, never the young person. Linking itself is not a change, and a
// context with no links tells nobody.
func TestWebhooksAreSignedAndRetriedUntilDelivered(t *testing.T) {
	recv, srv := newReceiver(t, 3)
	ts := startServer(t, "--webhook-url", srv.URL, "--webhook-secret-file", webhookSecretFile(t), "--webhook-retry-base", "100ms")
	const subject = "WEBHOOK-YP-1"
	ctxID, linkID := ts.linkedContext(t, subject)
	status, out := ts.do(t, contexts.RoleContextLead, "POST", fmt.Sprintf("/api/v1/contexts/%d/interventions", ctxID),
		`{"action":"Lighting","partner_agency":"parks","side":"environment"}`)
	if status != 201 {
		t.Fatalf("intervention: %d %v", status, out)
	}
	// A context nobody is linked to changes without a delivery.
	if status, out := ts.do(t, contexts.RoleContextLead, "POST", "/api/v1/contexts", `{"kind":"group","name":"Unlinked group"}`); status != 201 {
		t.Fatalf("open unlinked context: %d %v", status, out)
	}
	waitFor(t, "the delivery", func() bool { got, _, _, _ := recv.snapshot(); return len(got) > 0 })
	time.Sleep(500 * time.Millisecond) // any stray second delivery would arrive by now
	got, bodies, attempts, bad := recv.snapshot()
	if len(bad) > 0 {
		t.Fatalf("receiver refused: %v", bad)
	}
	if len(got) != 1 {
		t.Fatalf("want one delivery (the intervention), got %d: %v", len(got), bodies)
	}
	c := got[0]
	if c.ContextID != ctxID || c.Event != contexts.EventInterventionAdded || len(c.Links) != 1 ||
		c.Links[0].LinkID != linkID || c.Links[0].Team != "team-practitioner" || c.Context == "" || c.At.IsZero() {
		t.Fatalf("delivery: %+v", c)
	}
	if n := attempts[fmt.Sprint(c.ID)]; n != 4 {
		t.Fatalf("want 3 failed attempts and the delivered one under one delivery id, got %d (%v)", n, attempts)
	}
	if strings.Contains(bodies[0], subject) {
		t.Fatalf("the delivery names the young person: %s", bodies[0])
	}
}

// TestWebhooksSurviveARestart: a delivery the receiver keeps refusing is
// still queued in PostgreSQL when the server stops, and a new server on the
// same database delivers it once the receiver is back: nothing a 2xx
// acknowledged is lost. Both servers run as the runtime role, as `make
// run` does, so the queue's tables must be granted to it.
func TestWebhooksSurviveARestart(t *testing.T) {
	recv, srv := newReceiver(t, 0)
	recv.down = true
	pool, ownerURL := pgtest.NewWithURL(t)
	url := pgtest.WithUser(t, ownerURL, "ctxmap_app")
	flags := []string{"--log-level", "warn", "--webhook-url", srv.URL, "--webhook-secret-file", webhookSecretFile(t), "--webhook-retry-base", "200ms"}

	ctxA, stopA := context.WithCancel(context.Background())
	defer stopA()
	base, doneA := startServe(t, ctxA, url, io.Discard, flags...)
	if base == "" {
		t.Fatalf("server A did not start: %v", <-doneA)
	}
	ts := &testServer{URL: base, Pool: pool, DBURL: ownerURL, tokens: addTestUsers(t, pool)}
	ctxID, _ := ts.linkedContext(t, "WEBHOOK-YP-2")
	if status, out := ts.do(t, contexts.RoleContextLead, "POST", fmt.Sprintf("/api/v1/contexts/%d/close", ctxID),
		`{"reason":"Place redeveloped","evidence":{"needs":"met","guardianship":"in place","environment":"changed"}}`); status != 200 {
		t.Fatalf("close: %d %v", status, out)
	}
	waitFor(t, "a refused attempt", func() bool { _, _, att, _ := recv.snapshot(); return len(att) > 0 })
	stopA()
	if err := <-doneA; err != nil {
		t.Fatalf("server A: %v", err)
	}
	var queued int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&queued); err != nil || queued != 1 {
		t.Fatalf("queued deliveries after the stop: %d %v", queued, err)
	}

	recv.mu.Lock()
	recv.down = false
	recv.mu.Unlock()
	serveOn(t, context.Background(), url, "warn", flags[2:]...)
	waitFor(t, "the delivery after the restart", func() bool { got, _, _, _ := recv.snapshot(); return len(got) == 1 })
	got, _, _, bad := recv.snapshot()
	if len(bad) > 0 || got[0].ContextID != ctxID || got[0].Event != contexts.EventClosed {
		t.Fatalf("after restart: %+v %v", got, bad)
	}
}
