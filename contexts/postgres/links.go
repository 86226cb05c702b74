package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// LinkYoungPerson links one of the practitioner's young people to a context
// with a reason. The link belongs to the practitioner's team; the person id
// is hashed, never stored. The practitioner is then notified when the
// context changes, and other teams see only that one more young person is
// linked by this team.
func (s *Store) LinkYoungPerson(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.LinkInput) (*contexts.Link, error) {
	return keyed(ctx, s, func(s *Store) (*contexts.Link, error) { return s.linkYoungPerson(ctx, a, contextID, in) })
}

func (s *Store) linkYoungPerson(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.LinkInput) (*contexts.Link, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	in, err := in.Validate()
	if err != nil {
		return nil, err
	}
	norm, reason := in.Subject, in.Reason
	for _, f := range []contexts.TextField{{Name: "reason", Text: reason}, {Name: "label", Text: in.Label}} {
		if err := s.screenFreeText(ctx, a, fmt.Sprintf("context:%d", contextID), norm, f); err != nil {
			return nil, err
		}
	}
	h := contexts.NewSubjectHasher(s.secret)
	sh := h.Hash(norm)
	out := contexts.Link{ContextID: contextID, Team: a.Team, LinkedBy: a.Name, Label: in.Label, Reason: reason}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := lockContext(ctx, tx, contextID)
		if err != nil {
			return err
		}
		if c.Status == contexts.StatusClosed {
			return contexts.ContextClosedError(c)
		}
		sid, err := s.subjectFor(ctx, tx, a, h, sh)
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
		if err := tx.QueryRow(ctx, `INSERT INTO context_links (context_id, subject_id, team_id, linked_by, reason, label, linked_at)
			VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now())) RETURNING id, linked_at`, contextID, sid, a.TeamID, a.UserID, reason,
			in.Label, s.at).
			Scan(&out.ID, &out.LinkedAt); err != nil {
			return fmt.Errorf("insert link: %w", err)
		}
		if _, err := s.addEvent(ctx, tx, a, contextID, contexts.EventLinked, "A young person was linked by "+a.Team, nil); err != nil {
			return err
		}
		if err := s.burstAtContext(ctx, tx, a, contextID); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.link", fmt.Sprintf("context:%d", contextID), "",
			map[string]any{"subject": contexts.AuditSubject(sh), "link_id": out.ID})
	})
	if err != nil {
		return nil, s.auditSubjectLimit(ctx, a, "context.link", err)
	}
	return &out, nil
}

// UnlinkYoungPerson detaches a young person (as relevance changes) while
// the context stays open for others. Only the linking team can unlink.
func (s *Store) UnlinkYoungPerson(ctx context.Context, a *contexts.Actor, contextID, linkID int64, in contexts.UnlinkInput) error {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return err
	}
	in, err := in.Validate()
	if err != nil {
		return err
	}
	reason := in.Reason
	if err := s.screen(ctx, s.db, a, fmt.Sprintf("context:%d", contextID), contexts.TextField{Name: "reason", Text: reason}); err != nil {
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
			return contexts.NotFound("link", linkID)
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
		if _, err := s.addEvent(ctx, tx, a, contextID, contexts.EventUnlinked, "A young person was unlinked by "+a.Team, nil); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.unlink", fmt.Sprintf("context:%d", contextID), "", map[string]any{"link_id": linkID})
	})
}

const linkColumns = `l.id, l.context_id, t.name, l.linked_at, u.name, l.label, l.reason`

const linkFrom = ` FROM context_links l JOIN teams t ON t.id = l.team_id JOIN users u ON u.id = l.linked_by`

func scanLink(r pgx.CollectableRow) (contexts.Link, error) {
	var l contexts.Link
	err := r.Scan(&l.ID, &l.ContextID, &l.Team, &l.LinkedAt, &l.LinkedBy, &l.Label, &l.Reason)
	return l, err
}

