package web

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// Op describes one route: what it does, who may call it, what it takes and
// which errors it can answer. Registering a route needs an Op, so the OpenAPI
// document is written next to the handler and cannot drift from the router.
type Op struct {
	Method  string
	Path    string // relative to the router it is registered on, mux syntax
	Summary string
	Tag     string
	// Roles allowed; nil means any signed-in user. Public routes need no sign-in.
	Roles  []contexts.Role
	Public bool
	Params []Param
	// Body says in words what the JSON request body holds, if there is one.
	Body string
	// Request is a sample of the value the handler decodes the body into
	// (a zero value of its type, or OneOf several), from which the document
	// derives the body's schema; every route with a Body has one.
	Request any
	// Example is a body the handler accepts, shown in the document; the
	// tests decode it strictly into Request's type and validate it against
	// the schema, so it cannot drift either.
	Example any
	// OptionalBody: the body may be left out (an unlink's reason may come
	// as ?reason= instead).
	OptionalBody bool
	// CSV: the body may also be text/csv (the allocations feed).
	CSV bool
	// Produces is the success content type; JSON when empty.
	Produces string
	// Response is a sample of the JSON success body (a zero value of the
	// type the handler writes, or Fields for a map), so the document names
	// every field and the browser tests can check the UI reads only those.
	Response any
	// Status is the success status; 200 when zero.
	Status int
	// NotModified documents a 304 answer to If-None-Match (tiles).
	NotModified bool
	// Idempotent marks a create: it honours the Idempotency-Key header
	// (idempotency.go), which the document then lists with its errors.
	Idempotent bool
	// Answer turns what a keyed create made (the value its store method
	// returns) into the body the handler writes, for the store to keep
	// for retries; nil when the handler writes that value itself.
	Answer func(created any) (any, error)
	// SecretAnswer marks a create whose answer holds secrets shown once (a
	// new user's password and API token). Such an answer is never kept, so
	// the route takes no Idempotency-Key (400 if one is sent); a retry is a
	// duplicate and refused as one (409).
	SecretAnswer bool
	// HTMLErrors: a browser (Accept: text/html) gets its errors as a page
	// with the same message (the single sign-on callback, which a person
	// reaches by a redirect, not a script).
	HTMLErrors bool
	Errors     []int
}

// Param is a path or query parameter in the OpenAPI document.
type Param struct {
	Name     string
	In       string // "path", "query" or "header"
	Required bool
	Desc     string
	Type     string // "string" (default), "integer", "number"
}

// P, Q and RQ shorten parameter lists in route tables.
func P(name, desc string) Param  { return Param{Name: name, In: "path", Required: true, Desc: desc} }
func Q(name, desc string) Param  { return Param{Name: name, In: "query", Desc: desc} }
func RQ(name, desc string) Param { return Param{Name: name, In: "query", Required: true, Desc: desc} }

// apiFunc is a handler that returns its error to one adapter, so every
// failure is reported the same way.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// route registers h on rt behind the access rule of op, and records op for
// the OpenAPI document.
func (s *Server) route(rt *mux.Router, op Op, h apiFunc) http.Handler {
	methods := []string{op.Method}
	if op.Method == http.MethodGet {
		// Load balancers probe with HEAD; net/http drops the body.
		methods = append(methods, http.MethodHead)
	}
	handler := s.adapt(op, h)
	rt.Handle(op.Path, handler).Methods(methods...)
	op.Path = s.prefixes[rt] + op.Path
	if op.Idempotent {
		op.Params = append(append([]Param(nil), op.Params...), idempotencyParam)
		op.Errors = withStatuses(op.Errors, http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable)
	}
	s.ops = append(s.ops, op)
	return handler
}

