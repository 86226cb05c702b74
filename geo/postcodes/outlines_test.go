package postcodes

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

// TestOutlinesCoverTheirPostcodes draws the fixture's outlines on demand
// (the first places tile) and checks them against the points they were drawn
// from: every located postcode lies inside its sector and its district,
// sectors of one district do not overlap, every label lies inside its outline.
func TestOutlinesCoverTheirPostcodes(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	s := NewStore(pool)
	e83aa := maptile.At(pointOf(t, s, "E8 3AA"), 13)
	if _, err := s.PlacesTile(ctx, e83aa); err != nil {
		t.Fatal(err)
	}
	var districts, sectors, outside, overlaps, stray int
	if err := pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM postcode_outlines WHERE level = 'district'),
		       (SELECT count(*) FROM postcode_outlines WHERE level = 'sector'),
		       (SELECT count(*) FROM postcodes p
		          LEFT JOIN postcode_outlines s ON s.level = 'sector' AND s.code = left(p.postcode, length(p.postcode) - 2)
		          LEFT JOIN postcode_outlines d ON d.level = 'district' AND d.code = split_part(p.postcode, ' ', 1)
		         WHERE p.geom IS NOT NULL AND NOT (coalesce(ST_Covers(s.geom, ST_Transform(p.geom, 3857)), false)
		                                      AND coalesce(ST_Covers(d.geom, ST_Transform(p.geom, 3857)), false))),
		       (SELECT count(*) FROM postcode_outlines a JOIN postcode_outlines b
		           ON a.level = 'sector' AND b.level = 'sector' AND a.code < b.code
		          AND split_part(a.code, ' ', 1) = split_part(b.code, ' ', 1)
		        WHERE ST_Area(ST_Intersection(a.geom, b.geom)) > 1),
		       (SELECT count(*) FROM postcode_outlines WHERE NOT ST_Covers(geom, label)
		            OR import_id <> (SELECT max(id) FROM postcode_imports))`).
		Scan(&districts, &sectors, &outside, &overlaps, &stray); err != nil {
		t.Fatal(err)
	}
	// The fixture: E8, E9, SW1A; sectors E8 3, E8 4, E9 5, SW1A 1, SW1A 2.
	if districts != 3 || sectors != 5 || outside != 0 || overlaps != 0 || stray != 0 {
		t.Errorf("%d districts, %d sectors (want 3, 5); %d postcodes outside their outlines, %d overlapping sectors, %d labels outside or stale outlines",
			districts, sectors, outside, overlaps, stray)
	}
	// A newer directory (another process imported it) is found at the next
	// check: the outlines are drawn again and the tile cache dropped.
	before, _ := s.PlacesTile(ctx, e83aa)
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	if _, err := pool.Exec(ctx, `DELETE FROM postcodes WHERE postcode LIKE 'E8 3%'`); err != nil {
		t.Fatal(err)
	}
	s.outlines.checked = time.Time{} // as if outlineCheckEvery had passed
	after, err := s.PlacesTile(ctx, e83aa)
	if err != nil {
		t.Fatal(err)
	}
	var current bool
	if err := pool.QueryRow(ctx, `SELECT bool_and(import_id = (SELECT max(id) FROM postcode_imports))
		AND NOT bool_or(code = 'E8 3') FROM postcode_outlines`).Scan(&current); err != nil || !current || bytes.Equal(before, after) {
		t.Errorf("after a new import: outlines current %v (%v), tile changed %v", current, err, !bytes.Equal(before, after))
	}
}

// TestPlacesTileLayersByZoom reads the places tile as a map client would:
// districts and their labels from PlacesMinZoom, sectors only from
// SectorMinZoom, nothing below.
func TestPlacesTileLayersByZoom(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	if _, err := BuildOutlines(ctx, pool); err != nil {
		t.Fatal(err)
	}
	s := NewStore(pool)
	pt := pointOf(t, s, "E8 3AA")
	for _, tc := range []struct {
		z    maptile.Zoom
		want map[string]string // layer -> a code it must hold
	}{
		{geo.PlacesMinZoom - 1, map[string]string{}},
		{geo.PlacesMinZoom, map[string]string{geo.DistrictsLayer: "E8", geo.DistrictLabelsLayer: "E8"}},
		{geo.SectorMinZoom, map[string]string{geo.DistrictsLayer: "E8", geo.DistrictLabelsLayer: "E8", geo.SectorsLayer: "E8 3", geo.SectorLabelsLayer: "E8 3"}},
	} {
		raw, err := s.PlacesTile(ctx, maptile.At(pt, tc.z))
		if err != nil {
			t.Fatal(err)
		}
		layers, err := mvt.Unmarshal(raw)
		if err != nil {
			t.Fatalf("z%d: %v", tc.z, err)
		}
		got := map[string]map[string]bool{}
		for _, l := range layers {
			got[l.Name] = map[string]bool{}
			for _, f := range l.Features {
				got[l.Name][f.Properties.MustString("code")] = true
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("z%d: layers %v, want %v", tc.z, got, tc.want)
		}
		for layer, code := range tc.want {
			if !got[layer][code] {
				t.Errorf("z%d: layer %s has %v, want %s", tc.z, layer, got[layer], code)
			}
		}
	}
}

// TestPlaceOfAPostcode: a searched postcode comes back with its sector and
// district, whose extents hold it; a district has no sector; a postcode the
// directory lacks is 404 and a malformed one 422.
func TestPlaceOfAPostcode(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	mustImport(t, pool, FormatCodePoint, "testdata/codepoint_small.csv")
	s := NewStore(pool)
	p, err := s.Place(ctx, "e83aa")
	if err != nil {
		t.Fatal(err)
	}
	if p.Postcode != "E8 3AA" || p.Match != geo.MatchUnit || p.Sector == nil || p.Sector.Code != "E8 3" || p.Sector.Postcodes != 12 ||
		p.District == nil || p.District.Code != "E8" || p.District.Postcodes != 23 {
		t.Fatalf("Place(e83aa) = %+v sector %+v district %+v", p, p.Sector, p.District)
	}
	for _, o := range []*geo.PlaceOutline{p.Sector, p.District} {
		if b := o.BBox; p.Lon < b[0] || p.Lon > b[2] || p.Lat < b[1] || p.Lat > b[3] {
			t.Errorf("%s's extent %v does not hold %.6f,%.6f", o.Code, b, p.Lat, p.Lon)
		}
	}
	if d, err := s.Place(ctx, "E8"); err != nil || d.Match != geo.MatchDistrict || d.Sector != nil || d.District == nil {
		t.Errorf("Place(E8) = %+v, %v; want the district without a sector", d, err)
	}
	for pc, kind := range map[string]ctxmap.Kind{"N1 1AA": ctxmap.KindNotFound, "E8 4ZZ": ctxmap.KindNotFound, "not a postcode": ctxmap.KindUnprocessable} {
		var e *ctxmap.Error
		if _, err := s.Place(ctx, pc); !errors.As(err, &e) || e.Kind != kind {
			t.Errorf("Place(%q) = %v, want kind %v", pc, err, kind)
		}
	}
}

func pointOf(t *testing.T, s *Store, pc string) orb.Point {
	t.Helper()
	r, err := s.Lookup(context.Background(), pc)
	if err != nil || r.Lat == nil {
		t.Fatalf("Lookup(%s) = %+v, %v", pc, r, err)
	}
	return orb.Point{*r.Lon, *r.Lat}
}
