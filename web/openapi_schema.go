package web

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
)

// Fields describes a JSON object a handler writes as a map: each key's
// value is a sample of the Go value written there (a zero value is enough),
// from which the document derives that field's schema. It exists so an Op
// can document {"contexts": [...], "lat": ...} without a named type.
type Fields map[string]any

var (
	timeType          = reflect.TypeFor[time.Time]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	fieldsType        = reflect.TypeFor[Fields]()
)

// Optional marks a Fields value the handler writes only sometimes (a
// release list's "current" when there is a release): not required.
type Optional struct{ Sample any }

// Nullable marks a Fields value the handler may write as null (the map
// config's basemap when none is configured).
type Nullable struct{ Sample any }

// OneOf is a request body that may take any of several shapes (a sample of
// each), such as the bulk geocoder's object or bare array.
type OneOf []any

// responseSchema is the OpenAPI schema of a response body, all inline:
// Fields give an object with those properties, all of them required, any
// other value the schema of its Go type as encoding/json writes it. The
// document itself uses components.responseSchema, which names struct types.
func responseSchema(sample any) map[string]any {
	return schemaWalker{seen: map[reflect.Type]bool{}}.of(sample)
}

// requestSchema is the OpenAPI schema of a JSON request body that the
// handler decodes into sample's type. Decoding is strict (an unknown field
// is a 400), so objects allow no other properties; a field is required
// unless its tag says omitempty, the convention of every input type.
// Request schemas stay inline: each input type has one route.
func requestSchema(sample any) map[string]any {
	return schemaWalker{request: true, seen: map[reflect.Type]bool{}}.of(sample)
}

// components collects the named struct types of responses as reusable
// schemas (#/components/schemas/Name), so a generated client gets one type
// per Go type (HarmLocation, Context) rather than one per route, and the
// document stays small.
type components struct {
	schemas map[string]any
	names   map[reflect.Type]string
	taken   map[string]reflect.Type
}

func newComponents() *components {
	return &components{schemas: map[string]any{}, names: map[reflect.Type]string{}, taken: map[string]reflect.Type{}}
}

// responseSchema is the response schema of sample with named structs as
// references into c.
func (c *components) responseSchema(sample any) map[string]any {
	return schemaWalker{seen: map[reflect.Type]bool{}, defs: c}.of(sample)
}

