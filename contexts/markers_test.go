package contexts

import (
	"errors"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
)

// errCode is an error's code, or "" for nil.
func errCode(err error) string {
	var e *ctxmap.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "not a ctxmap error"
	}
	return ""
}

func TestContextualRecordInputs(t *testing.T) {
	today := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"a good marker", func() error {
			_, err := (MarkerInput{Subject: "yp-1", Kind: "Referral", Familial: "extra", Date: "2026-03-01"}).Validate(today)
			return err
		}(), ""},
		{"marker kind", func() error {
			_, err := (MarkerInput{Subject: "yp-1", Kind: "flag", Familial: "extra", Date: "2026-03-01"}).Validate(today)
			return err
		}(), "invalid_marker_kind"},
		{"marker value", func() error {
			_, err := (MarkerInput{Subject: "yp-1", Kind: "outcome", Familial: "unknown", Date: "2026-03-01"}).Validate(today)
			return err
		}(), "invalid_marker_value"},
		{"marker date missing", func() error {
			_, err := (MarkerInput{Subject: "yp-1", Kind: "outcome", Familial: "none"}).Validate(today)
			return err
		}(), "missing_field"},
		{"marker in the future", func() error {
			_, err := (MarkerInput{Subject: "yp-1", Kind: "outcome", Familial: "none", Date: "2026-03-21"}).Validate(today)
			return err
		}(), "date_in_future"},
		{"marker subject", func() error {
			_, err := (MarkerInput{Subject: "yp 1", Kind: "outcome", Familial: "none", Date: "2026-03-01"}).Validate(today)
			return err
		}(), "subject_invalid"},
		{"correction needs a reason", func() error {
			_, _, err := (MarkerCorrection{Familial: "both", Date: "2026-03-01"}).Validate(today)
			return err
		}(), "missing_field"},
		{"relocation kind", func() error {
			_, err := (RelocationInput{Subject: "yp-1", Date: "2026-03-01", Kind: "abroad"}).Validate(today)
			return err
		}(), "invalid_relocation_kind"},
		{"a good relocation", func() error {
			_, err := (RelocationInput{Subject: "yp-1", Date: "2026-03-01", Kind: "secure"}).Validate(today)
			return err
		}(), ""},
		{"factor by context", func() error {
			_, err := (FactorInput{Subject: "yp-1", IdentifiedOn: "2026-03-01", Description: "x", ContextID: 4}).Validate(today)
			return err
		}(), ""},
		{"factor by district", func() error {
			_, err := (FactorInput{Subject: "yp-1", IdentifiedOn: "2026-03-01", Description: "x", LocationType: "park", AreaKind: "postcode_district", Area: "n16"}).Validate(today)
			return err
		}(), ""},
		{"factor by a sector", func() error {
			_, err := (FactorInput{Subject: "yp-1", IdentifiedOn: "2026-03-01", Description: "x", LocationType: "park", AreaKind: "postcode_district", Area: "N16 7"}).Validate(today)
			return err
		}(), "area_not_district"},
		{"factor without a type", func() error {
			_, err := (FactorInput{Subject: "yp-1", IdentifiedOn: "2026-03-01", Description: "x", AreaKind: "ward", Area: "Dalston"}).Validate(today)
			return err
		}(), "missing_field"},
		{"factor twice placed", func() error {
			_, err := (FactorInput{Subject: "yp-1", IdentifiedOn: "2026-03-01", Description: "x", ContextID: 4, Area: "E8"}).Validate(today)
			return err
		}(), "factor_place_twice"},
		{"factor nowhere", func() error {
			_, err := (FactorInput{Subject: "yp-1", IdentifiedOn: "2026-03-01", Description: "x"}).Validate(today)
			return err
		}(), "factor_place_missing"},
		{"factor without a description", func() error {
			_, err := (FactorInput{Subject: "yp-1", IdentifiedOn: "2026-03-01", ContextID: 4}).Validate(today)
			return err
		}(), "missing_field"},
		{"action agency", func() error {
			f, err := NewFactorAction(FactorActionInput{Action: "x", PartnerAgency: "army"})
			if err == nil {
				err = f.Check(today)
			}
			return err
		}(), "invalid_partner_agency"},
		{"action blank status", func() error {
			_, err := NewFactorAction(FactorActionInput{Action: "x", PartnerAgency: "police", Status: new(string)})
			return err
		}(), "invalid_status"},
		{"action due too far ahead", func() error {
			f, err := NewFactorAction(FactorActionInput{Action: "x", PartnerAgency: "police", DueDate: "2040-01-01"})
			if err == nil {
				err = f.Check(today)
			}
			return err
		}(), "date_out_of_range"},
	} {
		if got := errCode(tc.err); got != tc.code {
			t.Errorf("%s: %v (code %q), want %q", tc.name, tc.err, got, tc.code)
		}
	}

	f, _ := (FactorInput{Subject: "yp-1", IdentifiedOn: "2026-03-01", Description: "x", LocationType: "PARK", AreaKind: "postcode_district", Area: " e8 "}).Validate(today)
	if f.Area != "E8" || f.LocationType != "park" {
		t.Errorf("normalised: %+v", f)
	}
	done := InterventionDone
	a, _ := NewFactorAction(FactorActionInput{Action: "x", PartnerAgency: "police", Status: &done})
	if err := a.Check(today); err != nil || a.Done == nil || !a.Done.Equal(today) {
		t.Errorf("a done action without a date gets today: %+v %v", a, err)
	}
	for _, c := range []struct {
		statuses []string
		want     bool
	}{{nil, false}, {[]string{"dropped"}, false}, {[]string{"dropped", "planned"}, true}, {[]string{"done"}, true}} {
		if got := FactorAddressed(c.statuses); got != c.want {
			t.Errorf("FactorAddressed(%v) = %v", c.statuses, got)
		}
	}
	if !MarkExtraFamilial("both") || !MarkExtraFamilial("extra") || MarkExtraFamilial("intra") || MarkExtraFamilial("none") {
		t.Error("extra-familial markers are extra and both")
	}
}
