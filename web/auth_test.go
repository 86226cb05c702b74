package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// The cache keeps an actor for exactly its TTL, per token.
func TestTokenCacheExpiresAfterTTL(t *testing.T) {
	c := &tokenCache{ttl: 5 * time.Second, entries: map[string]tokenEntry{}}
	a := &contexts.Actor{UserID: 1, Name: "a"}
	key, other := "one", "two"
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.put(key, a, t0)
	if got := c.get(key, t0.Add(5*time.Second)); got != a {
		t.Fatalf("at the TTL: %v, want the cached actor", got)
	}
	if got := c.get(key, t0.Add(5*time.Second+time.Nanosecond)); got != nil {
		t.Fatalf("after the TTL: %v, want nothing", got)
	}
	if got := c.get(other, t0); got != nil {
		t.Fatalf("another token: %v, want nothing", got)
	}
}

// A token's use is audited once per interval, each token on its own.
func TestTokenCacheAuditsOncePerInterval(t *testing.T) {
	c := &tokenCache{auditEvery: 10 * time.Minute, audited: map[string]time.Time{}}
	key, other := "one", "two"
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{key, 0, true},
		{key, time.Minute, false},
		{other, time.Minute, true},
		{key, 10*time.Minute - time.Nanosecond, false},
		{key, 10 * time.Minute, true},
		{key, 11 * time.Minute, false},
	} {
		if got := c.dueForAudit(step.key, t0.Add(step.at)); got != step.want {
			t.Errorf("at +%v: due %v, want %v", step.at, got, step.want)
		}
	}
}

// Through the server: the store is asked once per TTL, and the use is
// written to the audit log once per ten minutes.
func TestBearerTokenIsLookedUpOncePerTTL(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	me := func() int { return us.send("GET", "/api/v1/me", "", "Authorization: Bearer "+analystToken).Code }
	for _, step := range []struct {
		advance       time.Duration
		lookups, uses int
	}{
		{0, 1, 1},
		{time.Second, 1, 1},
		{4 * time.Second, 1, 1},
		{time.Second, 2, 1}, // 6 s after the first: the cache entry expired
		{11 * time.Minute, 3, 2},
	} {
		us.advance(step.advance)
		if got := me(); got != http.StatusOK {
			t.Fatalf("GET /api/v1/me: %d", got)
		}
		if us.users.lookups != step.lookups || us.users.uses != step.uses {
			t.Fatalf("after +%v: %d look-ups and %d audited uses, want %d and %d", step.advance, us.users.lookups, us.users.uses, step.lookups, step.uses)
		}
	}
}

// A disabled user's token keeps working only until the cache entry
// expires: at most the TTL.
func TestDisabledUsersTokenStopsWithinTTL(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	auth := "Authorization: Bearer " + analystToken
	if w := us.send("GET", "/api/v1/me", "", auth); w.Code != http.StatusOK {
		t.Fatalf("before disabling: %d", w.Code)
	}
	delete(us.users.tokens, analystToken) // the store no longer accepts it
	us.advance(4 * time.Second)
	if w := us.send("GET", "/api/v1/me", "", auth); w.Code != http.StatusOK {
		t.Fatalf("within the TTL: %d, want the cached 200", w.Code)
	}
	us.advance(2 * time.Second)
	w := us.send("GET", "/api/v1/me", "", auth)
	if code, _ := errorOf(t, w); w.Code != http.StatusUnauthorized || code != "bad_credentials" {
		t.Fatalf("after the TTL: %d %s, want 401 bad_credentials", w.Code, code)
	}
	if w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
}

func TestAuthorizationHeaderSchemes(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	for _, c := range []struct {
		header string
		status int
		code   string
	}{
		{"Authorization: Bearer " + analystToken, 200, ""},
		{"Authorization: bEARER " + analystToken, 200, ""},
		{"Authorization: Bearer  " + analystToken + " ", 200, ""},
		{"Authorization: Basic YW5hOnB3", 401, "unauthenticated"},
		{"Authorization: Bear", 401, "unauthenticated"},
		{"Authorization: Bearer ctxm_never-issued", 401, "bad_credentials"},
		{"X-None: none", 401, "unauthenticated"},
	} {
		w := us.send("GET", "/api/v1/me", "", c.header)
		code := ""
		if w.Code != http.StatusOK {
			code, _ = errorOf(t, w)
		}
		if w.Code != c.status || code != c.code {
			t.Errorf("%q: %d %s, want %d %s", c.header, w.Code, code, c.status, c.code)
		}
	}
}

