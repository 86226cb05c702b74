package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

var adminOnly = []contexts.Role{contexts.RoleAdmin}

// overdueReaders see the contexts past their review date.
var overdueReaders = []contexts.Role{contexts.RoleContextLead, contexts.RoleAdmin}

func (s *Server) adminRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/audit", Tag: "admin", Roles: adminOnly,
		Summary: "Search the append-only audit log (data protection officers): who, what, when and why, newest first, one page at a time; the search (or export) is itself audited",
		Params: []Param{
			{Name: "user", In: "query", Type: "integer", Desc: "user id"},
			Q("action", `an action such as "harm_locations.read", or a prefix ending in "." such as "user."`),
			Q("record", `record name such as "context:42", "user:3" or "subject-records:<prefix>"`),
			{Name: "context", In: "query", Type: "integer", Desc: `a context record id: the same as record=context:<id>`},
			Q("subject", "a young person's case system id (hashed, never stored) or their subject-records name: every entry about them"),
			Q("purpose", "reads of young people's records that gave this purpose (the taxonomy's read_purposes)"),
			Q("from", "RFC 3339 time or YYYY-MM-DD, inclusive"), Q("to", "RFC 3339 time or YYYY-MM-DD, exclusive"),
			{Name: "before", In: "query", Type: "integer", Desc: "the next_before of the previous page: entries older than that entry"},
			{Name: "limit", In: "query", Type: "integer", Desc: fmt.Sprintf("1..%d, default %d (CSV: 1..%d, default %d)",
				contexts.AuditPageMax, contexts.AuditPageDefault, contexts.AuditExportMax, contexts.AuditExportMax)},
			Q("format", "json (default) or csv: the entries with a header line, audited as export.audit_csv; a Link header names the next page"),
		}, Errors: []int{400}, Response: contexts.AuditPage{}}, s.searchAudit)
	s.route(api, Op{Method: "GET", Path: "/admin/catalogue", Tag: "admin", Roles: adminOnly,
		Summary:  "What the administration screens offer: the roles, the purposes of a read, the actions in the audit log and the audit search's page sizes",
		Response: adminCatalogue{}}, s.adminCatalogue)
	s.route(api, Op{Method: "GET", Path: "/users", Summary: "List user accounts (audited)", Tag: "admin", Roles: adminOnly,
		Response: Fields{"users": []contexts.User{}}}, s.listUsers)
	s.route(api, Op{Method: "POST", Status: 201, SecretAnswer: true, Path: "/users", Tag: "admin", Roles: adminOnly,
		Summary: "Add a user (audited). The answer holds their browser password and API token, shown this once: only hashes are stored, and no Idempotency-Key is taken (a repeat is 409 user_exists)",
		Body:    "{name, role, team}", Request: contexts.UserInput{}, Example: contexts.UserInput{Name: "j.okafor", Role: "practitioner", Team: "Hackney North"},
		Errors: []int{400, 409, 413, 422}, Response: contexts.Credentials{}}, s.createUser)
	s.route(api, Op{Method: "POST", Path: "/users/{id:[0-9]+}/disable", Tag: "admin", Roles: adminOnly,
		Summary: "Disable a user (audited): they cannot sign in, their sessions end and their tokens are revoked; not your own account",
		Params:  []Param{P("id", "user id")}, Errors: []int{404, 409}, Response: contexts.User{}}, s.disableUser)
	s.route(api, Op{Method: "POST", Path: "/users/{id:[0-9]+}/reset", Tag: "admin", Roles: adminOnly,
		Summary: "Reset a user (audited): a new browser password and API token, shown this once; their old tokens are revoked and sessions end",
		Params:  []Param{P("id", "user id")}, Errors: []int{404, 409}, Response: contexts.Credentials{}}, s.resetUser)
	s.route(api, Op{Method: "GET", Path: "/reviews/overdue", Tag: "admin", Roles: overdueReaders,
		Summary: "Open contexts past their review date, most overdue first, with the date and how many days overdue (audited)",
		Errors:  []int{503}, Response: contexts.OverdueReviews{}}, s.overdueReviews)
	s.route(api, Op{Method: "GET", Path: "/admin/retention", Tag: "admin", Roles: adminOnly,
		Summary: "The retention policy, whether the server runs it daily, its latest runs and what is due for erasure now (audited); runs happen on the schedule or with `ctxmap retention` on the host",
		Errors:  []int{503}, Response: contexts.RetentionStatus{}}, s.retentionStatus)
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

