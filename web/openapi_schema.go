package web

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"time"
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

// responseSchema is the OpenAPI schema of a response body: Fields give an
// object with those properties, any other value the schema of its Go type as
// encoding/json writes it. The browser tests check every field the map UI
// reads against these schemas, so they name exactly the fields sent.
func responseSchema(sample any) map[string]any {
	if f, ok := sample.(Fields); ok {
		props := map[string]any{}
		for k, v := range f {
			props[k] = responseSchema(v)
		}
		return map[string]any{"type": "object", "properties": props}
	}
	if sample == nil {
		return map[string]any{}
	}
	return typeSchema(reflect.TypeOf(sample), map[reflect.Type]bool{})
}

// typeSchema follows encoding/json's rules: exported fields by their json
// tag, embedded structs flattened, "-" skipped, text marshalers and times
// as strings, maps as objects with additional properties.
func typeSchema(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
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
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), seen)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), seen)}
	case reflect.Struct:
		if seen[t] {
			return map[string]any{"type": "object"}
		}
		seen[t] = true
		defer delete(seen, t)
		props := map[string]any{}
		structFields(t, seen, props)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

// structFields adds t's JSON fields to props, flattening embedded structs
// the way encoding/json does.
func structFields(t reflect.Type, seen map[reflect.Type]bool, props map[string]any) {
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
				structFields(ft, seen, props)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		sc := typeSchema(f.Type, seen)
		if f.Type.Kind() == reflect.Pointer && !strings.Contains(tag, "omitempty") {
			// encoding/json writes a nil pointer as null (a trend step
			// with no published cell): say so.
			sc["nullable"] = true
		}
		props[name] = sc
	}
}
