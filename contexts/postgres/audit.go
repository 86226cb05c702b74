package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ctxmap/ctxmap/contexts"
)

// execer is what writing an audit entry needs: a pool, a connection or, for
// changes, the transaction of the change itself so the entry commits or rolls
// back with it.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// audit appends an entry. Record names the thing touched as "kind:id"
// (e.g. "context:42", "subject-records:<hash prefix>"); detail must never hold
// a raw subject id or free text about a child. a may be nil (a failed
// sign-in) or an actor without an id (a command-line operator).
func audit(ctx context.Context, q execer, a *contexts.Actor, action, record, reason string, detail any) error {
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
		uid, name, action, record, reason, d, contexts.RequestID(ctx))
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// Audit records something a signed-in user did outside the records store's
// own writes (an export of aggregates, a search of the log). Only an
// enabled, authenticated actor can be attributed an entry.
func (s *Store) Audit(ctx context.Context, a *contexts.Actor, action, record, reason string, detail any) error {
	if err := contexts.Require(a, contexts.Roles...); err != nil {
		return err
	}
	return audit(ctx, s.db, a, action, record, reason, detail)
}

// SearchAudit lists audit entries newest first, for administrators (data
// protection officers) only. Searching is itself audited by the caller,
// since the log shows what others looked at.
func (s *Store) SearchAudit(ctx context.Context, a *contexts.Actor, q contexts.AuditQuery) ([]contexts.AuditEntry, error) {
	if err := contexts.Require(a, contexts.RoleAdmin); err != nil {
		return nil, err
	}
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
	rows, err := s.db.Query(ctx, `SELECT id, at, user_id, coalesce(user_name, ''), action, coalesce(record, ''),
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
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.AuditEntry, error) {
		var e contexts.AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.UserID, &e.UserName, &e.Action, &e.Record, &e.Reason, &e.Detail, &e.RequestID)
		return e, err
	})
}
