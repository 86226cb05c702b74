package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ctxmap/ctxmap"
)

// statusOf is the one table from error kind to HTTP status.
var statusOf = map[ctxmap.Kind]int{
	ctxmap.KindInvalid:          http.StatusBadRequest,
	ctxmap.KindUnauthorized:     http.StatusUnauthorized,
	ctxmap.KindForbidden:        http.StatusForbidden,
	ctxmap.KindNotFound:         http.StatusNotFound,
	ctxmap.KindConflict:         http.StatusConflict,
	ctxmap.KindTooLarge:         http.StatusRequestEntityTooLarge,
	ctxmap.KindUnprocessable:    http.StatusUnprocessableEntity,
	ctxmap.KindRateLimited:      http.StatusTooManyRequests,
	ctxmap.KindUnavailable:      http.StatusServiceUnavailable,
	ctxmap.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	ctxmap.KindInternal:         http.StatusInternalServerError,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	RequestID string         `json:"request_id,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
}

// writeError reports err to the client. Users' mistakes (*ctxmap.Error) are
// shown as they are; anything else is ours: the client gets "internal error"
// and the request id, the log gets the detail. Only an error that is the
// request's own cancellation (the client went away or the deadline passed)
// is not ours: an internal error of an abandoned request is still logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, status := s.userError(w, r, err)
	writeJSON(w, status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, RequestID: requestID(r.Context()), Details: e.Details}})
}

// userError is what writeError tells the client about err, and its status;
// it logs what is ours and sets the headers that go with the status.
func (s *Server) userError(w http.ResponseWriter, r *http.Request, err error) (*ctxmap.Error, int) {
	var e *ctxmap.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &mbe):
		e = ctxmap.Errorf(ctxmap.KindTooLarge, "body_too_large", "request body is larger than %d bytes", mbe.Limit)
	case r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		// Nobody reads this answer, and nothing of ours went wrong.
		e = ctxmap.Errorf(ctxmap.KindUnavailable, "request_cancelled", "request cancelled or timed out")
	case s.databaseDown(r.Context(), err):
		// An outage, not a bug: logged once when it began (databaseDown).
		e = errDatabaseUnavailable
	default:
		s.log.ErrorContext(r.Context(), "internal error", "err", err, "method", r.Method, "path", safePath(r.URL.Path, info(r.Context()).route), "request_id", requestID(r.Context()))
		e = &ctxmap.Error{Kind: ctxmap.KindInternal, Code: "internal", Message: "internal error; quote the request id when reporting it"}
	}
	status, ok := statusOf[e.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ctxmap"`)
	}
	// A refusal that names when to come back (a release within the minimum
	// interval) says so in the standard header too.
	if secs, ok := e.Details["retry_after_seconds"].(int); ok && secs > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	return e, status
}

// writeJSON writes v as the response body. Encoding errors can only come
// from our own types, so they are logged by the caller's access log status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body, err := encodeJSON(v)
	if err != nil {
		slog.Debug("write json", "err", err)
	}
	_, _ = w.Write(body)
}

// encodeJSON is the bytes writeJSON sends for v: also the answer a keyed
// create stores for its retries, so both are the same to the byte.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return b.Bytes(), err
}

// decode reads one JSON value into v, refusing unknown fields and trailing
// data, so a typo in a field name is a 400 rather than silently ignored.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError becomes 413 in writeError
	}
	if ct := r.Header.Get("Content-Type"); ct != "" || len(body) > 0 {
		if err := jsonMediaType(ct); err != nil {
			return err
		}
	}
	// encoding/json would silently turn invalid UTF-8 into U+FFFD, storing
	// text the writer never sent.
	if !utf8.Valid(body) {
		return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_utf8", "the body is not valid UTF-8")
	}
	// PostgreSQL cannot store NUL in text; refuse it here with a clear
	// message rather than fail deep in a query.
	if bytes.Contains(bytes.ToLower(body), []byte(`\u0000`)) {
		return ctxmap.Errorf(ctxmap.KindInvalid, "bad_json", "text must not contain NUL (\\u0000) characters")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return ctxmap.Errorf(ctxmap.KindInvalid, "bad_json", "body must hold exactly one JSON value")
	}
	return nil
}

// jsonMediaType accepts application/json, with at most a charset parameter
// naming UTF-8 (RFC 8259 JSON is UTF-8): anything else is a 415, so a body
// in another encoding or format is never half-understood.
func jsonMediaType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	ok := err == nil && mt == "application/json"
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			ok = false
		}
	}
	if !ok {
		return ctxmap.Errorf(ctxmap.KindUnsupportedMedia, "unsupported_media_type",
			"send the body as application/json (UTF-8), with that Content-Type")
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return ctxmap.Errorf(ctxmap.KindInvalid, "bad_json", "request body is empty; send a JSON object")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return ctxmap.Errorf(ctxmap.KindInvalid, "bad_json", "malformed JSON: %v", err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return ctxmap.Errorf(ctxmap.KindInvalid, "bad_json", "the body must be a JSON %s", jsonKind(typ.Type.Kind()))
		}
		if n, ok := strings.CutPrefix(typ.Value, "number "); ok && isInteger(typ.Type.Kind()) {
			// A number, but a fraction or out of range: "a JSON number, not
			// number 1e30" would say nothing.
			return ctxmap.Errorf(ctxmap.KindInvalid, "bad_json", "field %q must be a whole number from %s to %s, not %s",
				typ.Field, intMin(typ.Type), intMax(typ.Type), n)
		}
		return ctxmap.Errorf(ctxmap.KindInvalid, "bad_json", "field %q must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		// encoding/json has no typed error for unknown fields.
		return ctxmap.Errorf(ctxmap.KindInvalid, "unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
	default:
		return ctxmap.Errorf(ctxmap.KindInvalid, "bad_json", "malformed JSON: %v", err)
	}
}

// jsonKind names a Go kind the way a JSON author thinks of it, so messages
// never show internal type names.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	}
	return "value of another type"
}

func isInteger(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uint64
}

// intMin and intMax are an integer type's bounds, as a JSON author writes them.
func intMin(t reflect.Type) string {
	if t.Kind() >= reflect.Uint {
		return "0"
	}
	return strconv.FormatInt(-1<<(t.Bits()-1), 10)
}

func intMax(t reflect.Type) string {
	if t.Kind() >= reflect.Uint {
		return strconv.FormatUint(1<<t.Bits()-1, 10)
	}
	return strconv.FormatInt(1<<(t.Bits()-1)-1, 10)
}

// badParam is the error for a query or path parameter a user got wrong.
func badParam(name, format string, args ...any) error {
	return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_parameter", "%s: %s", name, fmt.Sprintf(format, args...))
}

// timeZero makes http.ServeContent skip Last-Modified; ETags decide.
var timeZero = time.Time{}
