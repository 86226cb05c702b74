package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/tiles"
)

// TestBadInputWritesNothing is the bad-input table: every case is a
// 4xx with a clear code, and no table changes.
func TestBadInputWritesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	park := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	long := strings.Repeat("The path is unlit. ", 250) // 4,750 characters
	harm := func(mod func(*contexts.HarmLocationInput)) func() error {
		return func() error {
			in := harmInput("P1001")
			mod(&in)
			_, err := s.CreateHarmLocation(ctx, f.pracA, in)
			return err
		}
	}
	f.wantRefused(t, []refusal{
		{"unknown category", ctxmap.KindInvalid, "unknown_category", harm(func(in *contexts.HarmLocationInput) { in.Categories = []string{"cse", "burglary"} })},
		{"no categories", ctxmap.KindInvalid, "missing_field", harm(func(in *contexts.HarmLocationInput) { in.Categories = nil })},
		{"bad familial", ctxmap.KindInvalid, "invalid_familial", harm(func(in *contexts.HarmLocationInput) { in.Familial = "extra-familial" })},
		{"bad layer", ctxmap.KindInvalid, "invalid_layer", harm(func(in *contexts.HarmLocationInput) { in.Layer = "amber" })},
		{"bad source", ctxmap.KindInvalid, "invalid_source", harm(func(in *contexts.HarmLocationInput) { in.Source = "police_intel" })},
		{"bad location type", ctxmap.KindInvalid, "invalid_location_type", harm(func(in *contexts.HarmLocationInput) { in.LocationType = "alley" })},
		{"malformed postcode", ctxmap.KindUnprocessable, "postcode_malformed", harm(func(in *contexts.HarmLocationInput) { in.Postcode = "E8 3A" })},
		{"unknown postcode", ctxmap.KindUnprocessable, "postcode_not_found", harm(func(in *contexts.HarmLocationInput) { in.Postcode = "SW1A 1AA" })},
		{"outside the UK", ctxmap.KindUnprocessable, "outside_uk", harm(func(in *contexts.HarmLocationInput) { in.Postcode = ""; in.Lat, in.Lon = ptr(-0.07), ptr(51.54) })},
		{"lat without lon", ctxmap.KindInvalid, "missing_field", harm(func(in *contexts.HarmLocationInput) { in.Postcode = ""; in.Lat = ptr(51.54) })},
		{"postcode and lat/lon", ctxmap.KindInvalid, "ambiguous_location", harm(func(in *contexts.HarmLocationInput) { in.Lat, in.Lon = ptr(51.54), ptr(-0.07) })},
		{"no location", ctxmap.KindInvalid, "missing_field", harm(func(in *contexts.HarmLocationInput) { in.Postcode = "" })},
		{"date in future", ctxmap.KindUnprocessable, "date_in_future", harm(func(in *contexts.HarmLocationInput) { in.Occurred = "2026-03-21" })},
		{"month in future", ctxmap.KindUnprocessable, "date_in_future", harm(func(in *contexts.HarmLocationInput) { in.Occurred = "2026-04" })},
		{"bad date", ctxmap.KindInvalid, "invalid_date", harm(func(in *contexts.HarmLocationInput) { in.Occurred = "14/03/2026" })},
		{"missing subject", ctxmap.KindInvalid, "missing_field", harm(func(in *contexts.HarmLocationInput) { in.Subject = " " })},
		{"missing occurred", ctxmap.KindInvalid, "missing_field", harm(func(in *contexts.HarmLocationInput) { in.Occurred = "" })},
		{"unknown context", ctxmap.KindUnprocessable, "unknown_context", harm(func(in *contexts.HarmLocationInput) { in.ContextID = 424242 })},
		{"analyst records harm", ctxmap.KindForbidden, "forbidden", func() error {
			_, err := s.CreateHarmLocation(ctx, f.analyst, harmInput("P1"))
			return err
		}},
		{"context: missing kind", ctxmap.KindInvalid, "missing_field", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{LocationType: "park", Postcode: "E8 3AB"})
			return err
		}},
		{"context: missing location type", ctxmap.KindInvalid, "missing_field", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", Postcode: "E8 3AB"})
			return err
		}},
		{"context: no place", ctxmap.KindInvalid, "missing_field", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park"})
			return err
		}},
		{"context: school without name", ctxmap.KindInvalid, "missing_field", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "school", Postcode: "E8 3AB"})
			return err
		}},
		{"context: outside the UK", ctxmap.KindUnprocessable, "outside_uk", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Lat: ptr(48.85), Lon: ptr(2.35)})
			return err
		}},
		{"context: oversized description", ctxmap.KindUnprocessable, "too_long", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AB", Description: long})
			return err
		}},
		{"context: personal data in description", ctxmap.KindUnprocessable, "personal_data", func() error {
			_, err := s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AB", Description: "ask jo@example.com"})
			return err
		}},
		{"assessment: oversized note", ctxmap.KindUnprocessable, "too_long", func() error {
			_, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "needs", Note: long})
			return err
		}},
		{"assessment: personal data", ctxmap.KindUnprocessable, "personal_data", func() error {
			_, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "needs", Note: "Mum's mobile is 07700 900456"})
			return err
		}},
		{"assessment: bad side", ctxmap.KindInvalid, "invalid_side", func() error {
			_, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "family", Note: "x"})
			return err
		}},
		{"assessment: empty note", ctxmap.KindInvalid, "missing_field", func() error {
			_, err := s.AddAssessment(ctx, f.lead, park.ID, contexts.AssessmentInput{Side: "needs"})
			return err
		}},
		{"assessment: unknown context", ctxmap.KindNotFound, "not_found", func() error {
			_, err := s.AddAssessment(ctx, f.lead, 999999, contexts.AssessmentInput{Side: "needs", Note: "x"})
			return err
		}},
		{"intervention: bad agency", ctxmap.KindInvalid, "invalid_partner_agency", func() error {
			_, err := s.AddIntervention(ctx, f.lead, park.ID, contexts.InterventionInput{Action: "x", PartnerAgency: "mi5", Side: "needs"})
			return err
		}},
		{"intervention: done in future", ctxmap.KindUnprocessable, "date_in_future", func() error {
			_, err := s.AddIntervention(ctx, f.lead, park.ID, contexts.InterventionInput{Action: "x", PartnerAgency: "police", Side: "needs", Status: ptr("done"), DoneDate: "2026-12-01"})
			return err
		}},
		{"link: missing reason", ctxmap.KindInvalid, "missing_field", func() error {
			_, err := s.LinkYoungPerson(ctx, f.pracA, park.ID, contexts.LinkInput{Subject: "P9"})
			return err
		}},
		{"archive: bad reason", ctxmap.KindInvalid, "invalid_archive_reason", func() error {
			_, err := s.ArchiveHarmLocation(ctx, f.pracA, 1, contexts.ArchiveInput{Reason: "resolved", Note: "x"})
			return err
		}},
	})
}

