package tiles

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
)

var testNow = time.Date(2026, 4, 15, 10, 0, 0, 0, time.UTC)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in          string
		spec        string
		first, last string
		clamped     bool
	}{
		{"2026-03", "2026-03", "2026-03", "2026-03", false},
		{"2025-12", "2025-12", "2025-12", "2025-12", false},
		{"2026-Q1", "2026-Q1", "2026-01", "2026-03", false},
		{"2025-q4", "2025-Q4", "2025-10", "2025-12", false},
		{"2025", "2025", "2025-01", "2025-12", false},
		{"2026", "2026", "2026-01", "2026-03", true},
		{"last-3m", "last-3m", "2026-01", "2026-03", false},
		{"last-6m", "last-6m", "2025-10", "2026-03", false},
		{"last-12m", "last-12m", "2025-04", "2026-03", false},
		{"1900-01", "1900-01", "1900-01", "1900-01", false},
	}
	for _, tt := range tests {
		p, err := ParsePeriod(tt.in, testNow)
		if err != nil {
			t.Errorf("ParsePeriod(%q): %v", tt.in, err)
			continue
		}
		if p.Spec != tt.spec || p.First.String() != tt.first || p.Last.String() != tt.last || p.Clamped != tt.clamped {
			t.Errorf("ParsePeriod(%q) = %+v, want %s %s..%s clamped=%v", tt.in, p, tt.spec, tt.first, tt.last, tt.clamped)
		}
		if !p.From().Equal(p.First.Start()) || !p.To().Equal(p.Last.Add(1).Start()) || p.To().After(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("ParsePeriod(%q) range %v..%v", tt.in, p.From(), p.To())
		}
		if got := len(p.Months()); got != p.NumMonths() {
			t.Errorf("Months() has %d, NumMonths %d", got, p.NumMonths())
		}
	}
}

func TestParsePeriodRefused(t *testing.T) {
	tests := []struct{ in, code string }{
		{"", "period_unsupported"},
		{"2026-04", "period_incomplete"}, // current month
		{"2026-05", "period_incomplete"}, // future
		{"2026-Q2", "period_incomplete"}, // contains only the current month and future
		{"2027", "period_incomplete"},
		{"2025-13", "period_unsupported"},
		{"2025-00", "period_unsupported"},
		{"2025-Q0", "period_unsupported"},
		{"2025-Q5", "period_unsupported"},
		{"25-01", "period_unsupported"},
		{"2025-1", "period_unsupported"},
		{"2025-01-01", "period_unsupported"},
		{"2025-01..2025-03", "period_unsupported"},
		{"2025-01/2025-03", "period_unsupported"},
		{"last-7d", "period_unsupported"},
		{"last-1m", "period_unsupported"},
		{"last-24m", "period_unsupported"},
		{"LAST-3M", "period_unsupported"},
		{" 2025", "period_unsupported"},
		{"+2025", "period_unsupported"},
		{"1899", "period_unsupported"},
		{"２０２５", "period_unsupported"},
	}
	for _, tt := range tests {
		_, err := ParsePeriod(tt.in, testNow)
		var e *ctxmap.Error
		if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid || e.Code != tt.code {
			t.Errorf("ParsePeriod(%q) error = %v, want KindInvalid %s", tt.in, err, tt.code)
			continue
		}
		if tt.code == "period_unsupported" && tt.in != "" {
			if want := PeriodForms; !strings.Contains(e.Message, want) {
				t.Errorf("message %q does not list the accepted forms", e.Message)
			}
		}
	}
}

// In January no year-to-date or first quarter is complete yet.
func TestParsePeriodJanuary(t *testing.T) {
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026", "2026-Q1", "2026-01"} {
		if _, err := ParsePeriod(s, jan); err == nil {
			t.Errorf("ParsePeriod(%q) in January succeeded", s)
		}
	}
	p, err := ParsePeriod("last-3m", jan)
	if err != nil || p.First.String() != "2025-10" || p.Last.String() != "2025-12" {
		t.Errorf("last-3m in January = %+v, %v", p, err)
	}
	// now in another zone is read as UTC.
	p, err = ParsePeriod("last-3m", time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("BST", 3600)))
	if err != nil || p.Last.String() != "2025-11" {
		t.Errorf("last-3m at 2025-12-31T23:30Z = %+v, %v", p, err)
	}
}

