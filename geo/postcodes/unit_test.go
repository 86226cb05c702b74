package postcodes

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/geo/geotest"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"
)

// Tests here need no database.

func TestSplitCSV(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{`a,b,c`, []string{"a", "b", "c"}},
		{`"E8 3AA",10,534173,184486,"E92000001","",""` + "\r\n", []string{"E8 3AA", "10", "534173", "184486", "E92000001", "", ""}},
		{`,,`, []string{"", "", ""}},
		{``, []string{""}},
		{`"a,b",c`, []string{"a,b", "c"}},
		{`"unterminated,x`, []string{`"unterminated`, "x"}},
		{`"a"x,b`, []string{"a", "x", "b"}},
	} {
		got := splitCSV([]byte(tt.in), nil)
		var s []string
		for _, f := range got {
			s = append(s, string(f))
		}
		if strings.Join(s, "|") != strings.Join(tt.want, "|") || len(s) != len(tt.want) {
			t.Errorf("splitCSV(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
}

// TestONSPDColumnAliases feeds every header name in the shared alias list
// (ONSPD/NSPL 2019-2026) to the column matcher, one generation at a time.
func TestONSPDColumnAliases(t *testing.T) {
	b, err := os.ReadFile(geotest.SharedData(t, "onspd-sample/onspd_column_aliases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var aliases map[string]any
	if err := json.Unmarshal(b, &aliases); err != nil {
		t.Fatal(err)
	}
	// Canonical name in the file -> what the schema should find.
	fields := map[string]func(*schema) int{
		"pcds": func(s *schema) int { return s.pc }, "dointr": func(s *schema) int { return s.intro },
		"doterm": func(s *schema) int { return s.term }, "grid_qual": func(s *schema) int { return s.qual },
		"country": func(s *schema) int { return s.admin[adminCountry] }, "region": func(s *schema) int { return s.admin[adminRegion] },
		"county": func(s *schema) int { return s.admin[adminCounty] }, "lad": func(s *schema) int { return s.admin[adminLAD] },
		"ward": func(s *schema) int { return s.admin[adminWard] }, "lsoa21": func(s *schema) int { return s.admin[adminLSOA21] },
		"msoa21": func(s *schema) int { return s.admin[adminMSOA21] }, "pfa": func(s *schema) int { return s.admin[adminPFA] },
	}
	for field, get := range fields {
		list, ok := aliases[field].([]any)
		if !ok {
			t.Fatalf("alias file has no %s", field)
		}
		for _, a := range list {
			name := a.(string)
			if strings.HasPrefix(name, "^") { // a pattern: try this year's and next year's names
				name = strings.NewReplacer(`^`, "", `\d{2}`, "25", `$`, "").Replace(name)
			}
			for _, h := range []string{name, strings.ToUpper(name)} {
				header := splitCSV([]byte("\ufeffpcd7,"+h+",lat,long"), nil)
				if field == "pcds" {
					header = splitCSV([]byte(h+",lat,long"), nil)
				}
				s, why := onspdSchema(header)
				if s == nil {
					t.Errorf("%s header %q: %s", field, h, why)
					continue
				}
				want := 1
				if field == "pcds" {
					want = 0
				}
				if got := get(s); got != want {
					t.Errorf("%s header %q found at column %d, want %d", field, h, got, want)
				}
			}
		}
	}
	// Where two releases' columns sit side by side, the newer wins; the
	// postcode prefers pcds over pcd8 over pcd7.
	s, _ := onspdSchema(splitCSV([]byte("pcd7,pcd8,pcds,lad24cd,lad25cd,lat,long"), nil))
	if s.pc != 2 || s.admin[adminLAD] != 4 {
		t.Errorf("schema %+v", s)
	}
	if s, why := onspdSchema(splitCSV([]byte("pcds,oseast1m,osnrth1m"), nil)); s != nil || why == "" {
		t.Errorf("a header without lat/long was accepted")
	}
}

func TestEWKBPoint(t *testing.T) {
	got := appendEWKBPoint(nil, -0.066559, 51.543329)
	want := ewkb.MustMarshal(orb.Point{-0.066559, 51.543329}, 4326, binary.LittleEndian)
	if !bytes.Equal(got, want) {
		t.Errorf("EWKB\n got %x\nwant %x", got, want)
	}
}

// decodeTuples reads a binary COPY stream back into fields (nil = NULL).
func decodeTuples(t *testing.T, b []byte) [][][]byte {
	t.Helper()
	if !bytes.HasPrefix(b, copyHeader) || !bytes.HasSuffix(b, copyTrailer) {
		t.Fatal("stream lacks the COPY header or trailer")
	}
	b = b[len(copyHeader) : len(b)-len(copyTrailer)]
	var out [][][]byte
	for len(b) > 0 {
		n := int(int16(binary.BigEndian.Uint16(b)))
		b = b[2:]
		var row [][]byte
		for i := 0; i < n; i++ {
			l := int32(binary.BigEndian.Uint32(b))
			b = b[4:]
			if l < 0 {
				row = append(row, nil)
				continue
			}
			row = append(row, b[:l])
			b = b[l:]
		}
		out = append(out, row)
	}
	return out
}

func TestEncodeONSPDRows(t *testing.T) {
	data := mustRead(t, "testdata/onspd_small.csv")
	header, body, _ := bytes.Cut(data, []byte("\n"))
	sc, why := detect(FormatONSPD, header)
	if sc == nil {
		t.Fatal(why)
	}
	st := newRowStats()
	enc := &encoder{sc: sc, source: []byte(FormatONSPD)}
	stream := append([]byte(nil), copyHeader...)
	stream = enc.encodeChunk(stream, body, "onspd_small.csv", 2, &st)
	stream = append(stream, copyTrailer...)
	rows := decodeTuples(t, stream)
	if len(rows) != 11 || st.loaded != 11 || st.terminated != 4 || st.unlocated != 2 || st.warnings[warnBadDate] != 1 {
		t.Fatalf("%d rows, stats %+v", len(rows), st)
	}
	day := func(f []byte) string {
		return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(int32(binary.BigEndian.Uint32(f)))).Format("2006-01-02")
	}
	r := rows[0] // E8 3AA
	if len(r) != nCopyColumns || string(r[0]) != "E8 3AA" || day(r[3]) != "1980-01-01" || r[4] != nil ||
		int16(binary.BigEndian.Uint16(r[2])) != 10 || string(r[5]) != "E92000001" || r[7] != nil /* E99999999 county */ ||
		string(r[8]) != "E09000012" || string(r[12]) != "E23000001" || string(r[13]) != "onspd" {
		t.Errorf("E8 3AA encoded as %q", r)
	}
	g, srid, err := ewkb.Unmarshal(r[1])
	if err != nil || srid != 4326 || g.(orb.Point) != (orb.Point{-0.066559, 51.543329}) {
		t.Errorf("E8 3AA geometry %v %d %v", g, srid, err)
	}
	r = rows[4] // E8 3XY: terminated, no grid reference
	if string(r[0]) != "E8 3XY" || r[1] != nil || day(r[4]) != "2001-02-01" || int16(binary.BigEndian.Uint16(r[2])) != 80 {
		t.Errorf("E8 3XY encoded as %q", r)
	}
	r = rows[7] // SW1A 1AA from pcds, though pcd7 is "SW1A1AA"
	if string(r[0]) != "SW1A 1AA" {
		t.Errorf("row 8 postcode %q", r[0])
	}
	if s := st.sectors["E8 3"]; s == nil || s.live.n != 4 || s.all.n != 5 {
		t.Errorf("E8 3 sums %+v", s)
	}
}

func TestCentroids(t *testing.T) {
	sectors := map[string]*sums{}
	add := func(sector string, lon, lat float64, live bool) {
		if sectors[sector] == nil {
			sectors[sector] = &sums{}
		}
		sectors[sector].add(lon, lat, live, 1)
	}
	add("SW1A 1", -0.14, 51.50, true)
	add("SW1A 1", -0.12, 51.50, true)
	add("SW1A 1", 5, 5, false) // withdrawn: ignored while live units exist
	add("SW1B 2", -0.15, 51.49, true)
	add("AB1 0", -2.24, 57.10, false) // all withdrawn: still placed
	sec, dist := centroidsFrom(sectors)
	if len(sec) != 3 || len(dist) != 4 {
		t.Fatalf("sectors %+v\ndistricts %+v", sec, dist)
	}
	c := sec[1] // sorted: AB1 0, SW1A 1, SW1B 2
	if c.key != "SW1A 1" || c.n != 2 || math.Abs(c.lon+0.13) > 1e-9 || c.lat != 51.50 {
		t.Errorf("SW1A 1 = %+v", c)
	}
	// Two points 0.02° of longitude apart at 51.5°N are ~1,386 m apart, so
	// each is ~693 m from their mean.
	if c.radiusM < 680 || c.radiusM > 700 {
		t.Errorf("SW1A 1 radius %d m", c.radiusM)
	}
	if sec[0].key != "AB1 0" || sec[0].n != 1 || sec[0].radiusM != 50 {
		t.Errorf("AB1 0 = %+v", sec[0])
	}
	keys := []string{}
	for _, d := range dist {
		keys = append(keys, d.key)
	}
	if strings.Join(keys, ",") != "AB1,SW1,SW1A,SW1B" || dist[1].n != 3 {
		t.Errorf("districts %+v", dist)
	}
}

// TestMinMetresForDegrees checks the bound Nearest relies on: for points
// across the UK, the true distance is never below it.
func TestMinMetresForDegrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 100_000; i++ {
		lat1, lon1 := 49.5+rng.Float64()*11, -8+rng.Float64()*10
		lat2, lon2 := lat1+(rng.Float64()-0.5)*0.6, lon1+(rng.Float64()-0.5)*1.2
		deg := math.Hypot(lat2-lat1, lon2-lon1)
		// Haversine on the sphere is within 0.5% of the ellipsoid.
		if d := geotest.Metres(lat1, lon1, lat2, lon2) * 0.995; d < minMetresForDegrees(deg, lat1) {
			t.Fatalf("%v,%v -> %v,%v: %.1f m < bound %.1f m", lat1, lon1, lat2, lon2, d, minMetresForDegrees(deg, lat1))
		}
	}
}

func TestResultJSON(t *testing.T) {
	lat, lon, d := 51.5, -0.1, 12.5
	b, err := json.Marshal([]geo.PostcodeResult{
		{Postcode: "E8 3AA", Lat: &lat, Lon: &lon, Match: geo.MatchTerminated, PrecisionM: 50,
			Terminated: &geo.Month{Year: 2019, Month: time.June}, Admin: &geo.Admin{LAD: "E09000012"}, DistanceM: &d},
		{Query: "JE2 4WD", Postcode: "JE2 4WD", Match: geo.MatchUnit, Note: "no grid reference"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"postcode":"E8 3AA","lat":51.5,"lon":-0.1,"match":"terminated","precision_m":50,"terminated":"2019-06","admin":{"lad":"E09000012"},"distance_m":12.5},` +
		`{"query":"JE2 4WD","postcode":"JE2 4WD","lat":null,"lon":null,"match":"unit","precision_m":0,"note":"no grid reference"}]`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
	var back []geo.PostcodeResult
	if err := json.Unmarshal(b, &back); err != nil || *back[0].Terminated != (geo.Month{Year: 2019, Month: time.June}) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