func TestHarmLocationsAreTeamScoped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	in := harmInput("MOSAIC-77")
	h := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	if h.Match != "unit" || h.Postcode != "E8 3AA" || h.Team != "Hackney North" || h.CreatedBy != "alice" ||
		h.Occurred != "2026-02-14" || len(h.Categories) != 2 || h.TaxonomyVersion != 1 {
		t.Fatalf("created %+v", h)
	}
	in.Occurred, in.Postcode, in.Lat, in.Lon, in.Layer = "2025-11", "", ptr(51.55), ptr(-0.05), "unsafe"
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracB, harmInput("mosaic-77")))

	// Same team, any practitioner, any spelling of the id: both records.
	got := must[[]contexts.HarmLocation](t)(s.SubjectHarmLocations(ctx, f.pracA2, " mosaic-77", forAssessment))
	if len(got) != 2 || got[0].Occurred != "2025-11" || got[0].Match != "latlon" || got[1].ID != h.ID {
		t.Fatalf("team A sees %+v", got)
	}
	// The other team sees only its own; an unknown young person looks the same as none.
	if got := must[[]contexts.HarmLocation](t)(s.SubjectHarmLocations(ctx, f.pracB, "MOSAIC-77", forAssessment)); len(got) != 1 || got[0].Team != "Hackney South" {
		t.Fatalf("team B sees %+v", got)
	}
	if got := must[[]contexts.HarmLocation](t)(s.SubjectHarmLocations(ctx, f.pracB, "NOBODY", forAssessment)); got == nil || len(got) != 0 {
		t.Fatalf("unknown subject %+v", got)
	}
	_, err := s.SubjectHarmLocations(ctx, f.analyst, "MOSAIC-77", forAssessment)
	wantCode(t, err, ctxmap.KindForbidden, "forbidden")
	_, err = s.SubjectHarmLocations(ctx, f.lead, "MOSAIC-77", forAssessment)
	wantCode(t, err, ctxmap.KindForbidden, "forbidden")

	// No person id is stored anywhere.
	var leaks int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE detail::text ILIKE '%mosaic%' OR record ILIKE '%mosaic%'`).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Fatal("a person id reached the audit log")
	}
	// Reads are audited.
	var reads int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'harm_locations.read'`).Scan(&reads); err != nil {
		t.Fatal(err)
	}
	if reads != 3 {
		t.Fatalf("%d audited reads, want 3", reads)
	}

	// Archiving: only the owning team, once, with a reason.
	_, err = s.ArchiveHarmLocation(ctx, f.pracB, h.ID, contexts.ArchiveInput{Reason: "never_an_issue", Note: "x"})
	wantCode(t, err, ctxmap.KindNotFound, "not_found")
	arch := must[*contexts.HarmLocation](t)(s.ArchiveHarmLocation(ctx, f.pracA2, h.ID, contexts.ArchiveInput{Reason: "never_an_issue", Note: "Confused with another park"}))
	if arch.Archived == nil || arch.Archived.Reason != "never_an_issue" || arch.Archived.By != "amir" {
		t.Fatalf("archived %+v", arch)
	}
	_, err = s.ArchiveHarmLocation(ctx, f.pracA, h.ID, contexts.ArchiveInput{Reason: "no_longer_an_issue", Note: "x"})
	wantCode(t, err, ctxmap.KindConflict, "already_archived")
	_, err = s.ArchiveHarmLocation(ctx, f.pracA, h.ID, contexts.ArchiveInput{Reason: "no_longer_an_issue"})
	wantCode(t, err, ctxmap.KindInvalid, "missing_field")
}

