// Package contexts is the safeguarding domain: context records (locations,
// groups, schools), harm locations on pseudonymous young people's records,
// the harm taxonomy, assessments under the context-triangle headings,
// interventions, links, closure and reopening, chronology, and the users and
// audit trail that every change is attributed to. Domain types and
// validation are plain Go; the PostGIS store lives in the store*.go files.
package contexts

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
