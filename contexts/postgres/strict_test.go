package postgres

import (
	"context"
	"testing"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// TestStrictInputWritesNothing is issue 11 findings 6 and 8 against PostGIS:
// dates outside the window, enums given empty, repeated categories and free
// text that hides personal data behind full-width digits, zero-width spaces
// or bidi controls are each refused with a stable code, and nothing is
// written (a screening refusal only audits itself).
func TestStrictInputWritesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	iv := must[*contexts.Intervention](t)(s.AddIntervention(ctx, f.lead, park.ID, contexts.InterventionInput{Action: "Lighting", PartnerAgency: "parks", Side: "environment"}))
	harm := func(mod func(*contexts.HarmLocationInput)) func() error {
		return func() error {
			in := harmInput("P2001")
			mod(&in)
			_, err := s.CreateHarmLocation(ctx, f.pracA, in)
			return err
		}
	}
	add := func(in contexts.InterventionInput) func() error {
		return func() error {
			in.Action, in.PartnerAgency, in.Side = "Detached youth work", "youth_services", "guardianship"
			_, err := s.AddIntervention(ctx, f.lead, park.ID, in)
			return err
		}
	}
	update := func(in contexts.InterventionUpdate) func() error {
		return func() error {
			_, err := s.UpdateIntervention(ctx, f.lead, park.ID, iv.ID, in)
			return err
		}
	}
	note := func(text string) func() error {
		return func() error {
			_, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "needs", Note: text})
			return err
		}
	}
	const (
		invalid = ctxmap.KindInvalid
		unproc  = ctxmap.KindUnprocessable
	)
	f.wantRefused(t, []refusal{
		{"intervention due 0000-01-01", unproc, "date_out_of_range", add(contexts.InterventionInput{DueDate: "0000-01-01"})},
		{"intervention due 9999-12-31", unproc, "date_out_of_range", add(contexts.InterventionInput{DueDate: "9999-12-31"})},
		{"intervention done 0000-01-01", unproc, "date_out_of_range", add(contexts.InterventionInput{Status: ptr("done"), DoneDate: "0000-01-01"})},
		{"intervention done 9999-12-31", unproc, "date_in_future", add(contexts.InterventionInput{Status: ptr("done"), DoneDate: "9999-12-31"})},
		{"intervention status empty", invalid, "invalid_status", add(contexts.InterventionInput{Status: ptr("")})},
		{"update due 9999-12-31", unproc, "date_out_of_range", update(contexts.InterventionUpdate{DueDate: ptr("9999-12-31")})},
		{"update status empty", invalid, "invalid_status", update(contexts.InterventionUpdate{Status: ptr("")})},
		{"update agency empty", invalid, "invalid_partner_agency", update(contexts.InterventionUpdate{PartnerAgency: ptr("")})},
		{"update side empty", invalid, "invalid_side", update(contexts.InterventionUpdate{Side: ptr(" ")})},
		{"context review 9999-12-31", unproc, "date_out_of_range", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "Group near the station", ReviewDate: "9999-12-31"})
			return err
		}},
		{"context update review 0000-01-01", unproc, "date_out_of_range", func() error {
			_, err := s.UpdateContext(ctx, f.lead, park.ID, contexts.ContextUpdate{ReviewDate: ptr("0000-01-01")})
			return err
		}},
		{"harm occurred 0000-01", unproc, "date_out_of_range", harm(func(in *contexts.HarmLocationInput) { in.Occurred = "0000-01" })},
		{"harm occurred 9999-12-31", unproc, "date_in_future", harm(func(in *contexts.HarmLocationInput) { in.Occurred = "9999-12-31" })},
		{"harm categories repeated", invalid, "duplicate_category", harm(func(in *contexts.HarmLocationInput) { in.Categories = []string{"cse", "cse"} })},
		{"harm categories repeated in another case", invalid, "duplicate_category", harm(func(in *contexts.HarmLocationInput) { in.Categories = []string{"cse", "CSE "} })},
		{"note with full-width phone", unproc, "personal_data", note("Call ０７７００ ９００１２３ after 6pm")},
		{"note with full-width reference", unproc, "personal_data", note("Mosaic ref １２３４５６７ mentions the park")},
		{"note with zero-width spaces in a phone", invalid, "invisible_character", note("Call 0770\u200b0 900\u200b123 after 6pm")},
		{"note with a bidi override", invalid, "invisible_character", note("ref \u202e7654321\u202c")},
		{"note with NUL", invalid, "control_character", note("lamp\x00post")},
		{"context name with a zero-width joiner", invalid, "invisible_character", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "Group\u200d 07700"})
			return err
		}},
		{"link reason with the id in full-width", unproc, "personal_data", func() error {
			_, err := s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "AB12", Reason: "ＡＢ１２ seen here"})
			return err
		}},
	})

	// What is stored is the normalised text.
	c := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "group", Name: "Ｇｒｏｕｐ ａｔ ｔｈｅ ﬁelds", Description: "Meets after ３pm"}))
	if c.Name != "Group at the fields" || c.Description != "Meets after 3pm" {
		t.Fatalf("stored %q / %q, want the NFKC form", c.Name, c.Description)
	}
}
