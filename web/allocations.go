package web

import (
	"context"
	"mime"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// Allocations takes the case management system's allocations feed (issue
// 15): which young people are allocated to which team.
type Allocations interface {
	ReplaceAllocations(ctx context.Context, a *contexts.Actor, rows []contexts.Allocation) (*contexts.AllocationReport, error)
	AllocationStatus(ctx context.Context) (*contexts.AllocationStatus, error)
}

// allocationsPath is the feed's route; its bodies may be larger than other
// writes' (a county's whole caseload), up to MaxFeedBytes.
const allocationsPath = apiPrefix + "/allocations"

// MaxFeedBytes bounds an allocations feed's body: 500,000 lines of id and
// team name fit in well under this.
const MaxFeedBytes = 64 << 20

var allocationsUnconfigured = ctxmap.Errorf(ctxmap.KindUnavailable, "unavailable", "allocations are not available on this server")

func (s *Server) allocationRoutes(api *mux.Router) {
	s.route(api, Op{Method: "PUT", Path: "/allocations", Tag: "admin", Roles: adminOnly,
		Summary: "Load the case management system's allocations feed (young person id -> team), replacing the previous one in one transaction; " +
			"one bad line or unknown team loads nothing (422 with every bad line). With allocations required, practitioners can record for and link " +
			"only young people allocated to their team (403 not_allocated otherwise). Ids are stored as keyed hashes only",
		Body:    "JSON {allocations: [{subject, team}]}, or CSV (Content-Type text/csv) with a header naming subject and team",
		Request: contexts.AllocationsInput{}, CSV: true,
		Example: contexts.AllocationsInput{Allocations: []contexts.Allocation{{Subject: "YP-1042", Team: "Hackney North"}, {Subject: "YP-2210", Team: "Hackney South"}}},
		Errors:  []int{400, 413, 415, 422}, Response: contexts.AllocationReport{}}, s.putAllocations)
	s.route(api, Op{Method: "GET", Path: "/allocations", Tag: "admin", Roles: adminOnly,
		Summary:  "Whether allocations are required here, and what the latest feed held (when, lines, young people, teams)",
		Response: contexts.AllocationStatus{}}, s.allocationStatus)
}

// putAllocations handles PUT /api/v1/allocations.
func (s *Server) putAllocations(w http.ResponseWriter, r *http.Request) error {
	if s.allocations == nil {
		return allocationsUnconfigured
	}
	var rows []contexts.Allocation
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); strings.EqualFold(mt, "text/csv") {
		list, err := contexts.ParseAllocationsCSV(r.Body)
		if err != nil {
			return err
		}
		rows = list
	} else {
		var in contexts.AllocationsInput
		if err := decode(r, &in); err != nil {
			return err
		}
		rows = in.Allocations
	}
	rep, err := s.allocations.ReplaceAllocations(r.Context(), actor(r), rows)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// allocationStatus handles GET /api/v1/allocations.
func (s *Server) allocationStatus(w http.ResponseWriter, r *http.Request) error {
	if s.allocations == nil {
		return allocationsUnconfigured
	}
	st, err := s.allocations.AllocationStatus(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
