package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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

// auditRead appends the entry of a read of a young person's records, with
// its purpose: the reason column says it in words ("other: ..."), detail
// holds the code (and note) so the log can be searched by purpose.
func auditRead(ctx context.Context, q execer, a *contexts.Actor, action, record string, p contexts.ReadPurpose, detail map[string]any) error {
	d := map[string]any{"purpose": p.Code}
	if p.Note != "" {
		d["purpose_note"] = p.Note
	}
	for k, v := range detail {
		d[k] = v
	}
	return audit(ctx, q, a, action, record, p.Reason(), d)
}

// SearchAudit returns one page of the audit log, newest first, for
// administrators (data protection officers) only. The search is itself
// audited, in the same transaction and after the read (so the page never
// holds its own entry): the log shows what others looked at, so reading it
// is a read of personal data. An export (the CSV) is audited as
// export.audit_csv, a search as audit.search; a young person's id given as
// the subject filter is hashed first and never written anywhere.
func (s *Store) SearchAudit(ctx context.Context, a *contexts.Actor, q contexts.AuditQuery, export bool) (*contexts.AuditPage, error) {
	if err := contexts.Require(a, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	max, action := contexts.AuditPageMax, "audit.search"
	if export {
		max, action = contexts.AuditExportMax, "export.audit_csv"
	}
	q, err := contexts.ValidateAuditQuery(q, max)
	if err != nil {
		return nil, err
	}
	if q.Subject, err = s.auditSubjectName(q.Subject); err != nil {
		return nil, err
	}
	var from, to *time.Time
	if !q.From.IsZero() {
		from = &q.From
	}
	if !q.To.IsZero() {
		to = &q.To
	}
	prefix := strings.HasSuffix(q.Action, ".")
	page := &contexts.AuditPage{}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, at, user_id, coalesce(user_name, ''), action, coalesce(record, ''),
				coalesce(reason, ''), coalesce(detail->>'purpose', ''), detail, coalesce(request_id, '')
			FROM audit_log
			WHERE ($1::bigint = 0 OR user_id = $1)
			  AND ($2 = '' OR record = $2)
			  AND ($3::timestamptz IS NULL OR at >= $3)
			  AND ($4::timestamptz IS NULL OR at < $4)
			  AND ($5 = '' OR ($6 AND starts_with(action, $5)) OR (NOT $6 AND action = $5))
			  AND ($7 = '' OR record = $7 OR detail->>'subject' = $7)
			  AND ($8 = '' OR detail->>'purpose' = $8)
			  AND ($9::bigint = 0 OR (at, id) < (SELECT b.at, b.id FROM audit_log b WHERE b.id = $9))
			ORDER BY at DESC, id DESC LIMIT $10`,
			q.UserID, q.Record, from, to, q.Action, prefix, q.Subject, q.Purpose, q.Before, q.Limit+1)
		if err != nil {
			return fmt.Errorf("search audit log: %w", err)
		}
		page.Entries, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.AuditEntry, error) {
			var e contexts.AuditEntry
			err := r.Scan(&e.ID, &e.At, &e.UserID, &e.UserName, &e.Action, &e.Record, &e.Reason, &e.Purpose, &e.Detail, &e.RequestID)
			return e, err
		})
		if err != nil {
			return fmt.Errorf("search audit log: %w", err)
		}
		if len(page.Entries) > q.Limit {
			page.Entries = page.Entries[:q.Limit]
			page.Next = page.Entries[q.Limit-1].ID
		}
		return audit(ctx, tx, a, action, q.Record, "", auditFilters(q, len(page.Entries)))
	})
	if err != nil {
		return nil, err
	}
	if page.Entries == nil {
		page.Entries = []contexts.AuditEntry{}
	}
	return page, nil
}

// auditSubjectName turns the subject filter into the name the log uses for
// a young person's records: a case system id is hashed with the deployment
// secret; a name already in that form is taken as it is.
func (s *Store) auditSubjectName(subject string) (string, error) {
	subject = strings.TrimSpace(subject)
	if subject == "" || strings.HasPrefix(subject, auditSubjectPrefix) {
		return subject, nil
	}
	norm, err := contexts.NormalizeSubject(subject)
	if err != nil {
		return "", err
	}
	return contexts.AuditSubject(contexts.NewSubjectHasher(s.secret).Hash(norm)), nil
}

// auditSubjectPrefix starts every contexts.AuditSubject name.
var auditSubjectPrefix = contexts.AuditSubject([32]byte{})[:len("subject-records:")]

// auditFilters is what a search of the log asked for, as its own entry's
// detail: how many entries it returned and, under "filters", what it asked
// (the subject only in its hashed form). Nested, so the search's own entry
// is never taken for a read of the young person or one with that purpose.
func auditFilters(q contexts.AuditQuery, n int) map[string]any {
	fl := map[string]any{"limit": q.Limit}
	d := map[string]any{"entries": n, "filters": fl}
	add := func(k string, v any, set bool) {
		if set {
			fl[k] = v
		}
	}
	add("user", q.UserID, q.UserID != 0)
	add("action", q.Action, q.Action != "")
	add("subject", q.Subject, q.Subject != "")
	add("purpose", q.Purpose, q.Purpose != "")
	add("from", q.From, !q.From.IsZero())
	add("to", q.To, !q.To.IsZero())
	add("before", q.Before, q.Before != 0)
	return d
}

// AuditActions lists every action the log holds, for the search's filter:
// a skip scan of the (action, at) index, one probe per distinct action, so
// it stays cheap however long the log grows.
func (s *Store) AuditActions(ctx context.Context, a *contexts.Actor) ([]string, error) {
	if err := contexts.Require(a, contexts.RoleAdmin); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `WITH RECURSIVE x(action) AS (
			(SELECT action FROM audit_log ORDER BY action LIMIT 1)
			UNION ALL
			SELECT (SELECT l.action FROM audit_log l WHERE l.action > x.action ORDER BY l.action LIMIT 1)
			FROM x WHERE x.action IS NOT NULL)
		SELECT action FROM x WHERE action IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("audit actions: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("audit actions: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}
