package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap/contexts"
)

// The reports for commissioning: GET /api/v1/reports lists them (with the
// window and the labels of their codes, so the report page repeats none),
// GET /api/v1/reports/{name} answers one as JSON or, with format=csv, as a
// CSV whose first line is its header. Every answer is audit-logged
// (PRIVACY.md rule 11): report.read for JSON, export.report_csv for CSV.

// reportReaders are the partnership's roles; practitioners work with their
// own young people and get 403.
var reportReaders = []contexts.Role{contexts.RoleContextLead, contexts.RoleAnalyst, contexts.RoleAdmin}

// reportSamples are the answers' types, for the OpenAPI document.
var reportSamples = map[string]any{
	contexts.ReportInterventions:   contexts.InterventionsReport{},
	contexts.ReportOverdue:         contexts.OverdueReport{},
	contexts.ReportContextActivity: contexts.ContextActivityReport{},
	contexts.ReportTimeToClose:     contexts.TimeToCloseReport{},
	contexts.ReportReviews:         contexts.ReviewsReport{},
}

var reportParamDocs = map[string]string{
	"from":       fmt.Sprintf("first month YYYY-MM (default: %d months before to)", contexts.ReportDefaultMonths-1),
	"to":         fmt.Sprintf("last month YYYY-MM, at most the current month and %d months after from (default: the last complete month)", contexts.ReportMaxMonths-1),
	"by":         "grouping columns, comma-separated (default: all the report offers; empty: none)",
	"due_within": fmt.Sprintf("days ahead a review counts as due, 0 to %d (default %d)", contexts.ReviewDueMaxDays, contexts.ReviewDueDefaultDays),
}

func (s *Server) reportRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/reports", Tag: "reports", Roles: reportReaders,
		Summary:  "The reports for commissioning, their window and the labels of their codes",
		Response: contexts.ReportCatalogue{}}, s.reportCatalogue)
	for _, spec := range contexts.ReportSpecs() {
		var params []Param
		for _, p := range spec.Params {
			params = append(params, Q(p, reportParamDocs[p]))
		}
		params = append(params, Q("format", "json (default) or csv: the rows, their header as the first line"))
		s.route(api, Op{Method: "GET", Path: "/reports/" + spec.Name, Tag: "reports", Roles: reportReaders,
			Summary: spec.Title + ". " + spec.Description + " Audit-logged.", Params: params,
			Response: reportSamples[spec.Name], Errors: []int{400}}, s.report(spec.Name))
	}
}

// reportCatalogue handles GET /api/v1/reports.
func (s *Server) reportCatalogue(w http.ResponseWriter, r *http.Request) error {
	c, err := s.records.ReportCatalogue(r.Context(), actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// report handles GET /api/v1/reports/{name} for one report. The read is
// audited before any byte is sent.
func (s *Server) report(name string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		format := q.Get("format")
		if len(q["format"]) > 1 || (format != "" && format != "json" && format != "csv") {
			return badParam("format", "json or csv, once")
		}
		q.Del("format")
		rep, err := s.records.Report(r.Context(), actor(r), name, q)
		if err != nil {
			return err
		}
		table := rep.Table()
		action := "report.read"
		if format == "csv" {
			action = "export.report_csv"
		}
		if err := s.audit.Audit(r.Context(), actor(r), action, "report:"+name, "",
			map[string]any{"report": name, "query": q.Encode(), "rows": len(table) - 1}); err != nil {
			return err
		}
		if format != "csv" {
			writeJSON(w, http.StatusOK, rep)
			return nil
		}
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		if err := cw.WriteAll(table); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="ctxmap-%s.csv"`, name))
		w.Header().Set("Cache-Control", "no-store")
		_, err = w.Write(buf.Bytes())
		return err
	}
}
