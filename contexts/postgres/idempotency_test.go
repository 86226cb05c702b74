package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// Issue 11, finding 7: the answer to a keyed create is stored in the
// create's own transaction. These tests call the store as the web
// middleware does (claim, then the create with a contexts.KeyedCreate in
// its context) and stop where a crashing server would.

// keyFor is the claim a request with this key and body makes at at.
func keyFor(a *contexts.Actor, route, key, body, claim string, at time.Time) contexts.IdempotencyKey {
	sum := sha256.Sum256([]byte(body))
	return contexts.IdempotencyKey{UserID: a.UserID, Route: route, Key: key, RequestHash: sum[:], Claim: claim, At: at}
}

// jsonAnswer renders the created value as a 201 JSON answer, as the web
// handlers do.
func jsonAnswer(created any) (contexts.StoredResponse, error) {
	b, err := json.Marshal(created)
	return contexts.StoredResponse{Status: 201, Body: b}, err
}

func withKey(k contexts.IdempotencyKey, answer func(any) (contexts.StoredResponse, error)) (context.Context, *contexts.KeyedCreate) {
	kc := &contexts.KeyedCreate{Key: k, Answer: answer}
	return contexts.WithKeyedCreate(context.Background(), kc), kc
}

func (f *fixture) keyRow(t *testing.T, k contexts.IdempotencyKey) (exists bool, status *int, body []byte) {
	t.Helper()
	err := f.pool.QueryRow(context.Background(), `SELECT status, body FROM idempotency_keys
		WHERE user_id = $1 AND route = $2 AND key = $3`, k.UserID, k.Route, k.Key).Scan(&status, &body)
	if err != nil {
		return false, nil, nil
	}
	return true, status, body
}

func mustClaim(t *testing.T, idem *Idempotency, k contexts.IdempotencyKey) {
	t.Helper()
	stored, err := idem.ClaimIdempotencyKey(context.Background(), k)
	if err != nil || stored != nil {
		t.Fatalf("claim %s: stored %v, %v; want the request to run", k.Key, stored, err)
	}
}

// A failure after the rows are written and before the commit (here the
// answer cannot be rendered) leaves neither the record, nor its audit
// entry, nor a stored answer: only the unfinished claim, which a retry
// takes over once its lease has passed, creating the record once.
func TestKeyedCreateFailingBeforeCommitLeavesNeitherRowNorAnswer(t *testing.T) {
	f := newFixture(t)
	idem := NewIdempotency(f.pool, testSecret)
	route, body := "POST /api/v1/harm-locations", `{"subject":"ATOM-1"}`
	k := keyFor(f.pracA, route, "atomic-1", body, "claim-1", testNow)
	mustClaim(t, idem, k)
	before := f.counts(t)
	injected := errors.New("injected failure before commit")
	rendered := false
	ctx, kc := withKey(k, func(created any) (contexts.StoredResponse, error) {
		// The record exists in the transaction by now: the answer is
		// rendered from it.
		if h, ok := created.(*contexts.HarmLocation); !ok || h.ID == 0 {
			t.Errorf("answer rendered from %#v, want the created harm location", created)
		}
		rendered = true
		return contexts.StoredResponse{}, injected
	})
	if _, err := f.store.CreateHarmLocation(ctx, f.pracA, harmInput("ATOM-1")); !errors.Is(err, injected) {
		t.Fatalf("create with a failing answer: %v, want the injected failure", err)
	}
	if !rendered || kc.Stored() != nil {
		t.Fatalf("rendered %v, stored %v: the failure was not between the write and the commit", rendered, kc.Stored())
	}
	after := f.counts(t)
	for tbl, n := range before {
		if after[tbl] != n {
			t.Errorf("%s: %d rows -> %d after a create that did not commit", tbl, n, after[tbl])
		}
	}
	if exists, status, _ := f.keyRow(t, k); !exists || status != nil {
		t.Fatalf("key after the failure: exists %v, status %v; want the unfinished claim only", exists, status)
	}
	// Within the lease a retry is told to wait; after it, it runs once.
	retry := keyFor(f.pracA, route, "atomic-1", body, "claim-2", testNow.Add(time.Second))
	if _, err := idem.ClaimIdempotencyKey(context.Background(), retry); !errors.Is(err, contexts.ErrIdempotencyInProgress) {
		t.Fatalf("retry within the lease: %v", err)
	}
	retry.At = testNow.Add(contexts.IdempotencyLease + time.Second)
	mustClaim(t, idem, retry)
	ctx, _ = withKey(retry, jsonAnswer)
	h, err := f.store.CreateHarmLocation(ctx, f.pracA, harmInput("ATOM-1"))
	if err != nil {
		t.Fatal(err)
	}
	if n := f.counts(t)["harm_locations"]; n != before["harm_locations"]+1 {
		t.Fatalf("%d harm locations after the retry, want one more", n-before["harm_locations"])
	}
	if _, status, stored := f.keyRow(t, retry); status == nil || *status != 201 || idIn(t, stored) != h.ID {
		t.Fatalf("stored answer %v %s, want 201 with id %d", status, stored, h.ID)
	}
}

