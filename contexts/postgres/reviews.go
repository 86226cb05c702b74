package postgres

import (
	"context"

	"github.com/ctxmap/ctxmap/contexts"
)

// overdueRoles see the contexts past their review date: the leads who own
// the reviews and the administrators who oversee them.
var overdueRoles = []contexts.Role{contexts.RoleContextLead, contexts.RoleAdmin}

// OverdueReviews lists the open contexts whose review date has passed, as
// of the store's UK today, most overdue first: the reviews report's
// overdue rows (one definition of "overdue"), read audited as
// reviews.overdue.read.
func (s *Store) OverdueReviews(ctx context.Context, a *contexts.Actor) (*contexts.OverdueReviews, error) {
	if err := contexts.Require(a, overdueRoles...); err != nil {
		return nil, err
	}
	rq := contexts.OverdueQuery(s.now())
	rep, err := s.reviewsReport(ctx, a, rq)
	if err != nil {
		return nil, err
	}
	out := contexts.NewOverdueReviews(rq.Today, rep.Rows)
	if err := audit(ctx, s.db, a, "reviews.overdue.read", "", "", map[string]any{"contexts": len(out.Contexts)}); err != nil {
		return nil, err
	}
	return out, nil
}
