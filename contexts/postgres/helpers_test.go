package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

// testNow is "today" in store tests: mid-month, so the current month is
// partly past and partly future.
var testNow = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

var testSecret = []byte("test-secret-0123456789abcdef-0123")

// fakeGeocoder knows a few real Hackney postcodes and, like the postcode
// directory, falls back to a sector or district it knows.
type fakeGeocoder struct {
	mu     sync.Mutex
	calls  int
	units  map[string][2]float64
	coarse map[string][2]float64 // sectors ("E8 4") and districts ("E9")
}

func newFakeGeocoder() *fakeGeocoder {
	return &fakeGeocoder{
		units: map[string][2]float64{
			"E8 3AA":  {51.543329, -0.066559},
			"E8 3AB":  {51.543369, -0.067913},
			"N16 7AA": {51.563781, -0.069472},
			"N16 7AB": {51.564048, -0.068724},
			"E1 6AW":  {51.523753, -0.075922},
		},
		coarse: map[string][2]float64{
			"E8 4": {51.5440, -0.0590},
			"E9":   {51.5450, -0.0450},
		},
	}
}

func (g *fakeGeocoder) Geocode(_ context.Context, pcs []string) ([]contexts.Geocoded, error) {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	out := make([]contexts.Geocoded, len(pcs))
	for i, s := range pcs {
		out[i] = contexts.Geocoded{Postcode: s, Match: "none"}
		p, err := geo.ParsePostcode(s)
		if err != nil {
			continue
		}
		if ll, ok := g.units[p.String()]; ok && p.Precision == geo.PrecisionUnit {
			out[i] = contexts.Geocoded{Postcode: p.String(), Match: "unit", Lat: ll[0], Lon: ll[1], PrecisionM: geo.UnitPrecisionM}
		} else if ll, ok := g.coarse[p.Sector]; ok && p.Sector != "" {
			out[i] = contexts.Geocoded{Postcode: p.Sector, Match: "sector", Lat: ll[0], Lon: ll[1], PrecisionM: geo.SectorPrecisionM}
		} else if ll, ok := g.coarse[p.Outcode]; ok {
			out[i] = contexts.Geocoded{Postcode: p.Outcode, Match: "district", Lat: ll[0], Lon: ll[1], PrecisionM: geo.DistrictPrecisionM}
		}
	}
	return out, nil
}

