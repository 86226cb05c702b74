package web

// Handlers for the Level 2 work on a context record: assessments,
// interventions, links of young people, closing and reopening, the
// chronology, and the notifications it sends to linked practitioners.

import (
	"errors"
	"net/http"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// addAssessment handles POST /api/v1/contexts/{id}/assessments.
func (s *Server) addAssessment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.AssessmentInput
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := s.records.AddAssessment(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

// addIntervention handles POST /api/v1/contexts/{id}/interventions.
func (s *Server) addIntervention(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.InterventionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	iv, err := s.records.AddIntervention(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, iv)
	return nil
}

// updateIntervention handles PATCH /api/v1/contexts/{id}/interventions/{iid}.
func (s *Server) updateIntervention(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	iid, err := pathID(r, "iid")
	if err != nil {
		return err
	}
	var in contexts.InterventionUpdate
	if err := decode(r, &in); err != nil {
		return err
	}
	iv, err := s.records.UpdateIntervention(r.Context(), actor(r), id, iid, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, iv)
	return nil
}

// linkYoungPerson handles POST /api/v1/contexts/{id}/links.
func (s *Server) linkYoungPerson(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.LinkInput
	if err := decode(r, &in); err != nil {
		return err
	}
	l, err := s.records.LinkYoungPerson(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, l)
	return nil
}

// teamLinks handles GET /api/v1/contexts/{id}/links.
func (s *Server) teamLinks(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	links, err := s.records.TeamLinks(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	if links == nil {
		links = []contexts.Link{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": links})
	return nil
}

// unlinkYoungPerson handles DELETE /api/v1/contexts/{id}/links/{lid}. The
// reason comes in a JSON body or, for clients that cannot send a body with
// DELETE, as ?reason=.
func (s *Server) unlinkYoungPerson(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	lid, err := pathID(r, "lid")
	if err != nil {
		return err
	}
	in := contexts.UnlinkInput{Reason: r.URL.Query().Get("reason")}
	if in.Reason == "" {
		if err := decode(r, &in); err != nil {
			var e *ctxmap.Error
			if !(errors.As(err, &e) && e.Code == "bad_json" && r.ContentLength == 0) {
				return err
			}
		}
	}
	if err := s.records.UnlinkYoungPerson(r.Context(), actor(r), id, lid, in); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": lid, "unlinked": true})
	return nil
}

// linkSummary handles GET /api/v1/contexts/{id}/links/summary.
func (s *Server) linkSummary(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sum, err := s.records.LinkSummary(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}

// closeContext handles POST /api/v1/contexts/{id}/close.
func (s *Server) closeContext(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.CloseInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := s.records.CloseContext(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// reopenContext handles POST /api/v1/contexts/{id}/reopen.
func (s *Server) reopenContext(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in contexts.ReopenInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := s.records.ReopenContext(r.Context(), actor(r), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// chronology handles GET /api/v1/contexts/{id}/chronology.
func (s *Server) chronology(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	entries, err := s.records.Chronology(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []contexts.ChronologyEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": entries})
	return nil
}

// notifications handles GET /api/v1/me/notifications.
func (s *Server) notifications(w http.ResponseWriter, r *http.Request) error {
	list, err := s.records.Notifications(r.Context(), actor(r))
	if err != nil {
		return err
	}
	if list == nil {
		list = []contexts.Notification{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": list})
	return nil
}

// markReadRequest is the body of POST /api/v1/me/notifications/read:
// everything up to an id, optionally about one context only.
type markReadRequest struct {
	UpTo      int64 `json:"up_to"`
	ContextID int64 `json:"context_id,omitempty"`
}

// markNotificationsRead handles POST /api/v1/me/notifications/read.
func (s *Server) markNotificationsRead(w http.ResponseWriter, r *http.Request) error {
	var in markReadRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.UpTo <= 0 {
		return ctxmap.Errorf(ctxmap.KindInvalid, "missing_field", "up_to is required: the newest notification id read")
	}
	if in.ContextID < 0 {
		return ctxmap.Errorf(ctxmap.KindInvalid, "invalid_field", "context_id must be a context record id")
	}
	n, err := s.records.MarkNotificationsRead(r.Context(), actor(r), in.UpTo, in.ContextID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"marked": n})
	return nil
}

// markNotificationRead handles POST /api/v1/me/notifications/{nid}/read.
func (s *Server) markNotificationRead(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "nid")
	if err != nil {
		return err
	}
	if err := s.records.MarkNotificationRead(r.Context(), actor(r), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "read": true})
	return nil
}

// labelLink handles PATCH /api/v1/contexts/{id}/links/{lid}.
func (s *Server) labelLink(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	lid, err := pathID(r, "lid")
	if err != nil {
		return err
	}
	var in contexts.LinkLabelInput
	if err := decode(r, &in); err != nil {
		return err
	}
	l, err := s.records.LabelLink(r.Context(), actor(r), id, lid, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// similarContexts handles POST /api/v1/contexts/similar.
func (s *Server) similarContexts(w http.ResponseWriter, r *http.Request) error {
	var in contexts.ContextInput
	if err := decode(r, &in); err != nil {
		return err
	}
	sim, err := s.records.SimilarContexts(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sim)
	return nil
}
