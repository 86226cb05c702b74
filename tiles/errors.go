package tiles

import "github.com/ctxmap/ctxmap"

// errInvalid builds the 400-class error every refused parameter returns.
func errInvalid(code, format string, args ...any) error {
	return ctxmap.Errorf(ctxmap.KindInvalid, code, format, args...)
}

// trunc shortens user input echoed in an error message, so a hostile
// parameter cannot fill a log line or a response.
func trunc(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
