package contexts

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// DemoOptions place and attribute the synthetic demo data set.
type DemoOptions struct {
	CenterLat, CenterLon float64
	// Seed makes the data set reproducible.
	Seed int64
	// Now anchors "the last two years"; records never fall after it.
	Now time.Time
	// Practitioners own the young people and their harm locations, round
	// robin, so several teams work with young people at the same places.
	Practitioners []Actor
	// ContextLeads open and work the context records.
	ContextLeads []Actor
}

// DemoSummary says what SeedDemo created, or that demo data was already
// there.
type DemoSummary struct {
	Skipped       bool `json:"skipped"`
	YoungPeople   int  `json:"young_people"`
	HarmLocations int  `json:"harm_locations"`
	Contexts      int  `json:"contexts"`
	Assessments   int  `json:"assessments"`
	Interventions int  `json:"interventions"`
	Links         int  `json:"links"`
}

// demoHotspot is a place where harm concentrates, with how it changes
// over the two years, so heat maps, trends and before/after comparisons
// have something to show.
type demoHotspot struct {
	name, locationType string
	dx, dy             float64 // metres east and north of the centre
	sigma              float64 // spread in metres
	weight             float64 // share of young people
	categories         []string
	trend              string // rising, falling, steady, seasonal
}

var demoHotspots = []demoHotspot{
	{"Hillside Park", "park", 600, 400, 170, 1.4, []string{"cse", "cce", "county_lines"}, "rising"},
	{"Market Street bus stops", "bus_stop", -900, 250, 150, 1.2, []string{"serious_youth_violence", "gangs"}, "falling"},
	{"Station approach", "station", 200, -1100, 200, 1.0, []string{"county_lines", "cce", "missing"}, "steady"},
	{"Kingsway Estate stairwells", "stairwell", -500, -700, 160, 1.0, []string{"cse", "sexual_abuse_child_on_child", "teenage_relationship_abuse"}, "steady"},
	{"Riverside Shopping Centre", "shopping_centre", 1500, -300, 220, 1.1, []string{"cce", "online_harm", "cse"}, "rising"},
	{"High Road takeaways", "takeaway", -1700, 900, 140, 0.8, []string{"serious_youth_violence", "cce"}, "seasonal"},
	{"Canal towpath", "transport_route", 2200, 1400, 250, 0.7, []string{"cse", "modern_slavery", "trafficking"}, "falling"},
	{"Northfield playing fields", "park", -2500, -1500, 230, 0.8, []string{"serious_youth_violence", "physical_abuse_child_on_child"}, "rising"},
}

// Thematic notes for demo assessments, by side: about places, never people.
var demoNotes = map[string][]string{
	SideNeeds: {
		"Young people describe the area as somewhere to be seen after school; several say they feel pressure to be there.",
		"Groups of 10-15 young people gather on weekday evenings; they say there is nowhere else to go once the youth club closes.",
		"Young people report being approached by older males offering lifts and food.",
	},
	SideGuardianship: {
		"Staff at nearby shops are willing to act as safe havens but have had no training.",
		"Residents' association reports feeling unable to intervene; no warden presence after 6pm.",
		"Security staff change often and do not know the local safeguarding route.",
	},
	SideEnvironment: {
		"Lighting is broken along the main path; overgrown hedges create hidden spaces with no sightlines.",
		"CCTV does not cover the rear entrance; the underpass is used as a meeting point.",
		"Licensing conditions of two premises allow late opening with no door staff.",
	},
}

var demoInterventions = []struct {
	action, agency, side string
}{
	{"Repair lighting and cut back vegetation on the main path", "parks", SideEnvironment},
	{"Detached youth work sessions on Tuesday and Friday evenings", "youth_services", SideNeeds},
	{"Safe-haven training for shop and takeaway staff", "local_business", SideGuardianship},
	{"Licensing review of late-opening premises", "licensing", SideEnvironment},
	{"Transport staff briefing on spotting exploitation", "transport", SideGuardianship},
	{"Targeted patrols at peak times agreed at MACE", "police", SideGuardianship},
	{"School assemblies on healthy relationships", "school", SideNeeds},
}

