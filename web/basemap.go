package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/ctxmap/ctxmap/tiles"
)

// LocalBasemap is a council's own basemap archive (tiles/basemap.Archive),
// served under ctxmap's own origin so the map asks no other host. Nil: no
// local basemap.
type LocalBasemap interface {
	Info() tiles.BasemapInfo
	// Tile is one tile as stored; a tile the archive lacks is
	// ErrNoBasemapTile.
	Tile(ctx context.Context, z, x, y int) (tiles.BasemapTile, error)
}

func (s *Server) basemapRoutes(root *mux.Router) {
	s.route(root, Op{Method: "GET", Path: "/tiles/basemap/{z:[0-9]+}/{x:[0-9]+}/{y:[0-9]+}.{ext:[a-z]+}", Tag: "map",
		Summary: "A tile of the council's own basemap archive (--basemap FILE.pmtiles), as stored; 204 where the archive has none, 404 without an archive",
		Params: []Param{P("z", "zoom"), P("x", "tile column"), P("y", "tile row"),
			P("ext", "the archive's format: mvt, png, jpg or webp (/api/v1/config basemap.format)")},
		Produces: "application/octet-stream", NotModified: true, Errors: []int{400, 404}}, s.basemapTile)
}

// basemapTile handles GET /tiles/basemap/{z}/{x}/{y}.{ext}.
func (s *Server) basemapTile(w http.ResponseWriter, r *http.Request) error {
	if s.basemap == nil {
		s.notFound(w, r)
		return nil
	}
	v := mux.Vars(r)
	if v["ext"] != s.basemap.Info().Format {
		return badParam("ext", "the basemap's tiles are .%s", s.basemap.Info().Format)
	}
	var zxy [3]int
	for i, k := range []string{"z", "x", "y"} {
		n, err := strconv.Atoi(v[k])
		if err != nil || n > 1<<30 {
			return badParam(k, "not a tile coordinate")
		}
		zxy[i] = n
	}
	info(r.Context()).quiet = true
	t, err := s.basemap.Tile(r.Context(), zxy[0], zxy[1], zxy[2])
	if errors.Is(err, tiles.ErrNoBasemapTile) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", t.ContentType)
	if t.Encoding != "" {
		h.Set("Content-Encoding", t.Encoding)
	}
	// The same file for everyone: a day in the browser's cache.
	h.Set("Cache-Control", "private, max-age=86400")
	if t.ETag != "" {
		h.Set("ETag", t.ETag)
		if etagMatch(r.Header.Get("If-None-Match"), t.ETag) {
			h.Del("Content-Encoding")
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(t.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(t.Data)
	}
	return nil
}

// basemapConfig is the basemap /api/v1/config hands the map: a local
// archive's own route and description, or a configured raster template.
type basemapConfig struct {
	// Type is "vector" or "raster".
	Type        string   `json:"type"`
	Tiles       []string `json:"tiles"`
	Attribution string   `json:"attribution"`
	MinZoom     int      `json:"minzoom"`
	MaxZoom     int      `json:"maxzoom"`
	// TileSize is in pixels: 512 for vector tiles, 256 for raster ones.
	TileSize int `json:"tile_size"`
	// VectorLayers are a vector archive's layer ids (empty for raster).
	VectorLayers []string `json:"vector_layers"`
}

// basemapOf describes the configured basemap, nil without one.
func (s *Server) basemapOf() *basemapConfig {
	switch {
	case s.basemap != nil:
		i := s.basemap.Info()
		b := &basemapConfig{Type: "raster", Tiles: []string{"/tiles/basemap/{z}/{x}/{y}." + i.Format}, Attribution: i.Attribution,
			MinZoom: i.MinZoom, MaxZoom: i.MaxZoom, TileSize: 256, VectorLayers: []string{}}
		if b.Attribution == "" { // the archive names none
			b.Attribution = s.cfg.BasemapAttribution
		}
		if i.Vector() {
			b.Type, b.TileSize, b.VectorLayers = "vector", 512, i.VectorLayers
		}
		return b
	case s.cfg.Basemap != "":
		return &basemapConfig{Type: "raster", Tiles: []string{s.cfg.Basemap}, Attribution: s.cfg.BasemapAttribution,
			MinZoom: 0, MaxZoom: 19, TileSize: 256, VectorLayers: []string{}}
	}
	return nil
}
