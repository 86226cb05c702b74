package tiles

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ctxmap/ctxmap"
)

// Month is one calendar month (UTC), the smallest unit of time heat data is
// published for: PRIVACY.md rule 4 allows no finer time.
type Month struct {
	Year  int
	Month time.Month
}

// MonthOf returns the calendar month containing t in UTC.
func MonthOf(t time.Time) Month {
	t = t.UTC()
	return Month{t.Year(), t.Month()}
}

// ParseMonth parses "YYYY-MM", the form trends and exports use for their
// first and last months.
func ParseMonth(s string) (Month, error) {
	m, ok := parseMonth(s)
	if !ok {
		return Month{}, errInvalid("month_invalid", "%q is not a month; use YYYY-MM, e.g. 2025-03", ctxmap.Truncate(s, echoRunes))
	}
	return m, nil
}

func parseMonth(s string) (Month, bool) {
	if len(s) != 7 || s[4] != '-' {
		return Month{}, false
	}
	y, ok := parseYear(s[:4])
	if !ok {
		return Month{}, false
	}
	mm, ok := digits(s[5:7])
	if !ok || mm < 1 || mm > 12 {
		return Month{}, false
	}
	return Month{y, time.Month(mm)}, true
}

// String formats the month as "YYYY-MM", the label used in trends and CSV.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Start is the first instant of the month in UTC.
func (m Month) Start() time.Time { return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, time.UTC) }

// Add returns the month n months later (earlier for negative n).
func (m Month) Add(n int) Month { return monthFromIndex(m.index() + n) }

// Before reports whether m is earlier than o.
func (m Month) Before(o Month) bool { return m.index() < o.index() }

func (m Month) index() int { return m.Year*12 + int(m.Month) - 1 }

func monthFromIndex(i int) Month { return Month{i / 12, time.Month(i%12 + 1)} }

// Period is a whole-month time range resolved on the server, the only kind
// of time filter heat data accepts (PRIVACY.md rule 4). Resolving relative
// and partly current periods here, once, means caches and the published
// values key on the concrete months, not on the words the client sent.
type Period struct {
	// Spec is the canonical form of what was asked for: "2025-03",
	// "2025-Q1", "2025", "last-3m", "last-6m" or "last-12m".
	Spec string
	// First and Last are the first and last months covered (inclusive).
	First, Last Month
	// Clamped is true when a year or quarter that contains the current
	// month was cut back to its complete months.
	Clamped bool
}

// From is the first instant covered, as the store's HeatQuery.From wants it.
func (p Period) From() time.Time { return p.First.Start() }

// To is the first instant after the period (exclusive), as HeatQuery.To wants it.
func (p Period) To() time.Time { return p.Last.Add(1).Start() }

// NumMonths is the number of months covered.
func (p Period) NumMonths() int { return p.Last.index() - p.First.index() + 1 }

// Months lists the months covered in order, for month-by-month trends.
func (p Period) Months() []Month {
	out := make([]Month, 0, p.NumMonths())
	for m := p.First; !p.Last.Before(m); m = m.Add(1) {
		out = append(out, m)
	}
	return out
}

// String describes the period for people and for export headers, e.g.
// "2025-Q1 (2025-01 to 2025-03)".
func (p Period) String() string {
	clamped := ""
	if p.Clamped {
		clamped = ", complete months only"
	}
	if p.First == p.Last {
		return fmt.Sprintf("%s (%s%s)", p.Spec, p.First, clamped)
	}
	return fmt.Sprintf("%s (%s to %s%s)", p.Spec, p.First, p.Last, clamped)
}

// PeriodForms lists the accepted period forms; error messages and API
// documentation quote it.
const PeriodForms = "YYYY-MM (e.g. 2025-03), YYYY-Qn (e.g. 2025-Q1), YYYY (e.g. 2025), last-3m, last-6m or last-12m"

