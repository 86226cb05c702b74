package contexts

import (
	"fmt"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
)

// Single sign-on (issue 15): a council's OpenID Connect provider says who a
// person is; the deployment's configuration says which of the provider's
// claims give their ctxmap role and team. This file holds that mapping, with
// no I/O, so it is table-tested and the web layer only hands it the verified
// ID token's claims.

// RoleGrant gives Role to whoever's role claim holds Value (a group id, an
// app role's value).
type RoleGrant struct {
	Value string
	Role  Role
}

// ParseRoleMap reads "value=role,value=role" (--oidc-role-map). Order
// matters: a person whose claim holds several mapped values gets the role of
// the first of them in this list, so an operator lists the group that should
// win first. An empty text is no map: the claim's values are then role codes
// themselves (Entra ID app roles named after ctxmap's roles).
func ParseRoleMap(text string) ([]RoleGrant, error) {
	var out []RoleGrant
	seen := map[string]bool{}
	for _, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		value, role, ok := strings.Cut(part, "=")
		value, role = strings.TrimSpace(value), strings.TrimSpace(role)
		if !ok || value == "" || role == "" {
			return nil, fmt.Errorf("oidc role map: %q is not value=role", part)
		}
		r, err := ParseRole(role)
		if err != nil {
			return nil, fmt.Errorf("oidc role map: %q: %s is not one of %s", part, role, termCodes(roleTerms))
		}
		if seen[value] {
			return nil, fmt.Errorf("oidc role map: %q is mapped twice", value)
		}
		seen[value] = true
		out = append(out, RoleGrant{Value: value, Role: r})
	}
	return out, nil
}

// SSOMapping says which claims of a verified ID token name a person, give
// their role and give their team.
type SSOMapping struct {
	// RoleClaim holds a string or an array of strings (groups, roles).
	RoleClaim string
	// RoleMap maps the claim's values to roles, first match wins; empty:
	// the values are role codes.
	RoleMap []RoleGrant
	// TeamClaim holds the team's name: a string, or an array with one.
	TeamClaim string
	// NameClaims are tried in order for the account's name; the subject is
	// the last resort, so every account has one.
	NameClaims []string
}

// DefaultNameClaims name an account after the provider's user name, else
// the e-mail address: Entra ID sends preferred_username (the UPN).
var DefaultNameClaims = []string{"preferred_username", "email"}

// SSOIdentity is who a sign-in says the person is, and what ctxmap makes of
// it: their account is found by (Issuer, Subject) alone; Name, Role and Team
// are set from the claims at every sign-in.
type SSOIdentity struct {
	Issuer  string
	Subject string
	Name    string
	Role    Role
	Team    string
}

// Limits of the users table (migrations 00001 and 00024).
const (
	maxSSOSubject = 255
	maxSSOName    = 200
	maxTeamName   = 200
)

// Identity maps a verified ID token's claims (issuer and subject checked by
// the caller's verifier) to an identity. A token without a mapped role or
// a team is refused with 403 and a message saying what the provider's
// administrator must change: ctxmap never guesses a role.
func (m SSOMapping) Identity(issuer, subject string, claims map[string]any) (SSOIdentity, error) {
	if subject == "" || len(subject) > maxSSOSubject {
		return SSOIdentity{}, ctxmap.Errorf(ctxmap.KindUnauthorized, "oidc_bad_subject", "the identity provider's answer has no usable subject; sign in again")
	}
	id := SSOIdentity{Issuer: issuer, Subject: subject}
	role, err := m.role(claims)
	if err != nil {
		return SSOIdentity{}, err
	}
	id.Role = role
	team, err := m.team(claims)
	if err != nil {
		return SSOIdentity{}, err
	}
	id.Team = team
	id.Name = subject
	names := m.NameClaims
	if len(names) == 0 {
		names = DefaultNameClaims
	}
	for _, c := range names {
		if s, ok := claims[c].(string); ok && strings.TrimSpace(s) != "" {
			id.Name = strings.TrimSpace(s)
			break
		}
	}
	if r := []rune(id.Name); len(r) > maxSSOName {
		id.Name = string(r[:maxSSOName])
	}
	return id, nil
}

