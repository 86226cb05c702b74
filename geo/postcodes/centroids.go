package postcodes

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// sums accumulates the positions of a sector's units while rows stream past,
// so centroids cost nothing after the COPY instead of another pass over the
// table. Live units and all units are kept apart: a sector's centre is the
// mean of its live units, or of all its units when every one was withdrawn.
type sums struct {
	live, all moments
}

// moments are the count, sums and sums of squares of lon (x) and lat (y).
type moments struct {
	n                float64
	sx, sy, sxx, syy float64
}

func (m *moments) add(x, y, sign float64) {
	m.n += sign
	m.sx += sign * x
	m.sy += sign * y
	m.sxx += sign * x * x
	m.syy += sign * y * y
}

func (m *moments) merge(o moments) {
	m.n += o.n
	m.sx += o.sx
	m.sy += o.sy
	m.sxx += o.sxx
	m.syy += o.syy
}

// add counts a located unit (sign -1 removes one, for duplicates).
func (s *sums) add(lon, lat float64, live bool, sign float64) {
	s.all.add(lon, lat, sign)
	if live {
		s.live.add(lon, lat, sign)
	}
}

func (s *sums) merge(o *sums) {
	s.live.merge(o.live)
	s.all.merge(o.all)
}

// centroid is one row of postcode_sectors or postcode_districts.
type centroid struct {
	key      string
	lat, lon float64
	n        int
	radiusM  int
}

// centre turns sums into a centroid: the mean position and the
// root-mean-square distance of the units from it in metres (a local
// equirectangular scale, ample for a radius quoted to the nearest 10 m),
// never under 50 m.
func (s *sums) centre(key string) (centroid, bool) {
	m := s.live
	if m.n < 0.5 {
		m = s.all
	}
	if m.n < 0.5 {
		return centroid{}, false
	}
	mx, my := m.sx/m.n, m.sy/m.n
	vx := math.Max(m.sxx/m.n-mx*mx, 0)
	vy := math.Max(m.syy/m.n-my*my, 0)
	kx := 111_320 * math.Cos(my*math.Pi/180)
	r := math.Sqrt(vx*kx*kx + vy*111_250*111_250)
	return centroid{key: key, lat: my, lon: mx, n: int(math.Round(m.n)),
		radiusM: int(math.Max(50, math.Round(r/10)*10))}, true
}

// subDistrict matches an outcode ending in a sub-district letter ("SW1A").
var subDistrict = regexp.MustCompile(`^[A-Z]{1,2}[0-9]+[A-Z]$`)

// centroidsFrom derives the sector rows and the district rows: one per
// outcode, plus one per district split into sub-districts ("SW1" for
// SW1A ... SW1Y) unless an outcode already has that name.
func centroidsFrom(sectors map[string]*sums) (sec, dist []centroid) {
	outcodes := map[string]*sums{}
	parents := map[string]*sums{}
	for k, s := range sectors {
		if c, ok := s.centre(k); ok {
			sec = append(sec, c)
		}
		o, _, _ := strings.Cut(k, " ")
		if outcodes[o] == nil {
			outcodes[o] = &sums{}
		}
		outcodes[o].merge(s)
		if subDistrict.MatchString(o) {
			d := o[:len(o)-1]
			if parents[d] == nil {
				parents[d] = &sums{}
			}
			parents[d].merge(s)
		}
	}
	for k, s := range parents {
		if _, ok := outcodes[k]; !ok {
			outcodes[k] = s
		}
	}
	for k, s := range outcodes {
		if c, ok := s.centre(k); ok {
			dist = append(dist, c)
		}
	}
	byKey := func(a, b centroid) int { return strings.Compare(a.key, b.key) }
	slices.SortFunc(sec, byKey)
	slices.SortFunc(dist, byKey)
	return sec, dist
}

// writeCentroids copies centroid rows into a staging table with columns
// (key, geom, postcodes, radius_m).
func writeCentroids(ctx context.Context, tx pgx.Tx, table string, rows []centroid) error {
	var b bytes.Buffer
	out := append([]byte(nil), copyHeader...)
	for _, c := range rows {
		out = be16(out, 4)
		out = appendText(out, c.key)
		out = be32(out, 25)
		out = appendEWKBPoint(out, c.lon, c.lat)
		out = be32(out, 4)
		out = be32(out, int32(c.n))
		out = be32(out, 4)
		out = be32(out, int32(c.radiusM))
	}
	out = append(out, copyTrailer...)
	b.Write(out)
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, &b, `COPY `+table+` FROM STDIN WITH (FORMAT binary)`); err != nil {
		return fmt.Errorf("import postcodes: %s: %w", table, err)
	}
	return nil
}
