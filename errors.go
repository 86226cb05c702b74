// Package ctxmap holds what every layer shares: the small set of error kinds
// that decide how a failure is reported to a user. Domain packages return
// *Error values for users' mistakes; the web layer maps each Kind to one HTTP
// status in one table, and anything else becomes "internal error".
package ctxmap

import (
	"errors"
	"fmt"
)

// Kind classifies an error by who must act on it. It is deliberately small:
// a new kind is a new row in the web layer's status table.
type Kind int

// The kinds. Their HTTP statuses are decided in web, not here.
const (
	KindInternal         Kind = iota // our fault; details go to the log only
	KindInvalid                      // malformed request (400)
	KindUnauthorized                 // no or bad credentials (401)
	KindForbidden                    // authenticated but not allowed (403)
	KindNotFound                     // no such thing, or not visible to the caller (404)
	KindConflict                     // clashes with existing state (409)
	KindTooLarge                     // request or batch over a limit (413)
	KindUnprocessable                // well-formed but semantically unacceptable (422)
	KindRateLimited                  // too many attempts (429)
	KindUnavailable                  // a dependency is down or not ready (503)
	KindUnsupportedMedia             // a body in a media type the route does not take (415)
)

// Error is a user-facing error: Code is a stable machine-readable string
// (e.g. "postcode_malformed") and Message a sentence a person can act on.
// Details may carry structured extras such as the id of a conflicting record.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetail returns a copy of e carrying one more detail field.
func (e *Error) WithDetail(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// KindOf reports the Kind of err, or KindInternal when err carries no *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Truncate shortens user input echoed in an error message or a log line to
// at most n runes (plus "..."), so a hostile parameter cannot fill either,
// and a multi-byte character is never cut in half.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
