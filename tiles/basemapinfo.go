package tiles

import "errors"

// BasemapInfo describes a council's own basemap archive (tiles/basemap), as
// the map needs it to draw the basemap: what its tiles are and where.
type BasemapInfo struct {
	// Format is the tiles' format: "mvt" (vector) or "png", "jpg", "webp"
	// (raster); also the tile route's extension.
	Format      string `json:"format"`
	MinZoom     int    `json:"minzoom"`
	MaxZoom     int    `json:"maxzoom"`
	Attribution string `json:"attribution"`
	// VectorLayers are the ids of a vector archive's layers (its metadata's
	// vector_layers), which the map styles by name.
	VectorLayers []string `json:"vector_layers"`
}

// Vector reports whether the archive holds vector tiles.
func (b BasemapInfo) Vector() bool { return b.Format == "mvt" }

// BasemapTile is one tile of the basemap archive as stored: its bytes are
// served as they are, with the encoding the archive compressed them with.
type BasemapTile struct {
	Data        []byte
	ContentType string
	// Encoding is the Content-Encoding of Data ("gzip"), empty when the
	// archive stores tiles uncompressed.
	Encoding string
	ETag     string
}

// ErrNoBasemapTile is the error for a basemap tile the archive does not hold
// (outside its zooms or area): the map draws nothing there.
var ErrNoBasemapTile = errors.New("basemap: no such tile")
