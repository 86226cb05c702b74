package postgres

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
)

// The synthetic demo data set's shape: where harm concentrates, how it
// changes over two years, and the thematic notes and interventions a MACE
// panel would record. SeedDemo writes it through the store's own methods.

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
	contexts.SideNeeds: {
		"Young people describe the area as somewhere to be seen after school; several say they feel pressure to be there.",
		"Groups of 10-15 young people gather on weekday evenings; they say there is nowhere else to go once the youth club closes.",
		"Young people report being approached by older males offering lifts and food.",
	},
	contexts.SideGuardianship: {
		"Staff at nearby shops are willing to act as safe havens but have had no training.",
		"Residents' association reports feeling unable to intervene; no warden presence after 6pm.",
		"Security staff change often and do not know the local safeguarding route.",
	},
	contexts.SideEnvironment: {
		"Lighting is broken along the main path; overgrown hedges create hidden spaces with no sightlines.",
		"CCTV does not cover the rear entrance; the underpass is used as a meeting point.",
		"Licensing conditions of two premises allow late opening with no door staff.",
	},
}

var demoInterventions = []struct {
	action, agency, side string
}{
	{"Repair lighting and cut back vegetation on the main path", "parks", contexts.SideEnvironment},
	{"Detached youth work sessions on Tuesday and Friday evenings", "youth_services", contexts.SideNeeds},
	{"Safe-haven training for shop and takeaway staff", "local_business", contexts.SideGuardianship},
	{"Licensing review of late-opening premises", "licensing", contexts.SideEnvironment},
	{"Transport staff briefing on spotting exploitation", "transport", contexts.SideGuardianship},
	{"Targeted patrols at peak times agreed at MACE", "police", contexts.SideGuardianship},
	{"School assemblies on healthy relationships", "school", contexts.SideNeeds},
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

func daysIn(monthStart time.Time) int {
	return monthStart.AddDate(0, 1, -1).Day()
}
