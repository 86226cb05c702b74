package contexts

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ctxmap/ctxmap"
)

// Issue 11, findings 6 and 8: loose input and screening that read ASCII only.

// wantErr fails unless err is a *ctxmap.Error of kind and code.
func wantErr(t *testing.T, name string, err error, kind ctxmap.Kind, code string) *ctxmap.Error {
	t.Helper()
	var e *ctxmap.Error
	if !errors.As(err, &e) || e.Kind != kind || e.Code != code {
		t.Errorf("%s: got %v, want %s (kind %d)", name, err, code, kind)
		return nil
	}
	return e
}

func TestDateWindow(t *testing.T) {
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	today := UKDay(now)
	intervention := func(status, due, done string) error {
		f, err := NewIntervention(InterventionInput{Action: "Lighting", PartnerAgency: "parks", Side: "environment",
			Status: &status, DueDate: due, DoneDate: done})
		if err != nil {
			return err
		}
		return f.Check(KindLocation, today)
	}
	review := func(d string) error {
		in := ContextInput{Kind: KindGroup, Name: "Group", ReviewDate: d}
		_, err := in.Validate(now)
		return err
	}
	reviewUpdate := func(d string) error {
		_, err := ContextUpdate{ReviewDate: &d}.Validate(now)
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"due 0000-01-01", intervention("planned", "0000-01-01", ""), "date_out_of_range"},
		{"due 9999-12-31", intervention("planned", "9999-12-31", ""), "date_out_of_range"},
		{"due 1999-12-31", intervention("planned", "1999-12-31", ""), "date_out_of_range"},
		{"due 5 years and a day ahead", intervention("planned", "2031-03-21", ""), "date_out_of_range"},
		{"done 0000-01-01", intervention("done", "", "0000-01-01"), "date_out_of_range"},
		{"done 9999-12-31", intervention("done", "", "9999-12-31"), "date_in_future"},
		{"done tomorrow", intervention("done", "", "2026-03-21"), "date_in_future"},
		{"review 0000-01-01", review("0000-01-01"), "date_out_of_range"},
		{"review 9999-12-31", review("9999-12-31"), "date_out_of_range"},
		{"review update 9999-12-31", reviewUpdate("9999-12-31"), "date_out_of_range"},
		{"review update 0001-01-01", reviewUpdate("0001-01-01"), "date_out_of_range"},
	} {
		e := wantErr(t, tc.name, tc.err, ctxmap.KindUnprocessable, tc.code)
		if e != nil && !strings.Contains(e.Message, "2000-01-01") {
			t.Errorf("%s: the message does not state the window: %s", tc.name, e.Message)
		}
	}
	for name, err := range map[string]error{
		"due 5 years ahead":    intervention("planned", "2031-03-20", ""),
		"due 2000-01-01":       intervention("planned", "2000-01-01", ""),
		"done today":           intervention("done", "", "2026-03-20"),
		"review 5 years ahead": review("2031-03-20"),
		"review last year":     review("2025-03-20"),
		"review cleared":       reviewUpdate(""),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, s := range []string{"0000-01", "0000-01-01", "9999-12-31", "9999-12"} {
		_, err := ParseOccurred(s, now)
		wantErr(t, "occurred "+s, err, ctxmap.KindUnprocessable, map[bool]string{true: "date_out_of_range", false: "date_in_future"}[s[0] == '0'])
	}
}

