// Package webtest calls a running ctxmap API from tests, the way a client
// with an API token does: the end-to-end tests of cmd/ctxmap and the
// PostGIS-backed tests of web share this one client instead of each
// keeping a copy.
package webtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Call sends method path (relative to base) with body as JSON, signed with
// token as a bearer token when token is not empty, and returns the status
// and the answer decoded as a JSON object (nil when it is not one), so a
// test reads errors and results alike. A transport failure ends the test.
func Call(t testing.TB, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}
