package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// Releases is what the release routes and the map's settings need: the
// kept releases, the schedule, and making one on an admin's request.
type Releases interface {
	List(ctx context.Context) ([]tiles.ReleaseInfo, error)
	Make(ctx context.Context, req tiles.MakeRequest) (tiles.ReleaseInfo, error)
	NextDue(latest tiles.ReleaseInfo, now time.Time) time.Time
}

func (s *Server) releaseRoutes(api *mux.Router) {
	s.route(api, Op{Method: "GET", Path: "/releases", Tag: "releases",
		Summary:  "The kept data releases, newest first: what the map, cells, trends and exports show (PRIVACY.md rule 12)",
		Response: Fields{"releases": []releaseJSON{}, "current": Optional{int64(0)}, "label": Optional{""}, "next_due": Optional{""}}}, s.listReleases)
	s.route(api, Op{Method: "POST", Path: "/releases", Tag: "releases", Roles: []contexts.Role{contexts.RoleAdmin}, Status: http.StatusCreated, Idempotent: true, Answer: releaseAnswer,
		Summary: "Make a release now; refused (429, with the earliest allowed time) within the minimum interval of the latest, across all replicas",
		Errors:  []int{429}, Response: releaseJSON{}}, s.makeRelease)
}

// releaseJSON is a release as the API shows it.
type releaseJSON struct {
	ID         int64  `json:"id"`
	DataTime   string `json:"data_time"`
	FirstMonth string `json:"first_month"`
	LastMonth  string `json:"last_month"`
	Months     int    `json:"months"`
	K          int    `json:"k"`
	How        string `json:"how"`
	// MadeBy is the admin who asked; null when how says the schedule, the
	// first start or the operator on the host made it.
	MadeBy         *string `json:"made_by"`
	Sets           int     `json:"sets"`
	PublishedCells int     `json:"published_cells"`
	ChangedCells   *int    `json:"changed_cells"`
	DurationMS     int64   `json:"duration_ms"`
}

func toReleaseJSON(in tiles.ReleaseInfo) releaseJSON {
	out := releaseJSON{ID: in.ID, DataTime: in.DataTime.UTC().Format(time.RFC3339), FirstMonth: in.Window.First.String(),
		LastMonth: in.Window.Last.String(), Months: in.Window.Months(), K: in.K, How: in.How, Sets: in.Sets,
		PublishedCells: in.PublishedCells, DurationMS: in.Duration.Milliseconds()}
	if in.MadeBy != "" {
		out.MadeBy = &in.MadeBy
	}
	if in.ChangedCells >= 0 {
		out.ChangedCells = &in.ChangedCells
	}
	return out
}

// releaseAnswer is the body makeRelease writes, for a keyed request's
// stored answer.
func releaseAnswer(created any) (any, error) {
	in, ok := created.(tiles.ReleaseInfo)
	if !ok {
		return nil, fmt.Errorf("release answer from a %T", created)
	}
	return toReleaseJSON(in), nil
}

// releaseLabel says in words which release a view shows, e.g. "Data release
// 5 Dec 2026 (no. 4), covering to November 2026; next due 5 Jan 2027". The
// number tells apart releases made on one day (forced by the operator).
func releaseLabel(in tiles.ReleaseInfo, next time.Time) string {
	l := fmt.Sprintf("Data release %s (no. %d), covering to %s", in.DataTime.UTC().Format("2 Jan 2006"), in.ID,
		in.Window.Last.Start().Format("January 2006"))
	if !next.IsZero() {
		l += "; next due " + next.UTC().Format("2 Jan 2006")
	}
	return l
}

// listReleases handles GET /api/v1/releases.
func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) error {
	list, err := s.releases.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]releaseJSON, len(list))
	for i, in := range list {
		out[i] = toReleaseJSON(in)
	}
	resp := map[string]any{"releases": out}
	if len(list) > 0 {
		next := s.releases.NextDue(list[0], time.Now())
		resp["current"] = list[0].ID
		resp["label"] = releaseLabel(list[0], next)
		if !next.IsZero() {
			resp["next_due"] = next.UTC().Format(time.RFC3339)
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// makeRelease handles POST /api/v1/releases.
func (s *Server) makeRelease(w http.ResponseWriter, r *http.Request) error {
	a := actor(r)
	in, err := s.releases.Make(r.Context(), tiles.MakeRequest{How: tiles.HowAdmin, ByID: &a.UserID, ByName: a.Name})
	var refused *ctxmap.Error
	if errors.As(err, &refused) && refused.Code == "release_too_soon" {
		// Refusals are audited too: repeated attempts to force releases
		// (to difference them) are what an auditor looks for.
		if aerr := s.audit.Audit(r.Context(), a, "release.refused", "", "", map[string]any{"earliest": refused.Details["earliest"]}); aerr != nil {
			return errors.Join(err, aerr)
		}
	}
	if err != nil {
		return err
	}
	s.heat.ReleaseMade()
	writeJSON(w, http.StatusCreated, toReleaseJSON(in))
	return nil
}
