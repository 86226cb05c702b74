package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// The unit tests of auth, middleware, the status table and tile serving run
// the whole Server on these in-memory fakes: no database, no network.

// fakeUsers signs people in from maps: bearer tokens, plain-text passwords
// and sessions. It counts token look-ups and audited token uses, so the
// tests see what the token cache saves.
type fakeUsers struct {
	mu        sync.Mutex
	tokens    map[string]*contexts.Actor // bearer token -> actor; delete one to disable its user
	passwords map[string]string          // name -> password
	actors    map[string]*contexts.Actor // name -> actor
	sessions  map[string]*contexts.Session
	owners    map[string]*contexts.Actor // session id -> actor
	lookups   int                        // TokenActor calls
	uses      int                        // RecordTokenUse calls
	checkErr  error                      // when set, CheckPassword fails with it
	checks    int                        // CheckPassword calls
	// checkDelay is how long a password check takes (outside the lock),
	// like a real slow hash, so concurrent sign-ins overlap.
	checkDelay time.Duration
}

const (
	analystToken    = "ctxm_test-analyst"
	analystName     = "ana"
	analystPassword = "correct horse battery"
)

// newFakeUsers knows one analyst, signed in by analystToken or by
// analystName and analystPassword.
func newFakeUsers() *fakeUsers {
	a := &contexts.Actor{UserID: 7, Name: analystName, Role: contexts.RoleAnalyst, TeamID: 1, Team: "Insight"}
	return &fakeUsers{
		tokens:    map[string]*contexts.Actor{analystToken: a},
		passwords: map[string]string{analystName: analystPassword},
		actors:    map[string]*contexts.Actor{analystName: a},
		sessions:  map[string]*contexts.Session{},
		owners:    map[string]*contexts.Actor{},
	}
}

func (u *fakeUsers) TokenActor(_ context.Context, token string) (*contexts.Actor, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.lookups++
	if a, ok := u.tokens[token]; ok {
		return a, nil
	}
	return nil, contexts.ErrBadCredentials
}

func (u *fakeUsers) RecordTokenUse(context.Context, *contexts.Actor, string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.uses++
	return nil
}

func (u *fakeUsers) CheckPassword(_ context.Context, name, password string) (*contexts.Actor, error) {
	u.mu.Lock()
	u.checks++
	delay := u.checkDelay
	u.mu.Unlock()
	time.Sleep(delay)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.checkErr != nil {
		return nil, u.checkErr
	}
	if p, ok := u.passwords[name]; !ok || p != password {
		return nil, contexts.ErrBadCredentials
	}
	return u.actors[name], nil
}

func (u *fakeUsers) CreateSession(_ context.Context, a *contexts.Actor, ttl time.Duration) (*contexts.Session, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := len(u.sessions) + 1
	s := &contexts.Session{ID: fmt.Sprintf("session-%d", n), CSRFToken: fmt.Sprintf("csrf-%d", n), Expires: time.Now().Add(ttl)}
	u.sessions[s.ID], u.owners[s.ID] = s, a
	return s, nil
}

func (u *fakeUsers) SessionActor(_ context.Context, id string) (*contexts.Actor, string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.sessions[id]
	if !ok {
		return nil, "", contexts.ErrBadCredentials
	}
	return u.owners[id], s.CSRFToken, nil
}

func (u *fakeUsers) DeleteSession(_ context.Context, _ *contexts.Actor, id string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.sessions, id)
	return nil
}

func (u *fakeUsers) ListUsers(context.Context) ([]contexts.User, error) { return nil, nil }

// unitServer is a Server on fakes, its clock under the test's control and
// its log in a buffer.
type unitServer struct {
	*Server
	users *fakeUsers
	logs  *bytes.Buffer
	clock time.Time
}

func newUnitServer(t testing.TB, cfg Config, heat *tiles.Service) *unitServer {
	t.Helper()
	us := &unitServer{users: newFakeUsers(), logs: &bytes.Buffer{}, clock: time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)}
	us.Server = New(cfg, Deps{Users: us.users, Heat: heat, Logger: slog.New(slog.NewJSONHandler(us.logs, nil))})
	us.now = func() time.Time { return us.clock }
	return us
}

// advance moves the server's clock on.
func (us *unitServer) advance(d time.Duration) { us.clock = us.clock.Add(d) }

// send serves one request; header holds "Name: value" pairs.
func (us *unitServer) send(method, path, body string, header ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	w := httptest.NewRecorder()
	us.ServeHTTP(w, req)
	return w
}

// errorOf returns the code and request id of a JSON error response.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) (code, requestID string) {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("not a JSON error (%d): %q", w.Code, w.Body.String())
	}
	return b.Error.Code, b.Error.RequestID
}

// sessionCookieOf returns the session cookie a sign-in set.
func sessionCookieOf(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", sessionCookie, w.Header())
	return nil
}

func (u *fakeUsers) CreateUser(context.Context, *contexts.Actor, contexts.UserInput) (*contexts.Credentials, error) {
	return nil, errors.New("fakeUsers: CreateUser is not faked")
}

func (u *fakeUsers) DisableUser(context.Context, *contexts.Actor, int64) (*contexts.User, error) {
	return nil, errors.New("fakeUsers: DisableUser is not faked")
}

func (u *fakeUsers) ResetUser(context.Context, *contexts.Actor, int64) (*contexts.Credentials, error) {
	return nil, errors.New("fakeUsers: ResetUser is not faked")
}
