package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

const goodCSV = "\ufeffSubject,Categories,familial,layer,occurred,source,location_type,postcode,lat,lon,context_id\n" +
	"P-1,cse;county_lines,extra,harm,2026-02-01,referral,park,E8 3AA,,,\n" +
	"p-1,cce,extra,harm,2026-02,assessment,park,e83aa,,,\n" +
	"P-2,\"cce,gangs\",both,unsafe,2025-12-24,safety_map,bus_stop,,51.55,-0.06,\n" +
	"P-3,cse,unknown,harm,2026-01-05,partner_information,street,E8 4ZZ,,,\n" +
	"P-4,online_harm,extra,harm,2026-01,other,other,N16 7AA,,,\n"

func TestImportHarmCSV(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := f.counts(t)
	rep, err := f.store.ImportHarmCSV(ctx, strings.NewReader(goodCSV), f.pracA)
	if err != nil {
		t.Fatalf("import: %v %+v", err, rep)
	}
	if rep.Rows != 5 || rep.Inserted != 5 || rep.Subjects != 4 || rep.Postcodes != 3 || rep.ErrorCount != 0 || rep.RebuiltIndexes {
		t.Fatalf("report %+v", rep)
	}
	after := f.counts(t)
	if after["harm_locations"]-before["harm_locations"] != 5 || after["subjects"]-before["subjects"] != 4 ||
		after["audit_log"]-before["audit_log"] != 1 {
		t.Fatalf("counts %v -> %v", before, after)
	}
	// Imported records are the team's, read like any other.
	got := must[[]contexts.HarmLocation](t)(f.store.SubjectHarmLocations(ctx, f.pracA2, "P-1", forAssessment))
	if len(got) != 2 || got[0].Occurred != "2026-02-01" || got[1].Occurred != "2026-02" || got[0].Match != "unit" ||
		strings.Join(got[0].Categories, ",") != "cse,county_lines" {
		t.Fatalf("P-1 records %+v", got)
	}
	if got := must[[]contexts.HarmLocation](t)(f.store.SubjectHarmLocations(ctx, f.pracA, "P-3", forAssessment)); len(got) != 1 || got[0].Match != "sector" {
		t.Fatalf("P-3 records %+v", got)
	}
	if got := must[[]contexts.HarmLocation](t)(f.store.SubjectHarmLocations(ctx, f.pracB, "P-1", forAssessment)); len(got) != 0 {
		t.Fatalf("other team sees imported records: %+v", got)
	}
	// The same subject imported twice and created through the API is one subject.
	must[*contexts.HarmLocation](t)(f.store.CreateHarmLocation(ctx, f.pracA, harmInput("P-4")))
	if n := f.counts(t)["subjects"]; n != after["subjects"] {
		t.Fatalf("subjects %d -> %d", after["subjects"], n)
	}
	// Heat sees distinct young people: P-1's two February records are one.
	obs := distinctObs(must[[]tiles.Observation](t)(f.store.Observations(ctx, tiles.Query{Layer: "harm", From: month(2026, 2), To: month(2026, 3)})))
	if len(obs) != 2 { // P-1 (imported) and P-4 (API, February)
		t.Fatalf("observations %+v", obs)
	}
}

func TestImportWithBadRowsWritesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	park := must[*contexts.Context](t)(f.store.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"}))
	_ = park
	csv := "subject,categories,familial,layer,occurred,source,location_type,postcode,lat,lon,context_id\n" +
		"P-1,cse,extra,harm,2026-02-01,referral,park,E8 3AA,,,1\n" + // line 2: fine (context 1 exists)
		"P-2,cse,extra,harm,2026-02-01,referral,park,E8 3AB,,,\n" + // line 3: fine
		"P-3,burglary,extra,harm,2026-02-01,referral,park,E8 3AB,,,\n" + // line 4: unknown category
		"P-4,cse,extra,harm,2026-02-01,referral,park,SW1A 1AA,,,\n" + // line 5: postcode not in the directory
		"P-5,cse,extra,harm,2027-01-01,referral,park,,51.5,-0.1,\n" + // line 6: future
		"P-6,cse,extra,harm,2026-02-01,referral,park,,40.7,-74.0,\n" + // line 7: outside the UK
		"P-7,cse,extra,harm,2026-02-01,referral,park,E8 3AB,,,999\n" + // line 8: unknown context
		"P-8,cse,extra,harm,2026-02-01,referral,park\n" + // line 9: too few fields
		"P-9,cse,both-ish,harm,2026-02-01,referral,park,E8 3AB,,,\n" // line 10: bad familial
	before := f.counts(t)
	rep, err := f.store.ImportHarmCSV(ctx, strings.NewReader(csv), f.pracA)
	e := wantCode(t, err, ctxmap.KindUnprocessable, "import_invalid")
	if !strings.Contains(e.Message, "nothing was written") || !strings.Contains(e.Message, "line 4") {
		t.Errorf("message %q", e.Message)
	}
	want := map[int]string{4: "unknown_category", 5: "postcode_not_found", 6: "date_in_future", 7: "outside_uk",
		8: "unknown_context", 9: "csv_field_count", 10: "invalid_familial"}
	if rep.ErrorCount != len(want) || len(rep.Errors) != len(want) || rep.Rows != 9 || rep.Inserted != 0 {
		t.Fatalf("report %+v", rep)
	}
	for i, re := range rep.Errors {
		if want[re.Line] != re.Code || re.Message == "" {
			t.Errorf("error %d: %+v, want code %s", i, re, want[re.Line])
		}
		if i > 0 && re.Line < rep.Errors[i-1].Line {
			t.Errorf("errors not in line order")
		}
	}
	if after := f.counts(t); !equalCounts(before, after) {
		t.Fatalf("a bad import wrote something: %v -> %v", before, after)
	}

	// One bad row among many good ones: still nothing written, the row reported.
	var b strings.Builder
	b.WriteString("subject,categories,familial,layer,occurred,source,location_type,lat,lon\n")
	for i := 0; i < 2000; i++ {
		if i == 1234 {
			b.WriteString("P-X,cse,extra,harm,2026-02-30,referral,park,51.5,-0.1\n")
			continue
		}
		b.WriteString("P-Y,cse,extra,harm,2026-02-01,referral,park,51.5,-0.1\n")
	}
	rep, err = f.store.ImportHarmCSV(ctx, strings.NewReader(b.String()), f.pracA)
	wantCode(t, err, ctxmap.KindUnprocessable, "import_invalid")
	if rep.ErrorCount != 1 || rep.Errors[0].Line != 1236 || rep.Errors[0].Code != "invalid_date" {
		t.Fatalf("report %+v", rep.Errors)
	}
	if after := f.counts(t); !equalCounts(before, after) {
		t.Fatalf("a bad import wrote something: %v -> %v", before, after)
	}
}