func TestMonth(t *testing.T) {
	m, err := ParseMonth("2025-12")
	if err != nil || m.Add(1).String() != "2026-01" || m.Add(-12).String() != "2024-12" || !m.Before(m.Add(1)) {
		t.Fatalf("month arithmetic: %v %v", m, err)
	}
	p, _ := ParsePeriod("2025-Q4", testNow)
	var got []string
	for _, m := range p.Months() {
		got = append(got, m.String())
	}
	if len(got) != 3 || got[0] != "2025-10" || got[2] != "2025-12" {
		t.Fatalf("Months() = %v", got)
	}
	if _, err := ParseMonth("2025-13"); err == nil {
		t.Fatal("ParseMonth(2025-13) succeeded")
	}
}

// FuzzParsePeriod checks that whatever a client sends, the parser either
// refuses it with KindInvalid or returns whole, complete, past months
// (at most 12) whose canonical form parses to the same range.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2025-03", "2025-Q1", "2025", "last-3m", "last-6m", "last-12m", "2026", "2026-04", "", "2025-01-01", "last-7d", "9999-Q4"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, offsetDays int64) {
		now := testNow.Add(time.Duration(offsetDays%40000) * 24 * time.Hour)
		p, err := ParsePeriod(s, now)
		if err != nil {
			var e *ctxmap.Error
			if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid || len(e.Message) > 300 {
				t.Fatalf("ParsePeriod(%q): %v", s, err)
			}
			return
		}
		current := MonthOf(now)
		if p.Last.Before(p.First) || !p.Last.Before(current) || p.NumMonths() > 12 || p.NumMonths() < 1 {
			t.Fatalf("ParsePeriod(%q) at %v = %+v", s, now, p)
		}
		if p.From().Day() != 1 || p.To().Day() != 1 || p.From().Hour() != 0 {
			t.Fatalf("not whole months: %v..%v", p.From(), p.To())
		}
		q, err := ParsePeriod(p.Spec, now)
		if err != nil || q != p {
			t.Fatalf("canonical %q reparsed to %+v, %v; want %+v", p.Spec, q, err, p)
		}
	})
}

// FuzzParseTile checks that tile path segments are either refused with
// KindInvalid (a short message) or give an in-range tile whose decimal
// path parses back to the same tile, and that CheckTile agrees.
func FuzzParseTile(f *testing.F) {
	for _, s := range [][3]string{{"12", "2020", "1300"}, {"0", "0", "0"}, {"23", "0", "0"}, {"1", "-1", "0"},
		{"20", "1048575", "1048575"}, {"20", "1048576", "0"}, {"012", "0", "0"}, {"3", "07", "7"}, {"", "", ""},
		{"1e1", "0", "0"}, {"+1", "0", "0"}, {"14", "８１９２", "5448"}, {"99", "99999999", "999999999"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, z, x, y string) {
		tl, err := ParseTile(z, x, y)
		if err != nil {
			var e *ctxmap.Error
			if !errors.As(err, &e) || e.Kind != ctxmap.KindInvalid || len(e.Message) > 300 {
				t.Fatalf("ParseTile(%q, %q, %q): %v", z, x, y, err)
			}
			return
		}
		if tl.Z > MaxZoom || !tl.Valid() || CheckTile(tl) != nil {
			t.Fatalf("ParseTile(%q, %q, %q) = %v", z, x, y, tl)
		}
		back, err := ParseTile(strconv.Itoa(int(tl.Z)), strconv.Itoa(int(tl.X)), strconv.Itoa(int(tl.Y)))
		if err != nil || back != tl {
			t.Fatalf("ParseTile(%q, %q, %q) = %v, whose path parses to %v, %v", z, x, y, tl, back, err)
		}
	})
}