// SeedDemo creates a clearly labelled synthetic data set around a centre:
// a few hundred young people (ids DEMO-YP-nnnn), a few thousand harm
// locations over the last two years clustered in hotspots with rising,
// falling and seasonal trends (several dense enough to publish at res 6-8
// with k=10), and a few dozen context records with assessments,
// interventions, closures and links. Everything is flagged demo=true and
// names end in "(demo)". It uses coordinates, so it works without a postcode
// directory, and does nothing if demo data was seeded before.
func (s *Store) SeedDemo(ctx context.Context, o DemoOptions) (DemoSummary, error) {
	var sum DemoSummary
	if len(o.Practitioners) == 0 || len(o.ContextLeads) == 0 {
		return sum, ctxmap.Errorf(ctxmap.KindInvalid, "demo_actors", "demo data needs at least one practitioner and one context lead")
	}
	if !geo.InUK(o.CenterLat, o.CenterLon) {
		return sum, ctxmap.Errorf(ctxmap.KindInvalid, "outside_uk", "the demo centre %.5f, %.5f is outside the UK", o.CenterLat, o.CenterLon)
	}
	if o.Now.IsZero() {
		o.Now = s.now()
	}
	g := &demoGen{o: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed)), secret: s.secret}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// One seeder at a time; the second finds the first one's row.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(72727301)`); err != nil {
			return err
		}
		var seeded bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM demo_seeds)`).Scan(&seeded); err != nil {
			return fmt.Errorf("check demo data: %w", err)
		}
		if seeded {
			sum.Skipped = true
			return nil
		}
		if err := g.people(ctx, tx, &sum); err != nil {
			return err
		}
		if err := g.contexts(ctx, tx, &sum); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO demo_seeds (seed, center_lat, center_lon) VALUES ($1, $2, $3)`,
			o.Seed, o.CenterLat, o.CenterLon); err != nil {
			return fmt.Errorf("record demo seed: %w", err)
		}
		return Audit(ctx, tx, &o.ContextLeads[0], "demo.seed", "demo", "synthetic demo data", sum)
	})
	if err != nil {
		return DemoSummary{}, err
	}
	if !sum.Skipped {
		s.heatChanged()
	}
	return sum, nil
}

type demoGen struct {
	o      DemoOptions
	rng    *rand.Rand
	secret []byte
	// per hotspot: the demo subjects' ids and practitioners there
	members [][]demoMember
	months  int
}

type demoMember struct {
	subjectID int64
	by        *Actor
}

// offset moves the centre by metres east and north.
func (g *demoGen) offset(dx, dy float64) (lat, lon float64) {
	lat = g.o.CenterLat + dy/111_320
	lon = g.o.CenterLon + dx/(111_320*math.Cos(g.o.CenterLat*math.Pi/180))
	return lat, lon
}

// monthWeight shapes each hotspot's trend over months 0 (oldest) .. 23.
func monthWeight(trend string, m, months int) float64 {
	x := float64(m) / float64(months-1)
	switch trend {
	case "rising":
		return 0.3 + 1.4*x
	case "falling": // interventions around the middle of the period worked
		if x < 0.5 {
			return 1.4
		}
		return 0.35
	case "seasonal": // summer holidays
		return 0.6 + 0.8*math.Max(0, math.Cos(2*math.Pi*(float64(m%12)-6.5)/12))
	}
	return 1
}