func TestImportHeaderAndRoles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct{ csv, code string }{
		{"", "import_empty"},
		{"subject,categories,familial,layer,occurred,source,location_type,postcode\n", "import_empty"},
		{"subject,categories,familial,layer,occurred,source,location_type,postcode,name\n", "import_header"},
		{"subject,categories,familial,layer,occurred,source,postcode\n", "import_header"},
		{"subject,categories,familial,layer,occurred,source,location_type\n", "import_header"},
		{"subject,subject,categories,familial,layer,occurred,source,location_type,postcode\n", "import_header"},
	} {
		_, err := f.store.ImportHarmCSV(ctx, strings.NewReader(tc.csv), f.pracA)
		var e *ctxmap.Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("%q: got %v, want %s", tc.csv, err, tc.code)
		}
	}
	// A broken quote stops the reader; the row is reported, nothing written.
	broken := "subject,categories,familial,layer,occurred,source,location_type,lat,lon\n" +
		"P-1,cse,extra,harm,2026-02-01,referral,park,51.5,-0.1\n" +
		"   \n" +
		"P-2,\"cse,extra,harm,2026-02-01,referral,park,51.5,-0.1\n"
	rep, err := f.store.ImportHarmCSV(ctx, strings.NewReader(broken), f.pracA)
	wantCode(t, err, ctxmap.KindUnprocessable, "import_invalid")
	if rep.ErrorCount != 1 || rep.Errors[0].Code != "csv_malformed" || rep.Errors[0].Line != 4 {
		t.Fatalf("report %+v", rep)
	}
	_, err = f.store.ImportHarmCSV(ctx, strings.NewReader(goodCSV), f.analyst)
	wantCode(t, err, ctxmap.KindForbidden, "forbidden")
}

// TestImportRebuildsIndexesForBulkLoads takes the bulk path (indexes
// dropped and rebuilt in the import's transaction) and checks the indexes
// come back, also when the import fails after dropping them.
func TestImportRebuildsIndexesForBulkLoads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.store.bulkMinRows = 3
	indexes := func() string {
		var defs string
		if err := f.pool.QueryRow(ctx, `SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes
			WHERE tablename = 'harm_locations'`).Scan(&defs); err != nil {
			t.Fatal(err)
		}
		return defs
	}
	before := indexes()
	if !strings.Contains(before, "harm_locations_heat") || !strings.Contains(before, "harm_locations_subject") ||
		!strings.Contains(before, "harm_locations_pkey") {
		t.Fatalf("indexes %s", before)
	}
	rep, err := f.store.ImportHarmCSV(ctx, strings.NewReader(goodCSV), f.pracA)
	if err != nil || rep.Inserted != 5 || !rep.RebuiltIndexes {
		t.Fatalf("import: %v %+v", err, rep)
	}
	if after := indexes(); after != before {
		t.Fatalf("indexes changed:\n%s\n%s", before, after)
	}
	// The heat query still runs on the rebuilt index.
	var plan string
	rows, err := f.pool.Query(ctx, `EXPLAIN `+heatAllSQL, "harm", month(2026, 1), month(2026, 3))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan += line + "\n"
	}
	if obs := distinctObs(must[[]tiles.Observation](t)(f.store.Observations(ctx, tiles.Query{Layer: "harm", From: month(2026, 2), To: month(2026, 3)}))); len(obs) != 1 {
		t.Fatalf("observations after rebuild %+v\n%s", obs, plan)
	}
}
