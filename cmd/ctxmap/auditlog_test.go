package main

import (
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
)

// TestAuditSearchIsAudited: the audit log shows admins who did what and
// when, exact times and pseudonyms included (docs/PRIVACY.md, insider
// review finding 5), so every search of it is itself in the log, with its
// filters; and no other role may search it.
func TestAuditSearchIsAudited(t *testing.T) {
	ts := startServer(t)
	if status, out := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/audit?record=context:1&limit=5", ""); status != 200 {
		t.Fatalf("search: %d %v", status, out)
	}
	status, out := ts.do(t, contexts.RoleAdmin, "GET", "/api/v1/audit?limit=5", "")
	entries, _ := out["entries"].([]any)
	if status != 200 || len(entries) == 0 {
		t.Fatalf("second search: %d %v", status, out)
	}
	first := entries[0].(map[string]any)
	if first["action"] != "audit.search" || first["record"] != "context:1" || first["user_name"] == nil {
		t.Fatalf("the newest entry is not the first search: %v", first)
	}
	for _, role := range []contexts.Role{contexts.RolePractitioner, contexts.RoleContextLead, contexts.RoleAnalyst} {
		if status, _ := ts.do(t, role, "GET", "/api/v1/audit", ""); status != 403 {
			t.Errorf("%s searched the audit log: %d", role, status)
		}
	}
}
