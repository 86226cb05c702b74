package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// londonBBox is the area of the synthetic data set: Greater London
// (west, south, east, north in degrees).
var londonBBox = [4]float64{-0.510, 51.286, 0.334, 51.692}

// hotspot is a place where harm concentrates: town centres, stations and
// estates around Greater London (approximate public landmarks; the data is
// synthetic). Weight is its relative pull, sigma its spread in metres.
type hotspot struct {
	name     string
	lat, lon float64
	weight   float64
	sigma    float64
}

var londonHotspots = []hotspot{
	{"Hackney Central", 51.5465, -0.0553, 1.6, 450},
	{"Dalston Junction", 51.5461, -0.0750, 1.3, 350},
	{"Stratford", 51.5416, -0.0034, 1.8, 600},
	{"Brixton", 51.4627, -0.1145, 1.6, 450},
	{"Peckham", 51.4740, -0.0690, 1.4, 400},
	{"West Croydon", 51.3782, -0.1027, 1.7, 550},
	{"Tottenham", 51.5930, -0.0700, 1.5, 500},
	{"Wood Green", 51.5975, -0.1097, 1.2, 400},
	{"Lewisham", 51.4628, -0.0134, 1.2, 450},
	{"Woolwich", 51.4907, 0.0696, 1.1, 450},
	{"Ilford", 51.5590, 0.0740, 1.1, 450},
	{"Romford", 51.5750, 0.1830, 0.9, 500},
	{"Barking", 51.5396, 0.0810, 1.0, 400},
	{"Walthamstow", 51.5830, -0.0200, 1.0, 450},
	{"Camden Town", 51.5390, -0.1426, 1.3, 350},
	{"Kilburn", 51.5470, -0.1910, 0.8, 350},
	{"Harlesden", 51.5364, -0.2575, 1.0, 400},
	{"Southall", 51.5060, -0.3780, 0.8, 450},
	{"Hounslow", 51.4680, -0.3610, 0.8, 450},
	{"Ealing Broadway", 51.5150, -0.3017, 0.7, 400},
	{"Shepherd's Bush", 51.5046, -0.2187, 0.9, 350},
	{"Clapham Junction", 51.4642, -0.1702, 1.0, 400},
	{"Streatham", 51.4282, -0.1310, 0.9, 450},
	{"Elephant and Castle", 51.4943, -0.1001, 1.2, 350},
	{"Kingston", 51.4123, -0.3007, 0.6, 450},
	{"Sutton", 51.3618, -0.1945, 0.6, 450},
	{"Bromley", 51.4060, 0.0140, 0.6, 450},
	{"Edmonton Green", 51.6240, -0.0610, 1.1, 450},
	{"Enfield Town", 51.6520, -0.0810, 0.6, 400},
	{"Uxbridge", 51.5460, -0.4780, 0.5, 400},
	{"Harrow", 51.5800, -0.3370, 0.6, 400},
	{"Wembley", 51.5520, -0.2960, 0.9, 500},
	{"Hammersmith", 51.4927, -0.2248, 0.8, 350},
	{"Whitechapel", 51.5194, -0.0612, 1.3, 400},
	{"Canning Town", 51.5147, 0.0082, 1.1, 400},
	{"Leyton", 51.5560, -0.0050, 0.8, 400},
	{"Seven Sisters", 51.5822, -0.0749, 1.0, 350},
	{"Finsbury Park", 51.5642, -0.1065, 1.0, 400},
	{"Holloway", 51.5530, -0.1180, 0.9, 350},
	{"King's Cross", 51.5308, -0.1238, 1.2, 350},
	{"Oxford Circus", 51.5152, -0.1418, 1.0, 400},
	{"Vauxhall", 51.4861, -0.1231, 0.8, 350},
	{"Thornton Heath", 51.3990, -0.1000, 0.9, 400},
	{"Catford", 51.4450, -0.0200, 0.9, 400},
	{"Deptford", 51.4780, -0.0260, 0.9, 350},
	{"Mitcham", 51.4030, -0.1680, 0.8, 400},
	{"Edgware", 51.6136, -0.2750, 0.5, 400},
	{"Hendon", 51.5830, -0.2260, 0.5, 400},
	{"Greenwich", 51.4826, -0.0077, 0.7, 400},
	{"Thamesmead", 51.5020, 0.1160, 0.9, 500},
}

