package contexts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
)

// Allocation is one line of the case management system's nightly export:
// a young person (the system's person id) allocated to a team. Every case
// system can export it; with allocations required, a practitioner can
// record for and link only the young people allocated to their team
// (PRIVACY.md rule 13), so an insider cannot invent young people.
type Allocation struct {
	Subject string `json:"subject"`
	Team    string `json:"team"`
	// Line is where the allocation was read: its line in a CSV feed (set by
	// ParseAllocationsCSV, which knows about quoted line breaks and blank
	// lines), zero in a JSON feed, whose errors count items from 1 instead.
	Line int `json:"-"`
}

// AllocationsInput is the JSON form of a feed: the whole current set. A
// feed replaces the one before it, so the nightly export is simply sent
// again each night and a young person no longer allocated drops out.
type AllocationsInput struct {
	Allocations []Allocation `json:"allocations"`
}

// AllocationReport says what a feed loaded.
type AllocationReport struct {
	Rows        int        `json:"rows"`
	YoungPeople int        `json:"young_people"`
	Teams       int        `json:"teams"`
	LoadedAt    time.Time  `json:"loaded_at"`
	Errors      []RowError `json:"errors,omitempty"`
}

// AllocationStatus says whether allocations are required here and what
// the latest feed held.
type AllocationStatus struct {
	Required bool              `json:"required"`
	Latest   *AllocationReport `json:"latest,omitempty"`
}

// MaxAllocations bounds one feed: a large county's caseload is tens of
// thousands; a million lines is a mistake, not a feed.
const MaxAllocations = 500_000

// ErrNotAllocated refuses a practitioner's record or link for a young
// person the case system has not allocated to their team. It says nothing
// about any other team: the practitioner learns only what their own team's
// caseload already tells them.
var ErrNotAllocated = ctxmap.Errorf(ctxmap.KindForbidden, "not_allocated",
	"this young person is not allocated to your team in the case management system's latest allocations feed; "+
		"ask for the allocation to be made there (it arrives with the next feed)").WithDetail("field", "subject")

// ErrNoAllocations refuses every practitioner write while allocations are
// required but no feed has been loaded yet.
var ErrNoAllocations = ctxmap.Errorf(ctxmap.KindForbidden, "no_allocations",
	"allocations are required here but no allocations feed has been loaded yet (PUT /api/v1/allocations or ctxmap import allocations)")

// CheckAllocations normalises a feed's person ids as records do, refusing
// empty teams and ids, and drops exact repeats (keeping the first line);
// errs lists every bad line, by the row's Line or, in a JSON feed, its
// item number from 1.
func CheckAllocations(rows []Allocation) (out []Allocation, errs []RowError) {
	if len(rows) > MaxAllocations {
		return nil, []RowError{{Line: 0, Code: "batch_too_large", Message: fmt.Sprintf("at most %d allocations per feed; got %d", MaxAllocations, len(rows))}}
	}
	type key struct{ subject, team string }
	seen := make(map[key]bool, len(rows))
	for i, r := range rows {
		line := AllocationLine(r, i)
		subject, err := NormalizeSubject(r.Subject)
		if err != nil {
			var e *ctxmap.Error
			errors.As(err, &e)
			errs = append(errs, RowError{Line: line, Field: "subject", Code: e.Code, Message: e.Message})
			continue
		}
		team := strings.TrimSpace(r.Team)
		if team == "" {
			errs = append(errs, RowError{Line: line, Field: "team", Code: "missing_field", Message: "team is required"})
			continue
		}
		if k := (key{subject, team}); !seen[k] {
			seen[k] = true
			out = append(out, Allocation{Subject: subject, Team: team, Line: line})
		}
	}
	if len(errs) > MaxReportedErrors {
		errs = errs[:MaxReportedErrors]
	}
	return out, errs
}

// AllocationLine is where the i-th allocation of a feed was read, for its
// errors: its CSV line, or in a JSON feed its item number from 1.
func AllocationLine(a Allocation, i int) int {
	if a.Line != 0 {
		return a.Line
	}
	return i + 1
}

// ParseAllocationsCSV reads a feed as CSV with a header naming the columns
// subject and team (in any order; other columns are ignored, so the case
// system's export can be sent as it is).
func ParseAllocationsCSV(r io.Reader) ([]Allocation, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "import_empty", "the file is empty; the first line must be a header naming the columns subject and team")
	}
	if err != nil {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "import_malformed", "cannot read the header: %v", err)
	}
	col := map[string]int{"subject": -1, "team": -1}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, ok := col[name]; ok {
			col[name] = i
		}
	}
	for name, i := range col {
		if i < 0 {
			return nil, ctxmap.Errorf(ctxmap.KindInvalid, "import_missing_column", "the header has no %s column (it needs subject and team)", name)
		}
	}
	var out []Allocation
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, ctxmap.Errorf(ctxmap.KindInvalid, "import_malformed", "cannot read the feed: %v", err)
		}
		if len(out) >= MaxAllocations {
			return nil, ctxmap.Errorf(ctxmap.KindTooLarge, "batch_too_large", "at most %d allocations per feed", MaxAllocations)
		}
		line, _ := cr.FieldPos(0)
		a := Allocation{Line: line}
		if col["subject"] < len(rec) {
			a.Subject = rec[col["subject"]]
		}
		if col["team"] < len(rec) {
			a.Team = rec[col["team"]]
		}
		out = append(out, a)
	}
}
