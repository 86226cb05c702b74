package contexts

import (
	"fmt"
	"time"
)

// Retention: ctxmap keeps a young person's records and closed context
// records only as long as the policy says, then erases them, each erasure
// audited; the audit log itself is never erased (docs/PRIVACY.md,
// "Retention", gives the defaults and the reasoning).

// The default retention periods, in whole years.
const (
	// DefaultYoungPersonYears: a young person's records are erased this
	// long after their last record (the latest recording, archive, link
	// or unlink by any team). ctxmap holds no date of birth, so the UK
	// practice of keeping children's social care records to age 25 is met
	// from the other side: a record made before 18 is gone by 25.
	DefaultYoungPersonYears = 7
	// DefaultClosedContextYears: a context record closed this long, and
	// not reopened, is erased with its chronology.
	DefaultClosedContextYears = 6
	// MaxRetentionYears bounds either period (a typo of 700 is refused).
	MaxRetentionYears = 100
)

// The kinds of record retention erases, as its audit entries name them.
const (
	ErasedYoungPerson = "young_person"
	ErasedContext     = "context"
)

// How a retention run was started.
const (
	RetentionScheduled = "scheduled" // the server's daily schedule, on one replica
	RetentionOperator  = "operator"  // `ctxmap retention run|--dry-run` on the host
)

// RetentionPolicy says how long records are kept. Zero years for a kind
// means that kind is never erased.
type RetentionPolicy struct {
	YoungPersonYears   int `json:"young_person_years"`
	ClosedContextYears int `json:"closed_context_years"`
}

// DefaultRetention is the policy docs/PRIVACY.md reasons for.
var DefaultRetention = RetentionPolicy{YoungPersonYears: DefaultYoungPersonYears, ClosedContextYears: DefaultClosedContextYears}

// Validate refuses a period below zero or above MaxRetentionYears.
func (p RetentionPolicy) Validate() error {
	for _, x := range []struct {
		name string
		v    int
	}{{"young person years", p.YoungPersonYears}, {"closed context years", p.ClosedContextYears}} {
		if x.v < 0 || x.v > MaxRetentionYears {
			return fmt.Errorf("retention: %s %d; use 0 (never erase) to %d", x.name, x.v, MaxRetentionYears)
		}
	}
	return nil
}

// Cutoffs are the instants before which a young person's last record, and
// a context's closure, are due for erasure at now; a zero time for a kind
// the policy never erases.
func (p RetentionPolicy) Cutoffs(now time.Time) (youngPerson, closedContext time.Time) {
	if p.YoungPersonYears > 0 {
		youngPerson = now.AddDate(-p.YoungPersonYears, 0, 0)
	}
	if p.ClosedContextYears > 0 {
		closedContext = now.AddDate(-p.ClosedContextYears, 0, 0)
	}
	return youngPerson, closedContext
}

// Why is the reason an erasure of kind gives in the audit log.
func (p RetentionPolicy) Why(kind string) string {
	if kind == ErasedContext {
		return fmt.Sprintf("closed more than %d years ago (retention policy)", p.ClosedContextYears)
	}
	return fmt.Sprintf("no record for more than %d years (retention policy)", p.YoungPersonYears)
}

// Erasure is one record retention erased, or in a dry run would erase:
// what kind, which (a young person by their audit name, never an id; a
// context by its id), why, and the date the period ran from.
type Erasure struct {
	Kind string `json:"kind"`
	// Record names it as the audit log does ("subject-records:<prefix>",
	// "context:42"), so a search of the log finds its whole history.
	Record string    `json:"record"`
	Since  time.Time `json:"since"` // the last record, or the closure
	Why    string    `json:"why"`
	// Rows counts what was (or would be) deleted, by table.
	Rows map[string]int64 `json:"rows,omitempty"`
}

// RetentionRequest starts a run: how, and whether it only lists.
type RetentionRequest struct {
	How    string
	DryRun bool
}

// RetentionReport is what a run did (or, dry, would do).
type RetentionReport struct {
	RunID    int64           `json:"run_id"`
	How      string          `json:"how"`
	DryRun   bool            `json:"dry_run"`
	Policy   RetentionPolicy `json:"policy"`
	At       time.Time       `json:"at"`
	Erasures []Erasure       `json:"erasures"`
	// Failed counts records whose erasure failed and was rolled back
	// whole (the server log says why); the next run tries them again.
	Failed int `json:"failed"`
}

// RetentionRun is one past run, as the retention screen lists it.
type RetentionRun struct {
	ID           int64      `json:"id"`
	How          string     `json:"how"`
	DryRun       bool       `json:"dry_run"`
	StartedAt    time.Time  `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	YoungPeople  int        `json:"young_people"`
	Contexts     int        `json:"contexts"`
	Failed       int        `json:"failed"`
	YoungPersonY int        `json:"young_person_years"`
	ContextY     int        `json:"closed_context_years"`
}

// RetentionStatus is the retention screen: the policy, whether the server
// runs it on its schedule, the recent runs and what is due now.
type RetentionStatus struct {
	Policy    RetentionPolicy `json:"policy"`
	Scheduled bool            `json:"scheduled"`
	Runs      []RetentionRun  `json:"runs"`
	Due       []Erasure       `json:"due"`
}