var (
	genCategories = []string{"missing", "cse", "trafficking", "gangs", "physical_abuse_child_on_child",
		"sexual_abuse_child_on_child", "cce", "county_lines", "serious_youth_violence",
		"teenage_relationship_abuse", "online_harm", "radicalisation", "modern_slavery"}
	genCategoryWeights = []float64{8, 9, 1, 6, 4, 3, 9, 6, 9, 4, 3, 0.5, 0.5}
	genFamilial        = []contexts.Familial{contexts.FamilialExtra, contexts.FamilialIntra, contexts.FamilialBoth, contexts.FamilialUnknown}
	genFamilialWeights = []float64{70, 10, 5, 15}
	genSources         = []contexts.Source{contexts.SourceReferral, contexts.SourceAssessment, contexts.SourceSafetyMap,
		contexts.SourcePartnerInformation, contexts.SourceOther}
	genSourceWeights = []float64{35, 30, 10, 20, 5}
	genLocationTypes = []string{"park", "playground", "stairwell", "estate", "street", "bus_stop", "station",
		"transport_route", "shop", "takeaway", "shopping_centre", "school", "college", "youth_club",
		"sports_facility", "hotel", "short_let", "other"}
)

// genRow is one generated harm location, compact until it is written.
type genRow struct {
	subject  int32
	day      int32 // days since the Unix epoch
	month    bool  // occurred known to the month only
	unsafe   bool
	cats     [3]int8 // -1 = none
	familial int8
	source   int8
	ltype    int8
	lat, lon float64
}

// genConfig is what a generated data set depends on; equal configs give
// byte-identical CSVs.
type genConfig struct {
	n, subjects  int
	seed         uint64
	now          time.Time
	unsafeShare  float64 // share of rows on layer "unsafe"
	olderShare   float64 // share of rows 13-24 months old (outside last-12m)
	monthOnly    float64 // share of rows dated to the month only
	uniformShare float64 // share of rows anywhere in the bounding box
}

func runGen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := genConfig{unsafeShare: 0.15, olderShare: 0.15, monthOnly: 0.10, uniformShare: 0.10}
	fs.IntVar(&c.n, "n", 1_000_000, "harm locations (rows)")
	fs.IntVar(&c.subjects, "subjects", 150_000, "distinct young people")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed")
	now := fs.String("now", "", "anchor date YYYY-MM-DD (default today, UTC); rows fall in the 24 complete months before its month")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.n <= 0 || c.subjects <= 0 || c.subjects > c.n {
		return fmt.Errorf("gen: need 0 < subjects <= n (got n=%d, subjects=%d)", c.n, c.subjects)
	}
	c.now = time.Now().UTC()
	if *now != "" {
		t, err := time.Parse("2006-01-02", *now)
		if err != nil {
			return fmt.Errorf("gen: -now: %w", err)
		}
		c.now = t
	}
	w := bufio.NewWriterSize(stdout, 1<<20)
	if err := generate(c, w); err != nil {
		return err
	}
	return w.Flush()
}

