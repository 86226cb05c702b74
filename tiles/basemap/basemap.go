// Package basemap serves a council's own basemap from a local PMTiles
// archive (for example OS Open Zoomstack), read with protomaps/go-pmtiles,
// so the map can show streets and water without any request leaving the
// machine. It knows nothing of HTTP: web serves the tiles it returns.
package basemap

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/protomaps/go-pmtiles/pmtiles"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/tiles"
)

// cacheMB is the memory go-pmtiles may keep for the archive's directories.
const cacheMB = 64

// Archive is an open PMTiles archive. It is safe for concurrent use.
type Archive struct {
	srv         *pmtiles.Server
	name        string
	contentType string
	info        tiles.BasemapInfo
}

// formats maps a PMTiles tile type to the tile route's extension (the one
// go-pmtiles expects) and content type.
var formats = map[pmtiles.TileType]struct{ ext, contentType string }{
	pmtiles.Mvt:  {"mvt", "application/vnd.mapbox-vector-tile"},
	pmtiles.Png:  {"png", "image/png"},
	pmtiles.Jpeg: {"jpg", "image/jpeg"},
	pmtiles.Webp: {"webp", "image/webp"},
}

// Open reads the header and metadata of the PMTiles v3 file at path. A file
// that is missing or not a PMTiles v3 archive of vector, PNG, JPEG or WebP
// tiles is a KindInvalid error naming the problem, so `serve` refuses to
// start rather than draw an empty basemap.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_unreadable", "basemap: %v", err)
	}
	head := make([]byte, pmtiles.HeaderV3LenBytes)
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_not_pmtiles", "basemap %s: too short for a PMTiles archive", path)
	}
	h, err := pmtiles.DeserializeHeader(head)
	if err != nil {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_not_pmtiles", "basemap %s: not a PMTiles v3 archive: %v", path, err)
	}
	format, ok := formats[h.TileType]
	if !ok {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_tile_type", "basemap %s: tile type %d is not vector, PNG, JPEG or WebP", path, h.TileType)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("basemap: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(abs), ".pmtiles")
	if name+".pmtiles" != filepath.Base(abs) {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_name", "basemap %s: the file name must end in .pmtiles", path)
	}
	// go-pmtiles logs through the standard logger; send it to ours.
	std := log.New(io.Discard, "", 0)
	if logger != nil {
		std = slog.NewLogLogger(logger.With("component", "pmtiles").Handler(), slog.LevelDebug) // it logs every fetch
	}
	srv, err := pmtiles.NewServerWithBucket(pmtiles.NewFileBucket(filepath.Dir(abs)), "", std, cacheMB, "")
	if err != nil {
		return nil, fmt.Errorf("basemap: %w", err)
	}
	srv.Start()
	a := &Archive{srv: srv, name: name, contentType: format.contentType, info: tiles.BasemapInfo{Format: format.ext, MinZoom: int(h.MinZoom), MaxZoom: int(h.MaxZoom)}}
	status, _, body := srv.Get(ctx, "/"+name+"/metadata")
	if status != 200 {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_metadata", "basemap %s: its metadata cannot be read (%d %s)", path, status, body)
	}
	var meta struct {
		Attribution  string `json:"attribution"`
		VectorLayers []struct {
			ID string `json:"id"`
		} `json:"vector_layers"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &meta); err != nil {
			return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_metadata", "basemap %s: metadata is not JSON: %v", path, err)
		}
	}
	a.info.Attribution = meta.Attribution
	for _, l := range meta.VectorLayers {
		a.info.VectorLayers = append(a.info.VectorLayers, l.ID)
	}
	if a.info.Vector() && len(a.info.VectorLayers) == 0 {
		return nil, ctxmap.Errorf(ctxmap.KindInvalid, "basemap_metadata", "basemap %s: a vector archive must list its vector_layers in its metadata", path)
	}
	return a, nil
}

// Info describes the archive.
func (a *Archive) Info() tiles.BasemapInfo { return a.info }

// ErrNoTile is returned for a tile the archive does not hold (outside its
// zooms or area): the map draws nothing there.
var ErrNoTile = tiles.ErrNoBasemapTile

// Tile reads one tile as stored. A tile the archive lacks is ErrNoTile.
func (a *Archive) Tile(ctx context.Context, z, x, y int) (tiles.BasemapTile, error) {
	if z < 0 || z > 30 || x < 0 || y < 0 || x >= 1<<z || y >= 1<<z {
		return tiles.BasemapTile{}, ErrNoTile
	}
	status, headers, data := a.srv.Get(ctx, fmt.Sprintf("/%s/%d/%d/%d.%s", a.name, z, x, y, a.info.Format))
	switch status {
	case 200:
		// go-pmtiles says application/x-protobuf for MVT; MapLibre and the
		// rest of ctxmap say what it is.
		return tiles.BasemapTile{Data: data, ContentType: a.contentType, Encoding: headers["Content-Encoding"], ETag: headers["ETag"]}, nil
	case 204, 404:
		return tiles.BasemapTile{}, ErrNoTile
	default:
		return tiles.BasemapTile{}, fmt.Errorf("basemap tile %d/%d/%d: %d %s", z, x, y, status, data)
	}
}
