package contexts

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
)

// Context records are thematic and de-individualised: a note about a park
// must not carry a child's email address, phone number, date of birth or
// case id. These checks catch the common slips; they are a guard rail, not a
// guarantee, so the form's guidance still matters.

var (
	emailRE = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}`)
	// phoneCandRE finds runs that start like a UK number (+44, 0044 or a
	// leading 0) and continue with digits and separators; phoneAt then
	// counts the digits.
	phoneCandRE = regexp.MustCompile(`(?:\+\s?44|\b0044|\(?\b0)[\d \-()]{8,20}`)
	months      = `(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?`
	dmyRE       = regexp.MustCompile(`\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})\b`)
	isoRE       = regexp.MustCompile(`\b(\d{4})-(\d{1,2})-(\d{1,2})\b`)
	dMonthYRE   = regexp.MustCompile(`(?i)\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?` + months + `,?\s+(\d{4})\b`)
	monthDYRE   = regexp.MustCompile(`(?i)\b` + months + `\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b`)
	dobWordRE   = regexp.MustCompile(`(?i)\b(d\.?o\.?b\.?|date of birth|born|birthday)\W{0,20}$`)
	// longNumberRE matches identifier-shaped tokens: five or more digits in
	// a row, which case-system, NHS and police reference numbers all have.
	longNumberRE = regexp.MustCompile(`\d{5,}`)
)

// personalData is one piece of personal data found in free text.
type personalData struct {
	text string // the offending text as typed
	what string // "an email address", ...
}

// findPersonalData returns the first email address, UK phone number,
// date-of-birth-like date or identifier-shaped number in s. A full date
// counts as a date of birth when it follows words like "DOB" or "born", or
// when a person born on it would be between 4 and 25 years old at now:
// meeting and incident dates (recent) and historical dates stay allowed.
func findPersonalData(s string, now time.Time) (personalData, bool) {
	if m := emailRE.FindString(s); m != "" {
		return personalData{m, "an email address"}, true
	}
	for _, loc := range phoneCandRE.FindAllStringIndex(s, -1) {
		if n := phoneAt(s[loc[0]:loc[1]]); n > 0 {
			return personalData{strings.TrimSpace(s[loc[0] : loc[0]+n]), "a phone number"}, true
		}
	}
	if d, ok := findDOB(s, now); ok {
		return personalData{d, "a date of birth"}, true
	}
	if m := longNumberRE.FindString(s); m != "" {
		return personalData{m, "a case or reference number"}, true
	}
	return personalData{}, false
}

// phoneAt reports the length of the UK phone number that c starts with, or
// 0. UK numbers have 10 digits after the trunk 0 (a few have 9); +44 and
// 0044 replace the 0, and "(0)" after them is ignored.
func phoneAt(c string) int {
	digits, i := 0, 0
	intl := false
	switch {
	case strings.HasPrefix(c, "+"):
		intl = true
		i = strings.Index(c, "44") + 2
	case strings.HasPrefix(c, "0044"):
		intl = true
		i = 4
	}
	if intl {
		rest := strings.TrimLeft(c[i:], " ")
		if strings.HasPrefix(rest, "(0)") {
			i = len(c) - len(rest) + 3
		}
	}
	end := 0
	for ; i < len(c) && digits < 11; i++ {
		ch := c[i]
		if ch >= '0' && ch <= '9' {
			if digits == 0 && !intl && ch != '0' {
				return 0
			}
			digits++
			end = i + 1
		}
	}
	if intl {
		digits++ // the implied trunk 0
	}
	if digits >= 10 {
		return end
	}
	return 0
}

// findDOB finds a date-of-birth-like full date.
func findDOB(s string, now time.Time) (string, bool) {
	type cand struct {
		text    string
		start   int
		y, m, d int
	}
	var cs []cand
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	for _, m := range dmyRE.FindAllStringSubmatchIndex(s, -1) {
		y := atoi(s[m[6]:m[7]])
		if m[7]-m[6] == 2 {
			y += 2000
			if y > now.Year() {
				y -= 100
			}
		}
		cs = append(cs, cand{s[m[0]:m[1]], m[0], y, atoi(s[m[4]:m[5]]), atoi(s[m[2]:m[3]])})
	}
	for _, m := range isoRE.FindAllStringSubmatchIndex(s, -1) {
		cs = append(cs, cand{s[m[0]:m[1]], m[0], atoi(s[m[2]:m[3]]), atoi(s[m[4]:m[5]]), atoi(s[m[6]:m[7]])})
	}
	for _, m := range dMonthYRE.FindAllStringSubmatchIndex(s, -1) {
		cs = append(cs, cand{s[m[0]:m[1]], m[0], atoi(s[m[6]:m[7]]), monthNum(s[m[4]:m[5]]), atoi(s[m[2]:m[3]])})
	}
	for _, m := range monthDYRE.FindAllStringSubmatchIndex(s, -1) {
		cs = append(cs, cand{s[m[0]:m[1]], m[0], atoi(s[m[6]:m[7]]), monthNum(s[m[2]:m[3]]), atoi(s[m[4]:m[5]])})
	}
	for _, c := range cs {
		if c.m < 1 || c.m > 12 || c.d < 1 || c.d > 31 {
			continue
		}
		t := time.Date(c.y, time.Month(c.m), c.d, 0, 0, 0, 0, time.UTC)
		if t.Day() != c.d {
			continue // 31 February
		}
		if dobWordRE.MatchString(s[:c.start]) {
			return c.text, true
		}
		age := now.Sub(t).Hours() / 24 / 365.25
		if age >= 4 && age <= 25 {
			return c.text, true
		}
	}
	return "", false
}

func monthNum(s string) int {
	s = strings.ToLower(s)
	for i, m := range []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if strings.HasPrefix(s, m) {
			return i + 1
		}
	}
	return 0
}

// subjectTokens returns the tokens of s that could be a case-system person
// id, normalised like subjects: each whitespace-separated word with its
// punctuation trimmed ("P-1234", "AB/12"), and every stretch of it from the
// start of a letter-and-digit run to the end of one, so an id glued to
// other text by punctuation ("ref:AB-1234/x") is found too; at least three
// characters, at most an id's length, distinct. Each maps to the text as
// typed.
func subjectTokens(s string) map[string]string {
	out := make(map[string]string)
	add := func(t string) {
		if len(t) >= 3 && len(t) <= maxSubjectLen {
			if n, err := NormalizeSubject(t); err == nil {
				if _, ok := out[n]; !ok {
					out[n] = t
				}
			}
		}
	}
	alnum := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	var starts, ends []int
	for _, w := range strings.Fields(s) {
		w = strings.Trim(w, `.,;:!?()[]{}"'<>`)
		add(w)
		starts, ends = starts[:0], ends[:0]
		for i := 0; i < len(w); i++ {
			if alnum(w[i]) && (i == 0 || !alnum(w[i-1])) {
				starts = append(starts, i)
			}
			if alnum(w[i]) && (i == len(w)-1 || !alnum(w[i+1])) {
				ends = append(ends, i+1)
			}
		}
		for _, i := range starts {
			for _, j := range ends {
				if j-i > maxSubjectLen {
					break
				}
				if j > i {
					add(w[i:j])
				}
			}
		}
	}
	return out
}