func TestCoarseGeocodesGetCoarseCells(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	in := harmInput("S1")
	in.Postcode = "E8 4ZZ" // unknown unit, known sector
	sec := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	in.Postcode = "E9 7QQ" // unknown unit and sector, known district
	dis := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	in.Postcode = "E8 3AA"
	unit := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	if sec.Match != "sector" || dis.Match != "district" || sec.PrecisionM != geo.SectorPrecisionM {
		t.Fatalf("matches %s %s", sec.Match, dis.Match)
	}
	cells := map[int64][3]*int64{}
	rows, err := f.pool.Query(ctx, `SELECT id, h3_r6, h3_r7, h3_r8 FROM harm_locations`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var c [3]*int64
		if err := rows.Scan(&id, &c[0], &c[1], &c[2]); err != nil {
			t.Fatal(err)
		}
		cells[id] = c
	}
	if c := cells[sec.ID]; c[0] == nil || c[1] == nil || c[2] != nil {
		t.Errorf("sector cells %v", c)
	}
	if c := cells[dis.ID]; c[0] == nil || c[1] != nil || c[2] != nil {
		t.Errorf("district cells %v", c)
	}
	obs := must[[]tiles.Observation](t)(s.Observations(ctx, tiles.Query{Layer: "harm", From: month(2026, 2), To: month(2026, 3)}))
	res := map[int]int{}
	for _, o := range obs {
		res[o.Cell.Resolution()]++
	}
	if len(obs) != 3 || res[6] != 1 || res[7] != 1 || res[8] != 1 {
		t.Fatalf("observations %+v (resolutions %v)", obs, res)
	}
	_ = unit
}

func month(y, m int) time.Time { return time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC) }