func (g *demoGen) pick(weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	r := g.rng.Float64() * total
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

func pickOne[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// people creates the young people and their harm locations.
func (g *demoGen) people(ctx context.Context, tx pgx.Tx, sum *DemoSummary) error {
	const nPeople = 320
	rng := g.rng
	g.months = 24
	first := time.Date(g.o.Now.Year(), g.o.Now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -g.months, 0)
	h := newSubjectHasher(g.secret)
	hashes := make([][]byte, nPeople)
	keys := make([]int16, nPeople)
	for i := range hashes {
		sh := h.hash(fmt.Sprintf("DEMO-YP-%04d", i+1))
		hashes[i], keys[i] = sh[:], int16(h.cellKey(sh))
	}
	rows, err := tx.Query(ctx, `INSERT INTO subjects (hash, cell_key, demo)
		SELECT h, k, true FROM unnest($1::bytea[], $2::smallint[]) AS u(h, k)
		ON CONFLICT (hash) DO UPDATE SET demo = true RETURNING id, hash`, hashes, keys)
	if err != nil {
		return fmt.Errorf("demo subjects: %w", err)
	}
	ids := make(map[string]int64, nPeople)
	keyOf := make(map[int64]int16, nPeople)
	var id int64
	var hash []byte
	if _, err := pgx.ForEachRow(rows, []any{&id, &hash}, func() error { ids[string(hash)] = id; return nil }); err != nil {
		return fmt.Errorf("demo subjects: %w", err)
	}
	for i, hh := range hashes {
		keyOf[ids[string(hh)]] = keys[i]
	}
	sum.YoungPeople = nPeople

	weights := make([]float64, len(demoHotspots))
	for i, hs := range demoHotspots {
		weights[i] = hs.weight
	}
	g.members = make([][]demoMember, len(demoHotspots))
	var out [][]any
	fam := []string{"extra", "extra", "extra", "extra", "extra", "extra", "both", "both", "unknown", "intra"}
	background := []string{"street", "bus_stop", "shop", "park", "estate", "school", "youth_club", "other"}
	today := ukDay(g.o.Now)
	for i := 0; i < nPeople; i++ {
		by := &g.o.Practitioners[i%len(g.o.Practitioners)]
		sid := ids[string(hashes[i])]
		spots := []int{g.pick(weights)}
		if rng.Float64() < 0.4 {
			spots = append(spots, g.pick(weights))
		}
		for _, sp := range spots {
			g.members[sp] = append(g.members[sp], demoMember{sid, by})
		}
		n := 1 + int(rng.ExpFloat64()*5)
		n = min(n, 25)
		for r := 0; r < n; r++ {
			hs := demoHotspots[spots[rng.IntN(len(spots))]]
			var lat, lon float64
			ltype := hs.locationType
			cats := []string{pickOne(rng, hs.categories)}
			if rng.Float64() < 0.15 { // somewhere else in the area
				ang, dist := rng.Float64()*2*math.Pi, 4000*math.Sqrt(rng.Float64())
				lat, lon = g.offset(dist*math.Cos(ang), dist*math.Sin(ang))
				ltype = pickOne(rng, background)
			} else {
				lat, lon = g.offset(hs.dx+rng.NormFloat64()*hs.sigma, hs.dy+rng.NormFloat64()*hs.sigma)
			}
			if rng.Float64() < 0.3 {
				if c := pickOne(rng, hs.categories); c != cats[0] {
					cats = append(cats, c)
				}
			}
			mw := make([]float64, g.months)
			for m := range mw {
				mw[m] = monthWeight(hs.trend, m, g.months)
			}
			mstart := first.AddDate(0, g.pick(mw), 0)
			day := mstart.AddDate(0, 0, rng.IntN(daysIn(mstart)))
			if day.After(today) {
				day = today
			}
			layer, source := "harm", pickOne(rng, []string{"referral", "referral", "assessment", "assessment", "partner_information", "other"})
			if rng.Float64() < 0.22 {
				layer, source = "unsafe", "safety_map"
			}
			prec := "day"
			if rng.Float64() < 0.2 {
				day, prec = mstart, "month"
			}
			c := geo.CellsFor(lat, lon)
			created := day.Add(time.Duration(rng.IntN(14*24)) * time.Hour)
			if created.After(g.o.Now) {
				created = g.o.Now
			}
			row := []any{sid, keyOf[sid], by.TeamID, by.UserID, created, layer, cats, pickOne(rng, fam), day, prec, source, ltype,
				"latlon", int32(latlonPrecisionM), lat, lon, int64(c[0]), int64(c[1]), int64(c[2]), int32(1), true,
				nil, nil, nil, nil}
			if rng.Float64() < 0.03 {
				reason := pickOne(rng, []string{ArchiveNoLongerAnIssue, ArchiveNeverAnIssue})
				row[21], row[22], row[23], row[24] = created.Add(30*24*time.Hour), by.UserID, reason, "Reviewed at supervision (demo)"
				if row[21].(time.Time).After(g.o.Now) {
					row[21] = g.o.Now
				}
			}
			out = append(out, row)
		}
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"harm_locations"}, []string{"subject_id", "subject_key", "team_id", "created_by", "created_at",
		"layer", "categories", "familial", "occurred_on", "occurred_precision", "source", "location_type", "match",
		"precision_m", "lat", "lon", "h3_r6", "h3_r7", "h3_r8", "taxonomy_version", "demo",
		"archived_at", "archived_by", "archive_reason", "archive_note"}, pgx.CopyFromRows(out))
	if err != nil {
		return fmt.Errorf("demo harm locations: %w", err)
	}
	sum.HarmLocations = int(n)
	return nil
}

func daysIn(monthStart time.Time) int {
	return monthStart.AddDate(0, 1, -1).Day()
}

// contexts opens context records: one per hotspot (with the Level 2 work
// a MACE panel would record), a few other places, groups and schools.
func (g *demoGen) contexts(ctx context.Context, tx pgx.Tx, sum *DemoSummary) error {
	rng := g.rng
	now := g.o.Now
	lead := func() *Actor { return &g.o.ContextLeads[rng.IntN(len(g.o.ContextLeads))] }
	type spec struct {
		kind, ltype, name string
		dx, dy            float64
		hotspot           int // -1 for none
	}
	var specs []spec
	for i, hs := range demoHotspots {
		specs = append(specs, spec{KindLocation, hs.locationType, hs.name + " (demo)", hs.dx, hs.dy, i})
	}
	others := []struct{ ltype, name string }{
		{"playground", "Elm Road playground"}, {"youth_club", "Vale youth centre"}, {"sports_facility", "Leisure centre car park"},
		{"shop", "Corner shop, Albion Parade"}, {"estate", "Marsh Lane estate garages"}, {"hotel", "Budget hotel by the ring road"},
		{"street", "Alleyway behind the parade"}, {"bus_stop", "Night bus stop, Ring Road"}, {"short_let", "Short-let flats, Quay Street"},
		{"college", "Further education college entrance"},
	}
	for _, x := range others {
		ang, dist := rng.Float64()*2*math.Pi, 500+3000*rng.Float64()
		specs = append(specs, spec{KindLocation, x.ltype, x.name + " (demo)", dist * math.Cos(ang), dist * math.Sin(ang), -1})
	}
	for _, x := range []string{"Young people around the Market Street incident", "Group linked to the station approach",
		"Peer group at the leisure centre", "Online group chat association", "Group around the summer fireworks incident"} {
		specs = append(specs, spec{KindGroup, "", x + " (demo)", 0, 0, -1})
	}
	for _, x := range []string{"Northfield Academy", "St Mary's High School", "Riverside Pupil Referral Unit", "Kingsway Primary"} {
		ang, dist := rng.Float64()*2*math.Pi, 300+3000*rng.Float64()
		specs = append(specs, spec{KindSchool, "", x + " (demo)", dist * math.Cos(ang), dist * math.Sin(ang), -1})
	}
	for i, sp := range specs {
		opened := now.AddDate(0, -(6 + rng.IntN(16)), -rng.IntN(28))
		by := lead()
		var lat, lon *float64
		if sp.kind != KindGroup {
			la, lo := g.offset(sp.dx, sp.dy)
			lat, lon = &la, &lo
		}
		display := DisplayName(sp.ltype, sp.name, "", lat, lon)
		var key *string
		if sp.kind != KindLocation {
			key = dedupeKey(sp.kind, "", sp.name, "")
		}
		var match *string
		if lat != nil {
			m := "latlon"
			match = &m
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO contexts (kind, location_type, name, display_name, description, lat, lon, match,
				dedupe_key, team_id, created_by, created_at, updated_at, demo, review_date)
			VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, true, $13) RETURNING id`,
			sp.kind, sp.ltype, sp.name, display, "Synthetic demo record: not a real place or case.", lat, lon, match, key,
			by.TeamID, by.UserID, opened, ukDay(now).AddDate(0, 1+rng.IntN(3), 0)).Scan(&id); err != nil {
			return fmt.Errorf("demo context: %w", err)
		}
		sum.Contexts++
		at := opened
		step := func() time.Time {
			at = at.Add(time.Duration(24+rng.IntN(20*24)) * time.Hour)
			if at.After(now) {
				at = now.Add(-time.Minute)
			}
			return at
		}
		if _, err := addEventAt(ctx, tx, by, id, opened, EventOpened, "Opened "+display, map[string]any{"kind": sp.kind}); err != nil {
			return err
		}
		nNotes := rng.IntN(3)
		if sp.hotspot >= 0 {
			nNotes = 3 + rng.IntN(3)
		}
		for k := 0; k < nNotes; k++ {
			side := SideCodes[k%3]
			when := step()
			var aid int64
			if err := tx.QueryRow(ctx, `INSERT INTO context_assessments (context_id, side, note, created_by, created_at)
				VALUES ($1, $2, $3, $4, $5) RETURNING id`, id, side, pickOne(rng, demoNotes[side]), by.UserID, when).Scan(&aid); err != nil {
				return fmt.Errorf("demo assessment: %w", err)
			}
			label, _ := SideLabel(sp.kind, side)
			if _, err := addEventAt(ctx, tx, by, id, when, EventAssessmentAdded, "Assessment added: "+label,
				map[string]any{"assessment_id": aid, "side": side}); err != nil {
				return err
			}
			sum.Assessments++
		}
		nInt := rng.IntN(2)
		if sp.hotspot >= 0 {
			nInt = 2 + rng.IntN(3)
		}
		for k := 0; k < nInt; k++ {
			iv := demoInterventions[(i+k)%len(demoInterventions)]
			when := step()
			status := pickOne(rng, []string{InterventionPlanned, InterventionInProgress, InterventionDone, InterventionDone, InterventionDropped})
			var done *time.Time
			if status == InterventionDone {
				d := ukDay(when.AddDate(0, 1, 0))
				if d.After(ukDay(now)) {
					d = ukDay(now)
				}
				done = &d
			}
			due := ukDay(when.AddDate(0, 2, 0))
			var iid int64
			if err := tx.QueryRow(ctx, `INSERT INTO context_interventions (context_id, action, partner_agency, side, status,
					due_date, done_date, created_by, updated_by, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $9) RETURNING id`,
				id, iv.action, iv.agency, iv.side, status, due, done, by.UserID, when).Scan(&iid); err != nil {
				return fmt.Errorf("demo intervention: %w", err)
			}
			agency, _ := termLabel(partnerAgencies, iv.agency)
			if _, err := addEventAt(ctx, tx, by, id, when, EventInterventionAdded, fmt.Sprintf("Intervention added with %s (%s)", agency, status),
				map[string]any{"intervention_id": iid, "status": status, "partner_agency": iv.agency, "side": iv.side}); err != nil {
				return err
			}
			sum.Interventions++
		}
		if sp.hotspot >= 0 {
			members := g.members[sp.hotspot]
			seen := map[[2]int64]bool{}
			for _, m := range members {
				if rng.Float64() > 0.3 || seen[[2]int64{m.subjectID, m.by.TeamID}] {
					continue
				}
				seen[[2]int64{m.subjectID, m.by.TeamID}] = true
				when := step()
				if _, err := tx.Exec(ctx, `INSERT INTO context_links (context_id, subject_id, team_id, linked_by, linked_at, reason)
					VALUES ($1, $2, $3, $4, $5, 'Named in safety mapping (demo)')`, id, m.subjectID, m.by.TeamID, m.by.UserID, when); err != nil {
					return fmt.Errorf("demo link: %w", err)
				}
				if _, err := addEventAt(ctx, tx, m.by, id, when, EventLinked, "A young person was linked by "+m.by.Team, nil); err != nil {
					return err
				}
				sum.Links++
			}
		}
		// A few places improved enough to close; one came back.
		if (sp.hotspot < 0 && sp.kind == KindLocation && i%4 == 0) || sp.hotspot == 6 {
			when := step()
			var cid int64
			if err := tx.QueryRow(ctx, `INSERT INTO context_closures (context_id, reason, evidence_needs, evidence_guardianship,
					evidence_environment, closed_by, closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, id,
				"Safety increased: fewer referrals name the place and partners sustain the changes",
				"Young people say they now use the youth centre instead",
				"Trained staff and a warden are present at peak times",
				"Lighting repaired and hidden spaces cleared", by.UserID, when).Scan(&cid); err != nil {
				return fmt.Errorf("demo closure: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE contexts SET status = 'closed', closed_at = $2 WHERE id = $1`, id, when); err != nil {
				return fmt.Errorf("demo closure: %w", err)
			}
			if _, err := addEventAt(ctx, tx, by, id, when, EventClosed, "Closed: Safety increased", map[string]any{"closure_id": cid}); err != nil {
				return err
			}
			if i%8 == 0 {
				when := step()
				if _, err := tx.Exec(ctx, `UPDATE context_closures SET reopened_by = $2, reopened_at = $3,
					reopen_reason = 'New referrals name the place again' WHERE id = $1`, cid, by.UserID, when); err != nil {
					return fmt.Errorf("demo reopen: %w", err)
				}
				if _, err := tx.Exec(ctx, `UPDATE contexts SET status = 'open', closed_at = NULL WHERE id = $1`, id); err != nil {
					return fmt.Errorf("demo reopen: %w", err)
				}
				if _, err := addEventAt(ctx, tx, by, id, when, EventReopened, "Reopened: New referrals name the place again", nil); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE contexts SET updated_at = greatest(created_at, $2) WHERE id = $1`, id, at); err != nil {
			return fmt.Errorf("demo context: %w", err)
		}
	}
	return nil
}
