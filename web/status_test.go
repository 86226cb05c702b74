package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap"
)

// wantStatus is the kind -> status table written out by hand, so a change
// to statusOf has to change this too.
var wantStatus = map[ctxmap.Kind]int{
	ctxmap.KindInternal:         500,
	ctxmap.KindInvalid:          400,
	ctxmap.KindUnauthorized:     401,
	ctxmap.KindForbidden:        403,
	ctxmap.KindNotFound:         404,
	ctxmap.KindConflict:         409,
	ctxmap.KindTooLarge:         413,
	ctxmap.KindUnprocessable:    422,
	ctxmap.KindRateLimited:      429,
	ctxmap.KindUnavailable:      503,
	ctxmap.KindUnsupportedMedia: 415,
}

// Every kind has its status, its code and message reach the client as
// given, and only 401 asks for credentials.
func TestEveryKindHasItsStatus(t *testing.T) {
	if len(statusOf) != len(wantStatus) {
		t.Fatalf("statusOf has %d rows, the test knows %d: add the new kind here", len(statusOf), len(wantStatus))
	}
	us := newUnitServer(t, Config{}, nil)
	for k := ctxmap.KindInternal; k <= ctxmap.KindUnavailable; k++ {
		want, ok := wantStatus[k]
		if !ok {
			t.Fatalf("kind %d has no expected status", k)
		}
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/me", nil)
			w := httptest.NewRecorder()
			us.writeError(w, r, fmt.Errorf("wrapped: %w", ctxmap.Errorf(k, "some_code", "a message for %s", "people")))
			if w.Code != want {
				t.Fatalf("status %d, want %d", w.Code, want)
			}
			if code, _ := errorOf(t, w); code != "some_code" || !strings.Contains(w.Body.String(), "a message for people") {
				t.Fatalf("body %s", w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate") != ""; got != (want == 401) {
				t.Fatalf("WWW-Authenticate set = %v at %d", got, want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// What is not a user's mistake is "internal error" to the client and the
// detail in the log; a kind missing from the table is 500 too.
func TestErrorsOutsideTheTable(t *testing.T) {
	us := newUnitServer(t, Config{}, nil)
	send := func(err error) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		us.writeError(w, httptest.NewRequest("GET", "/api/v1/me", nil), err)
		return w
	}
	w := send(errors.New("pq: relation secret_table does not exist"))
	if code, _ := errorOf(t, w); w.Code != 500 || code != "internal" || strings.Contains(w.Body.String(), "secret_table") {
		t.Fatalf("plain error: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(us.logs.String(), "secret_table") {
		t.Fatalf("the detail is not in the log:\n%s", us.logs)
	}
	if w := send(ctxmap.Errorf(ctxmap.Kind(99), "odd", "odd")); w.Code != 500 {
		t.Fatalf("unknown kind: %d", w.Code)
	}
	if w := send(fmt.Errorf("reading: %w", &http.MaxBytesError{Limit: 10})); w.Code != 413 {
		t.Fatalf("MaxBytesError: %d", w.Code)
	}
	later := ctxmap.Errorf(ctxmap.KindRateLimited, "release_too_soon", "later").WithDetail("retry_after_seconds", 120)
	if w := send(later); w.Code != 429 || w.Header().Get("Retry-After") != "120" {
		t.Fatalf("retry_after_seconds: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}