var schemaName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// ref returns the reference to t's schema, adding it on first use; ok is
// false for a type with no usable name (anonymous, generic).
func (c *components) ref(w schemaWalker, t reflect.Type) (map[string]any, bool) {
	name, ok := c.names[t]
	if !ok {
		if !schemaName.MatchString(t.Name()) {
			return nil, false
		}
		name = strings.ToUpper(t.Name()[:1]) + t.Name()[1:]
		if other, dup := c.taken[name]; dup && other != t {
			// The same name in two packages: qualify the later one.
			pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
			name = strings.ToUpper(pkg[:1]) + pkg[1:] + name
		}
		c.names[t], c.taken[name] = name, t
		c.schemas[name] = map[string]any{} // placeholder: recursive types end here
		c.schemas[name] = w.structSchema(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}, true
}

// of is the schema of a sample value (Fields, OneOf, Optional or a Go value).
func (w schemaWalker) of(sample any) map[string]any {
	switch v := sample.(type) {
	case nil:
		return map[string]any{}
	case OneOf:
		var alts []any
		for _, alt := range v {
			alts = append(alts, w.of(alt))
		}
		return map[string]any{"oneOf": alts}
	case Fields:
		props := map[string]any{}
		var req []string
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // components are named in a fixed order
		for _, k := range keys {
			x := v[k]
			if o, ok := x.(Optional); ok {
				props[k] = w.of(o.Sample)
				continue
			}
			if n, ok := x.(Nullable); ok {
				props[k] = nullable(w.of(n.Sample))
				req = append(req, k)
				continue
			}
			sc := w.of(x)
			if t := reflect.TypeOf(x); t != nil && t.Kind() == reflect.Pointer {
				sc = nullable(sc) // a nil pointer is written as null
			}
			props[k] = sc
			req = append(req, k)
		}
		sc := map[string]any{"type": "object", "properties": props}
		if len(req) > 0 {
			sc["required"] = req
		}
		return sc
	}
	return w.schema(reflect.TypeOf(sample))
}

// nullable marks sc as accepting null. A reference cannot carry siblings
// in OpenAPI 3.0, so it is wrapped in allOf.
func nullable(sc map[string]any) map[string]any {
	if _, ok := sc["$ref"]; ok {
		return map[string]any{"allOf": []any{sc}, "nullable": true}
	}
	sc["nullable"] = true
	return sc
}

// schemaWalker derives schemas from Go types; request selects the rules of
// a strictly decoded body over those of an encoded response, and defs, when
// set, collects named structs as components.
type schemaWalker struct {
	request bool
	seen    map[reflect.Type]bool
	defs    *components
}

// schema follows encoding/json's rules: exported fields by their json
// tag, embedded structs flattened, "-" skipped, text marshalers and times
// as strings, maps as objects with additional properties. A response's nil
// slice or map is written as null, so they are nullable there.
func (w schemaWalker) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType || t == fieldsType:
		return map[string]any{}
	case t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int64, reflect.Uint64, reflect.Int, reflect.Uint:
		// Ids are int64: a generated client must not narrow them.
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Float32:
		return map[string]any{"type": "number", "format": "float"}
	case reflect.Float64:
		// Coordinates need float64's precision.
		return map[string]any{"type": "number", "format": "double"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"} // encoding/json writes []byte as base64
		}
		sc := map[string]any{"type": "array", "items": w.schema(t.Elem())}
		if t.Kind() == reflect.Slice && !w.request {
			sc["nullable"] = true
		}
		return sc
	case reflect.Map:
		sc := map[string]any{"type": "object", "additionalProperties": w.schema(t.Elem())}
		if !w.request {
			sc["nullable"] = true
		}
		return sc
	case reflect.Struct:
		if w.defs != nil && !w.request {
			if ref, ok := w.defs.ref(w, t); ok {
				return ref
			}
		}
		return w.structSchema(t)
	case reflect.Interface:
		return map[string]any{}
	}
	return map[string]any{}
}

// structSchema is the object schema of struct type t.
func (w schemaWalker) structSchema(t reflect.Type) map[string]any {
	if w.seen[t] {
		return map[string]any{"type": "object"}
	}
	w.seen[t] = true
	defer delete(w.seen, t)
	props := map[string]any{}
	var required []string
	w.structFields(t, props, &required)
	sc := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		sc["required"] = required
	}
	if w.request {
		sc["additionalProperties"] = false
	}
	return sc
}

// structFields adds t's JSON fields to props, flattening embedded structs
// the way encoding/json does, and lists in required those always present:
// in a response every field encoding/json always writes, in a request
// every field not marked omitempty.
func (w schemaWalker) structFields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				w.structFields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		sc := w.schema(f.Type)
		if vocab := f.Tag.Get("vocab"); vocab != "" && w.request {
			vocabulary(sc, vocab)
		}
		omitempty := strings.Contains(tag, ",omitempty")
		if f.Type.Kind() == reflect.Pointer && (!omitempty || w.request) {
			// encoding/json writes a nil pointer as null (a trend step
			// with no published cell), and reads null into one: say so.
			sc = nullable(sc)
		}
		props[name] = sc
		if !omitempty {
			*required = append(*required, name)
		}
	}
}

// vocabulary makes sc, a string field's schema, one of the codes of the
// taxonomy list named vocab (contexts.VocabularyCodes), so a client knows
// the values without reading the taxonomy first. A tag naming no list is
// a programming error, caught by the document's tests.
func vocabulary(sc map[string]any, vocab string) {
	codes, ok := contexts.VocabularyCodes(vocab)
	if !ok || sc["type"] != "string" {
		panic(fmt.Sprintf("openapi: vocab %q is not a taxonomy list of a string field", vocab))
	}
	enum := make([]any, len(codes))
	for i, c := range codes {
		enum[i] = c
	}
	sc["enum"] = enum
	sc["description"] = fmt.Sprintf("one of the taxonomy's %s (GET /api/v1/taxonomy)", vocab)
}

// ptr is a pointer to v, for the examples of optional fields.
func ptr[T any](v T) *T { return &v }
