package tiles

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap/geo"
)

// TileJSON is a TileJSON 3.0.0 document describing the heat tiles, so a
// MapLibre source needs only its URL.
type TileJSON struct {
	TileJSON     string        `json:"tilejson"`
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	Version      string        `json:"version"`
	Attribution  string        `json:"attribution"`
	Scheme       string        `json:"scheme"`
	Tiles        []string      `json:"tiles"`
	MinZoom      int           `json:"minzoom"`
	MaxZoom      int           `json:"maxzoom"`
	Bounds       []float64     `json:"bounds"`
	VectorLayers []VectorLayer `json:"vector_layers"`
	// Release names the data release the tiles show (a ctxmap extension
	// field; TileJSON allows them).
	Release TileJSONRelease `json:"release"`
}

// TileJSONRelease identifies a release in a TileJSON document.
type TileJSONRelease struct {
	ID         int64  `json:"id"`
	DataTime   string `json:"data_time"`
	FirstMonth string `json:"first_month"`
	LastMonth  string `json:"last_month"`
	Months     int    `json:"months"`
}

// VectorLayer describes one layer of a vector tile source (TileJSON 3.0).
type VectorLayer struct {
	ID          string            `json:"id"`
	Description string            `json:"description"`
	MinZoom     int               `json:"minzoom"`
	MaxZoom     int               `json:"maxzoom"`
	Fields      map[string]string `json:"fields"`
}

// The zoom range advertised in TileJSON: below 6 hexagons are specks;
// above 14 maps overzoom (resolution 8 from 12 on anyway).
const (
	TileJSONMinZoom = 6
	TileJSONMaxZoom = 14
)

// TileJSON describes the heat tiles for a filter. tileURL is the absolute
// URL template of the heat tiles, e.g.
// "https://ctxmap.example/tiles/heat/{z}/{x}/{y}.mvt": the routes belong to
// the web layer, so it passes them in. The filter's layer, category and
// period are appended as the query (the period as given, so "last-12m"
// stays rolling). The filter is validated like a tile request.
func (s *Service) TileJSON(ctx context.Context, tileURL string, f Filter) (*TileJSON, error) {
	r, err := s.resolve(ctx, f)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("layer", string(r.layer))
	if r.category != "" {
		q.Set("category", r.category)
	}
	q.Set("period", r.period.Spec)
	rel := r.release
	desc := fmt.Sprintf("Distinct young people per H3 cell (layer %s, %s, %s), from data release %d (data time %s, covering %s to %s). %s.",
		r.layer, categoryLabel(r.category), r.period, rel.ID, rel.DataTime.UTC().Format(time.RFC3339), rel.Window.First, rel.Window.Last,
		s.policy.Describe())
	return &TileJSON{
		TileJSON:    "3.0.0",
		Name:        "ctxmap heat",
		Description: desc,
		Version:     "1.0.0",
		Attribution: geo.PostcodeAttribution,
		Scheme:      "xyz",
		Tiles:       []string{tileURL + "?" + q.Encode()},
		MinZoom:     TileJSONMinZoom,
		MaxZoom:     TileJSONMaxZoom,
		Bounds:      []float64{-8.65, 49.86, 1.77, 60.86},
		Release: TileJSONRelease{ID: rel.ID, DataTime: rel.DataTime.UTC().Format(time.RFC3339),
			FirstMonth: rel.Window.First.String(), LastMonth: rel.Window.Last.String(), Months: rel.Window.Months()},
		VectorLayers: []VectorLayer{{
			ID:          HeatLayer,
			Description: "published H3 cells: " + zoomResolutions(),
			MinZoom:     TileJSONMinZoom,
			MaxZoom:     TileJSONMaxZoom,
			Fields:      map[string]string{"h3": "String", "res": "Number", "value": "Number"},
		}},
	}, nil
}

// zoomResolutions describes geo.ResForZoom over the zooms served, e.g.
// "resolution 6 to z9, 7 at z10-11, 8 from z12".
func zoomResolutions() string {
	var parts []string
	for z := 0; z <= MaxZoom; {
		res, end := geo.ResForZoom(z), z
		for end < MaxZoom && geo.ResForZoom(end+1) == res {
			end++
		}
		switch {
		case z == 0:
			parts = append(parts, fmt.Sprintf("resolution %d to z%d", res, end))
		case end == MaxZoom:
			parts = append(parts, fmt.Sprintf("%d from z%d", res, z))
		case z == end:
			parts = append(parts, fmt.Sprintf("%d at z%d", res, z))
		default:
			parts = append(parts, fmt.Sprintf("%d at z%d-%d", res, z, end))
		}
		z = end + 1
	}
	return strings.Join(parts, ", ")
}
