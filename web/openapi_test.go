package web

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

// TestOpenAPIMatchesRouter walks the real router and checks every route is
// in the OpenAPI document with its method, and every documented operation
// is routed. Only /metrics and the static files are deliberately absent.
func TestOpenAPIMatchesRouter(t *testing.T) {
	s := New(Config{}, Deps{})
	doc := s.openAPI()
	paths := doc["paths"].(map[string]any)
	documented := map[string]bool{}
	for p, item := range paths {
		for m := range item.(map[string]any) {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routed := map[string]bool{}
	err := s.Router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil || route.GetHandler() == nil {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no method restriction", tpl)
			return nil
		}
		for _, m := range methods {
			if m == http.MethodHead || tpl == "/metrics" || tpl == "/" {
				continue
			}
			routed[m+" "+openAPIPath(tpl)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, stale []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("routes missing from the OpenAPI document: %v", missing)
	}
	if len(stale) > 0 {
		t.Errorf("documented operations with no route: %v", stale)
	}
	if len(routed) < 8 {
		t.Fatalf("only %d routes found; the walk is broken", len(routed))
	}
	// Every operation documents its error answers.
	for p, item := range paths {
		for m, op := range item.(map[string]any) {
			resp := op.(map[string]any)["responses"].(map[string]any)
			if _, ok := resp["500"]; !ok {
				t.Errorf("%s %s documents no error responses", m, p)
			}
		}
	}
}