// ParsePeriod resolves a period parameter against now. Months are UTC
// calendar months. Only whole completed months are ever covered: a rolling
// period is the last N complete months before now's month, a year or quarter
// that contains the current month is clamped to its complete months, and a
// period with no complete month (the current month, or the future) is
// refused, as is every other form (arbitrary ranges, "last 7 days"...).
// Errors are *ctxmap.Error of kind KindInvalid.
func ParsePeriod(s string, now time.Time) (Period, error) {
	current := MonthOf(now)
	p, ok := parsePeriodSpec(s, current)
	if !ok {
		if s == "" {
			return Period{}, errInvalid("period_unsupported", "a period is required; use %s", PeriodForms)
		}
		return Period{}, errInvalid("period_unsupported", "period %q is not supported; use %s", ctxmap.Truncate(s, echoRunes), PeriodForms)
	}
	latest := current.Add(-1)
	if latest.Before(p.First) {
		return Period{}, errInvalid("period_incomplete",
			"period %s has no complete month yet; heat data covers whole completed months only (the latest is %s)", p.Spec, latest)
	}
	if latest.Before(p.Last) {
		p.Last = latest
		p.Clamped = true
	}
	return p, nil
}

func parsePeriodSpec(s string, current Month) (Period, bool) {
	switch s {
	case "last-3m", "last-6m", "last-12m":
		n := 3
		if s == "last-6m" {
			n = 6
		} else if s == "last-12m" {
			n = 12
		}
		return Period{Spec: s, First: current.Add(-n), Last: current.Add(-1)}, true
	}
	switch {
	case len(s) == 4:
		y, ok := parseYear(s)
		if !ok {
			return Period{}, false
		}
		return Period{Spec: s, First: Month{y, time.January}, Last: Month{y, time.December}}, true
	case len(s) == 7 && s[4] == '-' && (s[5] == 'Q' || s[5] == 'q'):
		y, ok := parseYear(s[:4])
		if !ok || s[6] < '1' || s[6] > '4' {
			return Period{}, false
		}
		q := int(s[6] - '0')
		first := Month{y, time.Month(3*q - 2)}
		return Period{Spec: fmt.Sprintf("%04d-Q%d", y, q), First: first, Last: first.Add(2)}, true
	case len(s) == 7:
		m, ok := parseMonth(s)
		if !ok {
			return Period{}, false
		}
		return Period{Spec: m.String(), First: m, Last: m}, true
	}
	return Period{}, false
}

// parseYear accepts four digits from 1900 on: earlier dates are data errors.
func parseYear(s string) (int, bool) {
	y, ok := digits(s)
	return y, ok && len(s) == 4 && y >= 1900
}

// digits parses ASCII digits only (strconv.Atoi would accept signs).
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// PeriodPreset is one period the map offers in its period menu: Value is a
// period spec ParsePeriod accepts, Label what a person reads.
type PeriodPreset struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// PeriodPresets are the periods the map offers at now: the rolling windows,
// the last four complete quarters, the last six complete months and the
// last two complete years. Every one is a whole-month period PRIVACY.md
// allows; they are built here, beside the grammar, so no other package
// writes period specs of its own.
func PeriodPresets(now time.Time) []PeriodPreset {
	out := []PeriodPreset{
		{"last-3m", "Last 3 complete months"},
		{"last-6m", "Last 6 complete months"},
		{"last-12m", "Last 12 complete months"},
	}
	last := MonthOf(now).Add(-1)
	q := last
	for (int(q.Month)-1)%3 != 2 { // back to the last month that ends a quarter
		q = q.Add(-1)
	}
	for i := 0; i < 4; i++ {
		v := fmt.Sprintf("%d-Q%d", q.Year, (int(q.Month)-1)/3+1)
		out = append(out, PeriodPreset{v, v})
		q = q.Add(-3)
	}
	m := last
	for i := 0; i < 6; i++ {
		out = append(out, PeriodPreset{m.String(), m.Start().Format("January 2006")})
		m = m.Add(-1)
	}
	y := last.Year
	if last.Month != time.December {
		y--
	}
	for i := 0; i < 2; i++ {
		v := fmt.Sprint(y - i)
		out = append(out, PeriodPreset{v, v})
	}
	return out
}
