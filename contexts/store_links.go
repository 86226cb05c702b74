package contexts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
)

// LinkYoungPerson links one of the practitioner's young people to a context
// with a reason. The link belongs to the practitioner's team; the person id
// is hashed, never stored. The practitioner is then notified when the
// context changes, and other teams see only that one more young person is
// linked by this team.
func (s *Store) LinkYoungPerson(ctx context.Context, a *Actor, contextID int64, in LinkInput) (*Link, error) {
	if err := require(a, RolePractitioner); err != nil {
		return nil, err
	}
	norm, err := normalizeSubject(in.Subject)
	if err != nil {
		return nil, err
	}
	reason, err := checkText("reason", in.Reason, MaxReason, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkFreeText(ctx, norm, textField{"reason", reason}); err != nil {
		return nil, err
	}
	h := newSubjectHasher(s.secret)
	sh := h.hash(norm)
	out := Link{ContextID: contextID, Team: a.Team}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		if c.Status == StatusClosed {
			return contextClosedError(c)
		}
		sid, err := upsertSubject(ctx, tx, sh, h.cellKey(sh))
		if err != nil {
			return err
		}
		var existing int64
		err = tx.QueryRow(ctx, `SELECT id FROM context_links
			WHERE context_id = $1 AND subject_id = $2 AND team_id = $3 AND unlinked_at IS NULL`,
			contextID, sid, a.TeamID).Scan(&existing)
		if err == nil {
			return ctxmap.Errorf(ctxmap.KindConflict, "already_linked", "this young person is already linked to %s by your team", c.DisplayName).
				WithDetail("existing_id", existing)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("check link: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO context_links (context_id, subject_id, team_id, linked_by, reason)
			VALUES ($1, $2, $3, $4, $5) RETURNING id, linked_at`, contextID, sid, a.TeamID, a.UserID, reason).
			Scan(&out.ID, &out.LinkedAt); err != nil {
			return fmt.Errorf("insert link: %w", err)
		}
		if _, err := addEvent(ctx, tx, a, contextID, EventLinked, "A young person was linked by "+a.Team, nil); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.link", fmt.Sprintf("context:%d", contextID), "",
			map[string]any{"subject": auditSubject(sh), "link_id": out.ID})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UnlinkYoungPerson detaches a young person (as relevance changes) while
// the context stays open for others. Only the linking team can unlink.
func (s *Store) UnlinkYoungPerson(ctx context.Context, a *Actor, contextID, linkID int64, in UnlinkInput) error {
	if err := require(a, RolePractitioner); err != nil {
		return err
	}
	reason, err := checkText("reason", in.Reason, MaxReason, true)
	if err != nil {
		return err
	}
	if err := s.checkThematic(ctx, s.pool, textField{"reason", reason}); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockContext(ctx, tx, contextID); err != nil {
			return err
		}
		var unlinked bool
		err := tx.QueryRow(ctx, `SELECT unlinked_at IS NOT NULL FROM context_links
			WHERE id = $1 AND context_id = $2 AND team_id = $3 FOR UPDATE`, linkID, contextID, a.TeamID).Scan(&unlinked)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("link", linkID)
		}
		if err != nil {
			return fmt.Errorf("read link: %w", err)
		}
		if unlinked {
			return ctxmap.Errorf(ctxmap.KindConflict, "already_unlinked", "link %d was already removed", linkID)
		}
		if _, err := tx.Exec(ctx, `UPDATE context_links SET unlinked_at = now(), unlinked_by = $2, unlink_reason = $3
			WHERE id = $1`, linkID, a.UserID, reason); err != nil {
			return fmt.Errorf("unlink: %w", err)
		}
		if _, err := addEvent(ctx, tx, a, contextID, EventUnlinked, "A young person was unlinked by "+a.Team, nil); err != nil {
			return err
		}
		return Audit(ctx, tx, a, "context.unlink", fmt.Sprintf("context:%d", contextID), "", map[string]any{"link_id": linkID})
	})
}

// TeamLinks lists the actor's team's current links to a context (ids and
// dates, never subjects), so a practitioner can find the link to remove.
func (s *Store) TeamLinks(ctx context.Context, a *Actor, contextID int64) ([]Link, error) {
	if err := require(a, RolePractitioner); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT l.id, l.context_id, t.name, l.linked_at FROM context_links l
		JOIN teams t ON t.id = l.team_id
		WHERE l.context_id = $1 AND l.team_id = $2 AND l.unlinked_at IS NULL ORDER BY l.id`, contextID, a.TeamID)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Link, error) {
		var l Link
		err := r.Scan(&l.ID, &l.ContextID, &l.Team, &l.LinkedAt)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	return out, nil
}

// LinkSummary tells anyone allowed to see the context how many distinct
// young people are linked and which teams work with them, never who.
func (s *Store) LinkSummary(ctx context.Context, a *Actor, contextID int64) (*LinkSummary, error) {
	if err := require(a, anyRole...); err != nil {
		return nil, err
	}
	if err := s.requireContext(ctx, contextID); err != nil {
		return nil, err
	}
	return linkSummary(ctx, s.pool, contextID)
}

// checkFreeText refuses personal data in a link reason or archive note: the
// same checks as thematic notes, plus the young person's own id, which the
// request carries and which must only ever be stored as a keyed hash.
func (s *Store) checkFreeText(ctx context.Context, subject string, f textField) error {
	if subject != "" && strings.Contains(strings.ToLower(f.text), strings.ToLower(subject)) {
		return ctxmap.Errorf(ctxmap.KindUnprocessable, "personal_data",
			"%s contains the young person's id; ids are stored only as keyed hashes, so leave it out", f.name)
	}
	return s.checkThematic(ctx, s.pool, f)
}

func linkSummary(ctx context.Context, q querier, contextID int64) (*LinkSummary, error) {
	var sum LinkSummary
	// Young people are counted once per team that linked them, never across
	// teams: a distinct count across teams would let a practitioner link an
	// id, see the count not move, and so learn that another team already
	// works with that child.
	err := q.QueryRow(ctx, `SELECT count(DISTINCT (l.team_id, l.subject_id)), coalesce(array_agg(DISTINCT t.name), '{}')
		FROM context_links l JOIN teams t ON t.id = l.team_id
		WHERE l.context_id = $1 AND l.unlinked_at IS NULL`, contextID).Scan(&sum.YoungPeople, &sum.Teams)
	if err != nil {
		return nil, fmt.Errorf("link summary: %w", err)
	}
	sort.Strings(sum.Teams)
	return &sum, nil
}

// Notifications lists the actor's latest notifications, newest first.
func (s *Store) Notifications(ctx context.Context, a *Actor) ([]Notification, error) {
	if err := require(a, anyRole...); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT n.id, n.created_at, n.context_id, c.display_name, e.event, e.summary,
			n.read_at IS NOT NULL
		FROM notifications n JOIN contexts c ON c.id = n.context_id JOIN context_events e ON e.id = n.event_id
		WHERE n.user_id = $1 ORDER BY n.id DESC LIMIT 200`, a.UserID)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.At, &n.ContextID, &n.DisplayName, &n.Event, &n.Summary, &n.Read)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

// MarkNotificationsRead marks the actor's notifications up to and
// including id as read, and reports how many changed.
func (s *Store) MarkNotificationsRead(ctx context.Context, a *Actor, upTo int64) (int64, error) {
	if err := require(a, anyRole...); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE notifications SET read_at = now()
		WHERE user_id = $1 AND id <= $2 AND read_at IS NULL`, a.UserID, upTo)
	if err != nil {
		return 0, fmt.Errorf("mark notifications read: %w", err)
	}
	return tag.RowsAffected(), nil
}