// A create that committed is answered to a retry even if the server died
// before it answered (or before anything else ran after the store): every
// keyed create of the store, and a keyed release, commits its answer.
func TestKeyedCreateCommittedIsReplayedAfterADeathBeforeAnswering(t *testing.T) {
	f := newFixture(t)
	idem := NewIdempotency(f.pool, testSecret)
	bg := context.Background()
	open, err := f.store.CreateContext(bg, f.lead, contexts.ContextInput{Kind: "group", Name: "Keyed base"})
	if err != nil {
		t.Fatal(err)
	}
	releases := releaser(t, f.pool, nil)
	for i, c := range []struct {
		name, table string
		actor       *contexts.Actor
		create      func(ctx context.Context) (int64, error)
	}{
		{"harm location", "harm_locations", f.pracA, func(ctx context.Context) (int64, error) {
			h, err := f.store.CreateHarmLocation(ctx, f.pracA, harmInput("DIED-1"))
			return idOr(h, err, func() int64 { return h.ID })
		}},
		{"context", "contexts", f.lead, func(ctx context.Context) (int64, error) {
			c, err := f.store.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "Keyed group"})
			return idOr(c, err, func() int64 { return c.ID })
		}},
		{"assessment", "context_assessments", f.lead, func(ctx context.Context) (int64, error) {
			a, err := f.store.AddAssessment(ctx, f.lead, open.ID, contexts.AssessmentInput{Side: "needs", Note: "Boredom after school"})
			return idOr(a, err, func() int64 { return a.ID })
		}},
		{"intervention", "context_interventions", f.lead, func(ctx context.Context) (int64, error) {
			iv, err := f.store.AddIntervention(ctx, f.lead, open.ID, contexts.InterventionInput{Action: "Detached youth work",
				PartnerAgency: "youth_services", Side: "guardianship"})
			return idOr(iv, err, func() int64 { return iv.ID })
		}},
		{"link", "context_links", f.pracA, func(ctx context.Context) (int64, error) {
			l, err := f.store.LinkYoungPerson(ctx, f.pracA, open.ID, contexts.LinkInput{Subject: "DIED-2", Reason: "Seen there"})
			return idOr(l, err, func() int64 { return l.ID })
		}},
		{"category", "harm_categories", f.admin, func(ctx context.Context) (int64, error) {
			tx, err := f.store.AddCategory(ctx, f.admin, contexts.CategoryInput{Code: "keyed_cat", Label: "Keyed", ExtraFamilial: true})
			return idOr(tx, err, func() int64 { return int64(tx.Version) })
		}},
		{"release", "releases", f.admin, func(ctx context.Context) (int64, error) {
			in, err := releases.Make(ctx, tiles.MakeRequest{How: tiles.HowAdmin, ByID: &f.admin.UserID, ByName: f.admin.Name})
			return in.ID, err
		}},
	} {
		route, body := "POST /keyed/"+c.name, `{"n":1}`
		k := keyFor(c.actor, route, "died", body, fmt.Sprintf("claim-%d", i), testNow)
		mustClaim(t, idem, k)
		before := count(t, f, c.table)
		ctx, kc := withKey(k, jsonAnswer)
		id, err := c.create(ctx)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// The server dies here: nothing after the store ran. A retry
		// long after the lease gets the committed answer.
		retry := keyFor(c.actor, route, "died", body, "retry", testNow.Add(time.Hour))
		stored, err := idem.ClaimIdempotencyKey(bg, retry)
		if err != nil || stored == nil {
			t.Fatalf("%s: retry after a death: stored %v, %v; want the first answer", c.name, stored, err)
		}
		if stored.Status != 201 || string(stored.Body) != string(kc.Stored().Body) {
			t.Fatalf("%s: replayed %d %s, want 201 %s", c.name, stored.Status, stored.Body, kc.Stored().Body)
		}
		if c.table != "harm_categories" && idIn(t, stored.Body) != id {
			t.Fatalf("%s: replayed id %d, created %d", c.name, idIn(t, stored.Body), id)
		}
		if n := count(t, f, c.table); n != before+1 {
			t.Fatalf("%s: %d rows written, want 1", c.name, n-before)
		}
	}
}

