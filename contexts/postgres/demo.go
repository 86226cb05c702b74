package postgres

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
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
	Practitioners []contexts.Actor
	// ContextLeads open and work the context records.
	ContextLeads []contexts.Actor
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
	SafetyPlaces  int  `json:"safety_places"`
}

// SeedDemo creates a clearly labelled synthetic data set around a centre:
// a few hundred young people (ids DEMO-YP-nnnn), a few thousand harm
// locations over the last two years clustered in hotspots with rising,
// falling and seasonal trends (several dense enough to publish at res 6-8
// with k=10), and a few dozen context records with assessments,
// interventions, closures and links. Everything is flagged demo=true and
// names end in "(demo)". It uses coordinates, so it works without a postcode
// directory, and does nothing if demo data was seeded before.
//
// The data goes through the same methods the API calls (one writer per
// table), in one transaction: a copy of the store writes on the seeding
// transaction, marks every row as demo data and dates it at the moment the
// story needs rather than now.
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
		seeder := *s
		// Points are named by their coordinates, as before any postcode
		// directory is imported.
		seeder.db, seeder.demo, seeder.geocoder = tx, true, nil
		seeder.now = func() time.Time { return o.Now }
		g := &demoGen{o: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed)), s: &seeder}
		if err := g.people(ctx, &sum); err != nil {
			return err
		}
		if err := g.contexts(ctx, &sum); err != nil {
			return err
		}
		if err := g.safePlaces(ctx, &sum); err != nil {
			return err
		}
		if err := g.recordWork(ctx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO demo_seeds (seed, center_lat, center_lon) VALUES ($1, $2, $3)`,
			o.Seed, o.CenterLat, o.CenterLon); err != nil {
			return fmt.Errorf("record demo seed: %w", err)
		}
		return audit(ctx, tx, &o.ContextLeads[0], "demo.seed", "demo", "synthetic demo data", sum)
	})
	if err != nil {
		return DemoSummary{}, err
	}
	return sum, nil
}

type demoGen struct {
	o   DemoOptions
	rng *rand.Rand
	// s is the seeding copy of the store.
	s *Store
	// per hotspot: the demo young people and practitioners there
	members [][]demoMember
	months  int
}

type demoMember struct {
	subject string
	by      *contexts.Actor
}

// at dates the seeder's next writes.
func (g *demoGen) at(t time.Time) { g.s.at = &t }

// people creates the young people and their harm locations.
func (g *demoGen) people(ctx context.Context, sum *DemoSummary) error {
	const nPeople = 320
	rng := g.rng
	g.months = 24
	first := time.Date(g.o.Now.Year(), g.o.Now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -g.months, 0)
	sum.YoungPeople = nPeople

	weights := make([]float64, len(demoHotspots))
	for i, hs := range demoHotspots {
		weights[i] = hs.weight
	}
	g.members = make([][]demoMember, len(demoHotspots))
	fam := []contexts.Familial{contexts.FamilialExtra, contexts.FamilialExtra, contexts.FamilialExtra, contexts.FamilialExtra,
		contexts.FamilialExtra, contexts.FamilialExtra, contexts.FamilialBoth, contexts.FamilialBoth, contexts.FamilialUnknown,
		contexts.FamilialIntra}
	background := []string{"street", "bus_stop", "shop", "park", "estate", "school", "youth_club", "other"}
	sources := []contexts.Source{contexts.SourceReferral, contexts.SourceReferral, contexts.SourceAssessment,
		contexts.SourceAssessment, contexts.SourcePartnerInformation, contexts.SourceOther}
	today := contexts.UKDay(g.o.Now)
	for i := 0; i < nPeople; i++ {
		by := &g.o.Practitioners[i%len(g.o.Practitioners)]
		subject := fmt.Sprintf("DEMO-YP-%04d", i+1)
		spots := []int{g.pick(weights)}
		if rng.Float64() < 0.4 {
			spots = append(spots, g.pick(weights))
		}
		for _, sp := range spots {
			g.members[sp] = append(g.members[sp], demoMember{subject, by})
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
			layer, source := ctxmap.LayerHarm, pickOne(rng, sources)
			if rng.Float64() < 0.22 {
				layer, source = ctxmap.LayerUnsafe, contexts.SourceSafetyMap
			}
			occurred := day.Format("2006-01-02")
			if rng.Float64() < 0.2 {
				occurred = mstart.Format("2006-01")
			}
			created := day.Add(time.Duration(rng.IntN(14*24)) * time.Hour)
			if created.After(g.o.Now) {
				created = g.o.Now
			}
			familial := pickOne(rng, fam)
			archive := rng.Float64() < 0.03
			var reason string
			if archive {
				reason = pickOne(rng, []string{contexts.ArchiveNoLongerAnIssue, contexts.ArchiveNeverAnIssue})
			}
			if !geo.InUK(lat, lon) {
				continue // a centre on the coast: no records in the sea
			}
			g.at(created)
			h, err := g.s.CreateHarmLocation(ctx, by, contexts.HarmLocationInput{Subject: subject, Categories: cats,
				Familial: string(familial), Layer: string(layer), Occurred: occurred, Source: string(source),
				Lat: &lat, Lon: &lon, LocationType: ltype})
			if err != nil {
				return fmt.Errorf("demo harm location: %w", err)
			}
			sum.HarmLocations++
			if archive {
				archived := created.Add(30 * 24 * time.Hour)
				if archived.After(g.o.Now) {
					archived = g.o.Now
				}
				g.at(archived)
				if _, err := g.s.ArchiveHarmLocation(ctx, by, h.ID, contexts.ArchiveInput{Reason: reason,
					Note: "Reviewed at supervision (demo)"}); err != nil {
					return fmt.Errorf("demo archive: %w", err)
				}
			}
		}
	}
	return nil
}

// contexts opens context records: one per hotspot (with the Level 2 work
// a MACE panel would record), a few other places, groups and schools.
func (g *demoGen) contexts(ctx context.Context, sum *DemoSummary) error {
	rng := g.rng
	now := g.o.Now
	lead := func() *contexts.Actor { return &g.o.ContextLeads[rng.IntN(len(g.o.ContextLeads))] }
	type spec struct {
		kind, ltype, name string
		dx, dy            float64
		hotspot           int // -1 for none
	}
	var specs []spec
	for i, hs := range demoHotspots {
		specs = append(specs, spec{contexts.KindLocation, hs.locationType, hs.name + " (demo)", hs.dx, hs.dy, i})
	}
	others := []struct{ ltype, name string }{
		{"playground", "Elm Road playground"}, {"youth_club", "Vale youth centre"}, {"sports_facility", "Leisure centre car park"},
		{"shop", "Corner shop, Albion Parade"}, {"estate", "Marsh Lane estate garages"}, {"hotel", "Budget hotel by the ring road"},
		{"street", "Alleyway behind the parade"}, {"bus_stop", "Night bus stop, Ring Road"}, {"short_let", "Short-let flats, Quay Street"},
		{"college", "Further education college entrance"},
	}
	for _, x := range others {
		ang, dist := rng.Float64()*2*math.Pi, 500+3000*rng.Float64()
		specs = append(specs, spec{contexts.KindLocation, x.ltype, x.name + " (demo)", dist * math.Cos(ang), dist * math.Sin(ang), -1})
	}
	for _, x := range []string{"Young people around the Market Street incident", "Group linked to the station approach",
		"Peer group at the leisure centre", "Online group chat association", "Group around the summer fireworks incident"} {
		specs = append(specs, spec{contexts.KindGroup, "", x + " (demo)", 0, 0, -1})
	}
	for _, x := range []string{"Northfield Academy", "St Mary's High School", "Riverside Pupil Referral Unit", "Kingsway Primary"} {
		ang, dist := rng.Float64()*2*math.Pi, 300+3000*rng.Float64()
		specs = append(specs, spec{contexts.KindSchool, "", x + " (demo)", dist * math.Cos(ang), dist * math.Sin(ang), -1})
	}
	for i, sp := range specs {
		opened := now.AddDate(0, -(6 + rng.IntN(16)), -rng.IntN(28))
		by := lead()
		in := contexts.ContextInput{Kind: sp.kind, LocationType: sp.ltype, Name: sp.name,
			Description: "Synthetic demo record: not a real place or case.",
			ReviewDate:  contexts.UKDay(now).AddDate(0, 1+rng.IntN(3), 0).Format("2006-01-02")}
		if sp.kind != contexts.KindGroup {
			la, lo := g.offset(sp.dx, sp.dy)
			if !geo.InUK(la, lo) {
				continue
			}
			in.Lat, in.Lon = &la, &lo
		}
		g.at(opened)
		// Every sixth context missed its review: its date was set when it
		// was opened, three months on, and has passed, so the oversight
		// list of reviews overdue has something to show.
		overdue := i%6 == 5
		if overdue {
			in.ReviewDate = contexts.UKDay(opened).AddDate(0, 3, 0).Format("2006-01-02")
			g.s.now = func() time.Time { return opened }
		}
		c, err := g.s.CreateContext(ctx, by, in)
		g.s.now = func() time.Time { return g.o.Now }
		if err != nil {
			return fmt.Errorf("demo context: %w", err)
		}
		id := c.ID
		sum.Contexts++
		at := opened
		step := func() {
			at = at.Add(time.Duration(24+rng.IntN(20*24)) * time.Hour)
			if at.After(now) {
				at = now.Add(-time.Minute)
			}
			g.at(at)
		}
		nNotes := rng.IntN(3)
		if sp.hotspot >= 0 {
			nNotes = 3 + rng.IntN(3)
		}
		for k := 0; k < nNotes; k++ {
			side := contexts.SideCodes[k%3]
			step()
			if _, err := g.s.AddAssessment(ctx, by, id, contexts.AssessmentInput{Side: side, Note: pickOne(rng, demoNotes[side])}); err != nil {
				return fmt.Errorf("demo assessment: %w", err)
			}
			sum.Assessments++
		}
		nInt := rng.IntN(2)
		if sp.hotspot >= 0 {
			nInt = 2 + rng.IntN(3)
		}
		for k := 0; k < nInt; k++ {
			iv := demoInterventions[(i+k)%len(demoInterventions)]
			step()
			status := pickOne(rng, []string{contexts.InterventionPlanned, contexts.InterventionInProgress,
				contexts.InterventionDone, contexts.InterventionDone, contexts.InterventionDropped})
			var done string
			if status == contexts.InterventionDone {
				d := contexts.UKDay(at.AddDate(0, 1, 0))
				if d.After(contexts.UKDay(now)) {
					d = contexts.UKDay(now)
				}
				done = d.Format("2006-01-02")
			}
			in := contexts.InterventionInput{Action: iv.action, PartnerAgency: iv.agency, Side: iv.side, Status: &status,
				DueDate: contexts.UKDay(at.AddDate(0, 2, 0)).Format("2006-01-02"), DoneDate: done}
			if _, err := g.s.AddIntervention(ctx, by, id, in); err != nil {
				return fmt.Errorf("demo intervention: %w", err)
			}
			sum.Interventions++
		}
		if sp.hotspot >= 0 {
			seen := map[[2]any]bool{}
			for _, m := range g.members[sp.hotspot] {
				if rng.Float64() > 0.3 || seen[[2]any{m.subject, m.by.TeamID}] {
					continue
				}
				seen[[2]any{m.subject, m.by.TeamID}] = true
				step()
				if _, err := g.s.LinkYoungPerson(ctx, m.by, id, contexts.LinkInput{Subject: m.subject,
					Reason: "Named in safety mapping (demo)"}); err != nil {
					return fmt.Errorf("demo link: %w", err)
				}
				sum.Links++
			}
		}
		// A few places improved enough to close; one came back.
		if (sp.hotspot < 0 && sp.kind == contexts.KindLocation && i%4 == 0) || sp.hotspot == 6 {
			step()
			if _, err := g.s.CloseContext(ctx, by, id, contexts.CloseInput{
				Reason: "Safety increased: fewer referrals name the place and partners sustain the changes",
				Evidence: map[string]string{
					contexts.SideNeeds:        "Young people say they now use the youth centre instead",
					contexts.SideGuardianship: "Trained staff and a warden are present at peak times",
					contexts.SideEnvironment:  "Lighting repaired and hidden spaces cleared",
				}}); err != nil {
				return fmt.Errorf("demo closure: %w", err)
			}
			if i%8 == 0 {
				step()
				if _, err := g.s.ReopenContext(ctx, by, id, contexts.ReopenInput{Reason: "New referrals name the place again"}); err != nil {
					return fmt.Errorf("demo reopen: %w", err)
				}
			}
		}
	}
	return nil
}

// demoSafeSpots are the green places of the demo's safety maps: a youth club
// and a sports centre where young people say a trusted adult is, so the safe
// layer has something to show. Metres east and north of the centre.
var demoSafeSpots = []struct {
	locationType, trustedAdult string
	dx, dy, sigma              float64
}{
	{"youth_club", "youth_worker", -300, 700, 60},
	{"sports_facility", "sports_coach", 900, -400, 60},
}

// safePlaces records green safety-map places for some of the demo's young
// people over the last year. It draws on its own random source, so the rest
// of the demo data stays as it was before safety mapping existed.
func (g *demoGen) safePlaces(ctx context.Context, sum *DemoSummary) error {
	rng := rand.New(rand.NewPCG(uint64(g.o.Seed), 0x5afe))
	var people []demoMember
	for _, ms := range g.members {
		people = append(people, ms...)
	}
	if len(people) == 0 {
		return nil
	}
	first := time.Date(g.o.Now.Year(), g.o.Now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -12, 0)
	for i := range 60 {
		m := people[rng.IntN(len(people))]
		spot := demoSafeSpots[i%len(demoSafeSpots)]
		lat, lon := g.offset(spot.dx+rng.NormFloat64()*spot.sigma, spot.dy+rng.NormFloat64()*spot.sigma)
		month := first.AddDate(0, rng.IntN(12), 0)
		g.at(month.AddDate(0, 0, 20))
		if _, err := g.s.CreateSafetyPlace(ctx, m.by, contexts.SafetyPlaceInput{Subject: m.subject, Rating: contexts.SafetyGreen,
			Mapped: month.Format("2006-01"), TrustedAdult: spot.trustedAdult, Lat: &lat, Lon: &lon, LocationType: spot.locationType}); err != nil {
			return fmt.Errorf("demo safety place: %w", err)
		}
		sum.SafetyPlaces++
	}
	return nil
}

// recordWork adds to the demo young people's records the markers,
// relocations and contextual factors with plan actions of issue 13, through
// the store's own methods, so the record rates have something to publish.
// It draws from a generator of its own so the rest of the demo data stays as
// it was for a seed.
func (g *demoGen) recordWork(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(uint64(g.o.Seed), 0x3ec0))
	var ctxIDs []int64
	rows, err := g.s.db.Query(ctx, `SELECT id FROM contexts WHERE kind = 'location' ORDER BY id`)
	if err != nil {
		return fmt.Errorf("demo record work: %w", err)
	}
	if ctxIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return fmt.Errorf("demo record work: %w", err)
	}
	today := contexts.UKDay(g.o.Now)
	values := []string{contexts.MarkExtra, contexts.MarkExtra, contexts.MarkExtra, contexts.MarkBoth, contexts.MarkIntra, contexts.MarkNone}
	kinds, _ := contexts.RelocationKinds()
	ltypes := []string{"park", "bus_stop", "station", "takeaway", "estate"}
	agencies := []string{"police", "transport", "youth_services", "licensing", "housing", "school"}
	statuses := []string{contexts.InterventionPlanned, contexts.InterventionInProgress, contexts.InterventionDone}
	for i := 0; i < 320; i++ {
		by := &g.o.Practitioners[i%len(g.o.Practitioners)]
		subject := fmt.Sprintf("DEMO-YP-%04d", i+1)
		day := today.AddDate(0, 0, -15-rng.IntN(g.months*30))
		date := day.Format(time.DateOnly)
		g.at(day.Add(10 * time.Hour))
		if _, err := g.s.AddMarker(ctx, by, contexts.MarkerInput{Subject: subject, Kind: contexts.MarkerReferral, Familial: pickOne(rng, values), Date: date}); err != nil {
			return fmt.Errorf("demo marker: %w", err)
		}
		if rng.Float64() < 0.7 {
			out := day.AddDate(0, 0, rng.IntN(12))
			if out.After(today) {
				out = today
			}
			if _, err := g.s.AddMarker(ctx, by, contexts.MarkerInput{Subject: subject, Kind: contexts.MarkerOutcome, Familial: pickOne(rng, values), Date: out.Format(time.DateOnly)}); err != nil {
				return fmt.Errorf("demo marker: %w", err)
			}
		}
		if rng.Float64() < 0.25 {
			if _, err := g.s.AddRelocation(ctx, by, contexts.RelocationInput{Subject: subject, Date: date, Kind: kinds[rng.IntN(len(kinds))]}); err != nil {
				return fmt.Errorf("demo relocation: %w", err)
			}
		}
		if rng.Float64() < 0.6 {
			in := contexts.FactorInput{Subject: subject, IdentifiedOn: date, Description: "Older peers gather here after school (demo)"}
			if len(ctxIDs) > 0 && rng.Float64() < 0.5 {
				in.ContextID = ctxIDs[rng.IntN(len(ctxIDs))]
			} else {
				in.LocationType, in.AreaKind, in.Area = pickOne(rng, ltypes), contexts.AreaPostcodeDistrict, "E8"
			}
			f, err := g.s.AddFactor(ctx, by, in)
			if err != nil {
				return fmt.Errorf("demo factor: %w", err)
			}
			if rng.Float64() < 0.7 {
				st := pickOne(rng, statuses)
				if _, err := g.s.AddFactorAction(ctx, by, f.ID, contexts.FactorActionInput{Action: "Patrols and detached youth work (demo)",
					PartnerAgency: pickOne(rng, agencies), Status: &st}); err != nil {
					return fmt.Errorf("demo plan action: %w", err)
				}
			}
		}
	}
	return nil
}