func TestEmptyEnumsAreRefused(t *testing.T) {
	empty := ""
	_, err := NewIntervention(InterventionInput{Action: "x", PartnerAgency: "police", Side: "needs", Status: &empty})
	if e := wantErr(t, "status \"\"", err, ctxmap.KindInvalid, "invalid_status"); e != nil && e.Details["field"] != "status" {
		t.Errorf("field %v", e.Details["field"])
	}
	blank := "  "
	_, err = NewIntervention(InterventionInput{Action: "x", PartnerAgency: "police", Side: "needs", Status: &blank})
	wantErr(t, "status blank", err, ctxmap.KindInvalid, "invalid_status")
	// Left out, the status is planned.
	f, err := NewIntervention(InterventionInput{Action: "x", PartnerAgency: "police", Side: "needs"})
	if err != nil || f.Status != InterventionPlanned {
		t.Fatalf("no status: %+v %v", f, err)
	}
	for _, tc := range []struct {
		in   InterventionUpdate
		code string
	}{
		{InterventionUpdate{Status: &empty}, "invalid_status"},
		{InterventionUpdate{PartnerAgency: &empty}, "invalid_partner_agency"},
		{InterventionUpdate{Side: &blank}, "invalid_side"},
	} {
		f := InterventionFields{Action: "x", Agency: "police", Side: "needs", Status: InterventionPlanned}
		wantErr(t, tc.code, f.Apply(tc.in), ctxmap.KindInvalid, tc.code)
	}
	// Every other controlled list is required, so empty is missing.
	tax := NewTaxonomy(1, []Category{{Code: "cse", Label: "CSE"}})
	for _, mod := range []func(*HarmLocationInput){
		func(in *HarmLocationInput) { in.Familial = "" },
		func(in *HarmLocationInput) { in.Layer = "" },
		func(in *HarmLocationInput) { in.Source = " " },
		func(in *HarmLocationInput) { in.LocationType = "" },
	} {
		in := HarmLocationInput{Subject: "P1", Categories: []string{"cse"}, Familial: "extra", Layer: "harm",
			Occurred: "2026-02-01", Source: "referral", LocationType: "park", Postcode: "E8 3AA"}
		mod(&in)
		_, err := in.Validate(tax, time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC))
		wantErr(t, "harm enum", err, ctxmap.KindInvalid, "missing_field")
	}
	_, err = ArchiveInput{Reason: "", Note: "x"}.Validate()
	wantErr(t, "archive reason", err, ctxmap.KindInvalid, "missing_field")
	_, err = CheckSide("side", KindLocation, "")
	wantErr(t, "side", err, ctxmap.KindInvalid, "missing_field")
}

func TestRepeatedCategoriesAreRefused(t *testing.T) {
	tax := NewTaxonomy(1, []Category{{Code: "cse", Label: "CSE"}, {Code: "cce", Label: "CCE"}})
	for _, cats := range [][]string{{"cse", "cse"}, {"cse", "cce", " CSE "}} {
		_, err := checkCategories(tax, cats)
		if e := wantErr(t, strings.Join(cats, ","), err, ctxmap.KindInvalid, "duplicate_category"); e != nil && e.Details["category"] != "cse" {
			t.Errorf("details %v", e.Details)
		}
	}
	got, err := checkCategories(tax, []string{"CSE", "cce"})
	if err != nil || strings.Join(got, ",") != "cse,cce" {
		t.Fatalf("%v %v", got, err)
	}
}

func TestCheckTextNormalisesAndRefusesInvisibleCharacters(t *testing.T) {
	got, err := CheckText("note", "  Ｐａｒｋ ｇａｔｅｓ ﬁxed  ", 100, true)
	if err != nil || got != "Park gates fixed" {
		t.Fatalf("NFKC: %q %v", got, err)
	}
	for _, tc := range []struct{ name, in, code, char string }{
		{"zero-width space", "ring 0770\u200b0 900\u200b123", "invisible_character", "U+200B"},
		{"zero-width joiner", "a\u200db", "invisible_character", "U+200D"},
		{"bidi override", "ref \u202e3210987\u202c", "invisible_character", "U+202E"},
		{"soft hyphen", "07700\u00ad900123", "invisible_character", "U+00AD"},
		{"byte order mark", "\ufeffnote", "invisible_character", "U+FEFF"},
		{"NUL", "a\x00b", "control_character", "U+0000"},
		{"escape", "a\x1b[31mb", "control_character", "U+001B"},
	} {
		_, err := CheckText("note", tc.in, 100, true)
		if e := wantErr(t, tc.name, err, ctxmap.KindInvalid, tc.code); e != nil && e.Details["character"] != tc.char {
			t.Errorf("%s: character %v, want %s", tc.name, e.Details["character"], tc.char)
		}
	}
	if _, err := CheckText("note", "Lighting\nfrom 6pm\tto 11pm\r\n", 100, true); err != nil {
		t.Errorf("line breaks and tabs refused: %v", err)
	}
	_, err = CheckText("note", "bad \xff byte", 100, true)
	wantErr(t, "invalid UTF-8", err, ctxmap.KindInvalid, "invalid_text")
	// The limit counts the normalised text: one ligature is two letters.
	if _, err := CheckText("note", strings.Repeat("ﬁ", 3), 5, true); err == nil {
		t.Error("the limit counted the text before normalisation")
	}
}

