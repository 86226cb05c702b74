package contexts

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Fuzz targets for the domain's own parsers (issue 11): the date window
// and the bulk import's CSV rows. Their seeds run in every go test.

// FuzzOptionalDate checks the planned and past dates of interventions and
// review dates: a date is refused with 400 invalid_date, accepted as the
// very date typed (its canonical form, trimmed), and then either inside
// the rule's window on today or refused with a 422 naming the field.
func FuzzOptionalDate(f *testing.F) {
	for _, s := range []string{"2026-06-30", "", "  ", "0000-01-01", "9999-12-31", "1999-12-31", "2000-01-01", "2031-03-20",
		"2031-03-21", "2026-02-29", "2024-02-29", "2026-6-30", "2026-06-30T00:00:00Z", " 2026-06-30 "} {
		f.Add(s, false)
		f.Add(s, true)
	}
	today := UKDay(time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC))
	f.Fuzz(func(t *testing.T, s string, plannedDate bool) {
		d, err := parseOptionalDate("due_date", s)
		if err != nil {
			var e *ctxmap.Error
			if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid || e.Code != "invalid_date" || e.Details["field"] != "due_date" {
				t.Fatalf("parseOptionalDate(%q): %v", s, err)
			}
			return
		}
		if d == nil {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("%q read as no date", s)
			}
			return
		}
		if d.Format(time.DateOnly) != strings.TrimSpace(s) {
			t.Fatalf("%q read as %s", s, d.Format(time.DateOnly))
		}
		rule := happened
		if plannedDate {
			rule = planned
		}
		err = checkOptionalDate("due_date", d, rule, today)
		inside := !d.Before(earliestDate) && !d.After(rule.latest(today))
		if inside != (err == nil) {
			t.Fatalf("%q (planned %v): inside the window %v, but the check says %v", s, plannedDate, inside, err)
		}
		if err != nil && ctxmap.KindOf(err) != ctxmap.KindUnprocessable {
			t.Fatalf("%q outside the window: %v is not a 422", s, err)
		}
	})
}

// importHeader is the bulk import's full header, as the operator's guide
// gives it.
const importHeader = "subject,categories,familial,layer,occurred,source,location_type,postcode,lat,lon,context_id\n"

