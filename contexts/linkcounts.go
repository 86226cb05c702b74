package contexts

import (
	"sort"
	"strconv"
	"time"
)

// Small counts of linked young people (PRIVACY.md rule 14). A context on a
// precise place with "1 young person, linked by the Youth Offending Team" says
// more than any heat cell may, so only practitioners, who need to know that
// another team is involved, see exact small counts. Every other role sees a
// count under k as "fewer than k", and the link and unlink events of the
// chronology by month and team only.

// LinkCount is a number of linked young people as the reader may see it:
// Count is exact, or nil with FewerThan = k when it is below the disclosure
// threshold and the reader is not a practitioner, or nil with AtLeast = n
// for a total that holds a hidden team count (see ForRole).
type LinkCount struct {
	Count     *int `json:"count"`
	FewerThan int  `json:"fewer_than,omitempty"`
	AtLeast   int  `json:"at_least,omitempty"`
}

// Exact returns a count that is shown exactly.
func Exact(n int) LinkCount { return LinkCount{Count: &n} }

// FewerThan returns a count shown only as "fewer than k".
func FewerThan(k int) LinkCount { return LinkCount{FewerThan: k} }

// TeamCount is how many young people one team has linked to a context.
type TeamCount struct {
	Team        string    `json:"team"`
	YoungPeople LinkCount `json:"young_people"`
}

// NewLinkSummary builds the exact summary from each team's distinct count;
// the total is their sum (young people are counted once per team, so that
// linking a child another team works with moves the total like any other).
func NewLinkSummary(byTeam map[string]int) LinkSummary {
	sum := LinkSummary{Teams: []string{}, ByTeam: []TeamCount{}}
	total := 0
	for team, n := range byTeam {
		sum.Teams = append(sum.Teams, team)
		total += n
	}
	sort.Strings(sum.Teams)
	for _, team := range sum.Teams {
		sum.ByTeam = append(sum.ByTeam, TeamCount{Team: team, YoungPeople: Exact(byTeam[team])})
	}
	sum.YoungPeople = Exact(total)
	return sum
}

// ForRole returns the summary as role may see it with disclosure threshold
// k. Practitioners get it unchanged. For every other role a total under k
// is "fewer than k", and so is every team's count under k. When any team's
// count is hidden the total is "at least" the shown counts plus one for each
// hidden team, never exact, so no hidden count can be worked out: neither as
// the total minus the shown counts, nor as the difference of two exact
// totals read before and after one team's links (insider review, finding 4).
func (s LinkSummary) ForRole(role Role, k int) LinkSummary {
	if role == RolePractitioner {
		return s
	}
	out := LinkSummary{Teams: s.Teams, ByTeam: make([]TeamCount, len(s.ByTeam))}
	copy(out.ByTeam, s.ByTeam)
	total := s.YoungPeople.value()
	if total < k {
		out.YoungPeople = FewerThan(k)
		for i := range out.ByTeam {
			out.ByTeam[i].YoungPeople = FewerThan(k)
		}
		return out
	}
	out.YoungPeople = Exact(total)
	for i, t := range out.ByTeam {
		if t.YoungPeople.value() < k {
			out.ByTeam[i].YoungPeople = FewerThan(k)
		}
	}
	atLeast, anyHidden := 0, false
	for _, t := range out.ByTeam {
		if t.YoungPeople.Count == nil {
			atLeast++
			anyHidden = true
		} else {
			atLeast += *t.YoungPeople.Count
		}
	}
	if anyHidden {
		out.YoungPeople = LinkCount{AtLeast: atLeast}
	}
	return out
}

// Text is the count in words, as a table or an export shows it: "12",
// "fewer than 10" or "at least 11".
func (c LinkCount) Text() string {
	switch {
	case c.Count != nil:
		return strconv.Itoa(*c.Count)
	case c.AtLeast > 0:
		return "at least " + strconv.Itoa(c.AtLeast)
	}
	return "fewer than " + strconv.Itoa(c.FewerThan)
}

func (c LinkCount) value() int {
	if c.Count == nil {
		return 0
	}
	return *c.Count
}

// EventTime is when a chronology event happened: the exact time, or for
// link events shown to roles other than practitioners only the month
// (Month), written "2026-11" in the UK's calendar.
type EventTime struct {
	Time  time.Time
	Month bool
}

// MarshalText writes RFC 3339, or YYYY-MM for a month.
func (t EventTime) MarshalText() ([]byte, error) {
	if t.Month {
		return []byte(t.Time.In(london).Format("2006-01")), nil
	}
	return t.Time.MarshalText()
}

// UnmarshalText reads what MarshalText writes.
func (t *EventTime) UnmarshalText(b []byte) error {
	if m, err := time.ParseInLocation("2006-01", string(b), london); err == nil {
		*t = EventTime{Time: m, Month: true}
		return nil
	}
	t.Month = false
	return t.Time.UnmarshalText(b)
}

// Before orders events.
func (t EventTime) Before(u EventTime) bool { return t.Time.Before(u.Time) }

// monthOf is the UK calendar month holding t.
func monthOf(t time.Time) EventTime {
	y, m, _ := t.In(london).Date()
	return EventTime{Time: time.Date(y, m, 1, 0, 0, 0, 0, london), Month: true}
}

// ChronologyForRole returns a context's chronology as role may see it.
// Practitioners see every event at its time. For every other role the link
// and unlink events carry the month only, and those of one team in one
// month are one entry ("young people were linked by ..."), placed after the
// month's other events, so the list cannot be counted to learn a small number
// the summary shows as fewer than k, nor timed against other records. Their
// entries are numbered by position (1, 2, ...) instead of by event id, since
// gaps in the ids would count the link events hidden in a merged entry.
func ChronologyForRole(events []ChronologyEntry, role Role) []ChronologyEntry {
	if role == RolePractitioner {
		return events
	}
	out := make([]ChronologyEntry, 0, len(events))
	type key struct {
		event, team string
		month       time.Time
	}
	seen := map[key]bool{}
	var pending []ChronologyEntry // this month's merged link entries
	var month time.Time
	flush := func() {
		out = append(out, pending...)
		pending = pending[:0]
	}
	for _, e := range events {
		m := monthOf(e.At.Time)
		if !m.Time.Equal(month) {
			flush()
			month = m.Time
		}
		var verb string
		switch e.Event {
		case EventLinked:
			verb = "linked"
		case EventUnlinked:
			verb = "unlinked"
		default:
			out = append(out, e)
			continue
		}
		k := key{e.Event, e.Team, m.Time}
		if seen[k] {
			continue
		}
		seen[k] = true
		pending = append(pending, ChronologyEntry{At: m, Event: e.Event, Team: e.Team,
			Summary: "One or more young people were " + verb + " by " + e.Team + " this month"})
	}
	flush()
	for i := range out {
		out[i].ID = int64(i + 1)
	}
	return out
}