// A request whose claim was taken over after its lease (it ran too long;
// the client's retry now holds the key) must not commit its create too:
// it rolls back with 409 idempotency_in_progress, and the retry's create
// is the one record.
func TestKeyedCreateWhoseClaimWasTakenOverRollsBack(t *testing.T) {
	f := newFixture(t)
	idem := NewIdempotency(f.pool, testSecret)
	route, body := "POST /api/v1/harm-locations", `{"subject":"SLOW-1"}`
	slow := keyFor(f.pracA, route, "slow", body, "slow", testNow)
	mustClaim(t, idem, slow)
	retry := keyFor(f.pracA, route, "slow", body, "retry", testNow.Add(contexts.IdempotencyLease+time.Second))
	mustClaim(t, idem, retry)
	before := f.counts(t)
	ctx, _ := withKey(slow, jsonAnswer)
	_, err := f.store.CreateHarmLocation(ctx, f.pracA, harmInput("SLOW-1"))
	wantCode(t, err, ctxmap.KindConflict, "idempotency_in_progress")
	if after := f.counts(t); after["harm_locations"] != before["harm_locations"] || after["audit_log"] != before["audit_log"] {
		t.Fatalf("the overtaken create wrote: %v -> %v", before, after)
	}
	ctx, _ = withKey(retry, jsonAnswer)
	if _, err := f.store.CreateHarmLocation(ctx, f.pracA, harmInput("SLOW-1")); err != nil {
		t.Fatal(err)
	}
	if n := f.counts(t)["harm_locations"]; n != before["harm_locations"]+1 {
		t.Fatalf("%d harm locations, want one", n-before["harm_locations"])
	}
}

// A refused keyed create keeps the audit entry of its refusal, as without a
// key, and stores no answer.
func TestKeyedRefusalKeepsItsAuditAndStoresNoAnswer(t *testing.T) {
	f := newFixture(t)
	idem := NewIdempotency(f.pool, testSecret)
	k := keyFor(f.lead, "POST /api/v1/contexts/1/assessments", "refused", "{}", "c", testNow)
	mustClaim(t, idem, k)
	open, err := f.store.CreateContext(context.Background(), f.lead, contexts.ContextInput{Kind: "group", Name: "Refusals"})
	if err != nil {
		t.Fatal(err)
	}
	before := f.counts(t)
	ctx, kc := withKey(k, jsonAnswer)
	_, err = f.store.AddAssessment(ctx, f.lead, open.ID, contexts.AssessmentInput{Side: "needs", Note: "ring 07700 900123"})
	if ctxmap.KindOf(err) != ctxmap.KindUnprocessable {
		t.Fatalf("a phone number in a note: %v", err)
	}
	after := f.counts(t)
	if after["audit_log"] != before["audit_log"]+1 || after["context_assessments"] != before["context_assessments"] || kc.Stored() != nil {
		t.Fatalf("audit %d -> %d, assessments %d -> %d, stored %v", before["audit_log"], after["audit_log"],
			before["context_assessments"], after["context_assessments"], kc.Stored())
	}
	if _, status, _ := f.keyRow(t, k); status != nil {
		t.Fatalf("a refusal stored answer %d", *status)
	}
}

func idOr[T any](v *T, err error, id func() int64) (int64, error) {
	if err != nil || v == nil {
		return 0, err
	}
	return id(), nil
}

func idIn(t *testing.T, body []byte) int64 {
	t.Helper()
	var v struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return v.ID
}

func count(t *testing.T, f *fixture, table string) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdempotencyHashIsKeyed: the stored request hash is keyed with the
// deployment secret, so the young person's id in a create's body cannot be
// found by hashing guesses (insider review 2, finding F2).
func TestIdempotencyHashIsKeyed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	body := `{"subject":"NAMED-CHILD-1","categories":["cse"]}`
	k := keyFor(f.pracA, "POST /api/v1/harm-locations", "key-1", body, "claim-1", testNow)
	if _, err := NewIdempotency(f.pool, testSecret).ClaimIdempotencyKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := f.pool.QueryRow(ctx, `SELECT request_hash FROM idempotency_keys WHERE key = 'key-1'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	plain := sha256.Sum256([]byte(body))
	if bytes.Equal(stored, plain[:]) || bytes.Contains(stored, []byte("NAMED")) {
		t.Fatal("the stored request hash is the plain digest of the body")
	}
	// The same body under another secret does not match: the key matters.
	other := keyFor(f.pracA, "POST /api/v1/harm-locations", "key-1", body, "claim-2", testNow)
	_, err := NewIdempotency(f.pool, []byte("another-secret-0123456789abcdef-01")).ClaimIdempotencyKey(ctx, other)
	if !errors.Is(err, contexts.ErrIdempotencyKeyReused) {
		t.Fatalf("another secret's hash matched: %v", err)
	}
}