// fixture is a migrated database with two practitioner teams, a
// partnership team and one user of each role.
type fixture struct {
	pool                 *pgxpool.Pool
	store                *Store
	geo                  *fakeGeocoder
	pracA, pracA2, pracB *contexts.Actor
	lead, analyst, admin *contexts.Actor
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pool := pgtest.New(t)
	f := &fixture{pool: pool, geo: newFakeGeocoder()}
	var err error
	f.store, err = NewStore(pool, testSecret, f.geo, WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	team := func(name string) int64 {
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO teams (name) VALUES ($1) RETURNING id`, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	teams := map[string]int64{"Hackney North": team("Hackney North"), "Hackney South": team("Hackney South"), "Partnership": team("Partnership")}
	user := func(name string, role contexts.Role, tname string) *contexts.Actor {
		a := &contexts.Actor{Name: name, Role: role, TeamID: teams[tname], Team: tname}
		if err := pool.QueryRow(ctx, `INSERT INTO users (name, role, team_id) VALUES ($1, $2, $3) RETURNING id`,
			name, string(role), a.TeamID).Scan(&a.UserID); err != nil {
			t.Fatal(err)
		}
		return a
	}
	f.pracA = user("alice", contexts.RolePractitioner, "Hackney North")
	f.pracA2 = user("amir", contexts.RolePractitioner, "Hackney North")
	f.pracB = user("bola", contexts.RolePractitioner, "Hackney South")
	f.lead = user("lee", contexts.RoleContextLead, "Partnership")
	f.analyst = user("ana", contexts.RoleAnalyst, "Partnership")
	f.admin = user("ada", contexts.RoleAdmin, "Partnership")
	return f
}

// counts returns the row count of every table a records write touches.
func (f *fixture) counts(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"harm_locations", "subjects", "contexts", "context_events", "context_assessments",
		"context_interventions", "context_closures", "context_links", "notifications", "audit_log", "harm_categories"} {
		var n int
		if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

// wantCode fails unless err is a *ctxmap.Error with the code and kind.
func wantCode(t testing.TB, err error, kind ctxmap.Kind, code string) *ctxmap.Error {
	t.Helper()
	var e *ctxmap.Error
	if !errors.As(err, &e) {
		t.Fatalf("want %s error, got %v", code, err)
	}
	if e.Code != code || e.Kind != kind {
		t.Fatalf("want code %s kind %d, got code %s kind %d: %s", code, kind, e.Code, e.Kind, e.Message)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// harmInput is a valid input to vary per test.
func harmInput(subject string) contexts.HarmLocationInput {
	return contexts.HarmLocationInput{Subject: subject, Categories: []string{"cce", "county_lines"}, Familial: "extra",
		Layer: "harm", Occurred: "2026-02-14", Source: "referral", Postcode: "E8 3AA", LocationType: "park"}
}

// wantAudited fails unless exactly one audit entry was written between the
// two counts and the newest entry has this action.
func (f *fixture) wantAudited(t testing.TB, before, after map[string]int, action string) map[string]any {
	t.Helper()
	if after["audit_log"] != before["audit_log"]+1 {
		t.Fatalf("audit entries %d -> %d, want one more (%s)", before["audit_log"], after["audit_log"], action)
	}
	var got string
	var detail map[string]any
	if err := f.pool.QueryRow(context.Background(), `SELECT action, coalesce(detail, '{}') FROM audit_log ORDER BY id DESC LIMIT 1`).
		Scan(&got, &detail); err != nil {
		t.Fatal(err)
	}
	if got != action {
		t.Fatalf("newest audit entry %q, want %q", got, action)
	}
	return detail
}

// refusal is a call that must fail with kind and code.
type refusal struct {
	name string
	kind ctxmap.Kind
	code string
	call func() error
}

// wantRefused runs each refusal as a subtest: a 4xx with a clear code and
// message, and no table changes (a screening refusal writes its audit entry
// only).
func (f *fixture) wantRefused(t *testing.T, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.counts(t)
			e := wantCode(t, tc.call(), tc.kind, tc.code)
			if e.Message == "" {
				t.Error("no message")
			}
			after := f.counts(t)
			if tc.code == "personal_data" {
				// Screening refusals are audited (PRIVACY.md rule 13), and
				// nothing else is written.
				f.wantAudited(t, before, after, "screening.refused")
				after["audit_log"] = before["audit_log"]
			}
			if !equalCounts(before, after) {
				t.Fatalf("wrote something: %v -> %v", before, after)
			}
		})
	}
}

// markReleased records a release made now, as the releaser would (no sets:
// the records store reads only its data time), so that views kept as of
// the latest release (link counts for roles other than practitioners) move.
func (f *fixture) markReleased(t testing.TB) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `INSERT INTO releases
			(data_time, first_month, last_month, k, how, sets, published_cells, duration_ms)
		VALUES (clock_timestamp(), '2024-01-01', '2026-02-01', 5, 'operator', 0, 0, 0)`); err != nil {
		t.Fatal(err)
	}
}

// forAssessment is the purpose store tests read a young person's records for.
var forAssessment = contexts.ReadPurpose{Code: contexts.PurposeAssessment}

// carryOver decides carry_over for every open intervention of a context, so
// a test can close it without changing any intervention.
func carryOver(t testing.TB, f *fixture, contextID int64) []contexts.ClosingDecision {
	t.Helper()
	c := must[*contexts.Context](t)(f.store.Context(context.Background(), f.lead, contextID))
	var out []contexts.ClosingDecision
	for _, iv := range c.Interventions {
		if contexts.IsOpenIntervention(iv.Status) {
			out = append(out, contexts.ClosingDecision{ID: iv.ID, Decision: contexts.DecisionCarryOver})
		}
	}
	return out
}