// FuzzParseMonth checks the month grammar under every period: a refusal,
// or a month whose String parses back to itself.
func FuzzParseMonth(f *testing.F) {
	for _, s := range []string{"2025-12", "2025-13", "0000-01", "9999-12", "2025-1", "2025-012", " 2025-01", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMonth(s)
		if err != nil {
			if ctxmap.KindOf(err) != ctxmap.KindInvalid {
				t.Fatalf("ParseMonth(%q): %v", s, err)
			}
			return
		}
		if back, err := ParseMonth(m.String()); err != nil || back != m || m.Start().Day() != 1 {
			t.Fatalf("ParseMonth(%q) = %v, reparsed %v, %v", s, m, back, err)
		}
	})
}

// knownCategories is a taxonomy of two codes and the extra-familial filter.
type knownCategories struct{}

func (knownCategories) Known(_ context.Context, code string) (bool, error) {
	return code == "cse" || code == "cce" || code == ctxmap.ExtraFamilial, nil
}

// FuzzCheckLayerCategory checks the layer and category filter every heat
// output takes: refused with KindInvalid, or a valid layer (the default
// for none) and either all categories or one the taxonomy knows.
func FuzzCheckLayerCategory(f *testing.F) {
	for _, s := range [][2]string{{"harm", "cse"}, {"", ""}, {"unsafe", "extra_familial"}, {"harm", "cse,cce"},
		{"harm", "!cse"}, {"HARM", "cse"}, {"harm", "CSE"}, {"harm", "*"}, {"both", ""}, {"harm", "cse\x00"}} {
		f.Add(s[0], s[1])
	}
	s := &Service{categories: knownCategories{}}
	f.Fuzz(func(t *testing.T, layer, category string) {
		l, c, err := s.checkLayerCategory(context.Background(), ctxmap.Layer(layer), category)
		if err != nil {
			if ctxmap.KindOf(err) != ctxmap.KindInvalid {
				t.Fatalf("(%q, %q): %v", layer, category, err)
			}
			return
		}
		if !l.Valid() || (layer != "" && string(l) != layer) || c != category {
			t.Fatalf("(%q, %q) accepted as (%q, %q)", layer, category, l, c)
		}
		if ok, _ := (knownCategories{}).Known(context.Background(), c); c != "" && !ok {
			t.Fatalf("unknown category %q accepted", c)
		}
	})
}

func TestPeriodPresetsAreAllAccepted(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
	} {
		presets := PeriodPresets(now)
		if len(presets) != 15 {
			t.Fatalf("%s: %d presets", now, len(presets))
		}
		for _, p := range presets {
			if _, err := ParsePeriod(p.Value, now); err != nil {
				t.Errorf("%s: preset %q refused: %v", now, p.Value, err)
			}
		}
	}
	got := PeriodPresets(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	if got[3].Value != "2026-Q3" || got[7].Value != "2026-10" || got[13].Value != "2025" {
		t.Errorf("unexpected presets: %v", got)
	}
}

// A remembered period is releasePeriod's answer for its release only: a
// newer release (or one with the same id but another data time or window)
// resolves the spec again; and refusals are never remembered (the clock
// may turn a refusal's reason from "incomplete" into "not released").
func TestPeriodMemo(t *testing.T) {
	rel := func(id int64, at time.Time) ReleaseInfo {
		return ReleaseInfo{ID: id, DataTime: at, Window: WindowAt(at, 36)}
	}
	march, april := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC), time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return april }
	var pm periodMemo
	check := func(spec string, r ReleaseInfo) {
		t.Helper()
		for i := range 2 { // the second answer comes from the memo
			got, err := pm.period(spec, r, clock)
			want, werr := releasePeriod(spec, r, clock())
			if got != want || (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
				t.Fatalf("%s in release %d (try %d): %+v %v, want %+v %v", spec, r.ID, i, got, err, want, werr)
			}
		}
	}
	r1 := rel(1, march)
	check("last-12m", r1)
	check("2026-03", r1) // not released in r1: complete by the clock
	check("2026-04", r1) // incomplete
	check("last-12m", rel(2, april))
	check("last-12m", rel(2, april.AddDate(0, 1, 0))) // same id, another data time
	check("last-12m", r1)                             // back to an older release
	if p, _ := pm.period("last-12m", rel(2, april), clock); p.Last != (Month{2026, 3}) {
		t.Fatalf("last-12m of April's release ends %s, want 2026-03", p.Last)
	}
}
