package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

// Issue 11, finding 5: the login limiter raced (30 parallel wrong passwords
// got 30 password checks), and finding 8: the per-address limit and Secure
// cookies ignored the proxy in front of the service.

// signIn posts a password sign-in to h from remote (host:port), with
// header pairs "Name: value".
func signIn(h http.Handler, remote, name, password string, header ...string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]string{"name": name, "password": password})
	req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if remote != "" {
		req.RemoteAddr = remote
	}
	for _, hd := range header {
		k, v, _ := strings.Cut(hd, ": ")
		req.Header.Add(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// parallelSignIns sends n wrong-password sign-ins for name at once, the
// i-th to servers[i%len], and returns how many got each status.
func parallelSignIns(n int, name string, servers ...http.Handler) map[int]int {
	var mu sync.Mutex
	got := map[int]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			w := signIn(servers[i%len(servers)], "", name, "wrong password")
			mu.Lock()
			got[w.Code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// One process: 30 concurrent wrong passwords cost 5 password checks, the
// rest are 429 without one.
func TestConcurrentWrongPasswordsCheckOnlyTheAllowance(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	us.users.checkDelay = 20 * time.Millisecond
	got := parallelSignIns(30, analystName, us)
	if us.users.checks != 5 || got[http.StatusUnauthorized] != 5 || got[http.StatusTooManyRequests] != 25 {
		t.Fatalf("%d password checks, answers %v; want 5 checks, 5 x 401 and 25 x 429", us.users.checks, got)
	}
}

// countingUsers counts the password checks that reach the real store.
type countingUsers struct {
	Users
	checks atomic.Int64
}

func (c *countingUsers) CheckPassword(ctx context.Context, name, password string) (*contexts.Actor, error) {
	c.checks.Add(1)
	return c.Users.CheckPassword(ctx, name, password)
}

// Two replicas on one database share the count: 30 concurrent wrong
// passwords spread over both cost at most 5 checks, the rest are 429, the
// real user is refused within the window and signs in after it.
func TestLoginLimitIsSharedAcrossReplicas(t *testing.T) {
	pool := pgtest.New(t)
	store := postgres.NewUsers(pool)
	if _, _, err := store.AddUser(context.Background(), nil, "ana", contexts.RoleAnalyst, "Insight", analystPassword); err != nil {
		t.Fatal(err)
	}
	logins, err := postgres.NewLogins(pool, contexts.DefaultLoginLimits)
	if err != nil {
		t.Fatal(err)
	}
	users := &countingUsers{Users: store}
	var clock atomic.Pointer[time.Time]
	t0 := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	clock.Store(&t0)
	replica := func() *Server {
		s := New(Config{}, Deps{Users: users, Logins: logins})
		s.now = func() time.Time { return *clock.Load() }
		return s
	}
	a, b := replica(), replica()
	got := parallelSignIns(30, "Ana", a, b)
	checks := int(users.checks.Load())
	if checks > 5 || got[http.StatusUnauthorized] != checks || got[http.StatusTooManyRequests] != 30-checks {
		t.Fatalf("%d password checks, answers %v; want at most 5 checks, one 401 each, and 429 for the rest", checks, got)
	}
	if w := signIn(b, "", "ana", analystPassword); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the real user within the window: %d, want 429", w.Code)
	}
	later := t0.Add(contexts.DefaultLoginLimits.Window + time.Second)
	clock.Store(&later)
	if w := signIn(a, "", "ana", analystPassword); w.Code != http.StatusOK {
		t.Fatalf("the real user after the window: %d %s", w.Code, w.Body)
	}
	// The expired failures were deleted on the way, and a success is no
	// failure: nothing is left counted.
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM login_failures`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d failures left after a success (%v), want none", n, err)
	}
	// Failures of names never tried again are pruned once they expire.
	if w := signIn(a, "", "someone-else", "wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("another name: %d", w.Code)
	}
	for _, c := range []struct {
		at   time.Time
		want int64
	}{{later.Add(contexts.DefaultLoginLimits.Window), 0}, {later.Add(contexts.DefaultLoginLimits.Window + time.Second), 1}} {
		if pruned, err := logins.PruneLogins(context.Background(), c.at); err != nil || pruned != c.want {
			t.Fatalf("prune at %v: %d (%v), want %d", c.at, pruned, err, c.want)
		}
	}
}

var proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

// Behind a trusted proxy the per-address limit counts the client named in
// X-Forwarded-For (the nearest untrusted hop: entries a client wrote
// further left are not believed), so one client's failures do not lock
// out everyone behind the proxy.
func TestAddressLimitCountsTheClientBehindATrustedProxy(t *testing.T) {
	us := newUnitServer(t, Config{TrustedProxies: proxies}, nil)
	for i := range 100 {
		// The client forges a left-hand entry; the proxy appends the real one.
		xff := fmt.Sprintf("X-Forwarded-For: 203.0.113.%d, 198.51.100.7", i)
		if w := signIn(us, "10.1.2.3:4000", fmt.Sprintf("guess%d", i), "wrong", xff); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	for _, c := range []struct {
		why    string
		remote string
		xff    []string
		want   int
	}{
		{"the same client through the proxy", "10.1.2.3:4001", []string{"X-Forwarded-For: 198.51.100.7"}, http.StatusTooManyRequests},
		{"the same client through two trusted hops", "10.9.9.9:4001", []string{"X-Forwarded-For: 198.51.100.7, 10.1.2.3"}, http.StatusTooManyRequests},
		{"another client through the proxy", "10.1.2.3:4002", []string{"X-Forwarded-For: 203.0.113.5"}, http.StatusUnauthorized},
		{"another client, header split in two", "10.1.2.3:4002", []string{"X-Forwarded-For: 198.51.100.7", "X-Forwarded-For: 203.0.113.6"}, http.StatusUnauthorized},
		{"another client through an IPv6 proxy", "[fd00::1]:4003", []string{"X-Forwarded-For: 2001:db8::5"}, http.StatusUnauthorized},
		{"the proxy itself, no header", "10.1.2.3:4004", nil, http.StatusUnauthorized},
	} {
		if w := signIn(us, c.remote, "fresh-"+c.why, "wrong", c.xff...); w.Code != c.want {
			t.Errorf("%s: %d, want %d", c.why, w.Code, c.want)
		}
	}
}

// From a peer that is not a trusted proxy X-Forwarded-For is ignored: its
// failures count against its own address whatever it claims.
func TestUntrustedPeersForwardedForIsIgnored(t *testing.T) {
	for _, cfg := range []Config{{}, {TrustedProxies: proxies}} {
		us := newUnitServer(t, cfg, nil)
		for i := range 100 {
			xff := fmt.Sprintf("X-Forwarded-For: 203.0.113.%d", i)
			if w := signIn(us, "192.0.2.50:4000", fmt.Sprintf("guess%d", i), "wrong", xff); w.Code != http.StatusUnauthorized {
				t.Fatalf("%v: failure %d: %d", cfg.TrustedProxies, i+1, w.Code)
			}
		}
		if w := signIn(us, "192.0.2.50:4001", "fresh-name", "wrong", "X-Forwarded-For: 198.51.100.200"); w.Code != http.StatusTooManyRequests {
			t.Errorf("%v: a fresh claimed address from the same peer: %d, want 429", cfg.TrustedProxies, w.Code)
		}
	}
}

// The session cookie is Secure behind a trusted TLS proxy, and only there:
// X-Forwarded-Proto from anyone else is ignored.
func TestSessionCookieIsSecureBehindATrustedTLSProxy(t *testing.T) {
	for _, c := range []struct {
		why     string
		cfg     Config
		remote  string
		headers []string
		secure  bool
	}{
		{"trusted proxy, https", Config{TrustedProxies: proxies}, "10.1.2.3:4000", []string{"X-Forwarded-Proto: https"}, true},
		{"trusted proxy, HTTPS, two values", Config{TrustedProxies: proxies}, "10.1.2.3:4000", []string{"X-Forwarded-Proto: HTTPS, http"}, true},
		{"trusted proxy, http", Config{TrustedProxies: proxies}, "10.1.2.3:4000", []string{"X-Forwarded-Proto: http"}, false},
		{"trusted proxy, no header", Config{TrustedProxies: proxies}, "10.1.2.3:4000", nil, false},
		{"untrusted peer claiming https", Config{TrustedProxies: proxies}, "192.0.2.50:4000", []string{"X-Forwarded-Proto: https"}, false},
		{"no trusted proxies", Config{}, "10.1.2.3:4000", []string{"X-Forwarded-Proto: https"}, false},
		{"forced Secure", Config{SecureCookies: true}, "192.0.2.50:4000", nil, true},
	} {
		us := newUnitServer(t, c.cfg, nil)
		w := signIn(us, c.remote, analystName, analystPassword, c.headers...)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: sign-in %d", c.why, w.Code)
		}
		if got := sessionCookieOf(t, w).Secure; got != c.secure {
			t.Errorf("%s: Secure %v, want %v", c.why, got, c.secure)
		}
	}
}
