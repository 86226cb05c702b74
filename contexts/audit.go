package contexts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Execer is what writing an audit entry needs: a pool, a connection or, for
// changes, the transaction of the change itself so the entry commits or rolls
// back with it.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

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

// Audit appends an entry. Record names the thing touched as "kind:id"
// (e.g. "context:42", "subject-records:<hash prefix>"); detail must never hold
// a raw subject id or free text about a child.
func Audit(ctx context.Context, q Execer, a *Actor, action, record, reason string, detail any) error {
	var uid *int64
	var name *string
	if a != nil && a.UserID != 0 {
		uid, name = &a.UserID, &a.Name
	}
	var d []byte
	if detail != nil {
		var err error
		if d, err = json.Marshal(detail); err != nil {
			return fmt.Errorf("audit detail: %w", err)
		}
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_log (user_id, user_name, action, record, reason, detail, request_id)
		VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, NULLIF($7, ''))`,
		uid, name, action, record, reason, d, RequestID(ctx))
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// AuditQuery filters a search of the audit log. Zero values match all.
type AuditQuery struct {
	UserID   int64
	Record   string
	From, To time.Time
	Limit    int
}

// SearchAudit lists audit entries newest first. Searching is itself audited
// by the caller, since the log shows what others looked at.
func SearchAudit(ctx context.Context, pool *pgxpool.Pool, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 200
	}
	var from, to *time.Time
	if !q.From.IsZero() {
		from = &q.From
	}
	if !q.To.IsZero() {
		to = &q.To
	}
	rows, err := pool.Query(ctx, `SELECT id, at, user_id, coalesce(user_name, ''), action, coalesce(record, ''),
			coalesce(reason, ''), detail, coalesce(request_id, '')
		FROM audit_log
		WHERE ($1::bigint = 0 OR user_id = $1)
		  AND ($2 = '' OR record = $2)
		  AND ($3::timestamptz IS NULL OR at >= $3)
		  AND ($4::timestamptz IS NULL OR at < $4)
		ORDER BY at DESC, id DESC LIMIT $5`, q.UserID, q.Record, from, to, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("search audit log: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.UserID, &e.UserName, &e.Action, &e.Record, &e.Reason, &e.Detail, &e.RequestID)
		return e, err
	})
}
