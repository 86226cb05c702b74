package geo

import (
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

func TestLabelPointIsInsideAndAwayFromTheEdge(t *testing.T) {
	square := orb.Polygon{{{0, 0}, {4, 0}, {4, 4}, {0, 4}, {0, 0}}}
	// A C shape whose centroid lies in the gap, outside the polygon.
	c := orb.Polygon{{{0, 0}, {6, 0}, {6, 1}, {1, 1}, {1, 5}, {6, 5}, {6, 6}, {0, 6}, {0, 0}}}
	for _, tc := range []struct {
		name    string
		g       orb.Geometry
		minEdge float64
	}{
		{"square", square, 1.99},
		{"C shape", c, 0.49},
		{"multipolygon takes the largest part", orb.MultiPolygon{{{{10, 10}, {10.5, 10}, {10.5, 10.5}, {10, 10.5}, {10, 10}}}, square}, 1.99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := LabelPoint(tc.g, 0.001)
			if !ok {
				t.Fatal("no label point")
			}
			var poly orb.Polygon
			if mp, isMP := tc.g.(orb.MultiPolygon); isMP {
				poly = mp[1]
			} else {
				poly = tc.g.(orb.Polygon)
			}
			if !planar.PolygonContains(poly, p) {
				t.Fatalf("label point %v is outside", p)
			}
			if d := edgeDistance(p, poly); d < tc.minEdge {
				t.Fatalf("label point %v is %.3f from the edge, want >= %.2f", p, d, tc.minEdge)
			}
		})
	}
	if _, ok := LabelPoint(orb.Point{1, 2}, 0.001); ok {
		t.Fatal("a point has no label point")
	}
}
