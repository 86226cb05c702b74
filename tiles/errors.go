package tiles

import "github.com/ctxmap/ctxmap"

// errInvalid builds the 400-class error every refused parameter returns.
func errInvalid(code, format string, args ...any) error {
	return ctxmap.Errorf(ctxmap.KindInvalid, code, format, args...)
}

// echoRunes is how much of a refused parameter a message repeats.
const echoRunes = 40
