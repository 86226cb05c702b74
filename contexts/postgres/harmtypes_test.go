package postgres

import (
	"context"
	"slices"
	"testing"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// typesOf is a record's types as category -> status.
func typesOf(h *contexts.HarmLocation) map[string]string {
	out := map[string]string{}
	for _, t := range h.Types {
		if t.Status == contexts.TypeActive || out[t.Category] == "" {
			out[t.Category] = t.Status
		}
	}
	return out
}

func events(h *contexts.HarmLocation) []string {
	var out []string
	for _, e := range h.History {
		out = append(out, e.Event+":"+e.Category)
	}
	return out
}

// TestHarmTypesArchiveOneAtATime: a record with three types loses one to
// "never an issue" and keeps two active, with the archived one's reason,
// note, who and when; archiving the last one archives the record; the whole
// record's archive ends every type; each change is audited with the old and
// new categories.
func TestHarmTypesArchiveOneAtATime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := harmInput("YP-TYPES")
	in.Categories = []string{"cce", "county_lines", "serious_youth_violence"}
	h := must[*contexts.HarmLocation](t)(f.store.CreateHarmLocation(ctx, f.pracA, in))
	if len(h.Types) != 3 || h.Types[0].Started != "2026-02-14" || h.Types[0].AddedBy != "alice" || !slices.Equal(events(h), []string{"recorded:"}) {
		t.Fatalf("a new record's types %+v history %v", h.Types, events(h))
	}
	before := f.counts(t)
	h = must[*contexts.HarmLocation](t)(f.store.ArchiveHarmType(ctx, f.pracA2, h.ID, "county_lines",
		contexts.ArchiveInput{Reason: "never_an_issue", Note: "No county lines concern at review"}))
	detail := f.wantAudited(t, before, f.counts(t), "harm_location.type_archive")
	if detail["category"] != "county_lines" || len(detail["old"].([]any)) != 3 || len(detail["new"].([]any)) != 2 {
		t.Errorf("audit detail %v", detail)
	}
	if h.Archived != nil || !slices.Equal(h.Categories, []string{"cce", "serious_youth_violence"}) {
		t.Fatalf("after archiving one type: archived %v categories %v", h.Archived, h.Categories)
	}
	if got := typesOf(h); got["county_lines"] != "archived" || got["cce"] != "active" || got["serious_youth_violence"] != "active" {
		t.Fatalf("types %v", got)
	}
	for _, ty := range h.Types {
		if ty.Category == "county_lines" && (ty.Ended == nil || ty.Ended.Reason != "never_an_issue" || ty.Ended.By != "amir" || ty.Ended.Note == "") {
			t.Errorf("archived type %+v", ty)
		}
	}
	if !slices.Equal(events(h), []string{"recorded:", "type_archived:county_lines"}) {
		t.Errorf("history %v", events(h))
	}
	// The list the team reads says the same.
	list := must[[]contexts.HarmLocation](t)(f.store.SubjectHarmLocations(ctx, f.pracA, "YP-TYPES", forAssessment))
	if len(list) != 1 || typesOf(&list[0])["county_lines"] != "archived" || len(list[0].History) != 2 {
		t.Fatalf("listed %+v", list)
	}

	f.wantRefused(t, []refusal{
		{"archive it again", ctxmap.KindUnprocessable, "type_not_active", func() error {
			_, err := f.store.ArchiveHarmType(ctx, f.pracA, h.ID, "county_lines", contexts.ArchiveInput{Reason: "never_an_issue", Note: "x"})
			return err
		}},
		{"a type it never had", ctxmap.KindUnprocessable, "type_not_active", func() error {
			_, err := f.store.ArchiveHarmType(ctx, f.pracA, h.ID, "cse", contexts.ArchiveInput{Reason: "never_an_issue", Note: "x"})
			return err
		}},
		{"no reason", ctxmap.KindInvalid, "missing_field", func() error {
			_, err := f.store.ArchiveHarmType(ctx, f.pracA, h.ID, "cce", contexts.ArchiveInput{Note: "x"})
			return err
		}},
		{"no note", ctxmap.KindInvalid, "missing_field", func() error {
			_, err := f.store.ArchiveHarmType(ctx, f.pracA, h.ID, "cce", contexts.ArchiveInput{Reason: "never_an_issue"})
			return err
		}},
		{"another team's record", ctxmap.KindNotFound, "not_found", func() error {
			_, err := f.store.ArchiveHarmType(ctx, f.pracB, h.ID, "cce", contexts.ArchiveInput{Reason: "never_an_issue", Note: "x"})
			return err
		}},
		{"an analyst", ctxmap.KindForbidden, "forbidden", func() error {
			_, err := f.store.ArchiveHarmType(ctx, f.analyst, h.ID, "cce", contexts.ArchiveInput{Reason: "never_an_issue", Note: "x"})
			return err
		}},
	})

	// The last two: the record is archived with the last one.
	h = must[*contexts.HarmLocation](t)(f.store.ArchiveHarmType(ctx, f.pracA, h.ID, "cce", contexts.ArchiveInput{Reason: "no_longer_an_issue", Note: "Moved school"}))
	if h.Archived != nil {
		t.Fatal("archived with one type left")
	}
	h = must[*contexts.HarmLocation](t)(f.store.ArchiveHarmType(ctx, f.pracA, h.ID, "serious_youth_violence", contexts.ArchiveInput{Reason: "no_longer_an_issue", Note: "Moved school"}))
	if h.Archived == nil || h.Archived.Reason != "no_longer_an_issue" {
		t.Fatalf("archiving the last type left the record active: %+v", h)
	}
	for _, ty := range h.Types {
		if ty.Status == contexts.TypeActive {
			t.Errorf("an active type on an archived record: %+v", ty)
		}
	}

	// The whole-record archive still works, and ends every type with it.
	h2 := must[*contexts.HarmLocation](t)(f.store.CreateHarmLocation(ctx, f.pracA, harmInput("YP-WHOLE")))
	h2 = must[*contexts.HarmLocation](t)(f.store.ArchiveHarmLocation(ctx, f.pracA, h2.ID, contexts.ArchiveInput{Reason: "never_an_issue", Note: "Wrong young person"}))
	if h2.Archived == nil || len(h2.Types) != 2 || typesOf(h2)["cce"] != "archived" || !slices.Equal(events(h2), []string{"recorded:", "archived:"}) {
		t.Fatalf("whole archive: %+v types %v history %v", h2.Archived, typesOf(h2), events(h2))
	}
	if _, err := f.store.ArchiveHarmType(ctx, f.pracA, h2.ID, "cce", contexts.ArchiveInput{Reason: "never_an_issue", Note: "x"}); err == nil {
		t.Fatal("a type of an archived record was archived")
	}
}