// TeamLinks lists the actor's team's current links to a context (ids,
// dates, who linked, the team's own label and reason; never subjects), so
// a practitioner can tell which link to remove. Only the linking team ever
// reads a link's label and reason.
func (s *Store) TeamLinks(ctx context.Context, a *contexts.Actor, contextID int64) ([]contexts.Link, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+linkColumns+linkFrom+`
		WHERE l.context_id = $1 AND l.team_id = $2 AND l.unlinked_at IS NULL ORDER BY l.id`, contextID, a.TeamID)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanLink)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	return out, nil
}

// LabelLink sets the linking team's own label of one of its current links
// (an empty label clears it). The label is screened like a link's reason,
// and the change is audited without its text: the label is the team's alone.
func (s *Store) LabelLink(ctx context.Context, a *contexts.Actor, contextID, linkID int64, in contexts.LinkLabelInput) (*contexts.Link, error) {
	if err := contexts.Require(a, contexts.RolePractitioner); err != nil {
		return nil, err
	}
	label, err := in.Validate()
	if err != nil {
		return nil, err
	}
	if err := s.screen(ctx, s.db, a, fmt.Sprintf("context:%d", contextID), contexts.TextField{Name: "label", Text: label}); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var sid int64
		err := tx.QueryRow(ctx, `UPDATE context_links SET label = $4
			WHERE id = $1 AND context_id = $2 AND team_id = $3 AND unlinked_at IS NULL RETURNING subject_id`,
			linkID, contextID, a.TeamID, label).Scan(&sid)
		if errors.Is(err, pgx.ErrNoRows) {
			return contexts.NotFound("link", linkID)
		}
		if err != nil {
			return fmt.Errorf("label link: %w", err)
		}
		// A label is the team's word about the young person: recording. A
		// refusal rolls the label back with the transaction.
		if err := s.allocatedSubject(ctx, tx, a, sid); err != nil {
			return err
		}
		return audit(ctx, tx, a, "context.link.label", fmt.Sprintf("context:%d", contextID), "", map[string]any{"link_id": linkID})
	})
	if err != nil {
		return nil, err
	}
	return readOne(ctx, s.db, scanLink, "link", linkID, `SELECT `+linkColumns+linkFrom+` WHERE l.id = $1 AND l.team_id = $2`, linkID, a.TeamID)
}

// LinkSummary tells anyone allowed to see the context how many distinct
// young people are linked, in total and by team, and which teams work with
// them, never who. Practitioners see exact counts; every other role sees a
// count under the disclosure threshold as "fewer than k" (PRIVACY.md rule 14).
func (s *Store) LinkSummary(ctx context.Context, a *contexts.Actor, contextID int64) (*contexts.LinkSummary, error) {
	if err := contexts.Require(a, contexts.Roles...); err != nil {
		return nil, err
	}
	if err := s.requireContext(ctx, contextID); err != nil {
		return nil, err
	}
	return s.linkSummary(ctx, s.db, a, contextID)
}

func (s *Store) linkSummary(ctx context.Context, q querier, a *contexts.Actor, contextID int64) (*contexts.LinkSummary, error) {
	sums, err := s.linkSummaries(ctx, q, a, []int64{contextID})
	if err != nil {
		return nil, err
	}
	sum := sums[contextID]
	return &sum, nil
}

