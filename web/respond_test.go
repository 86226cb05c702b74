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
	"testing"

	"github.com/ctxmap/ctxmap"
)

// An abandoned request's own cancellation is not ours and goes unlogged;
// an internal error is ours and is logged even when the client went away.
func TestWriteErrorLogsOurErrorsOfAbandonedRequests(t *testing.T) {
	for _, c := range []struct {
		name       string
		err        error
		cancel     bool
		status     int
		wantLogged bool
	}{
		{"internal error, client still there", errors.New("boom"), false, http.StatusInternalServerError, true},
		{"internal error, client gone", errors.New("boom"), true, http.StatusInternalServerError, true},
		{"cancellation, client gone", fmt.Errorf("query: %w", context.Canceled), true, http.StatusServiceUnavailable, false},
		{"deadline, client gone", context.DeadlineExceeded, true, http.StatusServiceUnavailable, false},
		{"cancellation error while the request is live", context.Canceled, false, http.StatusInternalServerError, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := New(Config{}, Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.cancel {
				cancel()
			}
			r := httptest.NewRequest("GET", "/api/v1/heat/cells", nil).WithContext(ctx)
			w := httptest.NewRecorder()
			s.writeError(w, r, c.err)
			if w.Code != c.status {
				t.Errorf("status %d, want %d", w.Code, c.status)
			}
			if logged := strings.Contains(logs.String(), "internal error"); logged != c.wantLogged {
				t.Errorf("logged = %v, want %v (log: %q)", logged, c.wantLogged, logs.String())
			}
		})
	}
}

// tiles knows no routes; the web layer adds the taxonomy route to a refused
// category, and leaves other errors alone.
func TestTaxonomyHintOnRefusedCategory(t *testing.T) {
	refuse := func(code string) apiFunc {
		return func(http.ResponseWriter, *http.Request) error {
			return ctxmap.Errorf(ctxmap.KindInvalid, code, "refused")
		}
	}
	r := httptest.NewRequest("GET", "/tiles/heat.json", nil)
	err := withTaxonomyHint(refuse("category_unsupported"))(httptest.NewRecorder(), r)
	var e *ctxmap.Error
	if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid || !strings.Contains(e.Message, "/api/v1/taxonomy") {
		t.Fatalf("category error without the hint: %v", err)
	}
	if err := withTaxonomyHint(refuse("period_unsupported"))(httptest.NewRecorder(), r); strings.Contains(err.Error(), "taxonomy") {
		t.Fatalf("hint on another error: %v", err)
	}
}

// A JSON type error says what the field takes in words a JSON author
// uses: for an integer field given a fraction or a number out of range, the
// range, not "a JSON number, not number ...".
func TestJSONTypeErrorsSayWhatTheFieldTakes(t *testing.T) {
	var in struct {
		ContextID int64  `json:"context_id"`
		Day       uint8  `json:"day"`
		Name      string `json:"name"`
	}
	for _, c := range []struct{ body, want string }{
		{`{"context_id": 99999999999999999999}`, `field "context_id" must be a whole number from -9223372036854775808 to 9223372036854775807, not 99999999999999999999`},
		{`{"context_id": 1.5}`, `field "context_id" must be a whole number from -9223372036854775808 to 9223372036854775807, not 1.5`},
		{`{"day": 300}`, `field "day" must be a whole number from 0 to 255, not 300`},
		{`{"context_id": "7"}`, `field "context_id" must be a JSON number, not string`},
		{`{"name": 7}`, `field "name" must be a JSON string, not number`},
	} {
		err := jsonError(json.Unmarshal([]byte(c.body), &in))
		var e *ctxmap.Error
		if !errors.As(err, &e) || e.Code != "bad_json" || e.Message != c.want {
			t.Errorf("%s: %v, want %q", c.body, err, c.want)
		}
	}
}

// An error the database adapter names as an outage is a 503 even when the
// readiness check, asked a moment later, finds the database back (it was
// "starting up"); any other error of ours is still a 500 then.
func TestAnOutageTheDriverNamesIsA503(t *testing.T) {
	outage := errors.New("FATAL: the database system is starting up (SQLSTATE 57P03)")
	ready := NewReadiness(func(context.Context) error { return nil }, func(err error) bool { return errors.Is(err, outage) })
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("load taxonomy version: %w", outage), http.StatusServiceUnavailable, "database_unavailable"},
		{errors.New("nil map"), http.StatusInternalServerError, "internal"},
	} {
		s := New(Config{}, Deps{Ready: ready, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest("POST", "/api/v1/harm-locations", nil), c.err)
		if w.Code != c.status || !strings.Contains(w.Body.String(), `"code":"`+c.code+`"`) {
			t.Errorf("%v: %d %s, want %d %s", c.err, w.Code, w.Body.String(), c.status, c.code)
		}
	}
}