// TestCorrectCategories: a wrong type is removed and the right one added in
// one audited correction; the record's history shows both; refusals write
// nothing.
func TestCorrectCategories(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := harmInput("YP-FIX")
	in.Categories = []string{"cse"}
	h := must[*contexts.HarmLocation](t)(f.store.CreateHarmLocation(ctx, f.pracA, in))
	before := f.counts(t)
	h = must[*contexts.HarmLocation](t)(f.store.CorrectCategories(ctx, f.pracA, h.ID, contexts.CategoryCorrection{
		Add: []contexts.TypeInput{{Category: "cce", Started: "2026-01"}}, Remove: []string{"cse"}, Note: "Criminal, not sexual, exploitation"}))
	detail := f.wantAudited(t, before, f.counts(t), "harm_location.correct")
	if !slices.Equal(anyStrings(detail["old"]), []string{"cse"}) || !slices.Equal(anyStrings(detail["new"]), []string{"cce"}) ||
		!slices.Equal(anyStrings(detail["added"]), []string{"cce"}) || !slices.Equal(anyStrings(detail["removed"]), []string{"cse"}) {
		t.Errorf("audit detail %v", detail)
	}
	var who, record, reason string
	if err := f.pool.QueryRow(ctx, `SELECT user_name, record, reason FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&who, &record, &reason); err != nil ||
		who != "alice" || record != "harm-location:"+itoa(h.ID) || reason != "corrected" {
		t.Errorf("audit entry %q %q %q %v", who, record, reason, err)
	}
	if !slices.Equal(h.Categories, []string{"cce"}) || typesOf(h)["cse"] != "removed" {
		t.Fatalf("corrected record %v %v", h.Categories, typesOf(h))
	}
	for _, ty := range h.Types {
		if ty.Category == "cce" && ty.Started != "2026-01" {
			t.Errorf("the added type starts %q", ty.Started)
		}
	}
	if got := events(h); !slices.Contains(got, "type_removed:cse") || !slices.Contains(got, "type_added:cce") {
		t.Errorf("history %v", got)
	}
	// The release reads the active types: the record now counts under cce
	// only.
	var cats []string
	if err := f.pool.QueryRow(ctx, `SELECT categories FROM harm_locations WHERE id = $1`, h.ID).Scan(&cats); err != nil || !slices.Equal(cats, []string{"cce"}) {
		t.Fatalf("stored categories %v %v", cats, err)
	}

	safe := must[*contexts.HarmLocation](t)(f.store.CreateSafetyPlace(ctx, f.pracA, contexts.SafetyPlaceInput{Subject: "YP-FIX", Rating: "green",
		Mapped: "2026-02", TrustedAdult: "sports_coach", Postcode: "E8 3AB", LocationType: "sports_facility"}))
	fix := func(id int64, c contexts.CategoryCorrection) func() error {
		return func() error { _, err := f.store.CorrectCategories(ctx, f.pracA, id, c); return err }
	}
	add := func(cat, started string) []contexts.TypeInput {
		return []contexts.TypeInput{{Category: cat, Started: started}}
	}
	f.wantRefused(t, []refusal{
		{"nothing to change", ctxmap.KindInvalid, "empty_correction", fix(h.ID, contexts.CategoryCorrection{Note: "x"})},
		{"no note", ctxmap.KindInvalid, "missing_field", fix(h.ID, contexts.CategoryCorrection{Add: add("gangs", "2026-02")})},
		{"no start", ctxmap.KindInvalid, "missing_field", fix(h.ID, contexts.CategoryCorrection{Add: add("gangs", ""), Note: "x"})},
		{"a start in the future", ctxmap.KindUnprocessable, "date_in_future", fix(h.ID, contexts.CategoryCorrection{Add: add("gangs", "2027-01"), Note: "x"})},
		{"unknown category", ctxmap.KindInvalid, "unknown_category", fix(h.ID, contexts.CategoryCorrection{Add: add("knives", "2026-02"), Note: "x"})},
		{"already active", ctxmap.KindConflict, "type_active", fix(h.ID, contexts.CategoryCorrection{Add: add("cce", "2026-02"), Note: "x"})},
		{"remove one not active", ctxmap.KindUnprocessable, "type_not_active", fix(h.ID, contexts.CategoryCorrection{Remove: []string{"cse"}, Note: "x"})},
		{"add and remove the same", ctxmap.KindInvalid, "add_and_remove", fix(h.ID, contexts.CategoryCorrection{Add: add("gangs", "2026-02"), Remove: []string{"gangs"}, Note: "x"})},
		{"remove every type", ctxmap.KindUnprocessable, "no_types_left", fix(h.ID, contexts.CategoryCorrection{Remove: []string{"cce"}, Note: "x"})},
		{"a safety-map place", ctxmap.KindUnprocessable, "no_harm_types", fix(safe.ID, contexts.CategoryCorrection{Add: add("gangs", "2026-02"), Note: "x"})},
		{"another team's record", ctxmap.KindNotFound, "not_found", func() error {
			_, err := f.store.CorrectCategories(ctx, f.pracB, h.ID, contexts.CategoryCorrection{Add: add("gangs", "2026-02"), Note: "x"})
			return err
		}},
	})
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := []string{}
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestSafetyPlaces: red, amber and green places need no harm category,
// green ones the kind of trusted adult (and only they); every choice is
// explicit; the place is on the young person's list with its rating.
func TestSafetyPlaces(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	green := contexts.SafetyPlaceInput{Subject: "YP-SAFE", Rating: "green", Mapped: "2026-03-02", TrustedAdult: "youth_worker",
		Postcode: "E8 3AA", LocationType: "youth_club"}
	before := f.counts(t)
	g := must[*contexts.HarmLocation](t)(f.store.CreateSafetyPlace(ctx, f.pracA, green))
	f.wantAudited(t, before, f.counts(t), "safety_place.create")
	if g.Layer != ctxmap.LayerSafe || g.Safety != "green" || g.TrustedAdult != "youth_worker" || len(g.Categories) != 0 ||
		g.Familial != "" || g.Source != contexts.SourceSafetyMap || len(g.Types) != 0 {
		t.Fatalf("green place %+v", g)
	}
	for _, r := range []string{"red", "amber"} {
		in := green
		in.Rating, in.TrustedAdult = r, ""
		p := must[*contexts.HarmLocation](t)(f.store.CreateSafetyPlace(ctx, f.pracA, in))
		if p.Layer != ctxmap.LayerUnsafe || p.Safety != r {
			t.Fatalf("%s place %+v", r, p)
		}
	}
	list := must[[]contexts.HarmLocation](t)(f.store.SubjectHarmLocations(ctx, f.pracA, "YP-SAFE", forAssessment))
	if len(list) != 3 {
		t.Fatalf("listed %d places", len(list))
	}
	// A safety-map place is archived like any record.
	must[*contexts.HarmLocation](t)(f.store.ArchiveHarmLocation(ctx, f.pracA, g.ID, contexts.ArchiveInput{Reason: "no_longer_an_issue", Note: "The club closed"}))

	with := func(change func(*contexts.SafetyPlaceInput)) func() error {
		return func() error {
			in := green
			change(&in)
			_, err := f.store.CreateSafetyPlace(ctx, f.pracA, in)
			return err
		}
	}
	f.wantRefused(t, []refusal{
		{"no location type", ctxmap.KindInvalid, "missing_field", with(func(in *contexts.SafetyPlaceInput) { in.LocationType = "" })},
		{"no rating", ctxmap.KindInvalid, "missing_field", with(func(in *contexts.SafetyPlaceInput) { in.Rating = "" })},
		{"a rating not on the list", ctxmap.KindInvalid, "invalid_rating", with(func(in *contexts.SafetyPlaceInput) { in.Rating = "blue" })},
		{"green without a trusted adult", ctxmap.KindInvalid, "missing_field", with(func(in *contexts.SafetyPlaceInput) { in.TrustedAdult = "" })},
		{"a trusted adult not on the list", ctxmap.KindInvalid, "invalid_trusted_adult", with(func(in *contexts.SafetyPlaceInput) { in.TrustedAdult = "Mrs Smith" })},
		{"red with a trusted adult", ctxmap.KindInvalid, "trusted_adult_not_green", with(func(in *contexts.SafetyPlaceInput) { in.Rating = "red" })},
		{"no date", ctxmap.KindInvalid, "missing_field", with(func(in *contexts.SafetyPlaceInput) { in.Mapped = "" })},
		{"no place", ctxmap.KindInvalid, "missing_field", with(func(in *contexts.SafetyPlaceInput) { in.Postcode = "" })},
		{"an analyst", ctxmap.KindForbidden, "forbidden", func() error {
			_, err := f.store.CreateSafetyPlace(ctx, f.analyst, green)
			return err
		}},
	})
}

// TestRetentionErasesHarmTypes: erasing a young person erases the types of
// their records too (the table refers to harm_locations).
func TestRetentionErasesHarmTypes(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := context.Background()
	var id int64
	if err := f.pool.QueryRow(ctx, `SELECT id FROM harm_locations WHERE subject_id = $1 AND team_id = $2`, f.subjects["RET-OLD"], f.pracA.TeamID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	must[*contexts.HarmLocation](t)(f.store.ArchiveHarmType(ctx, f.pracA, id, "county_lines", contexts.ArchiveInput{Reason: "never_an_issue", Note: "Reviewed"}))
	f.exec(t, `UPDATE harm_locations SET created_at = '2018-01-10' WHERE id = $1`, id)
	if n := f.count(t, `SELECT count(*) FROM harm_location_types WHERE harm_location_id = $1`, id); n != 2 {
		t.Fatalf("%d type rows before the run", n)
	}
	rep, _, err := f.ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
	if err != nil || rep.Failed != 0 {
		t.Fatalf("run: %v %+v", err, rep)
	}
	if n := f.count(t, `SELECT count(*) FROM harm_location_types WHERE harm_location_id = $1`, id); n != 0 {
		t.Fatalf("%d type rows of an erased young person left", n)
	}
	if rep.Erasures[0].Rows["harm_location_types"] != 2 {
		t.Errorf("erasure rows %v", rep.Erasures[0].Rows)
	}
}