// linkSummaries is the link summary of each context in ids as a may see
// it (a context without links gets the summary of none), in one query.
func (s *Store) linkSummaries(ctx context.Context, q querier, a *contexts.Actor, ids []int64) (map[int64]contexts.LinkSummary, error) {
	// Young people are counted once per team that linked them, never across
	// teams: a distinct count across teams would let a practitioner link an
	// id, see the count not move, and so learn that another team already
	// works with that child.
	asOf, err := linksAsOf(ctx, q, a)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT l.context_id, t.name, count(DISTINCT l.subject_id)
		FROM context_links l JOIN teams t ON t.id = l.team_id
		WHERE l.context_id = ANY($1) AND (CASE WHEN $2::timestamptz IS NULL THEN l.unlinked_at IS NULL
			ELSE l.linked_at <= $2 AND (l.unlinked_at IS NULL OR l.unlinked_at > $2) END)
		GROUP BY l.context_id, t.name`, ids, asOf)
	if err != nil {
		return nil, fmt.Errorf("link summary: %w", err)
	}
	byContext := map[int64]map[string]int{}
	var cid int64
	var team string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&cid, &team, &n}, func() error {
		if byContext[cid] == nil {
			byContext[cid] = map[string]int{}
		}
		byContext[cid][team] += n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("link summary: %w", err)
	}
	out := make(map[int64]contexts.LinkSummary, len(ids))
	for _, id := range ids {
		out[id] = contexts.NewLinkSummary(byContext[id]).ForRole(a.Role, s.k)
	}
	return out, nil
}

// linksAsOf is the instant a's view of a context's links stands at: nil
// (live) for practitioners, who see exact counts and times anyway; for every
// other role the data time of the latest release, so link counts and link
// events change for them only when a release is made, as published values
// do (PRIVACY.md rule 12). A live count re-read after each link would show
// the moment a team's count crosses k, and so that it was k-1 just before
// (insider review 2, F3). Before the first release nothing is linked yet.
func linksAsOf(ctx context.Context, q querier, a *contexts.Actor) (*time.Time, error) {
	if a.Role == contexts.RolePractitioner {
		return nil, nil
	}
	var t *time.Time
	if err := q.QueryRow(ctx, `SELECT max(data_time) FROM releases`).Scan(&t); err != nil {
		return nil, fmt.Errorf("links as of the latest release: %w", err)
	}
	if t == nil {
		never := time.Unix(0, 0).UTC()
		t = &never
	}
	return t, nil
}

// Notifications lists the actor's latest notifications, newest first.
func (s *Store) Notifications(ctx context.Context, a *contexts.Actor) ([]contexts.Notification, error) {
	if err := contexts.Require(a, contexts.Roles...); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT n.id, n.created_at, n.context_id, c.display_name, e.event, e.summary,
			n.read_at IS NOT NULL
		FROM notifications n JOIN contexts c ON c.id = n.context_id JOIN context_events e ON e.id = n.event_id
		WHERE n.user_id = $1 ORDER BY n.id DESC LIMIT 200`, a.UserID)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (contexts.Notification, error) {
		var n contexts.Notification
		err := r.Scan(&n.ID, &n.At, &n.ContextID, &n.DisplayName, &n.Event, &n.Summary, &n.Read)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

// MarkNotificationsRead marks the actor's notifications up to and
// including id as read (only those about one context when contextID is
// not 0), and reports how many changed.
func (s *Store) MarkNotificationsRead(ctx context.Context, a *contexts.Actor, upTo, contextID int64) (int64, error) {
	if err := contexts.Require(a, contexts.Roles...); err != nil {
		return 0, err
	}
	tag, err := s.db.Exec(ctx, `UPDATE notifications SET read_at = now()
		WHERE user_id = $1 AND id <= $2 AND read_at IS NULL AND ($3 = 0 OR context_id = $3)`, a.UserID, upTo, contextID)
	if err != nil {
		return 0, fmt.Errorf("mark notifications read: %w", err)
	}
	return tag.RowsAffected(), nil
}

// MarkNotificationRead marks one of the actor's notifications as read; a
// notification of someone else's is not found.
func (s *Store) MarkNotificationRead(ctx context.Context, a *contexts.Actor, id int64) error {
	if err := contexts.Require(a, contexts.Roles...); err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, `UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE user_id = $1 AND id = $2`, a.UserID, id)
	if err != nil {
		return fmt.Errorf("mark notification read: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return contexts.NotFound("notification", id)
	}
	return nil
}
