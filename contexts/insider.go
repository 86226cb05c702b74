package contexts

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ctxmap/ctxmap"
)

// The insider limits of PRIVACY.md rule 13: practitioners write as well as
// read, so a user adding synthetic young people to probe the map is slowed
// by a daily cap and made visible to administrators by alerts.

// DefaultSubjectDailyCap is how many young people new to a user that user
// may record in any 24 hours unless the deployment configures otherwise.
const DefaultSubjectDailyCap = 30

// DefaultBurstThreshold is how many young people new to one user, recorded
// by that user at one place within 24 hours, raise a burst alert.
const DefaultBurstThreshold = 5

// SubjectWindow is the rolling window of the cap and the burst alert.
const SubjectWindow = 24 * time.Hour

// SubjectLimitError is the 429 for a user over the daily cap: how many
// young people new to them they recorded in the last 24 hours, and when
// the oldest of those leaves the window so that one more is allowed. It
// says nothing about the young person refused, so it is no oracle.
func SubjectLimitError(limit int, freeAt, now time.Time) *ctxmap.Error {
	e := ctxmap.Errorf(ctxmap.KindRateLimited, "subject_limit",
		"you have recorded %d young people new to you in the last 24 hours, the most allowed in a day; nothing was saved. "+
			"You can record a young person new to you again from %s; records for young people you have recorded before are not limited",
		limit, freeAt.UTC().Format("2006-01-02 15:04 UTC"))
	e.Details = map[string]any{"limit": limit, "window_hours": int(SubjectWindow.Hours()),
		"retry_at": freeAt.UTC().Format(time.RFC3339), "retry_after_seconds": int(freeAt.Sub(now).Seconds()) + 1}
	return e
}

// IsSubjectLimit reports the cap's refusal, which the store audits after
// the refused write rolled back.
func IsSubjectLimit(err error) bool {
	var e *ctxmap.Error
	return errors.As(err, &e) && e.Code == "subject_limit"
}

// ScreeningRefusal reports a refusal of free text by the personal-data
// screening: the field at fault and what the text looked like ("a phone
// number", ...), never the text itself, for the audit log.
func ScreeningRefusal(err error) (field, what string, ok bool) {
	var e *ctxmap.Error
	if !errors.As(err, &e) || e.Code != "personal_data" {
		return "", "", false
	}
	field, _ = e.Details["field"].(string)
	what, _ = e.Details["what"].(string)
	return field, what, true
}

// Alert kinds.
const (
	// AlertSubjectBurst: one user recorded at least the burst threshold of
	// young people new to them at one place (an H3 cell or a context)
	// within 24 hours.
	AlertSubjectBurst = "subject_burst"
	// AlertQuickArchive: a harm location archived within 24 hours of its
	// creation, the other half of a probe that adds and then removes.
	AlertQuickArchive = "quick_archive"
	// AlertScreeningRefusals: free-text screening refused at least the burst
	// threshold of one user's texts within 24 hours: someone trying ids,
	// numbers or dates against it.
	AlertScreeningRefusals = "screening_refusals"
	// AlertSubjectLimitRefusals: the daily cap refused at least the burst
	// threshold of one user's writes within 24 hours: someone trying ids
	// after the cap, or writing in bulk.
	AlertSubjectLimitRefusals = "subject_limit_refusals"
	// AlertRevisionBurst: one user recorded at least the burst threshold of
	// young people at one place within RevisionWindow, each in a month a
	// release had already published: back-dated records watched across
	// releases (insider review 2, F1).
	AlertRevisionBurst = "revision_burst"
)

// RevisionWindow is how far back a revision burst is counted: longer than
// the monthly release schedule, so a probe that adds a few back-dated young
// people before each release adds up.
const RevisionWindow = 35 * 24 * time.Hour

// UserPlace is the place of an alert about a user's requests as a whole
// rather than one cell or context.
func UserPlace(userID int64) string { return fmt.Sprintf("user:%d", userID) }

// AdminAlert tells administrators about a user's pattern of writes. There
// is one per kind, user, place and day however many records caused it;
// Detail holds counts and record ids, never a subject or free text.
type AdminAlert struct {
	ID        int64           `json:"id"`
	Kind      string          `json:"kind"`
	UserID    int64           `json:"user_id"`
	UserName  string          `json:"user_name"`
	Team      string          `json:"team"`
	Place     string          `json:"place"`
	Day       string          `json:"day"`
	Count     int             `json:"count"`
	Detail    json.RawMessage `json:"detail"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	ReadAt    *time.Time      `json:"read_at"`
	ReadBy    string          `json:"read_by,omitempty"`
}

// AlertQuery filters the alert list.
type AlertQuery struct {
	UnreadOnly bool
	Limit      int
}

// CellPlace names an H3 cell as an alert's place.
func CellPlace(cell int64) string { return fmt.Sprintf("cell:%x", cell) }

// ContextPlace names a context as an alert's place.
func ContextPlace(id int64) string { return fmt.Sprintf("context:%d", id) }
