package contexts

import (
	"errors"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap"
)

func TestParseRoleMap(t *testing.T) {
	got, err := ParseRoleMap(" grp-a = admin, grp-b=practitioner ,, 9f1c-guid=context_lead")
	if err != nil {
		t.Fatal(err)
	}
	want := []RoleGrant{{"grp-a", RoleAdmin}, {"grp-b", RolePractitioner}, {"9f1c-guid", RoleContextLead}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("entry %d: %v, want %v", i, got[i], want[i])
		}
	}
	if m, err := ParseRoleMap(""); err != nil || m != nil {
		t.Fatalf("empty map: %v %v", m, err)
	}
	for _, bad := range []string{"grp-a", "=admin", "grp-a=", "grp-a=root", "grp-a=admin,grp-a=analyst"} {
		if _, err := ParseRoleMap(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSSOMappingIdentity: the claims of an ID token to a role and a team,
// the ways Entra ID and others send them.
func TestSSOMappingIdentity(t *testing.T) {
	byGroup := SSOMapping{RoleClaim: "groups", TeamClaim: "department",
		RoleMap: []RoleGrant{{"g-admin", RoleAdmin}, {"g-prac", RolePractitioner}}}
	byRole := SSOMapping{RoleClaim: "roles", TeamClaim: "team"}
	for _, tc := range []struct {
		name     string
		m        SSOMapping
		claims   map[string]any
		role     Role
		team     string
		userName string
		code     string
	}{
		{"groups array", byGroup, map[string]any{"groups": []any{"g-x", "g-prac"}, "department": "Hackney North", "preferred_username": "jo@council.gov.uk"},
			RolePractitioner, "Hackney North", "jo@council.gov.uk", ""},
		{"first in map order wins", byGroup, map[string]any{"groups": []any{"g-prac", "g-admin"}, "department": "North"}, RoleAdmin, "North", "sub-1", ""},
		{"one group as a string", byGroup, map[string]any{"groups": "g-prac", "department": " North "}, RolePractitioner, "North", "sub-1", ""},
		{"email when no preferred_username", byGroup, map[string]any{"groups": []any{"g-prac"}, "department": "N", "email": "jo@x.org"}, RolePractitioner, "N", "jo@x.org", ""},
		{"team as a one-element array", byGroup, map[string]any{"groups": []any{"g-prac"}, "department": []any{"North"}}, RolePractitioner, "North", "sub-1", ""},
		{"app role values are role codes", byRole, map[string]any{"roles": []any{"reader", "analyst"}, "team": "Data"}, RoleAnalyst, "Data", "sub-1", ""},
		{"no role claim", byGroup, map[string]any{"department": "North"}, "", "", "", "oidc_no_role"},
		{"no mapped group", byGroup, map[string]any{"groups": []any{"g-x"}, "department": "North"}, "", "", "", "oidc_no_role"},
		{"group ids are not role codes", byGroup, map[string]any{"groups": []any{"admin"}, "department": "North"}, "", "", "", "oidc_no_role"},
		{"role claim of the wrong type", byRole, map[string]any{"roles": 3.0, "team": "Data"}, "", "", "", "oidc_no_role"},
		{"no team", byGroup, map[string]any{"groups": []any{"g-prac"}}, "", "", "", "oidc_no_team"},
		{"empty team", byGroup, map[string]any{"groups": []any{"g-prac"}, "department": "  "}, "", "", "", "oidc_no_team"},
		{"several teams", byGroup, map[string]any{"groups": []any{"g-prac"}, "department": []any{"A", "B"}}, "", "", "", "oidc_several_teams"},
	} {
		id, err := tc.m.Identity("https://login.example.org/t/v2.0", "sub-1", tc.claims)
		if tc.code != "" {
			var e *ctxmap.Error
			if ctxmap.KindOf(err) != ctxmap.KindForbidden || !errors.As(err, &e) || e.Code != tc.code {
				t.Errorf("%s: %v, want 403 %s", tc.name, err, tc.code)
			}
			continue
		}
		if err != nil || id.Role != tc.role || id.Team != tc.team || id.Name != tc.userName || id.Subject != "sub-1" {
			t.Errorf("%s: %+v %v", tc.name, id, err)
		}
	}
	if _, err := byGroup.Identity("iss", "", map[string]any{"groups": "g-prac", "department": "N"}); ctxmap.KindOf(err) != ctxmap.KindUnauthorized {
		t.Errorf("no subject: %v", err)
	}
	long := strings.Repeat("n", 300)
	if id, err := byGroup.Identity("iss", "s", map[string]any{"groups": "g-prac", "department": "N", "preferred_username": long}); err != nil || len(id.Name) != 200 {
		t.Errorf("long name: %d %v", len(id.Name), err)
	}
	if _, err := byGroup.Identity("iss", "s", map[string]any{"groups": "g-prac", "department": long}); ctxmap.KindOf(err) != ctxmap.KindForbidden {
		t.Errorf("long team: %v", err)
	}
}
