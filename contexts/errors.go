package contexts

import "github.com/ctxmap/ctxmap"

// The domain's errors: each names the field at fault so a form can point
// at it, and carries a stable code clients match on.

// MissingField is the error for a required field left out.
func MissingField(field string) *ctxmap.Error {
	return ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "%s is required", field).WithDetail("field", field)
}

// InvalidField is a 400 naming the field at fault.
func InvalidField(field, code, format string, args ...any) *ctxmap.Error {
	return ctxmap.Errorf(ctxmap.KindInvalid, code, format, args...).WithDetail("field", field)
}

// Unprocessable is a 422 naming the field at fault.
func Unprocessable(field, code, format string, args ...any) *ctxmap.Error {
	return ctxmap.Errorf(ctxmap.KindUnprocessable, code, format, args...).WithDetail("field", field)
}

// NotFound is the 404 for a record that does not exist (or that the actor
// may not know exists).
func NotFound(what string, id int64) *ctxmap.Error {
	return ctxmap.Errorf(ctxmap.KindNotFound, "not_found", "no %s with id %d", what, id)
}

// PostcodeNotFound is the 422 for a postcode the directory cannot place.
func PostcodeNotFound(postcode string) *ctxmap.Error {
	return Unprocessable("postcode", "postcode_not_found", "postcode %s is not in the postcode directory", postcode).WithDetail("postcode", postcode)
}

// ContextClosedError refuses new work on a closed context.
func ContextClosedError(c *Context) error {
	return ctxmap.Errorf(ctxmap.KindConflict, "context_closed", "%s is closed; reopen it first", c.DisplayName).
		WithDetail("existing_id", c.ID)
}
