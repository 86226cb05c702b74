package web

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/geo"
)

// TestResponseSchemaFollowsEncodingJSON checks the derived schemas name the
// fields encoding/json writes: tags, embedded structs flattened, "-" and
// unexported fields left out, text marshalers and times as strings.
func TestResponseSchemaFollowsEncodingJSON(t *testing.T) {
	type inner struct {
		A int `json:"a"`
	}
	type sample struct {
		inner
		B      string   `json:"b,omitempty"`
		C      *float64 `json:"c"`
		Skip   string   `json:"-"`
		hidden int
		M      geo.Month         `json:"m"`
		T      time.Time         `json:"t"`
		L      []inner           `json:"l"`
		Map    map[string]string `json:"map"`
		Raw    json.RawMessage   `json:"raw"`
	}
	_ = sample{}.hidden
	got := responseSchema(Fields{"x": []sample{}, "n": 0})
	props := got["properties"].(map[string]any)
	if !reflect.DeepEqual(props["n"], map[string]any{"type": "integer", "format": "int64"}) {
		t.Errorf("n = %v", props["n"])
	}
	item := props["x"].(map[string]any)["items"].(map[string]any)["properties"].(map[string]any)
	want := map[string]any{
		"a": map[string]any{"type": "integer", "format": "int64"}, "b": map[string]any{"type": "string"}, "c": map[string]any{"type": "number", "format": "double", "nullable": true},
		"m": map[string]any{"type": "string"}, "t": map[string]any{"type": "string", "format": "date-time"},
		"l": map[string]any{"type": "array", "nullable": true, "items": map[string]any{"type": "object",
			"properties": map[string]any{"a": map[string]any{"type": "integer", "format": "int64"}}, "required": []string{"a"}}},
		"map": map[string]any{"type": "object", "nullable": true, "additionalProperties": map[string]any{"type": "string"}},
		"raw": map[string]any{},
	}
	if !reflect.DeepEqual(item, want) {
		t.Errorf("schema of sample =\n%v\nwant\n%v", item, want)
	}
	// encoding/json always writes the fields without omitempty: required.
	req := props["x"].(map[string]any)["items"].(map[string]any)["required"]
	if !reflect.DeepEqual(req, []string{"a", "c", "l", "m", "map", "raw", "t"}) {
		t.Errorf("required = %v", req)
	}
}