// claimValues reads a claim that is a string or an array of strings.
func claimValues(claims map[string]any, name string) []string {
	switch v := claims[name].(type) {
	case string:
		if s := strings.TrimSpace(v); s != "" {
			return []string{s}
		}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
		return out
	}
	return nil
}

func (m SSOMapping) role(claims map[string]any) (Role, error) {
	values := claimValues(claims, m.RoleClaim)
	if len(m.RoleMap) == 0 {
		for _, v := range values {
			if r := Role(v); r.Valid() {
				return r, nil
			}
		}
	} else {
		held := map[string]bool{}
		for _, v := range values {
			held[v] = true
		}
		for _, g := range m.RoleMap {
			if held[g.Value] {
				return g.Role, nil
			}
		}
	}
	return "", ctxmap.Errorf(ctxmap.KindForbidden, "oidc_no_role",
		"your organisation's sign-in gives you no ctxmap role (its %q claim holds none of the groups or roles this deployment maps to a role): ask your identity administrator to add you to a ctxmap group, then sign in again", m.RoleClaim)
}

func (m SSOMapping) team(claims map[string]any) (string, error) {
	values := claimValues(claims, m.TeamClaim)
	switch {
	case len(values) == 1 && len([]rune(values[0])) <= maxTeamName:
		return values[0], nil
	case len(values) == 1:
		return "", ctxmap.Errorf(ctxmap.KindForbidden, "oidc_team_too_long",
			"your organisation's sign-in names a team longer than %d characters in its %q claim: ask your identity administrator to send a shorter name", maxTeamName, m.TeamClaim)
	case len(values) > 1:
		return "", ctxmap.Errorf(ctxmap.KindForbidden, "oidc_several_teams",
			"your organisation's sign-in names %d teams in its %q claim and a ctxmap account belongs to one: ask your identity administrator to send one", len(values), m.TeamClaim)
	}
	return "", ctxmap.Errorf(ctxmap.KindForbidden, "oidc_no_team",
		"your organisation's sign-in names no team (its %q claim is missing or empty): ask your identity administrator to set your team, then sign in again", m.TeamClaim)
}

// SSOLogin is one sign-in between the redirect to the provider and its
// callback: what the server keeps so the callback can be checked. Only the
// state travels through the browser; the PKCE verifier and the nonce never
// leave the server.
type SSOLogin struct {
	State    string
	Nonce    string
	Verifier string
	// ReturnTo is the path of this site the person started from.
	ReturnTo string
	// Addr is the client's address (as the login limits count it).
	Addr    string
	Expires time.Time
}

// SSOPendingPerAddr is how many unfinished sign-ins one address may have at
// once (each is kept for SSOLoginTTL): far more than a council's staff
// behind one proxy start and abandon in ten minutes, few enough that nobody
// fills the table by asking for sign-ins they never finish.
const SSOPendingPerAddr = 200

// ErrSSOTooMany answers a sign-in from an address over SSOPendingPerAddr.
var ErrSSOTooMany = ctxmap.Errorf(ctxmap.KindRateLimited, "too_many_sign_ins",
	"too many sign-ins were started from your address and not finished; wait %d minutes and try again", int(SSOLoginTTL.Minutes()))

// SSOLoginTTL is how long a sign-in may take at the provider: long enough to
// type a password and approve a second factor, short enough that a stolen
// state is soon worthless.
const SSOLoginTTL = 10 * time.Minute

// ErrSSOState answers a callback whose state is not one this deployment
// began, has been used already or has expired.
var ErrSSOState = ctxmap.Errorf(ctxmap.KindInvalid, "oidc_state_unknown",
	"this sign-in link is not one this browser started, was used already or has expired: start again from the sign-in page")