// FuzzParseHarmCSV checks the bulk import's CSV reading: a bad header is a
// 400 (never an internal error); otherwise every row is either in Rows,
// valid, or in Errors with its line and a code, and Rows hold only what a
// single create would accept (known current categories each once, a date in
// the window, a normalised postcode or UK coordinates).
func FuzzParseHarmCSV(f *testing.F) {
	rows := []string{
		"P-1,cse,extra,harm,2026-02-01,referral,park,E8 3AA,,,1\n",
		"P-2,cse;cce,extra,unsafe,2026-02,referral,park,e83ab,,,\n",
		"P-3,burglary,extra,harm,2026-02-01,referral,park,E8 3AB,,,\n",
		"P-4,\"cse,cce\",extra,harm,2026-02-01,referral,park,,51.5,-0.1,\n",
		"P-5,cse,extra,harm,2027-01-01,referral,park,,51.5,-0.1,\n",
		"P-6,cse,extra,harm,2026-02-01,referral,park,,40.7,-74.0,\n",
		"P-7,cse|cse,extra,harm,2026-02-01,referral,park,E8 3AB,,,999\n",
		"P-8,cse,extra,harm,2026-02-01,referral,park\n",
		"P-9,old,both-ish,harm,0000-01-01,referral,park,E8 3AB,51.5,,\n",
		"\"P-10,cse\n",
		"   \n",
	}
	f.Add(importHeader, strings.Join(rows, ""))
	for _, r := range rows {
		f.Add(importHeader, r)
	}
	f.Add("\ufeffSubject, Categories,familial,layer,occurred,source,location_type,lat,lon\n", "P-1,cse,extra,harm,2026-02-01,referral,park,51.5,-0.1\n")
	f.Add("subject,subject,categories\n", "")
	f.Add("", "")
	f.Add("\"", "")
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	tax := NewTaxonomy(1, []Category{{Code: "cse", Label: "CSE", ExtraFamilial: true}, {Code: "cce", Label: "CCE", ExtraFamilial: true},
		{Code: "old", Label: "Old", Retired: true, RetiredVersion: 1}})
	f.Fuzz(func(t *testing.T, header, body string) {
		b, err := ParseHarmCSV(strings.NewReader(header+body), tax, now)
		if err != nil {
			if k := ctxmap.KindOf(err); k != ctxmap.KindInvalid && k != ctxmap.KindTooLarge {
				t.Fatalf("header %q: %v is not a user's error", header, err)
			}
			return
		}
		for _, e := range b.Errors {
			if e.Line < 1 || e.Code == "" || e.Message == "" {
				t.Fatalf("row error %+v", e)
			}
		}
		if b.ParseBad > len(b.Errors) {
			t.Fatalf("%d bad rows, %d errors", b.ParseBad, len(b.Errors))
		}
		last := int32(0)
		for _, r := range b.Rows {
			if r.Line <= last {
				t.Fatalf("row lines out of order: %d after %d", r.Line, last)
			}
			last = r.Line
			cats := b.CategorySets[r.Categories]
			if len(cats) == 0 {
				t.Fatalf("line %d: no categories", r.Line)
			}
			for i, c := range cats {
				cat, ok := tax.category(c)
				if !ok || cat.Retired || slices.Contains(cats[:i], c) {
					t.Fatalf("line %d: categories %v", r.Line, cats)
				}
			}
			if o := b.Dates[r.Occurred]; o.Date.Before(earliestDate) || o.Date.After(now) {
				t.Fatalf("line %d: occurred %v", r.Line, o)
			}
			if b.Subjects[r.Subject] == "" {
				t.Fatalf("line %d: empty subject", r.Line)
			}
			if r.Postcode >= 0 {
				pc := b.Postcodes[r.Postcode]
				if p, err := geo.ParsePostcode(pc); err != nil || p.String() != pc {
					t.Fatalf("line %d: postcode %q not normalised", r.Line, pc)
				}
			} else if !geo.InUK(r.Lat, r.Lon) {
				t.Fatalf("line %d: %v, %v outside the UK", r.Line, r.Lat, r.Lon)
			}
		}
	})
}

// FuzzParseAllocationsCSV: the allocations feed (issue 15) is a file from
// another system; whatever it holds, parsing answers allocations or a 4xx,
// and checking them answers clean lines or row errors, never a panic.
func FuzzParseAllocationsCSV(f *testing.F) {
	f.Add("subject,team\nYP-1,Hackney North\nYP-2,Hackney South\n")
	f.Add("\ufeffTeam,Person,Subject\nHackney North,x,YP-1\n")
	f.Add("subject\nYP-1\n")
	f.Add("subject,team\n\"YP-1,Hackney\n")
	f.Add("subject,team\n,\n yp 1 ,\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		rows, err := ParseAllocationsCSV(strings.NewReader(body))
		if err != nil {
			if ctxmap.KindOf(err) == ctxmap.KindInternal {
				t.Fatalf("an unclassified error: %v", err)
			}
			return
		}
		clean, errs := CheckAllocations(rows)
		for _, a := range clean {
			if _, err := NormalizeSubject(a.Subject); err != nil || strings.TrimSpace(a.Team) != a.Team || a.Team == "" {
				t.Fatalf("a bad allocation passed: %+v", a)
			}
		}
		if len(clean)+len(errs) > len(rows) && len(errs) < MaxReportedErrors {
			t.Fatalf("%d clean + %d errors from %d rows", len(clean), len(errs), len(rows))
		}
	})
}
