package contexts

import (
	"regexp"
	"strings"
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

// roleTerms names each role for people, in the order of Roles.
var roleTerms = []Term{
	{Code: string(RolePractitioner), Label: "Practitioner", Description: "Records and reads their team's young people's locations; links them to contexts"},
	{Code: string(RoleContextLead), Label: "Context lead", Description: "Opens, assesses, plans, closes and reopens context records"},
	{Code: string(RoleAnalyst), Label: "Analyst", Description: "Anonymised heat maps, trends, exports and reports; never an individual record"},
	{Code: string(RoleAdmin), Label: "Administrator", Description: "Users, taxonomy, the audit log and retention (data protection officer)"},
}

// RoleTerms lists every role with its label, for the screens that assign
// them, so no client keeps its own copy of the list.
func RoleTerms() []Term { return append([]Term(nil), roleTerms...) }

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// ParseRole reads a role code, refusing anything else with a 400 that
// lists the roles.
func ParseRole(code string) (Role, error) {
	r := Role(strings.TrimSpace(code))
	if !r.Valid() {
		return "", InvalidField("role", "invalid_role", "role %q is not one of %s", Trunc(code, 40), termCodes(roleTerms)).
			WithDetail("allowed", termCodeList(roleTerms))
	}
	return r, nil
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
	// SSO: the account signs in through the organisation's provider, which
	// sets its role and team at every sign-in (made by a first sign-in).
	SSO        bool       `json:"sso"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	// LastActive is the newest use of any of the user's tokens or the
	// start of their newest session, when known.
	LastActive *time.Time `json:"last_active,omitempty"`
}

// UserInput is an administrator's new account: a sign-in name, a role and
// a team (made when new). Its password and API token are made by the
// server and shown once.
type UserInput struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Team string `json:"team"`
}

// userName is what a sign-in name may be: letters, digits and . _ @ -,
// starting with a letter or digit, so names are typed the same way by
// everyone and never carry a sentence.
var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$`)

// Validate checks a new account without I/O.
func (in UserInput) Validate() (UserInput, Role, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return in, "", MissingField("name")
	}
	if !userName.MatchString(in.Name) {
		return in, "", InvalidField("name", "invalid_name",
			"a user name is 2 to 64 letters, digits and . _ @ -, starting with a letter or digit")
	}
	role, err := ParseRole(in.Role)
	if err != nil {
		return in, "", err
	}
	if in.Team, err = CheckText("team", in.Team, 100, true); err != nil {
		return in, "", err
	}
	return in, role, nil
}

// Credentials are a new or reset account's secrets: shown to the
// administrator once, in the answer that made them, and stored only as
// hashes, so nobody can retrieve them again.
type Credentials struct {
	User     User   `json:"user"`
	Password string `json:"password"`
	Token    string `json:"token"`
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