// withStatuses adds the codes missing from errs, in order.
func withStatuses(errs []int, codes ...int) []int {
	out := append([]int(nil), errs...)
	for _, c := range codes {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// adapt turns an apiFunc into an http.Handler with the route's access rule
// and, for a create, the idempotency middleware inside it.
func (s *Server) adapt(op Op, h apiFunc) http.Handler {
	var inner http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
	if op.Idempotent {
		inner = s.idempotent(op, inner)
	}
	if op.SecretAnswer {
		next := inner
		inner = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(idempotencyHeader) != "" {
				s.writeError(w, r, errSecretAnswerKey)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !op.Public {
			if err := s.authorize(r, op.Roles); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
}

var errSecretAnswerKey = ctxmap.Errorf(ctxmap.KindInvalid, "idempotency_key_unsupported",
	"this create answers with secrets shown once, which are never kept for a retry: send it without "+idempotencyHeader+"; a repeat is refused as a duplicate")

var muxVar = regexp.MustCompile(`\{([a-zA-Z_]+)(:[^}]*)?\}`)

// openAPIPath turns a mux template into OpenAPI syntax ({z:[0-9]+} -> {z}).
func openAPIPath(p string) string { return muxVar.ReplaceAllString(p, "{$1}") }

var statusText = map[int]string{
	400: "bad request: malformed input", 401: "not signed in", 403: "role not allowed",
	404: "not found", 409: "conflicts with an existing record", 413: "body or batch too large",
	415: "the body is not JSON", 422: "well-formed but unacceptable", 429: "too many attempts", 503: "not ready",
}

// openAPI builds the OpenAPI 3 document from the registered operations.
func (s *Server) openAPI() map[string]any {
	paths := map[string]any{}
	ops := append([]Op(nil), s.ops...)
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path+ops[i].Method < ops[j].Path+ops[j].Method })
	defs := newComponents()
	errorRef := map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	for _, op := range ops {
		p := openAPIPath(op.Path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		produces := op.Produces
		if produces == "" {
			produces = "application/json"
		}
		status := op.Status
		if status == 0 {
			status = http.StatusOK
		}
		responses := map[string]any{}
		if status == http.StatusNoContent {
			responses["204"] = map[string]any{"description": "done, no body"}
		} else if status/100 == 3 {
			responses[strconv.Itoa(status)] = map[string]any{"description": "redirect, no body: the Location header says where",
				"headers": map[string]any{"Location": map[string]any{"schema": map[string]any{"type": "string"}}}}
		} else {
			media := map[string]any{}
			switch {
			case op.Response != nil:
				media["schema"] = defs.responseSchema(op.Response)
			case produces != "application/json":
				// Tiles, CSV, GeoJSON downloads, the UI's files: bytes
				// whose format the content type names.
				media["schema"] = map[string]any{"type": "string", "format": "binary"}
			}
			responses[strconv.Itoa(status)] = map[string]any{"description": "success", "content": map[string]any{produces: media}}
		}
		if op.NotModified {
			responses["304"] = map[string]any{"description": "not modified: the If-None-Match ETag still matches"}
		}
		// Every route can refuse a malformed query string or path (400)
		// and answer 503 while the database is down; a signed-in route,
		// 401 without a session and 403 for a role or a cookie write
		// without its CSRF header; a route with a body, 413 when it is
		// too large or not JSON; a route with a path variable, 404.
		errs := withStatuses(op.Errors, 400, 503)
		if !op.Public {
			errs = withStatuses(errs, 401, 403)
		}
		if op.Body != "" {
			errs = withStatuses(errs, 413, 415)
		}
		if strings.Contains(op.Path, "{") {
			// A path variable the router refuses (letters for an id) or
			// that names nothing.
			errs = withStatuses(errs, 404)
		}
		errContent := errorRef["content"]
		if op.HTMLErrors {
			errContent = map[string]any{"application/json": errorRef["content"].(map[string]any)["application/json"], "text/html": map[string]any{}}
		}
		for _, code := range errs {
			responses[strconv.Itoa(code)] = map[string]any{"description": statusText[code], "content": errContent}
		}
		responses["500"] = map[string]any{"description": "internal error (quote the request id)", "content": errContent}
		var params []any
		numeric := map[string]bool{} // path variables the router allows only digits in
		for _, m := range muxVar.FindAllStringSubmatch(op.Path, -1) {
			numeric[m[1]] = m[2] == ":[0-9]+"
		}
		for _, prm := range op.Params {
			typ := prm.Type
			if typ == "" && prm.In == "path" && numeric[prm.Name] {
				typ = "integer"
			}
			if typ == "" {
				typ = "string"
			}
			sc := map[string]any{"type": typ}
			if typ == "integer" {
				sc["format"] = "int64" // ids: a generated client must not narrow them
			}
			params = append(params, map[string]any{"name": prm.Name, "in": prm.In, "required": prm.Required, "description": prm.Desc, "schema": sc})
		}
		o := map[string]any{"summary": op.Summary, "responses": responses, "operationId": operationID(op)}
		if op.Tag != "" {
			o["tags"] = []string{op.Tag}
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.Body != "" {
			media := map[string]any{"schema": requestSchema(op.Request)}
			if op.Example != nil {
				media["example"] = op.Example
			}
			content := map[string]any{"application/json": media}
			if op.CSV {
				content["text/csv"] = map[string]any{"schema": map[string]any{"type": "string"}}
			}
			o["requestBody"] = map[string]any{"required": !op.OptionalBody, "description": op.Body, "content": content}
		}
		if op.Public {
			o["security"] = []any{}
		} else if op.Roles != nil {
			roles := make([]string, len(op.Roles))
			for i, r := range op.Roles {
				roles[i] = string(r)
			}
			o["x-roles"] = roles
		}
		item[strings.ToLower(op.Method)] = o
	}
	info := map[string]any{
		"title":       "ctxmap",
		"version":     APIVersion,
		"description": "Contextual safeguarding map: geocoding, records of harm locations and contexts, anonymised H3 heat tiles. Errors are {\"error\":{\"code\",\"message\"}}.",
	}
	if s.cfg.Version != "" {
		info["x-build"] = s.cfg.Version
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    info,
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie,
					"description": "The browser's session, from POST /api/v1/session or single sign-on. A write with it (POST, PUT, PATCH, DELETE) " +
						"also needs the " + csrfHeader + " header holding the csrf_token of the sign-in's answer or of GET /api/v1/me; " +
						"bearer tokens need no such header."},
			},
			"schemas": withError(defs.schemas, map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{"error": map[string]any{
				"type": "object", "required": []string{"code", "message"},
				"properties": map[string]any{"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"},
					"request_id": map[string]any{"type": "string"}, "details": map[string]any{"type": "object"}},
			}}}),
		},
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}},
	}
}

// withError adds the error body every failure answers with to the
// response types' schemas. A Go type named Error would collide with it,
// so none may be.
func withError(schemas map[string]any, errorSchema map[string]any) map[string]any {
	if _, dup := schemas["Error"]; dup {
		panic("web: a response type named Error collides with the error schema")
	}
	schemas["Error"] = errorSchema
	return schemas
}

// APIVersion is the version of the API the document describes: it changes
// when a change would break a client generated from an earlier document.
const APIVersion = "1"

// OpenAPI is the OpenAPI 3 document, indented, as GET /api/v1/openapi.json
// serves it; `ctxmap openapi` writes it for client generators.
func (s *Server) OpenAPI() ([]byte, error) {
	b, err := json.MarshalIndent(s.openAPI(), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func operationID(op Op) string {
	id := strings.ToLower(op.Method) + muxVar.ReplaceAllString(op.Path, "By_$1")
	return strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(id)
}
