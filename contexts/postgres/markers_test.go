package postgres

import (
	"context"
	"testing"

	"github.com/ctxmap/ctxmap/contexts"
)

// Retention erases a young person's markers, relocations, factors and plan
// actions with the rest of their records, and counts them as activity: a
// young person whose only recent entry is a correction is kept. Erasing a
// closed context leaves the factors that named it, marked erased.
func TestRetentionErasesTheContextualRecord(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	ret := must[*Retention](t)(NewRetention(s, f.pool, contexts.DefaultRetention, false))
	place := must[*contexts.Context](t)(s.CreateContext(ctx, f.lead, contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA"})).ID
	work := func(subject string) *contexts.Marker {
		m := must[*contexts.Marker](t)(s.AddMarker(ctx, f.pracA, contexts.MarkerInput{Subject: subject, Kind: "referral", Familial: "extra", Date: "2026-01-05"}))
		must[*contexts.Relocation](t)(s.AddRelocation(ctx, f.pracA, contexts.RelocationInput{Subject: subject, Date: "2026-01-06", Kind: "secure"}))
		fa := must[*contexts.Factor](t)(s.AddFactor(ctx, f.pracA, contexts.FactorInput{Subject: subject, IdentifiedOn: "2026-01-07",
			Description: "Gathering at the park", ContextID: place}))
		must[*contexts.FactorAction](t)(s.AddFactorAction(ctx, f.pracA, fa.ID, contexts.FactorActionInput{Action: "Lighting", PartnerAgency: "parks"}))
		return m
	}
	work("MK-OLD")
	kept := work("MK-CORRECTED")
	work("MK-RECENT")
	must[*contexts.Marker](t)(s.CorrectMarker(ctx, f.pracA, kept.ID, contexts.MarkerCorrection{Familial: "both", Date: "2026-01-05", Reason: "Reviewed"}))
	h := contexts.NewSubjectHasher(testSecret)
	ids := map[string]int64{}
	for _, name := range []string{"MK-OLD", "MK-CORRECTED", "MK-RECENT"} {
		sh := h.Hash(name)
		var id int64
		if err := f.pool.QueryRow(ctx, `SELECT id FROM subjects WHERE hash = $1`, sh[:]).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	// Everything of the first two made in 2018, but the correction of the
	// second in 2025; the context closed in 2019.
	for _, sql := range []string{
		`UPDATE subjects SET created_at = '2018-01-10' WHERE id = ANY($1)`,
		`UPDATE yp_markers SET created_at = '2018-01-10', corrected_at = CASE WHEN corrected_at IS NULL THEN NULL ELSE '2018-02-01'::timestamptz END WHERE subject_id = ANY($1)`,
		`UPDATE yp_relocations SET created_at = '2018-01-10' WHERE subject_id = ANY($1)`,
		`UPDATE yp_factors SET created_at = '2018-01-10' WHERE subject_id = ANY($1)`,
		`UPDATE yp_factor_actions SET created_at = '2018-01-10', updated_at = '2018-01-10' WHERE factor_id IN (SELECT id FROM yp_factors WHERE subject_id = ANY($1))`,
	} {
		f.exec(t, sql, []int64{ids["MK-OLD"], ids["MK-CORRECTED"]})
	}
	f.exec(t, `UPDATE yp_markers SET corrected_at = '2025-06-01' WHERE subject_id = $1 AND corrected_at IS NOT NULL`, ids["MK-CORRECTED"])
	evidence := map[string]string{"needs": "Safer evenings", "guardianship": "Wardens", "environment": "New lights"}
	must[*contexts.Context](t)(s.CloseContext(ctx, f.lead, place, contexts.CloseInput{Reason: "Safer", Evidence: evidence}))
	f.exec(t, `UPDATE contexts SET closed_at = '2019-01-01', created_at = '2017-01-01' WHERE id = $1`, place)

	rep, _, err := ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Erasures) != 2 {
		t.Fatalf("erased %+v, want MK-OLD and the context", records(rep.Erasures))
	}
	count := func(sql string, args ...any) int {
		var n int
		if err := f.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, table := range []string{"yp_markers", "yp_relocations", "yp_factors"} {
		if n := count(`SELECT count(*) FROM `+table+` WHERE subject_id = $1`, ids["MK-OLD"]); n != 0 {
			t.Errorf("%s keeps %d rows of the erased young person", table, n)
		}
		if n := count(`SELECT count(*) FROM `+table+` WHERE subject_id = ANY($1)`, []int64{ids["MK-CORRECTED"], ids["MK-RECENT"]}); n < 2 {
			t.Errorf("%s lost the kept young people's rows (%d left)", table, n)
		}
	}
	if n := count(`SELECT count(*) FROM yp_factor_actions`); n != 2 {
		t.Errorf("%d plan actions left, want the two kept young people's", n)
	}
	if n := count(`SELECT count(*) FROM yp_factors WHERE context_id IS NULL AND context_erased`); n != 2 {
		t.Errorf("%d factors marked as naming an erased context, want 2", n)
	}
	rec := must[*contexts.ContextualRecord](t)(s.ContextualRecord(ctx, f.pracA, "MK-CORRECTED", contexts.ReadPurpose{Code: contexts.PurposeReview}))
	if len(rec.Factors) != 1 || !rec.Factors[0].ContextErased || len(rec.Markers) != 2 {
		t.Fatalf("the kept record after the erasures: %+v", rec)
	}
}

// A correction in flight holds the young person's row: an erasure due for
// them waits for it, then finds them active again and keeps them.
func TestRetentionWaitsForACorrectionInFlight(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ret := must[*Retention](t)(NewRetention(f.store, f.pool, contexts.DefaultRetention, false))
	m := must[*contexts.Marker](t)(f.store.AddMarker(ctx, f.pracA, contexts.MarkerInput{Subject: "MK-FLIGHT", Kind: "outcome", Familial: "intra", Date: "2026-01-05"}))
	f.exec(t, `UPDATE subjects SET created_at = '2018-01-10'`)
	f.exec(t, `UPDATE yp_markers SET created_at = '2018-01-10'`)
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	in := *f.store
	in.db, in.keyed = tx, true
	in.at = &testNow
	if _, err := in.correctMarker(ctx, f.pracA, m.ID, contexts.MarkerCorrection{Familial: "extra", Date: "2026-01-05", Reason: "Reviewed"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan *contexts.RetentionReport, 1)
	go func() {
		rep, _, err := ret.Run(ctx, f.admin, contexts.RetentionRequest{How: contexts.RetentionOperator})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	f.waitForLockWait(t, "FOR UPDATE")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := <-done; rep == nil || len(rep.Erasures) != 0 || rep.Failed != 0 {
		t.Fatalf("the run: %+v", rep)
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM yp_markers`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d markers (%v), want the corrected one and its replacement", n, err)
	}
}
