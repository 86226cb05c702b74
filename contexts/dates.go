package contexts

import (
	"fmt"
	"strings"
	"time"
)

// The date window: every calendar date ctxmap takes from a person falls in
// it, so a typo ("0202-03-14", "9999-12-31") is refused instead of being
// stored and later sorted, aged or published. This file is the rule's one
// home; the error messages state it.
//
//   - Nothing is dated before earliestDate: ctxmap serves no older records.
//   - What happened (a harm location's occurred date, an intervention's
//     done date) is never after today.
//   - What is planned (an intervention's due date, a context's review date)
//     is at most planningYears after today: further ahead is a typo, not a
//     plan anyone will follow.
//
// "Today" is the UK calendar day (UKDay).

// earliestDate is the first date accepted.
var earliestDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// planningYears is how far ahead a planned date may be.
const planningYears = 5

// dateRule says which end of the window a date has.
type dateRule int

const (
	happened dateRule = iota // earliestDate to today
	planned                  // earliestDate to planningYears after today
)

// latest is the last date rule accepts on today.
func (r dateRule) latest(today time.Time) time.Time {
	if r == planned {
		return today.AddDate(planningYears, 0, 0)
	}
	return today
}

// window says the rule in words, for error messages.
func (r dateRule) window(today time.Time) string {
	if r == planned {
		return fmt.Sprintf("planned dates must be from %s to %s (at most %d years ahead)",
			earliestDate.Format(time.DateOnly), r.latest(today).Format(time.DateOnly), planningYears)
	}
	return "dates of what happened must be from " + earliestDate.Format(time.DateOnly) + " to today"
}

// checkDate refuses t (typed as shown) outside rule's window on today:
// code date_in_future for a past-only date after today, date_out_of_range
// for the rest. Both are 422s naming the field and the window.
func checkDate(field, shown string, t time.Time, rule dateRule, today time.Time) error {
	if t.Before(earliestDate) {
		return Unprocessable(field, "date_out_of_range", "%s (%s) is before %s; %s",
			field, Trunc(shown, 40), earliestDate.Format(time.DateOnly), rule.window(today))
	}
	if t.After(rule.latest(today)) {
		if rule == happened {
			return Unprocessable(field, "date_in_future", "%s (%s) is in the future; %s", field, Trunc(shown, 40), rule.window(today))
		}
		return Unprocessable(field, "date_out_of_range", "%s (%s) is too far ahead; %s", field, Trunc(shown, 40), rule.window(today))
	}
	return nil
}

// parseOptionalDate reads a calendar date or "" (nil); the window is
// checked once the whole record is known (checkOptionalDate).
func parseOptionalDate(field, s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, InvalidField(field, "invalid_date", "%s must be a date like 2026-06-30, not %q", field, Trunc(s, 40))
	}
	return &t, nil
}

// checkOptionalDate is checkDate for a date that may be absent (nil).
func checkOptionalDate(field string, t *time.Time, rule dateRule, today time.Time) error {
	if t == nil {
		return nil
	}
	return checkDate(field, t.Format(time.DateOnly), *t, rule, today)
}

// london is the UK's civil time zone: "today" for a practitioner.
var london = func() *time.Location {
	if l, err := time.LoadLocation("Europe/London"); err == nil {
		return l
	}
	return time.UTC
}()

// UKDay is the calendar date of t in the UK, as a UTC midnight.
func UKDay(t time.Time) time.Time {
	y, m, d := t.In(london).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