// personalDataError is the 422 for personal data in a thematic field. It
// names the offending text so the author can find and remove it.
func personalDataError(field string, p personalData) *ctxmap.Error {
	return ctxmap.Errorf(ctxmap.KindUnprocessable, "personal_data",
		"%s contains %q, which looks like %s; context records are thematic: describe the place, group or school, not a young person",
		field, Trunc(p.text, 60), p.what).WithDetail("field", field).WithDetail("text", Trunc(p.text, 60)).WithDetail("what", p.what)
}

// TextField is a free-text field to check for personal data.
type TextField struct{ Name, Text string }

// KnownSubjects reports which of the subject hashes belong to the writer's
// own team's young people (those the team has recorded or linked), never
// anyone else's: a refusal that depended on other teams' records would tell
// the writer that a named child is on record. The store answers it;
// declaring it here keeps the rule whole in the domain while the lookup
// stays in the adapter.
type KnownSubjects func(ctx context.Context, hashes [][]byte) ([][]byte, error)

// Thematic screens free text for personal data with the deployment's
// secret (to compare words with known subject ids by HMAC) and clock (to
// tell dates of birth from meeting dates).
type Thematic struct {
	Secret []byte
	Now    time.Time
	Known  KnownSubjects
}

// Check refuses personal data in a context's free text: emails, phone
// numbers, dates of birth, identifier-shaped numbers (five or more digits),
// and any word that is the id of one of the writer's own team's young people
// (compared by HMAC, so the id itself is never looked up in clear). The 422
// names the text so the author can find it. It reads the text in its
// screening form (NFKC, format characters dropped, every script's digits as
// ASCII), so full-width digits or a zero-width space cannot hide any of it.
//
// A known id is refused with exactly the wording and details of any
// identifier-shaped number, and only the writer's own team's young people
// are compared (which the writer may read anyway), so a refusal never tells
// anyone that another team has a young person with that id on record.
// Short ids of other teams' young people therefore pass: the alternative,
// refusing every id-shaped word, would refuse postcodes ("E8 3AA", "AB12")
// in place notes.
func (t Thematic) Check(ctx context.Context, fields ...TextField) error {
	screened := make([]TextField, len(fields))
	for i, f := range fields {
		screened[i] = TextField{f.Name, screeningForm(f.Text)}
	}
	fields = screened
	for _, f := range fields {
		if p, ok := findPersonalData(f.Text, t.Now); ok {
			return personalDataError(f.Name, p)
		}
	}
	h := NewSubjectHasher(t.Secret)
	var hashes [][]byte
	seen := make(map[[32]byte]bool)
	for _, f := range fields {
		for norm := range subjectTokens(f.Text) {
			sh := h.Hash(norm)
			if !seen[sh] {
				seen[sh] = true
				hashes = append(hashes, sh[:])
			}
		}
	}
	if len(hashes) == 0 {
		return nil
	}
	found, err := t.Known(ctx, hashes)
	if err != nil {
		return fmt.Errorf("check for subject ids: %w", err)
	}
	if len(found) == 0 {
		return nil
	}
	// Report the earliest in field order, so the answer is deterministic.
	hit := make(map[[32]byte]bool, len(found))
	for _, b := range found {
		var k [32]byte
		copy(k[:], b)
		hit[k] = true
	}
	for _, f := range fields {
		var best string
		bestAt := -1
		for norm, typed := range subjectTokens(f.Text) {
			if hit[h.Hash(norm)] {
				if at := strings.Index(f.Text, typed); bestAt < 0 || at < bestAt {
					best, bestAt = typed, at
				}
			}
		}
		if bestAt >= 0 {
			return personalDataError(f.Name, personalData{best, "a case or reference number"})
		}
	}
	return nil
}

// CheckFreeText refuses personal data in a link reason or archive note: the
// same checks as thematic notes, plus the young person's own id, which the
// request carries and which must only ever be stored as a keyed hash.
func (t Thematic) CheckFreeText(ctx context.Context, subject string, f TextField) error {
	if subject != "" && strings.Contains(strings.ToLower(screeningForm(f.Text)), strings.ToLower(screeningForm(subject))) {
		return ctxmap.Errorf(ctxmap.KindUnprocessable, "personal_data",
			"%s contains the young person's id; ids are stored only as keyed hashes, so leave it out", f.Name).
			WithDetail("field", f.Name).WithDetail("what", "the young person's id")
	}
	return t.Check(ctx, f)
}
