// Package basemaptest writes small PMTiles v3 archives for tests, with
// go-pmtiles' own header and directory encoders, so the basemap is tested
// on a file in the real format without shipping one.
package basemaptest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
	"github.com/protomaps/go-pmtiles/pmtiles"
)

// Layer is the one vector layer of the archives Write makes.
const Layer = "water"

// Attribution is the archives' attribution.
const Attribution = "Test basemap written by the test"

// Write makes dir/name.pmtiles holding, for every zoom 0..maxZoom, the tile
// that contains at: a gzipped MVT with one polygon (layer Layer, property
// name "Test water") covering the tile. It returns the path and the
// uncompressed tiles by z/x/y.
func Write(t testing.TB, dir, name string, at orb.Point, maxZoom maptile.Zoom) (string, map[maptile.Tile][]byte) {
	t.Helper()
	type tile struct {
		id   uint64
		t    maptile.Tile
		data []byte
	}
	var list []tile
	raw := map[maptile.Tile][]byte{}
	for z := maptile.Zoom(0); z <= maxZoom; z++ {
		mt := maptile.At(at, z)
		b := mt.Bound()
		fc := geojson.NewFeatureCollection()
		f := geojson.NewFeature(b.ToPolygon())
		f.Properties = geojson.Properties{"name": "Test water"}
		fc.Append(f)
		layers := mvt.NewLayers(map[string]*geojson.FeatureCollection{Layer: fc})
		layers.ProjectToTile(mt)
		data, err := mvt.Marshal(layers)
		if err != nil {
			t.Fatal(err)
		}
		raw[mt] = data
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		_, _ = w.Write(data)
		_ = w.Close()
		list = append(list, tile{id: pmtiles.ZxyToID(uint8(z), mt.X, mt.Y), t: mt, data: gz.Bytes()})
	}
	slices.SortFunc(list, func(a, b tile) int { return int(a.id) - int(b.id) })
	var entries []pmtiles.EntryV3
	var data []byte
	for _, tl := range list {
		entries = append(entries, pmtiles.EntryV3{TileID: tl.id, Offset: uint64(len(data)), Length: uint32(len(tl.data)), RunLength: 1})
		data = append(data, tl.data...)
	}
	root := pmtiles.SerializeEntries(entries, pmtiles.Gzip)
	meta, err := json.Marshal(map[string]any{"attribution": Attribution, "name": name,
		"vector_layers": []map[string]any{{"id": Layer, "fields": map[string]string{"name": "String"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var metaGz bytes.Buffer
	mw := gzip.NewWriter(&metaGz)
	_, _ = mw.Write(meta)
	_ = mw.Close()
	h := pmtiles.HeaderV3{
		SpecVersion: 3, RootOffset: pmtiles.HeaderV3LenBytes, RootLength: uint64(len(root)),
		MetadataOffset: pmtiles.HeaderV3LenBytes + uint64(len(root)), MetadataLength: uint64(metaGz.Len()),
		TileDataOffset: pmtiles.HeaderV3LenBytes + uint64(len(root)) + uint64(metaGz.Len()), TileDataLength: uint64(len(data)),
		AddressedTilesCount: uint64(len(list)), TileEntriesCount: uint64(len(list)), TileContentsCount: uint64(len(list)),
		Clustered: true, InternalCompression: pmtiles.Gzip, TileCompression: pmtiles.Gzip, TileType: pmtiles.Mvt,
		MinZoom: 0, MaxZoom: uint8(maxZoom),
		MinLonE7: -1800000000, MinLatE7: -850000000, MaxLonE7: 1800000000, MaxLatE7: 850000000,
		CenterZoom: uint8(maxZoom), CenterLonE7: int32(at[0] * 1e7), CenterLatE7: int32(at[1] * 1e7),
	}
	h.LeafDirectoryOffset = h.TileDataOffset + h.TileDataLength
	var file []byte
	file = append(file, pmtiles.SerializeHeader(h)...)
	file = append(file, root...)
	file = append(file, metaGz.Bytes()...)
	file = append(file, data...)
	path := filepath.Join(dir, name+".pmtiles")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, raw
}
