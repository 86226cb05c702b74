package contexts

import (
	"context"
	"encoding/json"
	"time"
)

type requestIDKey struct{}

// WithRequestID tags ctx with the HTTP request id so audit entries can be
// matched with access logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id set by WithRequestID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// AuditEntry is one line of the append-only audit log: who, when, what, why.
type AuditEntry struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	UserID    *int64          `json:"user_id"`
	UserName  string          `json:"user_name,omitempty"`
	Action    string          `json:"action"`
	Record    string          `json:"record,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Detail    json.RawMessage `json:"detail,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
}

// AuditQuery filters a search of the audit log. Zero values match all.
type AuditQuery struct {
	UserID   int64
	Record   string
	From, To time.Time
	Limit    int
}
