package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/paulmach/orb/maptile"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/tiles"
)

// Places is what the map's sense of place needs from the postcode directory
// (geo/postcodes.Store): the district and sector outlines as MVT, and where a
// searched postcode is. Nothing in either is about children, so neither goes
// through disclosure control. Nil (tests without a directory): empty tiles
// and 404 for every postcode.
type Places interface {
	// PlacesTile is the uncompressed MVT tile of outlines and labels.
	PlacesTile(ctx context.Context, t maptile.Tile) ([]byte, error)
	// Place finds a postcode, sector or district and its outlines.
	Place(ctx context.Context, postcode string) (geo.PostcodePlace, error)
}

// placesTilePath is the places tile route as a URL template, handed to the
// map in /api/v1/config.
const placesTilePath = "/tiles/places/{z}/{x}/{y}.mvt"

func (s *Server) placeRoutes(root, api *mux.Router) {
	s.fontRoutes(root)
	s.route(root, Op{Method: "GET", Path: tileRoute.Replace(placesTilePath), Tag: "map",
		Summary: "Postcode district and sector outlines and labels derived from the imported directory (MVT layers " +
			geo.DistrictsLayer + ", " + geo.DistrictLabelsLayer + " from z" + strconv.Itoa(geo.PlacesMinZoom) + "; " +
			geo.SectorsLayer + ", " + geo.SectorLabelsLayer + " from z" + strconv.Itoa(geo.SectorMinZoom) + "; properties code, postcodes)",
		Params:   []Param{P("z", "zoom 0.."+strconv.Itoa(tiles.MaxZoom)), P("x", "tile column"), P("y", "tile row")},
		Produces: mvtType, NotModified: true, Errors: []int{400}}, s.placesTile)
	s.route(api, Op{Method: "GET", Path: "/places/{postcode}", Tag: "map",
		Summary: "Where a postcode, sector or district is, with the sector and district outlines around it (codes and extents)",
		Params:  []Param{P("postcode", "a UK postcode, sector (\"E8 3\") or outcode (\"E8\"), any case and spacing")},
		Errors:  []int{404, 422}, Response: geo.PostcodePlace{}}, s.place)
	s.route(api, Op{Method: "GET", Path: "/boundary/labels", Tag: "map",
		Summary:  "One point per ward of the imported boundary, well inside it, with its id and name: where the map writes ward names",
		Response: wardLabels{}}, s.wardLabels)
}

// placesConfig tells the map where the places tiles are and at which zooms
// they hold what (the rule lives in geo).
type placesConfig struct {
	Tiles         string `json:"tiles"`
	MinZoom       int    `json:"minzoom"`
	MaxZoom       int    `json:"maxzoom"`
	SectorMinZoom int    `json:"sector_minzoom"`
	// Fonts are the label fonts, regular first, then bold.
	Fonts []labelFont `json:"fonts"`
}

// placesTile handles GET /tiles/places/{z}/{x}/{y}.mvt.
func (s *Server) placesTile(w http.ResponseWriter, r *http.Request) error {
	t, err := tiles.ParseTile(tileCoords(r))
	if err != nil {
		return err
	}
	var raw []byte
	if s.places != nil {
		if raw, err = s.places.PlacesTile(r.Context(), t); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw)
	if err := zw.Close(); err != nil {
		return err
	}
	serveEncodedTile(w, r, tiles.NewTile(buf.Bytes(), raw, time.Time{}))
	info(r.Context()).quiet = true
	return nil
}

// place handles GET /api/v1/places/{postcode}.
func (s *Server) place(w http.ResponseWriter, r *http.Request) error {
	pc, err := url.PathUnescape(mux.Vars(r)["postcode"])
	if err != nil {
		return badParam("postcode", "not a valid path segment")
	}
	if s.places == nil {
		return ctxmap.Errorf(ctxmap.KindNotFound, "postcode_not_found", "no postcode directory is imported")
	}
	p, err := s.places.Place(r.Context(), pc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// wardLabels is a GeoJSON FeatureCollection of ward label points.
type wardLabels struct {
	Type     string      `json:"type"` // FeatureCollection
	Features []wardLabel `json:"features"`
}

// wardLabel is one ward's label point as a GeoJSON Feature.
type wardLabel struct {
	Type       string    `json:"type"` // Feature
	Geometry   pointGeom `json:"geometry"`
	Properties geo.Area  `json:"properties"` // id and name
}

// pointGeom is a GeoJSON Point.
type pointGeom struct {
	Type        string     `json:"type"` // Point
	Coordinates [2]float64 `json:"coordinates"`
}

// labelPrecision is how close to the best label point a ward's label must
// be, in degrees (about 10 m).
const labelPrecision = 1e-4

// wardLabels handles GET /api/v1/boundary/labels.
func (s *Server) wardLabels(w http.ResponseWriter, r *http.Request) error {
	areas, err := s.boundaryAreas(r)
	if err != nil {
		return err
	}
	out := wardLabels{Type: "FeatureCollection", Features: []wardLabel{}}
	for _, a := range areas {
		p, ok := geo.LabelPoint(a.Geom, labelPrecision)
		if !ok {
			continue
		}
		out.Features = append(out.Features, wardLabel{Type: "Feature", Properties: a,
			Geometry: pointGeom{Type: "Point", Coordinates: [2]float64{round6(p[0]), round6(p[1])}}})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// round6 rounds degrees to six places (about 0.1 m), as every other
// coordinate the API writes.
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// The map's label fonts: the Go fonts (BSD licence, golang.org/x/image),
// served by ctxmap itself so labels never need a glyph server elsewhere.
// MapLibre draws the glyphs from these files in the browser (the style's
// font-faces), so no glyph PBFs need to be built or shipped.
var labelFonts = []labelFont{
	{Name: "Go Regular", Path: "/fonts/go-regular.ttf", ttf: goregular.TTF},
	{Name: "Go Bold", Path: "/fonts/go-bold.ttf", ttf: gobold.TTF},
}

// labelFont is one font file the map's labels are drawn with.
type labelFont struct {
	Name string `json:"name"`
	Path string `json:"url"`
	ttf  []byte
}

// fontRoutes serves the label fonts. They are public: the same bytes for
// everyone, and the sign-in page may draw a map one day.
func (s *Server) fontRoutes(root *mux.Router) {
	for _, f := range labelFonts {
		s.route(root, Op{Method: "GET", Path: f.Path, Tag: "map", Public: true,
			Summary: "The " + f.Name + " font the map's labels are drawn with (TrueType)", Produces: "font/ttf", NotModified: true},
			func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "font/ttf")
				w.Header().Set("Cache-Control", "public, max-age=86400")
				w.Header().Set("ETag", tiles.ETag(f.ttf))
				http.ServeContent(w, r, "", timeZero, bytes.NewReader(f.ttf))
				return nil
			})
	}
}
