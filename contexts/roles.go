package contexts

import (
	"time"

	"github.com/ctxmap/ctxmap"
)

// Role decides what a user may see and do. Access is decided in one place
// (the web layer's middleware) from this value.
type Role string

// The roles of PRODUCT.md.
const (
	RolePractitioner Role = "practitioner"
	RoleContextLead  Role = "context_lead"
	RoleAnalyst      Role = "analyst"
	RoleAdmin        Role = "admin"
)

// Roles lists every role, in the order they are shown to people.
var Roles = []Role{RolePractitioner, RoleContextLead, RoleAnalyst, RoleAdmin}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Actor is the authenticated user on whose behalf a change or read is made.
// Every store method that writes or reads individual data takes one, so the
// audit log and team scoping never depend on the caller remembering.
type Actor struct {
	UserID   int64  `json:"id"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	TeamID   int64  `json:"team_id"`
	Team     string `json:"team"`
	Disabled bool   `json:"disabled,omitempty"`
}

// User is an account as administrators see it.
type User struct {
	Actor
	HasPassword bool `json:"has_password"`
}

// Require refuses an actor whose role may not do something. The web layer
// checks roles first; this is the second lock, so a forgotten route option
// cannot expose individual records.
func Require(a *Actor, roles ...Role) error {
	if a == nil || a.UserID == 0 {
		return ctxmap.Errorf(ctxmap.KindUnauthorized, "unauthenticated", "sign in first")
	}
	if a.Disabled {
		return ctxmap.Errorf(ctxmap.KindForbidden, "forbidden", "this account is disabled")
	}
	for _, r := range roles {
		if a.Role == r {
			return nil
		}
	}
	return ctxmap.Errorf(ctxmap.KindForbidden, "forbidden", "the %s role may not do this", a.Role)
}

// ValidatePassword enforces the only rule worth enforcing: length.
func ValidatePassword(pw string) error {
	if len(pw) < 10 {
		return ctxmap.Errorf(ctxmap.KindInvalid, "weak_password", "passwords need at least 10 characters")
	}
	if len(pw) > 200 {
		return ctxmap.Errorf(ctxmap.KindInvalid, "too_long", "passwords are limited to 200 characters")
	}
	return nil
}

// ErrBadCredentials is returned for any failed sign-in, whatever the cause,
// so responses do not reveal which user names exist.
var ErrBadCredentials = ctxmap.Errorf(ctxmap.KindUnauthorized, "bad_credentials", "user name or password is wrong")

// Session is a signed-in browser.
type Session struct {
	ID        string // the cookie value; only its hash is stored
	CSRFToken string
	Expires   time.Time
}
