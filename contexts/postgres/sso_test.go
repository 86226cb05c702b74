package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

// TestSSOActorMakesOneAccountPerIdentity: concurrent first sign-ins of one
// person make one account (one user.add); a later sign-in with another role
// and team moves the account and audits it; another issuer's same subject is
// another person.
func TestSSOActorMakesOneAccountPerIdentity(t *testing.T) {
	ctx := context.Background()
	u := NewUsers(pgtest.New(t))
	id := contexts.SSOIdentity{Issuer: "https://login.example/t/v2.0", Subject: "abc", Name: "jo@council.example", Role: contexts.RolePractitioner, Team: "North"}
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := u.SSOActor(ctx, id)
			errs[i] = err
			if err == nil {
				ids[i] = a.UserID
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("sign-in %d: %d %v (first %d)", i, ids[i], errs[i], ids[0])
		}
	}
	count := func(q string, args ...any) int {
		var n int
		if err := u.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM audit_log WHERE action = 'user.add'`); n != 1 {
		t.Fatalf("%d user.add entries", n)
	}
	moved := id
	moved.Role, moved.Team = contexts.RoleContextLead, "South"
	a, err := u.SSOActor(ctx, moved)
	if err != nil || a.UserID != ids[0] || a.Role != contexts.RoleContextLead || a.Team != "South" {
		t.Fatalf("moved: %+v %v", a, err)
	}
	if n := count(`SELECT count(*) FROM audit_log WHERE action = 'user.sso_update' AND detail->>'old_team' = 'North' AND detail->>'team' = 'South'`); n != 1 {
		t.Fatalf("%d user.sso_update entries", n)
	}
	other := id
	other.Issuer, other.Name = "https://other.example/", "jo2@council.example"
	if b, err := u.SSOActor(ctx, other); err != nil || b.UserID == ids[0] {
		t.Fatalf("another issuer's subject: %+v %v", b, err)
	}

	// A sign-in in progress works once, and not after its expiry.
	l := contexts.SSOLogin{State: "state-1", Nonce: "n", Verifier: "v", ReturnTo: "/", Addr: "127.0.0.1", Expires: time.Now().Add(time.Minute)}
	if err := u.BeginSSO(ctx, l); err != nil {
		t.Fatal(err)
	}
	if got, err := u.TakeSSO(ctx, "state-1"); err != nil || got.Nonce != "n" || got.Verifier != "v" {
		t.Fatalf("take: %+v %v", got, err)
	}
	if _, err := u.TakeSSO(ctx, "state-1"); err != contexts.ErrSSOState {
		t.Fatalf("second take: %v", err)
	}
	l.State, l.Expires = "state-2", time.Now().Add(-time.Second)
	if err := u.BeginSSO(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := u.TakeSSO(ctx, "state-2"); ctxmap.KindOf(err) != ctxmap.KindInvalid {
		t.Fatalf("expired take: %v", err)
	}
}