// generate writes the CSV: young people who each frequent one or two
// hotspots and their own neighbourhood, several records each (a long
// tail: some have dozens), rows ordered by date like a case-system export.
func generate(c genConfig, w io.Writer) error {
	rng := rand.New(rand.NewPCG(c.seed, 0x7ecb))
	hotW := make([]float64, len(londonHotspots))
	for i, h := range londonHotspots {
		hotW[i] = h.weight
	}
	pickHot := newPicker(hotW)
	pickCat := newPicker(genCategoryWeights)
	pickFam := newPicker(genFamilialWeights)
	pickSrc := newPicker(genSourceWeights)

	// Records per young person: 1 + exponential, then nudged to sum to n.
	counts := make([]int32, c.subjects)
	mean := float64(c.n) / float64(c.subjects)
	total := 0
	for i := range counts {
		counts[i] = int32(1 + math.Floor(rng.ExpFloat64()*(mean-1)))
		total += int(counts[i])
	}
	for total < c.n {
		counts[rng.IntN(c.subjects)]++
		total++
	}
	for total > c.n {
		if i := rng.IntN(c.subjects); counts[i] > 1 {
			counts[i]--
			total--
		}
	}

	first := time.Date(c.now.Year(), c.now.Month(), 1, 0, 0, 0, 0, time.UTC) // current month: never used
	rows := make([]genRow, 0, c.n)
	for s := 0; s < c.subjects; s++ {
		// Where this young person spends time.
		var homeLat, homeLon float64
		primary := pickHot(rng)
		if rng.Float64() < 0.7 {
			h := londonHotspots[primary]
			homeLat, homeLon = jitter(rng, h.lat, h.lon, 1500)
		} else {
			homeLat, homeLon = uniformIn(rng)
			primary = nearestHotspot(homeLat, homeLon)
		}
		secondary := pickHot(rng)
		theme := pickCat(rng) // most of a young person's records share a category
		for r := int32(0); r < counts[s]; r++ {
			var row genRow
			row.subject = int32(s)
			var lat, lon float64
			switch u := rng.Float64(); {
			case u < c.uniformShare:
				lat, lon = uniformIn(rng)
			case u < c.uniformShare+0.55:
				h := londonHotspots[primary]
				lat, lon = jitter(rng, h.lat, h.lon, h.sigma)
			case u < c.uniformShare+0.75:
				h := londonHotspots[secondary]
				lat, lon = jitter(rng, h.lat, h.lon, h.sigma)
			default:
				lat, lon = jitter(rng, homeLat, homeLon, 600)
			}
			row.lat, row.lon = clampBBox(lat, lon)
			back := 1 + rng.IntN(12)
			if rng.Float64() < c.olderShare {
				back = 13 + rng.IntN(12)
			}
			m := first.AddDate(0, -back, 0)
			days := m.AddDate(0, 1, 0).Sub(m).Hours() / 24
			row.month = rng.Float64() < c.monthOnly
			day := m
			if !row.month {
				day = m.AddDate(0, 0, rng.IntN(int(days)))
			}
			row.day = int32(day.Unix() / 86400)
			row.unsafe = rng.Float64() < c.unsafeShare
			row.cats = [3]int8{-1, -1, -1}
			row.cats[0] = int8(theme)
			if rng.Float64() < 0.3 {
				row.cats[0] = int8(pickCat(rng))
			}
			for k := 1; k < 3 && rng.Float64() < 0.35; k++ {
				if x := int8(pickCat(rng)); !slices.Contains(row.cats[:k], x) {
					row.cats[k] = x
				}
			}
			row.familial = int8(pickFam(rng))
			row.source = int8(pickSrc(rng))
			row.ltype = int8(rng.IntN(len(genLocationTypes)))
			rows = append(rows, row)
		}
	}
	slices.SortStableFunc(rows, func(a, b genRow) int { return int(a.day - b.day) })

	buf := make([]byte, 0, 256)
	if _, err := io.WriteString(w, "subject,categories,familial,layer,occurred,source,location_type,lat,lon\n"); err != nil {
		return err
	}
	for i := range rows {
		r := &rows[i]
		buf = buf[:0]
		buf = append(buf, 'Y', 'P')
		buf = appendPadded(buf, int(r.subject)+1, 7)
		buf = append(buf, ',')
		for k, cat := range r.cats {
			if cat < 0 {
				continue
			}
			if k > 0 {
				buf = append(buf, ';')
			}
			buf = append(buf, genCategories[cat]...)
		}
		buf = append(buf, ',')
		buf = append(buf, genFamilial[r.familial]...)
		layer := ctxmap.LayerHarm
		if r.unsafe {
			layer = ctxmap.LayerUnsafe
		}
		buf = append(buf, ',')
		buf = append(buf, layer...)
		buf = append(buf, ',')
		d := time.Unix(int64(r.day)*86400, 0).UTC()
		if r.month {
			buf = d.AppendFormat(buf, "2006-01")
		} else {
			buf = d.AppendFormat(buf, "2006-01-02")
		}
		buf = append(buf, ',')
		buf = append(buf, genSources[r.source]...)
		buf = append(buf, ',')
		buf = append(buf, genLocationTypes[r.ltype]...)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, r.lat, 'f', 6, 64)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, r.lon, 'f', 6, 64)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

func appendPadded(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// newPicker returns a sampler of indexes with the given relative weights.
func newPicker(weights []float64) func(*rand.Rand) int {
	cum := make([]float64, len(weights))
	var t float64
	for i, w := range weights {
		t += w
		cum[i] = t
	}
	return func(r *rand.Rand) int {
		i, _ := slices.BinarySearch(cum, r.Float64()*t)
		return min(i, len(cum)-1)
	}
}

// jitter moves a point by a normal offset of sigma metres in each axis.
func jitter(r *rand.Rand, lat, lon, sigma float64) (float64, float64) {
	const mPerDegLat = 111_320.0
	mPerDegLon := mPerDegLat * math.Cos(lat*math.Pi/180)
	return lat + r.NormFloat64()*sigma/mPerDegLat, lon + r.NormFloat64()*sigma/mPerDegLon
}

func uniformIn(r *rand.Rand) (float64, float64) {
	b := londonBBox
	return b[1] + r.Float64()*(b[3]-b[1]), b[0] + r.Float64()*(b[2]-b[0])
}

func clampBBox(lat, lon float64) (float64, float64) {
	b := londonBBox
	return min(max(lat, b[1]), b[3]), min(max(lon, b[0]), b[2])
}

func nearestHotspot(lat, lon float64) int {
	best, bestD := 0, math.Inf(1)
	for i, h := range londonHotspots {
		dy, dx := h.lat-lat, (h.lon-lon)*math.Cos(lat*math.Pi/180)
		if d := dx*dx + dy*dy; d < bestD {
			best, bestD = i, d
		}
	}
	return best
}
