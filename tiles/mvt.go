package tiles

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/geo"
)

// Layer names in the tiles, part of the map's style contract.
const (
	HeatLayer     = "heat"
	ContextsLayer = "contexts"
)

// clipBound is the tile-coordinate box geometry is clipped to.
var clipBound = orb.Bound{Min: orb.Point{-Buffer, -Buffer}, Max: orb.Point{Extent + Buffer, Extent + Buffer}}

// heatFeatures builds the heat layer's features: one polygon per cell, in
// the order given (cell id order), with properties h3, res and value and the
// cell id as feature id. Cells that project to less than a triangle at this
// zoom, or fall outside the buffered tile after clipping, are left out.
//
// H3 lists a hexagon's vertices counter-clockwise (north up); MVT v2
// exterior rings must be clockwise as drawn (positive surveyor's area in
// y-down tile coordinates), so the ring is walked backwards, from the last
// vertex, and closed on it again.
func heatFeatures(t maptile.Tile, res int, cells []CellValue, boundary func(h3.Cell) geo.CellBoundary) []*geojson.Feature {
	proj := newProjector(t)
	feats := make([]*geojson.Feature, 0, len(cells))
	for _, cv := range cells {
		src := boundary(cv.Cell).Ring
		if len(src) < 2 {
			continue
		}
		verts := src[:len(src)-1] // without the closing point
		ring := make(orb.Ring, 0, len(src))
		add := func(p orb.Point) {
			q := proj.point(p[0], p[1])
			if n := len(ring); n > 0 && ring[n-1] == q {
				return
			}
			ring = append(ring, q)
		}
		for i := len(verts) - 1; i >= 0; i-- {
			add(verts[i])
		}
		add(verts[len(verts)-1])
		poly := orb.Polygon{ring}
		if !ringUsable(ring) {
			continue
		}
		if !clipBound.Contains(ring.Bound().Min) || !clipBound.Contains(ring.Bound().Max) {
			poly = clip.Polygon(clipBound, poly)
			if len(poly) == 0 || !ringUsable(poly[0]) {
				continue
			}
		}
		f := geojson.NewFeature(poly)
		f.ID = uint64(cv.Cell)
		f.Properties = geojson.Properties{"h3": cv.Cell.String(), "res": res, "value": cv.Value}
		feats = append(feats, f)
	}
	return feats
}

// ringUsable reports whether a closed ring still has at least three distinct
// vertices (at low zooms a hexagon can shrink to a point).
func ringUsable(r orb.Ring) bool {
	if len(r) < 4 {
		return false
	}
	return planarArea(r) > 0
}

// planarArea is the surveyor's-formula area in tile coordinates; positive
// for exterior rings as MVT v2 defines them.
func planarArea(r orb.Ring) float64 {
	var a float64
	for i := 0; i+1 < len(r); i++ {
		a += r[i][0]*r[i+1][1] - r[i+1][0]*r[i][1]
	}
	return a / 2
}

// EncodeContexts encodes context records as an MVT tile with one point
// layer "contexts" (properties id, kind, location_type, display_name,
// status; feature id = record id), gzip-compressed like the heat tiles so
// both are served the same way. Records outside the tile (plus Buffer) are
// left out; features are ordered by id so equal input gives equal bytes.
//
// A ContextFeature carries nothing about the young people linked
// to a record (PRIVACY.md rule 10); the caller decides which records the
// viewer may see.
func EncodeContexts(tile maptile.Tile, features []ContextFeature) ([]byte, error) {
	if err := CheckTile(tile); err != nil {
		return nil, err
	}
	sorted := slices.Clone(features)
	slices.SortStableFunc(sorted, func(a, b ContextFeature) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	proj := newProjector(tile)
	feats := make([]*geojson.Feature, 0, len(sorted))
	for _, c := range sorted {
		p := proj.point(c.Lon, c.Lat)
		if !clipBound.Contains(p) {
			continue
		}
		f := geojson.NewFeature(p)
		if c.ID >= 0 {
			f.ID = uint64(c.ID)
		}
		f.Properties = geojson.Properties{
			"id": c.ID, "kind": c.Kind, "location_type": c.LocationType,
			"display_name": c.DisplayName, "status": c.Status,
		}
		feats = append(feats, f)
	}
	gz, _, err := encodeLayer(ContextsLayer, feats)
	return gz, err
}

// encodeLayer marshals one layer (already in tile coordinates), returning
// it gzipped and as it is: cached tiles keep both, so neither encoding costs
// work per request.
func encodeLayer(name string, feats []*geojson.Feature) (gz, raw []byte, err error) {
	raw, err = mvt.Marshal(mvt.Layers{{Name: name, Version: 2, Extent: Extent, Features: feats}})
	if err != nil {
		return nil, nil, err
	}
	gz, err = gzipBytes(raw)
	return gz, raw, err
}

// gzipWriters pools BestSpeed writers: a new gzip.Writer costs about 0.8 ms,
// a reset one about 0.1 ms.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// gzipBytes compresses b. The gzip header carries no name or time, so the
// same input always gives the same bytes.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b)/2 + 64)
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ETag returns a strong entity tag for a response body: a hash of its bytes,
// so equal bodies always get equal tags, whatever cache generation made them.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// IdentityETag is the strong entity tag of the uncompressed representation
// of a tile whose gzip ETag is etag: a different representation needs a
// different strong tag, and the same gzip tag always gives the same one.
func IdentityETag(etag string) string { return strings.TrimSuffix(etag, `"`) + `-identity"` }

// mvtRaw gunzips a tile (tests and tools compare uncompressed MVT).
func mvtRaw(gz []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// ContextFeature is what the map's context layer draws for one context
// record: the tiles package's own input, so the encoder needs nothing of the
// domain. It carries nothing about the young people linked to the record.
type ContextFeature struct {
	ID           int64
	Kind         string
	LocationType string
	DisplayName  string
	Status       string
	Lon, Lat     float64
}
