package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// ViolationLog is the message every response that breaks the OpenAPI
// document is logged with, so a test can look for it in a server's log.
const ViolationLog = "openapi violation"

// loadDocument parses the server's own OpenAPI document with kin-openapi
// and validates it as OpenAPI 3: the check a client generator would make.
func (s *Server) loadDocument(ctx context.Context) (*openapi3.T, error) {
	b, err := json.Marshal(s.openAPI())
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	return doc, nil
}

// conformance checks every API response against the document: status,
// content type and, for JSON, the body against its schema. It is a test
// aid (serve --validate-responses): the end-to-end suites run every request
// they make through it and fail on a logged violation. It buffers each
// response, so it is not for production.
type conformance struct {
	router routers.Router
	log    func(ctx context.Context, msg string, args ...any)
}

func (s *Server) newConformance() (*conformance, error) {
	doc, err := s.loadDocument(context.Background())
	if err != nil {
		return nil, err
	}
	rt, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi router: %w", err)
	}
	return &conformance{router: rt, log: s.log.ErrorContext}, nil
}

// recorder keeps what a handler wrote for the check (the status as the
// access log's statusWriter does), and passes it on.
type recorder struct {
	statusWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.statusWriter.Write(b)
}

// Flush lets streamed answers (CSV exports) through.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *conformance) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, apiPrefix+"/") || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{statusWriter: statusWriter{ResponseWriter: w}}
		next.ServeHTTP(rec, r)
		if err := c.check(r, rec); err != nil {
			c.log(r.Context(), ViolationLog, "method", r.Method, "path", r.URL.Path, "status", rec.status, "err", err)
		}
	})
}

// check validates one response. A path the document does not know is a
// violation too, unless the server refused it before any route: a 404 or
// 405 of the router, or a 400 for a path that is not valid UTF-8 or holds
// NUL. A 405 is always the router's (a numeric path variable that is not a
// number), whose template the document shows without the digits rule.
func (c *conformance) check(r *http.Request, rec *recorder) error {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusMethodNotAllowed {
		return nil
	}
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		if status == http.StatusNotFound || status == http.StatusBadRequest {
			return nil
		}
		return fmt.Errorf("not in the document: %w", err)
	}
	if status == http.StatusNotModified {
		return nil // no body; 304s are declared per route
	}
	ct := rec.Header().Get("Content-Type")
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 rec.Header(),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if !strings.HasPrefix(ct, "application/json") {
		// Tiles, CSV and GeoJSON downloads: the status and content type
		// are checked, the bytes are their format's business.
		in.Options.ExcludeResponseBody = true
	}
	in.SetBodyBytes(rec.body.Bytes())
	return openapi3filter.ValidateResponse(r.Context(), in)
}