// searchAudit handles GET /api/v1/audit: a page of JSON, or with
// format=csv the entries as a CSV file. The store audits the search.
func (s *Server) searchAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k, v := range q {
		if len(v) > 1 {
			return badParam(k, "give it once")
		}
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return badParam("format", "json or csv")
	}
	var aq contexts.AuditQuery
	var err error
	ids := map[string]*int64{"user": &aq.UserID, "before": &aq.Before}
	var contextID int64
	ids["context"] = &contextID
	for name, p := range ids {
		if v := q.Get(name); v != "" {
			if *p, err = strconv.ParseInt(v, 10, 64); err != nil || *p <= 0 {
				return badParam(name, "must be a positive id")
			}
		}
	}
	aq.Action, aq.Record, aq.Subject, aq.Purpose = q.Get("action"), q.Get("record"), q.Get("subject"), q.Get("purpose")
	if contextID != 0 {
		rec := fmt.Sprintf("context:%d", contextID)
		if aq.Record != "" && aq.Record != rec {
			return badParam("context", "names another record than record=%s", ctxmap.Truncate(aq.Record, 60))
		}
		aq.Record = rec
	}
	if aq.From, err = parseTimeParam("from", q.Get("from")); err != nil {
		return err
	}
	if aq.To, err = parseTimeParam("to", q.Get("to")); err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		if aq.Limit, err = strconv.Atoi(v); err != nil || aq.Limit < 1 {
			return badParam("limit", "must be a positive whole number")
		}
	}
	page, err := s.audit.SearchAudit(r.Context(), actor(r), aq, format == "csv")
	if err != nil {
		return err
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, page)
		return nil
	}
	if page.Next != 0 {
		next := r.URL.Query()
		next.Set("before", strconv.FormatInt(page.Next, 10))
		w.Header().Set("Link", fmt.Sprintf(`<%s/audit?%s>; rel="next"`, apiPrefix, next.Encode()))
	}
	var buf bytes.Buffer
	if err := csv.NewWriter(&buf).WriteAll(contexts.AuditTable(page.Entries)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="ctxmap-audit.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(buf.Bytes())
	return err
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

// adminCatalogue is what the administration screens offer, from the
// packages that own each list, so the page's JS repeats none of them.
type adminCatalogue struct {
	Roles    []contexts.Term `json:"roles"`
	Purposes []contexts.Term `json:"purposes"`
	// Actions are those the audit log holds, for the search's filter.
	Actions []string `json:"actions"`
	// AuditPage is the audit search's page size: default and maximum.
	AuditPage map[string]int `json:"audit_page"`
}

// adminCatalogue handles GET /api/v1/admin/catalogue.
func (s *Server) adminCatalogue(w http.ResponseWriter, r *http.Request) error {
	actions, err := s.audit.AuditActions(r.Context(), actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminCatalogue{Roles: contexts.RoleTerms(), Purposes: contexts.ReadPurposes(), Actions: actions,
		AuditPage: map[string]int{"default": contexts.AuditPageDefault, "max": contexts.AuditPageMax, "export_max": contexts.AuditExportMax}})
	return nil
}

// listUsers handles GET /api/v1/users. Staff accounts are personal data
// too: the read is audited.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.users.ListUsers(r.Context())
	if err != nil {
		return err
	}
	if err := s.audit.Audit(r.Context(), actor(r), "users.list", "", "", map[string]any{"count": len(users)}); err != nil {
		return err
	}
	if users == nil {
		users = []contexts.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}

// createUser handles POST /api/v1/users. It is deliberately not an
// idempotent create (Op.SecretAnswer): a kept answer would keep the
// password and token.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in contexts.UserInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := s.users.CreateUser(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

// disableUser handles POST /api/v1/users/{id}/disable.
func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.users.DisableUser(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	s.tokens.forget(id)
	writeJSON(w, http.StatusOK, u)
	return nil
}

// resetUser handles POST /api/v1/users/{id}/reset.
func (s *Server) resetUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.users.ResetUser(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	s.tokens.forget(id)
	writeJSON(w, http.StatusOK, c)
	return nil
}

// overdueReviews handles GET /api/v1/reviews/overdue.
func (s *Server) overdueReviews(w http.ResponseWriter, r *http.Request) error {
	if s.reviews == nil {
		return ctxmap.Errorf(ctxmap.KindUnavailable, "unavailable", "review oversight is not available on this server")
	}
	out, err := s.reviews.OverdueReviews(r.Context(), actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// retentionStatus handles GET /api/v1/admin/retention.
func (s *Server) retentionStatus(w http.ResponseWriter, r *http.Request) error {
	if s.retention == nil {
		return ctxmap.Errorf(ctxmap.KindUnavailable, "unavailable", "retention is not configured on this server")
	}
	st, err := s.retention.Status(r.Context(), actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