// The limiter counts failures per name and per address, each against its
// own allowance. Each step adds failures (a %d in a key is the failure's
// number), then asks whether a sign-in would be refused.
func TestLoginLimiterPerNameAndPerAddress(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &loginLimiter{window: 15 * time.Minute, maxName: 5, maxAddr: 100, failures: map[string][]time.Time{}}
	key := func(prefix, k string, n int) string {
		if strings.Contains(k, "%d") {
			k = fmt.Sprintf(k, n)
		}
		return prefix + k
	}
	for _, step := range []struct {
		why        string
		fails      int
		name, addr string
		askName    string
		askAddr    string
		blocked    bool
	}{
		{"4 failures of a name", 4, "ana", "10.0.0.%d", "ana", "10.0.9.9", false},
		{"5 failures of a name", 1, "ana", "10.0.0.4", "ana", "10.0.9.9", true},
		{"another name", 0, "", "", "bob", "10.0.0.1", false},
		{"99 failures from an address", 99, "user%d", "192.0.2.1", "carol", "192.0.2.1", false},
		{"100 failures from an address", 1, "user99", "192.0.2.1", "carol", "192.0.2.1", true},
		{"another address", 0, "", "", "carol", "192.0.2.2", false},
	} {
		for n := range step.fails {
			l.fail([]string{key("name:", step.name, n), key("ip:", step.addr, n)}, t0)
		}
		if got := l.blocked([]string{"name:" + step.askName, "ip:" + step.askAddr}, t0); got != step.blocked {
			t.Fatalf("after %s: blocked %v, want %v", step.why, got, step.blocked)
		}
	}
}

// Failures older than the window no longer count.
func TestLoginLimiterWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &loginLimiter{window: 15 * time.Minute, maxName: 5, maxAddr: 100, failures: map[string][]time.Time{}}
	keys := []string{"name:ana", "ip:192.0.2.1"}
	for i := range 5 {
		l.fail(keys, t0.Add(time.Duration(i)*time.Minute))
	}
	if !l.blocked(keys, t0.Add(15*time.Minute)) {
		t.Fatal("unblocked while all five failures are within the window")
	}
	// The first failure has left the window: four remain.
	if l.blocked(keys, t0.Add(15*time.Minute+time.Second)) {
		t.Fatal("still blocked once the first failure left the window")
	}
	l.fail(keys, t0.Add(16*time.Minute))
	if !l.blocked(keys, t0.Add(16*time.Minute)) {
		t.Fatal("a fifth failure within the window did not block")
	}
}

// Through the server: five wrong passwords block the name (even with the
// right password), other names from the same address still sign in, and
// the block ends with the window. Only bad credentials count.
func TestLoginIsRateLimitedByName(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	login := func(name, password string) (int, string) {
		body, _ := json.Marshal(map[string]string{"name": name, "password": password})
		w := us.send("POST", "/api/v1/session", string(body))
		if w.Code == http.StatusOK {
			return w.Code, ""
		}
		code, _ := errorOf(t, w)
		return w.Code, code
	}
	us.users.checkErr = ctxmap.Errorf(ctxmap.KindUnavailable, "db_down", "try later")
	for range 6 {
		if status, _ := login(analystName, "wrong"); status != http.StatusServiceUnavailable {
			t.Fatalf("store down: %d", status)
		}
	}
	us.users.checkErr = nil
	for i := range 5 {
		if status, code := login(analystName, "wrong"); status != http.StatusUnauthorized || code != "bad_credentials" {
			t.Fatalf("failure %d: %d %s", i+1, status, code)
		}
	}
	if status, code := login(analystName, analystPassword); status != http.StatusTooManyRequests || code != "too_many_attempts" {
		t.Fatalf("sixth attempt: %d %s, want 429", status, code)
	}
	us.users.passwords["bob"], us.users.actors["bob"] = "bobs password", &contexts.Actor{UserID: 8, Name: "bob", Role: contexts.RoleAnalyst}
	if status, _ := login("bob", "bobs password"); status != http.StatusOK {
		t.Fatalf("another name from the same address: %d", status)
	}
	us.advance(15*time.Minute + time.Second)
	if status, _ := login(analystName, analystPassword); status != http.StatusOK {
		t.Fatalf("after the window: %d", status)
	}
}

// Many names failing from one address block that address, not another.
func TestLoginIsRateLimitedByAddress(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	login := func(addr, name string) int {
		body, _ := json.Marshal(map[string]string{"name": name, "password": "wrong"})
		req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = addr
		w := httptest.NewRecorder()
		us.ServeHTTP(w, req)
		return w.Code
	}
	for i := range 100 {
		if got := login("198.51.100.7:4000", fmt.Sprintf("guess%d", i)); got != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, got)
		}
	}
	if got := login("198.51.100.7:4001", "fresh-name"); got != http.StatusTooManyRequests {
		t.Fatalf("a fresh name from the same address: %d, want 429", got)
	}
	if got := login("203.0.113.5:4000", "fresh-name"); got != http.StatusUnauthorized {
		t.Fatalf("a fresh name from another address: %d, want 401", got)
	}
}

// blocked and fail drive the in-memory limiter's counters directly, as
// BeginLogin does under its lock.
func (l *loginLimiter) blocked(keys []string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blockedLocked(keys, now)
}

func (l *loginLimiter) fail(keys []string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failLocked(keys, now)
}