func TestScreeningReadsTheNormalisedText(t *testing.T) {
	th := Thematic{Secret: []byte(strings.Repeat("s", 32)), Now: time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC),
		Known: func(context.Context, [][]byte) ([][]byte, error) { return nil, nil }}
	ctx := context.Background()
	for _, tc := range []struct{ name, in, what string }{
		{"full-width phone", "ring ０７７００ ９００１２３ after 6", "a phone number"},
		{"full-width date of birth", "dob １/２/２０１２", "a date of birth"},
		{"full-width reference", "crime ref ４４５５６６７", "a case or reference number"},
		{"zero-width spaces in a phone", "ring 0770\u200b0 90\u200c01\u200d23", "a phone number"},
		{"bidi override inside a number", "ref 44\u202e76655\u202c", "a case or reference number"},
		{"Arabic-Indic digits", "ring ٠٧٧٠٠ ٩٠٠١٢٣", "a phone number"},
		{"Devanagari digits", "ref ४४५५६६७", "a case or reference number"},
	} {
		err := th.Check(ctx, TextField{Name: "note", Text: tc.in})
		if e := wantErr(t, tc.name, err, ctxmap.KindUnprocessable, "personal_data"); e != nil && e.Details["what"] != tc.what {
			t.Errorf("%s: found %v, want %s", tc.name, e.Details["what"], tc.what)
		}
	}
	// The young person's own id, typed in full-width, in a link reason.
	err := th.CheckFreeText(ctx, "AB12", TextField{Name: "reason", Text: "seen with ＡＢ１２ at the park"})
	wantErr(t, "full-width own id", err, ctxmap.KindUnprocessable, "personal_data")
	// Unicode dashes and Cyrillic or Greek look-alike letters read as the
	// Latin id (insider review 2, F5).
	for _, typed := range []string{"YJT‐K1", "YJT–K1", "YJТ-K1", "ΥJT-K1"} {
		err := th.CheckFreeText(ctx, "YJT-K1", TextField{Name: "reason", Text: "seen with " + typed + " at the park"})
		wantErr(t, "look-alike "+typed, err, ctxmap.KindUnprocessable, "personal_data")
	}
	if err := th.Check(ctx, TextField{Name: "note", Text: "Ｔｈｅ ３８ bus stops here"}); err != nil {
		t.Errorf("harmless full-width text refused: %v", err)
	}
}

func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"Park gates", "０７７００ ９００１２３", "a\u200bb", "\u202eabc", "ﬁ", "a\x00b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CheckText("note", s, MaxNote, false)
		if err != nil {
			if ctxmap.KindOf(err) == ctxmap.KindInternal {
				t.Fatalf("%q: %v is not a user's error", s, err)
			}
			return
		}
		if !utf8.ValidString(got) || !norm.NFKC.IsNormalString(got) {
			t.Fatalf("%q accepted as %q, not valid NFKC", s, got)
		}
		for _, r := range got {
			if unicode.Is(unicode.Cf, r) {
				t.Fatalf("%q accepted with U+%04X", s, r)
			}
		}
		screeningForm(s)
	})
}
