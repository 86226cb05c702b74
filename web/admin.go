package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

var adminOnly = []contexts.Role{contexts.RoleAdmin}

func (s *Server) adminRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/audit", Summary: "Search the append-only audit log (data protection officers)", Tag: "admin",
		Roles: adminOnly, Params: []Param{
			Q("user", "user id"), Q("record", `record name such as "context:42"`),
			Q("from", "RFC 3339 time or YYYY-MM-DD, inclusive"), Q("to", "RFC 3339 time or YYYY-MM-DD, exclusive"),
			{Name: "limit", In: "query", Type: "integer", Desc: "1..1000, default 200"},
		}, Errors: []int{400}, Response: Fields{"entries": []contexts.AuditEntry{}}}, s.searchAudit)
	s.route(api, Op{Method: "GET", Path: "/users", Summary: "List user accounts", Tag: "admin", Roles: adminOnly, Response: Fields{"users": []contexts.User{}}}, s.listUsers)
	s.route(api, Op{Method: "GET", Path: "/admin/alerts", Tag: "admin", Roles: adminOnly,
		Summary: "Insider alerts, newest first (audited): kind subject_burst (one user recorded many young people new to them at one H3 cell or context within 24 hours), quick_archive (harm locations archived within 24 hours of creation), screening_refusals (free-text screening refused many of one user's texts within 24 hours), subject_limit_refusals (the daily cap refused many of one user's writes within 24 hours) or revision_burst (one user recorded many young people at one H3 cell within 35 days, each in a month already released: back-dated records watched across releases); one per kind, user, place and day, never naming a young person",
		Params: []Param{Q("unread", "true: only alerts nobody has marked read"),
			{Name: "limit", In: "query", Type: "integer", Desc: "1..1000, default 200"}},
		Errors: []int{400, 503}, Response: Fields{"alerts": []contexts.AdminAlert{}}}, s.adminAlerts)
	s.route(api, Op{Method: "POST", Path: "/admin/alerts/{id:[0-9]+}/read", Tag: "admin", Roles: adminOnly,
		Summary: "Mark an alert read (audited); the first reader is kept", Params: []Param{P("id", "alert id")},
		Errors: []int{404, 503}, Response: contexts.AdminAlert{}}, s.markAlertRead)
}

// alertsUnconfigured is the answer of the alert routes on a server built
// without an alert store.
var alertsUnconfigured = ctxmap.Errorf(ctxmap.KindUnavailable, "unavailable", "alerts are not available on this server")

// adminAlerts handles GET /api/v1/admin/alerts.
func (s *Server) adminAlerts(w http.ResponseWriter, r *http.Request) error {
	if s.alerts == nil {
		return alertsUnconfigured
	}
	q := r.URL.Query()
	var aq contexts.AlertQuery
	switch q.Get("unread") {
	case "", "false":
	case "true":
		aq.UnreadOnly = true
	default:
		return badParam("unread", "must be true or false")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badParam("limit", "must be 1..1000")
		}
		aq.Limit = n
	}
	list, err := s.alerts.AdminAlerts(r.Context(), actor(r), aq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": list})
	return nil
}

// markAlertRead handles POST /api/v1/admin/alerts/{id}/read.
func (s *Server) markAlertRead(w http.ResponseWriter, r *http.Request) error {
	if s.alerts == nil {
		return alertsUnconfigured
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	a, err := s.alerts.MarkAlertRead(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// searchAudit handles GET /api/v1/audit. The search itself is audited: the
// log shows what others looked at, so reading it is a read of personal data.
func (s *Server) searchAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var aq contexts.AuditQuery
	var err error
	if v := q.Get("user"); v != "" {
		if aq.UserID, err = strconv.ParseInt(v, 10, 64); err != nil || aq.UserID <= 0 {
			return badParam("user", "must be a user id")
		}
	}
	aq.Record = q.Get("record")
	if aq.From, err = parseTimeParam("from", q.Get("from")); err != nil {
		return err
	}
	if aq.To, err = parseTimeParam("to", q.Get("to")); err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		if aq.Limit, err = strconv.Atoi(v); err != nil || aq.Limit < 1 || aq.Limit > 1000 {
			return badParam("limit", "must be 1..1000")
		}
	}
	entries, err := s.audit.SearchAudit(r.Context(), actor(r), aq)
	if err != nil {
		return err
	}
	if err := s.audit.Audit(r.Context(), actor(r), "audit.search", aq.Record, "", map[string]any{"user": aq.UserID, "from": q.Get("from"), "to": q.Get("to")}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}

func parseTimeParam(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, ctxmap.Errorf(ctxmap.KindInvalid, "invalid_parameter", "%s: use RFC 3339 (2026-01-02T15:04:05Z) or YYYY-MM-DD", name)
}

// listUsers handles GET /api/v1/users.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.users.ListUsers(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}
