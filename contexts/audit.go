package contexts

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// RequestIDKey is the context key of the HTTP request id. Its value is the
// id itself (a string, as WithRequestID sets it) or a RequestIDer: a
// request's own context layer can answer the key from what it already holds
// (web's per-request state), which spares every request a context layer and
// its allocations.
type RequestIDKey struct{}

// RequestIDer is a RequestIDKey value that knows its request's id.
type RequestIDer interface{ RequestID() string }

// WithRequestID tags ctx with the HTTP request id so audit entries can be
// matched with access logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, RequestIDKey{}, id)
}

// RequestID returns the request id ctx carries (RequestIDKey), or "".
func RequestID(ctx context.Context) string {
	switch v := ctx.Value(RequestIDKey{}).(type) {
	case string:
		return v
	case RequestIDer:
		return v.RequestID()
	}
	return ""
}

// AuditEntry is one line of the append-only audit log: who, when, what, why.
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	UserID   *int64    `json:"user_id"`
	UserName string    `json:"user_name,omitempty"`
	Action   string    `json:"action"`
	Record   string    `json:"record,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// Purpose is the purpose code a read of a young person's records gave
	// (its Reason says it in full, with the note of "other").
	Purpose   string          `json:"purpose,omitempty"`
	Detail    json.RawMessage `json:"detail,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
}

// AuditQuery filters a search of the audit log. Zero values match all;
// every filter given must match (they are ANDed).
type AuditQuery struct {
	UserID int64
	// Action is one action ("harm_locations.read") or, ending in ".", every
	// action under a prefix ("user.").
	Action string
	// Record is one record name ("context:42", "user:3",
	// "subject-records:<prefix>").
	Record string
	// Subject matches every entry about one young person: the entries whose
	// record or detail names their AuditSubject.
	Subject string
	// Purpose matches reads of young people's records that gave it.
	Purpose  string
	From, To time.Time
	// Before pages on: only entries older than the entry with this id.
	Before int64
	Limit  int
}

// Audit search limits: a page of the screen, and the most one CSV export
// may hold (the rest is a further page, named by its Link header).
const (
	AuditPageDefault = 100
	AuditPageMax     = 1000
	AuditExportMax   = 10000
)

// AuditPage is one page of an audit search, newest first. Next, when not
// zero, is the Before of the following page.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	Next    int64        `json:"next_before,omitempty"`
}

// ValidateAuditQuery checks a search's filters without I/O: limits, the
// action's shape, and a purpose from ReadPurposes; max is the largest page
// the caller allows (AuditPageMax on the screen, AuditExportMax for CSV).
func ValidateAuditQuery(q AuditQuery, max int) (AuditQuery, error) {
	if q.Limit == 0 {
		q.Limit = min(AuditPageDefault, max)
	}
	if q.Limit < 1 || q.Limit > max {
		return q, InvalidField("limit", "invalid_parameter", "limit: must be 1..%d", max)
	}
	if q.UserID < 0 || q.Before < 0 {
		return q, InvalidField("user", "invalid_parameter", "user and before are positive ids")
	}
	if len(q.Action) > 100 || len(q.Record) > 200 {
		return q, InvalidField("action", "invalid_parameter", "action and record are names of at most 100 and 200 characters")
	}
	if q.Purpose != "" {
		if _, ok := termLabel(readPurposeTerms, q.Purpose); !ok {
			return q, InvalidField("purpose", "invalid_purpose", "purpose %q is not one of %s",
				Trunc(q.Purpose, 40), termCodes(readPurposeTerms)).WithDetail("allowed", termCodeList(readPurposeTerms))
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, InvalidField("to", "invalid_parameter", "to must be after from")
	}
	return q, nil
}

// auditColumns are the audit CSV's header: who, what, when and why.
var auditColumns = []string{"id", "at", "user_id", "user_name", "action", "record", "reason", "purpose", "detail", "request_id"}

// AuditTable writes entries as the rows of the audit CSV, header first,
// times in UTC RFC 3339 and text made safe for spreadsheets.
func AuditTable(entries []AuditEntry) [][]string {
	out := [][]string{auditColumns}
	for _, e := range entries {
		uid := ""
		if e.UserID != nil {
			uid = strconv.FormatInt(*e.UserID, 10)
		}
		out = append(out, []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), uid,
			SpreadsheetSafe(e.UserName), e.Action, SpreadsheetSafe(e.Record), SpreadsheetSafe(e.Reason), e.Purpose,
			SpreadsheetSafe(string(e.Detail)), e.RequestID})
	}
	return out
}
