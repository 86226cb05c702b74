package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIDocumentValidates loads the document with kin-openapi and
// validates it as OpenAPI 3, as a client generator would.
func TestOpenAPIDocumentValidates(t *testing.T) {
	s := New(Config{Version: "test"}, Deps{})
	if _, err := s.loadDocument(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestEveryBodyAndSuccessHasASchema: a client can be generated only if every
// request body and every 2xx answer says what it holds (issue 15: an
// intervention's completion date could not be found from the document).
func TestEveryBodyAndSuccessHasASchema(t *testing.T) {
	s := New(Config{Version: "test"}, Deps{})
	if len(s.Ops()) < 40 {
		t.Fatalf("only %d operations", len(s.Ops()))
	}
	for _, op := range s.Ops() {
		name := op.Method + " " + op.Path
		if op.Body != "" && op.Request == nil {
			t.Errorf("%s: a body with no Request type", name)
		}
		if op.Body != "" && op.Example == nil {
			t.Errorf("%s: a body with no Example", name)
		}
		if op.Request != nil && op.Body == "" {
			t.Errorf("%s: a Request type with no Body description", name)
		}
		json := op.Produces == "" || op.Produces == "application/json"
		if op.Status != http.StatusNoContent && op.Status/100 != 3 && json && op.Response == nil {
			t.Errorf("%s: a JSON success with no Response sample", name)
		}
	}
}

// TestRequestExamplesAreAccepted decodes every example strictly into the
// handler's type, as decode does, and validates it against the document's
// schema: an example that drifts from either fails here.
func TestRequestExamplesAreAccepted(t *testing.T) {
	s := New(Config{Version: "test"}, Deps{})
	for _, op := range s.Ops() {
		if op.Example == nil {
			continue
		}
		name := op.Method + " " + op.Path
		b, err := json.Marshal(op.Example)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var target any = op.Request
		if alts, ok := op.Request.(OneOf); ok {
			target = alts[0]
			for _, alt := range alts {
				if reflect.TypeOf(alt) == reflect.TypeOf(op.Example) {
					target = alt
				}
			}
		}
		dst := reflect.New(reflect.TypeOf(target)).Interface()
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			t.Errorf("%s: the example does not decode into %T: %v", name, target, err)
		}
		sc := openapi3.NewSchema()
		raw, _ := json.Marshal(requestSchema(op.Request))
		if err := json.Unmarshal(raw, sc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var v any
		_ = json.Unmarshal(b, &v)
		if err := sc.VisitJSON(v); err != nil {
			t.Errorf("%s: the example breaks the schema: %v", name, err)
		}
	}
}

// TestRequestSchemaIsStrict: the schema of a body says what decode
// enforces: no unknown properties, and the fields without omitempty are
// required, so a body that leaves one out or adds one is invalid.
func TestRequestSchemaIsStrict(t *testing.T) {
	type in struct {
		Reason string  `json:"reason"`
		Note   *string `json:"note,omitempty"`
	}
	raw, _ := json.Marshal(requestSchema(in{}))
	sc := openapi3.NewSchema()
	if err := json.Unmarshal(raw, sc); err != nil {
		t.Fatal(err)
	}
	for body, ok := range map[string]bool{
		`{"reason":"x"}`: true, `{"reason":"x","note":"y"}`: true, `{"reason":"x","note":null}`: true,
		`{"note":"y"}`: false, `{"reason":"x","done":"2026-01-01"}`: false, `{"reason":3}`: false,
	} {
		var v any
		_ = json.Unmarshal([]byte(body), &v)
		if err := sc.VisitJSON(v); (err == nil) != ok {
			t.Errorf("%s: valid=%v, want %v (%v)", body, err == nil, ok, err)
		}
	}
	if !strings.Contains(string(raw), `"additionalProperties":false`) {
		t.Errorf("schema %s allows other properties", raw)
	}
}

// TestControlledVocabulariesAreEnums: a request field tagged with a
// taxonomy list takes exactly that list's codes in the document, so a
// client generated from it has a constant for each status, layer or agency
// and is told when it sends "complete" for "done"; a null stays allowed
// where the field is optional.
func TestControlledVocabulariesAreEnums(t *testing.T) {
	type in struct {
		Status *string `json:"status,omitempty" vocab:"intervention_statuses"`
		Layer  string  `json:"layer" vocab:"layers"`
	}
	raw, _ := json.Marshal(requestSchema(in{}))
	sc := openapi3.NewSchema()
	if err := json.Unmarshal(raw, sc); err != nil {
		t.Fatal(err)
	}
	statuses, _ := contexts.VocabularyCodes("intervention_statuses")
	if len(statuses) < 3 || !strings.Contains(string(raw), `"enum":["`+strings.Join(statuses, `","`)+`"]`) {
		t.Fatalf("status enum in %s, want %v", raw, statuses)
	}
	for body, ok := range map[string]bool{
		`{"layer":"harm","status":"done"}`: true, `{"layer":"harm","status":null}`: true, `{"layer":"harm"}`: true,
		`{"layer":"harm","status":"complete"}`: false, `{"layer":"everything"}`: false,
	} {
		var v any
		_ = json.Unmarshal([]byte(body), &v)
		if err := sc.VisitJSON(v); (err == nil) != ok {
			t.Errorf("%s: valid=%v, want %v (%v)", body, err == nil, ok, err)
		}
	}
	if _, ok := contexts.VocabularyCodes("categories"); ok {
		t.Error("harm categories are an admin's list, not a fixed vocabulary")
	}
}