func TestObservations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	add := func(a *contexts.Actor, subject, occurred, layer string, cats ...string) *contexts.HarmLocation {
		in := harmInput(subject)
		in.Occurred, in.Layer, in.Categories = occurred, layer, cats
		return must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, a, in))
	}
	// Subject A: three incidents in one cell in February: one observation.
	add(f.pracA, "A", "2026-02-01", "harm", "cse")
	add(f.pracA, "A", "2026-02-10", "harm", "cce")
	add(f.pracA, "A", "2026-02", "harm", "cse", "gangs")
	// Subject B (another team): same cell, plus one unsafe place.
	add(f.pracB, "B", "2026-02-20", "harm", "cce")
	add(f.pracB, "B", "2026-02-20", "unsafe", "cce")
	// Subject C: January only; later archived one in February.
	add(f.pracA, "C", "2026-01-31", "harm", "cse")
	archived := add(f.pracA, "C", "2026-02-02", "harm", "cse")
	must[*contexts.HarmLocation](t)(s.ArchiveHarmLocation(ctx, f.pracA, archived.ID, contexts.ArchiveInput{Reason: "never_an_issue", Note: "wrong child"}))

	q := func(layer, cat string, from, to time.Time) []string {
		obs := distinctObs(must[[]tiles.Observation](t)(s.Observations(ctx, tiles.Query{Layer: ctxmap.Layer(layer), Category: cat, From: from, To: to})))
		var out []string
		for _, o := range obs {
			out = append(out, fmt.Sprintf("%d/%d", o.Subject, o.Cell.Resolution()))
		}
		sort.Strings(out)
		return out
	}
	if got := q("harm", "", month(2026, 2), month(2026, 3)); len(got) != 2 {
		t.Errorf("february harm: %v", got)
	}
	if got := q("harm", "cse", month(2026, 2), month(2026, 3)); len(got) != 1 {
		t.Errorf("february cse: %v", got)
	}
	if got := q("harm", "", month(2026, 1), month(2026, 3)); len(got) != 3 {
		t.Errorf("jan-feb harm: %v", got)
	}
	if got := q("unsafe", "", month(2026, 1), month(2026, 3)); len(got) != 1 {
		t.Errorf("unsafe: %v", got)
	}
	if got := q("harm", "radicalisation", month(2026, 1), month(2026, 3)); len(got) != 0 {
		t.Errorf("radicalisation: %v", got)
	}
	obs := must[[]tiles.Observation](t)(s.Observations(ctx, tiles.Query{Layer: "harm", From: month(2026, 2), To: month(2026, 3)}))
	want := h3.LatLngToCell(h3.NewLatLng(51.543329, -0.066559), 8)
	for _, o := range obs {
		if o.Cell != want {
			t.Errorf("cell %v, want %v", o.Cell, want)
		}
	}
	// Keys are deterministic per subject.
	again := must[[]tiles.Observation](t)(s.Observations(ctx, tiles.Query{Layer: "harm", From: month(2026, 2), To: month(2026, 3)}))
	sort.Slice(obs, func(i, j int) bool { return obs[i].Subject < obs[j].Subject })
	sort.Slice(again, func(i, j int) bool { return again[i].Subject < again[j].Subject })
	if fmt.Sprint(obs) != fmt.Sprint(again) {
		t.Error("observations differ between calls")
	}
	_, err := s.Observations(ctx, tiles.Query{Layer: "both", From: month(2026, 1), To: month(2026, 2)})
	wantCode(t, err, ctxmap.KindInvalid, "invalid_layer")
}

func TestTaxonomyVersions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	tax := must[*contexts.Taxonomy](t)(s.Taxonomy(ctx))
	if tax.Version != 1 || len(tax.Categories) != 13 || len(tax.LocationTypes) != 18 || len(tax.ContextKinds) != 3 {
		t.Fatalf("default taxonomy %+v", tax)
	}
	census := map[string]string{}
	for _, c := range tax.Categories {
		census[c.Code] = c.CensusCode
	}
	if census["cse"] != "11A" || census["cce"] != "24A" || census["county_lines"] != "" {
		t.Fatalf("census codes %v", census)
	}
	old := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, harmInput("T1"))) // cce + county_lines

	_, err := s.RetireCategory(ctx, f.lead, "county_lines")
	wantCode(t, err, ctxmap.KindForbidden, "forbidden")
	must[*contexts.Taxonomy](t)(s.RetireCategory(ctx, f.admin, "county_lines"))
	tax = must[*contexts.Taxonomy](t)(s.AddCategory(ctx, f.admin, contexts.CategoryInput{Code: "exploitation", Label: "Exploitation (all forms)", ExtraFamilial: true}))
	if tax.Version != 3 {
		t.Fatalf("version %d", tax.Version)
	}
	_, err = s.AddCategory(ctx, f.admin, contexts.CategoryInput{Code: "exploitation", Label: "again"})
	wantCode(t, err, ctxmap.KindConflict, "category_exists")
	_, err = s.CreateHarmLocation(ctx, f.pracA, harmInput("T1"))
	wantCode(t, err, ctxmap.KindUnprocessable, "retired_category")
	in := harmInput("T1")
	in.Categories = []string{"exploitation"}
	h := must[*contexts.HarmLocation](t)(s.CreateHarmLocation(ctx, f.pracA, in))
	if h.TaxonomyVersion != 3 {
		t.Fatalf("new record version %d", h.TaxonomyVersion)
	}
	// The old record still reads, with its retired category.
	got := must[[]contexts.HarmLocation](t)(s.SubjectHarmLocations(ctx, f.pracA, "T1", forAssessment))
	if len(got) != 2 || got[0].ID != old.ID || strings.Join(got[0].Categories, ",") != "cce,county_lines" || got[0].TaxonomyVersion != 1 {
		t.Fatalf("old record %+v", got)
	}
	b, _ := json.Marshal(tax)
	if !strings.Contains(string(b), `"retired":true`) {
		t.Fatal("retired category missing from the taxonomy")
	}
}

// distinctObs keeps one of each (subject, cell) pair: Observations returns
// one per record and leaves counting distinct young people to tiles.
func distinctObs(obs []tiles.Observation) []tiles.Observation {
	seen := map[tiles.Observation]bool{}
	var out []tiles.Observation
	for _, o := range obs {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}
