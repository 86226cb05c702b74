package tiles

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/paulmach/orb/maptile"

	"github.com/ctxmap/ctxmap/geo"
)

// Tile is an encoded heat tile, ready to serve. Tiles are shared between
// requests through the cache: callers must not modify Bytes.
type Tile struct {
	// Bytes is the gzip-compressed MVT: serve it with
	// Content-Type application/vnd.mapbox-vector-tile and
	// Content-Encoding gzip.
	Bytes []byte
	// ETag is a strong entity tag (quoted) derived from Bytes only.
	ETag string
	// Raw is the same MVT uncompressed, for clients that do not accept
	// gzip, and RawETag its own strong entity tag.
	Raw     []byte
	RawETag string
	// DataTime is when the observations behind the tile were read; use it
	// as Last-Modified.
	DataTime time.Time
	// GzipHeader and RawHeader are each encoding's ETag and Content-Length
	// as header values, made once with the tile: a cached tile is served
	// dozens of times a map view, and formatting them per response was a
	// measurable share of its cost. Callers must not modify them.
	GzipHeader, RawHeader HeaderValues
}

// HeaderValues are one encoding's ETag and Content-Length header values,
// each a slice of one value as net/http keeps them, ready to assign to a
// response's header map (net/http reads header values and never changes
// them, and copies the map before writing it, so every response of a tile
// can share them).
type HeaderValues struct {
	ETag, ContentLength []string
}

// NewTile is the tile served from gz (the gzip-compressed MVT) and raw (the
// same MVT uncompressed; nil if only gzip will be served): its ETags and
// header values are derived here, once.
func NewTile(gz, raw []byte, dataTime time.Time) *Tile {
	etag := ETag(gz)
	t := &Tile{Bytes: gz, ETag: etag, Raw: raw, RawETag: IdentityETag(etag), DataTime: dataTime}
	t.GzipHeader = HeaderValues{ETag: []string{t.ETag}, ContentLength: []string{strconv.Itoa(len(gz))}}
	if raw != nil {
		t.RawHeader = HeaderValues{ETag: []string{t.RawETag}, ContentLength: []string{strconv.Itoa(len(raw))}}
	}
	return t
}

// TileRequest asks for one heat tile. Tile is parsed once, by ParseTile,
// and travels as it is to the encoder.
type TileRequest struct {
	Tile maptile.Tile
	Filter
}

type tileKey struct {
	set  setKey
	tile maptile.Tile
}

// HeatTile returns the heat tile for a request: layer "heat", one polygon
// per published cell at geo.ResForZoom(z) intersecting the tile (plus Buffer),
// with properties h3, res and value. Identical requests give identical
// bytes until the data changes (Invalidate). Bad tiles and filters are
// *ctxmap.Error of kind KindInvalid.
func (s *Service) HeatTile(ctx context.Context, req TileRequest) (*Tile, error) {
	t := req.Tile
	if err := CheckTile(t); err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, req.Filter)
	if err != nil {
		return nil, err
	}
	k := tileKey{set: s.keyFor(r), tile: t}
	if tl, ok := s.tiles.get(k); ok {
		return tl, nil
	}
	return s.tileFlight.do(ctx, k, func(ctx context.Context) (*Tile, error) {
		if tl, ok := s.tiles.get(k); ok {
			return tl, nil
		}
		h, err := s.set(ctx, r.release, k.set)
		if err != nil {
			return nil, err
		}
		res := geo.ResForZoom(int(t.Z))
		cells := s.inBound(h, res, bufferedBound(t))
		b, raw, err := encodeLayer(HeatLayer, heatFeatures(t, res, cells, s.bounds.Boundary))
		if err != nil {
			return nil, fmt.Errorf("tiles: encoding heat tile %d/%d/%d: %w", t.Z, t.X, t.Y, err)
		}
		tl := NewTile(b, raw, h.pub.DataTime)
		s.tiles.add(k, tl, int64(len(b)+len(raw))+256)
		return tl, nil
	})
}
