package contexts

import (
	"errors"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
)

func TestFindPersonalData(t *testing.T) {
	now := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ in, text, what string }{
		{"email a.b+c@council.gov.uk today", "a.b+c@council.gov.uk", "an email address"},
		{"ring 07700 900123", "07700 900123", "a phone number"},
		{"ring 07700-900-123.", "07700-900-123", "a phone number"},
		{"office (020) 7946 0018", "(020) 7946 0018", "a phone number"},
		{"+447700900123 is the number", "+447700900123", "a phone number"},
		{"0044 20 7946 0018", "0044 20 7946 0018", "a phone number"},
		{"dob 1/2/2003", "1/2/2003", "a date of birth"},
		{"DOB: 01/02/1990", "01/02/1990", "a date of birth"},
		{"born 2010-05-06", "2010-05-06", "a date of birth"},
		{"seen with a 12th March 2011 birthday card", "12th March 2011", "a date of birth"},
		{"March 3, 2012", "March 3, 2012", "a date of birth"},
		{"14.03.12 was mentioned", "14.03.12", "a date of birth"},
		{"crime ref 4455667", "4455667", "a case or reference number"},
	} {
		p, ok := findPersonalData(tc.in, now)
		if !ok || p.text != tc.text || p.what != tc.what {
			t.Errorf("%q: got %+v %v, want %q (%s)", tc.in, p, ok, tc.text, tc.what)
		}
	}
	for _, in := range []string{
		"Panel met on 12/03/2026 and 2026-02-01; next review 30 June 2026.",
		"The 38 and 242 buses stop here; CCTV installed in 2019.",
		"Opened 1 May 1891 as a public park.",
		"Lighting from 6pm to 11pm, 7 days a week, 12 lamps.",
	} {
		if p, ok := findPersonalData(in, now); ok {
			t.Errorf("%q flagged %+v", in, p)
		}
	}
	// 31 February is not a date.
	if _, ok := findDOB("dob 31/02/2010", now); ok {
		t.Error("31 February accepted as a date")
	}
}

func TestSubjectTokens(t *testing.T) {
	got := subjectTokens("Seen with P-1234 and (ab12), ref MOS/99; x ref:AB-77/1x #Q-123,")
	// Ids glued to other text by punctuation are found as well.
	for _, want := range []string{"P-1234", "1234", "AB12", "MOS/99", "MOS", "SEEN", "AB-77", "AB-77/1X", "REF:AB-77", "Q-123"} {
		if _, ok := got[want]; !ok {
			t.Errorf("token %q missing from %v", want, got)
		}
	}
	if _, ok := got["X"]; ok {
		t.Error("one-letter token kept")
	}
	if got["AB12"] != "ab12" {
		t.Errorf("typed form %q", got["AB12"])
	}
}

func TestDisplayName(t *testing.T) {
	lat, lon := 51.5432101, -0.0551234
	for _, tc := range []struct {
		ltype, name, pc string
		ll              bool
		want            string
	}{
		{"park", "", "E8 3AA", false, "Park, E8 3AA"},
		{"bus_stop", "", "N16 7UX", false, "Bus stop, N16 7UX"},
		{"shopping_centre", "Kingsland Shopping Centre", "E8 2LX", false, "Kingsland Shopping Centre, E8 2LX"},
		{"stairwell", "", "", true, "Stairwell / communal area near 51.54321, -0.05512"},
		{"", "Group around the March incident", "", false, "Group around the March incident"},
	} {
		var la, lo *float64
		if tc.ll {
			la, lo = &lat, &lon
		}
		if got := DisplayName(tc.ltype, tc.name, tc.pc, la, lo); got != tc.want {
			t.Errorf("DisplayName(%q, %q, %q) = %q, want %q", tc.ltype, tc.name, tc.pc, got, tc.want)
		}
	}
}

func TestParseOccurred(t *testing.T) {
	// 23:30 on 31 March UTC is already 1 April in London (BST).
	now := time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC)
	for _, tc := range []struct{ in, want, code string }{
		{"2026-04-01", "2026-04-01", ""},
		{"2026-04", "2026-04", ""},
		{"2026-04-02", "", "date_in_future"},
		{"2026-05", "", "date_in_future"},
		{"1999-12", "", "date_out_of_range"},
		{"2026-02-30", "", "invalid_date"},
		{"March 2026", "", "invalid_date"},
		{" ", "", "missing_field"},
	} {
		o, err := ParseOccurred(tc.in, now)
		if tc.code != "" {
			var e *ctxmap.Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Errorf("%q: got %v, want %s", tc.in, err, tc.code)
			}
			continue
		}
		if err != nil || o.String() != tc.want {
			t.Errorf("%q: %v %v", tc.in, o, err)
		}
	}
}

func FuzzFindPersonalData(f *testing.F) {
	for _, s := range []string{"ring 07700 900123", "dob 1/2/2003", "a@b.co", "+44 (0)20 7946 0018", "12th March 2011"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := findPersonalData(s, now)
		if ok && p.text == "" {
			t.Fatalf("empty match for %q", s)
		}
		subjectTokens(s)
	})
}

// FuzzParseOccurred checks a harm location's occurred date or month: a
// refusal is a 400 or a 422 naming the field, an accepted value lies in the
// window of what happened and its String parses back to itself.
func FuzzParseOccurred(f *testing.F) {
	for _, s := range []string{"2026-03-14", "2026-03", "0000-00", "9999-12-31", "0000-01-01", "1999-12-31", "2000-01-01",
		"2026-03-20", "2026-03-21", "2026-04", " 2026-02 ", "2026-02-30", "2026-3-1", "26-03-14", "２０２６-03-14", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOccurred(s, now)
		if err != nil {
			var e *ctxmap.Error
			if !errors.As(err, &e) || (e.Kind != ctxmap.KindInvalid && e.Kind != ctxmap.KindUnprocessable) || e.Details["field"] != "occurred" {
				t.Fatalf("ParseOccurred(%q): %v", s, err)
			}
			return
		}
		if o.Date.After(now) || o.Date.Before(earliestDate) {
			t.Fatalf("%q accepted as %v", s, o)
		}
		if back, err := ParseOccurred(o.String(), now); err != nil || back != o {
			t.Fatalf("%q -> %v, whose String parses to %v, %v", s, o, back, err)
		}
	})
}

// TestReservedCategoryCodes: the map's own filter words cannot become
// harm categories, or a filter would mean two things.
func TestReservedCategoryCodes(t *testing.T) {
	for _, code := range []string{"all", "extra_familial"} {
		if _, err := (CategoryInput{Code: code, Label: "Anything"}).Validate(); err == nil {
			t.Errorf("category code %q accepted", code)
		}
	}
	if _, err := (CategoryInput{Code: "all_online", Label: "Online"}).Validate(); err != nil {
		t.Errorf("all_online refused: %v", err)
	}
}
