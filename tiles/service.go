package tiles

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// The layers heat data is split by (PRODUCT.md: harm happened / feels unsafe).
const (
	LayerHarm   = "harm"
	LayerUnsafe = "unsafe"
)

// Defaults applied to an empty Filter field, so a bare tile URL shows
// something sensible.
const (
	DefaultLayer  = LayerHarm
	DefaultPeriod = "last-12m"
)

// Limits on trend requests: enough for three years of one area, small
// enough that one request cannot make the service publish hundreds of sets.
const (
	MaxTrendMonths = 36
	MaxTrendCells  = 500
)

// Config carries the service's settings; zero values get defaults.
type Config struct {
	// K is the disclosure threshold; 0 means DefaultK, below MinK is refused.
	K int
	// Clock tells the time that periods are resolved against; nil means
	// time.Now. Tests pin it.
	Clock func() time.Time
	// CacheBytes bounds the encoded-tile cache; 0 means 64 MiB.
	CacheBytes int64
	// PublishedCacheBytes bounds the cache of published sets (one per
	// layer, category and period in use); 0 means 256 MiB.
	PublishedCacheBytes int64
	// ValidCategory reports whether a code is a harm category. The taxonomy
	// lives in contexts, so it is passed in; nil refuses every category
	// filter (only "all categories" is then allowed).
	ValidCategory func(code string) bool
}

// Service produces the anonymised heat outputs (tiles, cells, trends,
// exports) from one Source under one Policy. Every output is computed from
// the same cached published sets, so the same cell, filter and period show
// the same value everywhere. It is safe for concurrent use.
type Service struct {
	src           Source
	policy        Policy
	clock         func() time.Time
	validCategory func(string) bool

	gen        atomic.Uint64
	sets       *lru[setKey, *heatSet]
	tiles      *lru[tileKey, *Tile]
	setFlight  flight[setKey, *heatSet]
	tileFlight flight[tileKey, *Tile]
	geoms      *geomCache
}

// NewService checks cfg and returns a ready service.
func NewService(src Source, cfg Config) (*Service, error) {
	if src == nil {
		return nil, fmt.Errorf("tiles: NewService: nil Source")
	}
	if cfg.K == 0 {
		cfg.K = DefaultK
	}
	pol, err := NewPolicy(cfg.K)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 64 << 20
	}
	if cfg.PublishedCacheBytes <= 0 {
		cfg.PublishedCacheBytes = 256 << 20
	}
	if cfg.ValidCategory == nil {
		cfg.ValidCategory = func(string) bool { return false }
	}
	return &Service{
		src:           src,
		policy:        pol,
		clock:         cfg.Clock,
		validCategory: cfg.ValidCategory,
		sets:          newLRU[setKey, *heatSet](cfg.PublishedCacheBytes),
		tiles:         newLRU[tileKey, *Tile](cfg.CacheBytes),
		geoms:         newGeomCache(200_000),
	}, nil
}

// Policy is the policy the service publishes under, for descriptors and docs.
func (s *Service) Policy() Policy { return s.policy }

// Invalidate tells the service that harm locations changed (a write or an
// archive). Every later request recomputes from the Source, so the change
// shows in the next tile; work already in flight finishes under the old
// generation and is never served again. Call it after the change commits.
func (s *Service) Invalidate() {
	s.gen.Add(1)
	s.tiles.purge()
	s.sets.purge()
}

// Stats describes the caches, for metrics and capacity planning.
type Stats struct {
	Generation           uint64 // data generation (Invalidate calls so far)
	TileEntries          int
	TileBytes            int64
	TileHits, TileMisses uint64
	SetEntries           int
	SetBytes             int64
	SetHits, SetMisses   uint64
	CellGeometries       int // hexagon boundaries kept across generations
}

// Stats returns a snapshot of the cache counters.
func (s *Service) Stats() Stats {
	var st Stats
	st.Generation = s.gen.Load()
	st.TileEntries, st.TileBytes, st.TileHits, st.TileMisses = s.tiles.stats()
	st.SetEntries, st.SetBytes, st.SetHits, st.SetMisses = s.sets.stats()
	s.geoms.mu.RLock()
	st.CellGeometries = len(s.geoms.m)
	s.geoms.mu.RUnlock()
	return st
}

// Filter is the whole choice a viewer has (PRIVACY.md rule 5): one layer,
// one category or all, one period. Empty Layer means DefaultLayer, empty
// Period DefaultPeriod, empty Category all categories.
type Filter struct {
	Layer    string
	Category string
	Period   string
}

// resolved is a validated filter with its period resolved.
type resolved struct {
	layer, category string
	period          Period
}

// setKey identifies one published set; it names concrete months, so
// "last-3m" and the equivalent explicit range share one set.
type setKey struct {
	gen             uint64
	layer, category string
	first, last     Month
}

type tileKey struct {
	set     setKey
	z, x, y uint32
}

// resolve validates a filter: layer, category and period, in that order.
func (s *Service) resolve(f Filter) (resolved, error) {
	layer, category, err := s.checkLayerCategory(f.Layer, f.Category)
	if err != nil {
		return resolved{}, err
	}
	spec := f.Period
	if spec == "" {
		spec = DefaultPeriod
	}
	p, err := ParsePeriod(spec, s.clock())
	if err != nil {
		return resolved{}, err
	}
	return resolved{layer, category, p}, nil
}

func (s *Service) checkLayerCategory(layer, category string) (string, string, error) {
	if layer == "" {
		layer = DefaultLayer
	}
	if layer != LayerHarm && layer != LayerUnsafe {
		return "", "", errInvalid("layer_unsupported", "layer %q is not supported; use %q or %q", trunc(layer), LayerHarm, LayerUnsafe)
	}
	if category != "" && (!categorySyntax(category) || !s.validCategory(category)) {
		return "", "", errInvalid("category_unsupported",
			"category %q is not supported; give one harm category code (see /api/v1/taxonomy), or none for all categories", trunc(category))
	}
	return layer, category, nil
}

// categorySyntax admits only plain codes, so lists, negations ("all
// except") and wildcards are refused before the taxonomy is consulted.
func categorySyntax(c string) bool {
	if len(c) > 64 {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-' || b == '.') {
			return false
		}
	}
	return true
}

// heatSet is a cached published set plus the per-resolution cell bounds
// the tile path needs, built on first use.
type heatSet struct {
	pub    *Published
	once   [MaxRes - MinRes + 1]sync.Once
	bounds [MaxRes - MinRes + 1][]orb.Bound
}

// boundsAt returns the lon/lat bounds of the published cells at res,
// aligned with pub.levels.
func (h *heatSet) boundsAt(res int, geoms *geomCache) []orb.Bound {
	i := res - MinRes
	h.once[i].Do(func() {
		cells := h.pub.levels[i].cells
		b := make([]orb.Bound, len(cells))
		for j, c := range cells {
			b[j] = geoms.get(c).bound
		}
		h.bounds[i] = b
	})
	return h.bounds[i]
}

// inBound lists the published cells at res whose hexagon bound intersects
// b, in id order.
func (s *Service) inBound(h *heatSet, res int, b orb.Bound) []CellValue {
	bounds := h.boundsAt(res, s.geoms)
	l := &h.pub.levels[res-MinRes]
	var out []CellValue
	for j, cb := range bounds {
		if cb.Intersects(b) {
			out = append(out, CellValue{l.cells[j], int(l.values[j])})
		}
	}
	return out
}

// Published returns the published set for a filter: the one source every
// heat output is computed from. Code that derives statistics (hotspots,
// comparisons) must start here, never from raw observations.
func (s *Service) Published(ctx context.Context, f Filter) (*Published, error) {
	r, err := s.resolve(f)
	if err != nil {
		return nil, err
	}
	h, err := s.set(ctx, s.keyFor(r))
	if err != nil {
		return nil, err
	}
	pub := *h.pub // shares the immutable cell slices
	pub.Period = r.period
	return &pub, nil
}

func (s *Service) keyFor(r resolved) setKey {
	return setKey{gen: s.gen.Load(), layer: r.layer, category: r.category, first: r.period.First, last: r.period.Last}
}

// set returns the published set for k from the cache, or computes it once
// for all concurrent callers.
func (s *Service) set(ctx context.Context, k setKey) (*heatSet, error) {
	if h, ok := s.sets.get(k); ok {
		return h, nil
	}
	return s.setFlight.do(ctx, k, func(ctx context.Context) (*heatSet, error) {
		if h, ok := s.sets.get(k); ok {
			return h, nil
		}
		p := Period{Spec: k.first.String(), First: k.first, Last: k.last}
		if k.first != k.last {
			p.Spec += ".." + k.last.String()
		}
		dataTime := s.clock().UTC()
		obs, err := s.src.Observations(ctx, Query{Layer: ctxmap.Layer(k.layer), Category: k.category, From: p.From(), To: p.To()})
		if err != nil {
			return nil, fmt.Errorf("tiles: reading observations: %w", err)
		}
		pub := s.policy.Publish(obs)
		pub.Layer, pub.Category, pub.Period, pub.DataTime = k.layer, k.category, p, dataTime
		h := &heatSet{pub: pub}
		var cells int64
		for r := MinRes; r <= MaxRes; r++ {
			cells += int64(pub.Len(r))
		}
		// cell id + value + bound, plus slack for slices and the entry.
		s.sets.add(k, h, 512+cells*(8+4+32))
		return h, nil
	})
}

// Tile is an encoded heat tile, ready to serve. Tiles are shared between
// requests through the cache: callers must not modify Bytes.
type Tile struct {
	// Bytes is the gzip-compressed MVT: serve it with
	// Content-Type application/vnd.mapbox-vector-tile and
	// Content-Encoding gzip.
	Bytes []byte
	// ETag is a strong entity tag (quoted) derived from Bytes only.
	ETag string
	// DataTime is when the observations behind the tile were read; use it
	// as Last-Modified.
	DataTime time.Time
}

// TileRequest asks for one heat tile.
type TileRequest struct {
	Z, X, Y int
	Filter
}

// HeatTile returns the heat tile for a request: layer "heat", one polygon
// per published cell at ResForZoom(z) intersecting the tile (plus Buffer),
// with properties h3, res and value. Identical requests give identical
// bytes until the data changes (Invalidate). Bad tiles and filters are
// *ctxmap.Error of kind KindInvalid.
func (s *Service) HeatTile(ctx context.Context, req TileRequest) (*Tile, error) {
	t, err := CheckTile(req.Z, req.X, req.Y)
	if err != nil {
		return nil, err
	}
	r, err := s.resolve(req.Filter)
	if err != nil {
		return nil, err
	}
	k := tileKey{set: s.keyFor(r), z: uint32(t.Z), x: t.X, y: t.Y}
	if tl, ok := s.tiles.get(k); ok {
		return tl, nil
	}
	return s.tileFlight.do(ctx, k, func(ctx context.Context) (*Tile, error) {
		if tl, ok := s.tiles.get(k); ok {
			return tl, nil
		}
		h, err := s.set(ctx, k.set)
		if err != nil {
			return nil, err
		}
		res := ResForZoom(int(t.Z))
		cells := s.inBound(h, res, bufferedBound(t))
		b, err := encodeLayer(HeatLayer, heatFeatures(t, res, cells, s.geoms.get))
		if err != nil {
			return nil, fmt.Errorf("tiles: encoding heat tile %d/%d/%d: %w", t.Z, t.X, t.Y, err)
		}
		tl := &Tile{Bytes: b, ETag: ETag(b), DataTime: h.pub.DataTime}
		s.tiles.add(k, tl, int64(len(b))+256)
		return tl, nil
	})
}

// Cell is one published cell as the JSON and CSV outputs show it.
type Cell struct {
	H3    string `json:"h3"`
	Res   int    `json:"res"`
	Value int    `json:"value"`
}

// CellsRequest asks for the published cells at one resolution, optionally
// only those whose hexagon intersects BBox (lon/lat).
type CellsRequest struct {
	Res int
	Filter
	BBox *orb.Bound
}

// Cells returns the published cells for a request, in id order: the same
// cells and values the tiles show.
func (s *Service) Cells(ctx context.Context, req CellsRequest) ([]Cell, error) {
	if err := checkRes(req.Res); err != nil {
		return nil, err
	}
	if err := checkBBox(req.BBox); err != nil {
		return nil, err
	}
	r, err := s.resolve(req.Filter)
	if err != nil {
		return nil, err
	}
	h, err := s.set(ctx, s.keyFor(r))
	if err != nil {
		return nil, err
	}
	return s.cellsOf(h, req.Res, req.BBox), nil
}

func (s *Service) cellsOf(h *heatSet, res int, bbox *orb.Bound) []Cell {
	var cvs []CellValue
	if bbox != nil {
		cvs = s.inBound(h, res, *bbox)
	} else {
		cvs = h.pub.Cells(res)
	}
	out := make([]Cell, len(cvs))
	for i, cv := range cvs {
		out[i] = Cell{H3: cv.Cell.String(), Res: res, Value: cv.Value}
	}
	return out
}

func checkRes(res int) error {
	if res < MinRes || res > MaxRes {
		return errInvalid("res_unsupported", "resolution %d is not published; use %d, %d or %d", res, MinRes, MinRes+1, MaxRes)
	}
	return nil
}

func checkBBox(b *orb.Bound) error {
	if b == nil {
		return nil
	}
	if !(b.Min[0] >= -180 && b.Max[0] <= 180 && b.Min[1] >= -90 && b.Max[1] <= 90 && b.Min[0] <= b.Max[0] && b.Min[1] <= b.Max[1]) {
		return errInvalid("bbox_invalid", "bbox must be min_lon,min_lat,max_lon,max_lat in degrees with min <= max")
	}
	return nil
}

// ParseBBox parses "min_lon,min_lat,max_lon,max_lat" (degrees), the bbox
// query parameter's form. An empty string means no bbox (nil).
func ParseBBox(s string) (*orb.Bound, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, errInvalid("bbox_invalid", "bbox must be min_lon,min_lat,max_lon,max_lat in degrees")
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, errInvalid("bbox_invalid", "bbox must be min_lon,min_lat,max_lon,max_lat in degrees")
		}
		v[i] = f
	}
	b := &orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}
	if err := checkBBox(b); err != nil {
		return nil, err
	}
	return b, nil
}

// TrendRequest asks for a monthly series for one cell or an area made of
// whole cells (all at one resolution). From and To are months "YYYY-MM",
// inclusive; empty To means the last complete month, empty From the
// eleventh month before To.
type TrendRequest struct {
	Cells    []string
	Layer    string
	Category string
	From, To string
}

// TrendPoint is one month of a trend. Value is the sum of the published
// values of the requested cells published that month; PublishedCells says
// how many of them were, and Published whether any was. A month with no
// published cell is indistinguishable from an empty one, by design.
type TrendPoint struct {
	Month          string `json:"month"`
	Value          int    `json:"value"`
	Published      bool   `json:"published"`
	PublishedCells int    `json:"published_cells"`
}

// Trend returns the monthly published series for the requested cells. Each
// month is that month's published set, so a trend reveals nothing a month's
// tiles do not. Months after the last complete month are refused or, when
// the range straddles it, cut off.
func (s *Service) Trend(ctx context.Context, req TrendRequest) ([]TrendPoint, error) {
	layer, category, err := s.checkLayerCategory(req.Layer, req.Category)
	if err != nil {
		return nil, err
	}
	cells, err := parseTrendCells(req.Cells)
	if err != nil {
		return nil, err
	}
	latest := MonthOf(s.clock()).Add(-1)
	to := latest
	if req.To != "" {
		if to, err = ParseMonth(req.To); err != nil {
			return nil, err
		}
	}
	from := to.Add(-11)
	if req.From != "" {
		if from, err = ParseMonth(req.From); err != nil {
			return nil, err
		}
	}
	if to.Before(from) {
		return nil, errInvalid("trend_range_invalid", "from %s is after to %s", from, to)
	}
	if latest.Before(from) {
		return nil, errInvalid("period_incomplete", "trend from %s has no complete month yet; the latest is %s", from, latest)
	}
	if latest.Before(to) {
		to = latest
	}
	if n := to.index() - from.index() + 1; n > MaxTrendMonths {
		return nil, errInvalid("trend_too_long", "a trend covers at most %d months; %s to %s is %d", MaxTrendMonths, from, to, n)
	}
	gen := s.gen.Load()
	var out []TrendPoint
	for m := from; !to.Before(m); m = m.Add(1) {
		h, err := s.set(ctx, setKey{gen: gen, layer: layer, category: category, first: m, last: m})
		if err != nil {
			return nil, err
		}
		pt := TrendPoint{Month: m.String()}
		for _, c := range cells {
			if v, ok := h.pub.Value(c); ok {
				pt.Value += v
				pt.PublishedCells++
			}
		}
		pt.Published = pt.PublishedCells > 0
		out = append(out, pt)
	}
	return out, nil
}

// parseTrendCells validates, deduplicates and orders the cells of an area;
// mixing resolutions is refused because nested cells would be counted twice.
func parseTrendCells(in []string) ([]h3.Cell, error) {
	if len(in) == 0 {
		return nil, errInvalid("cells_required", "give at least one H3 cell (resolution %d to %d)", MinRes, MaxRes)
	}
	if len(in) > MaxTrendCells {
		return nil, errInvalid("cells_too_many", "an area has at most %d cells; %d given", MaxTrendCells, len(in))
	}
	seen := make(map[h3.Cell]bool, len(in))
	var cells []h3.Cell
	for _, sc := range in {
		c, err := ParseCell(sc)
		if err != nil {
			return nil, err
		}
		if len(cells) > 0 && cellRes(c) != cellRes(cells[0]) {
			return nil, errInvalid("cells_mixed_resolution", "all cells of an area must have the same resolution (%d and %d given)", cellRes(cells[0]), cellRes(c))
		}
		if !seen[c] {
			seen[c] = true
			cells = append(cells, c)
		}
	}
	return cells, nil
}

// tileJSONAttribution is required by the OS, Royal Mail and ONS licences
// of the postcode data the geocodes come from.
const tileJSONAttribution = "Contains OS data © Crown copyright and database right; " +
	"Contains Royal Mail data © Royal Mail copyright and database right; " +
	"Contains National Statistics data © Crown copyright and database right."

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

// TileJSON describes the heat tiles for a filter. baseURL is the public
// origin (and path prefix) of the service, e.g. "https://ctxmap.example";
// the tile URL carries the filter's layer, category and period (as given,
// so "last-12m" stays rolling). The filter is validated like a tile request.
func (s *Service) TileJSON(baseURL string, f Filter) (*TileJSON, error) {
	r, err := s.resolve(f)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("layer", r.layer)
	if r.category != "" {
		q.Set("category", r.category)
	}
	q.Set("period", r.period.Spec)
	desc := fmt.Sprintf("Distinct young people per H3 cell (layer %s, %s, %s). %s.",
		r.layer, categoryLabel(r.category), r.period, s.policy.Describe())
	return &TileJSON{
		TileJSON:    "3.0.0",
		Name:        "ctxmap heat",
		Description: desc,
		Version:     "1.0.0",
		Attribution: tileJSONAttribution,
		Scheme:      "xyz",
		Tiles:       []string{strings.TrimRight(baseURL, "/") + "/tiles/heat/{z}/{x}/{y}.mvt?" + q.Encode()},
		MinZoom:     TileJSONMinZoom,
		MaxZoom:     TileJSONMaxZoom,
		Bounds:      []float64{-8.65, 49.86, 1.77, 60.86},
		VectorLayers: []VectorLayer{{
			ID:          HeatLayer,
			Description: "published H3 cells: resolution 6 to z9, 7 at z10-11, 8 from z12",
			MinZoom:     TileJSONMinZoom,
			MaxZoom:     TileJSONMaxZoom,
			Fields:      map[string]string{"h3": "String", "res": "Number", "value": "Number"},
		}},
	}, nil
}

func categoryLabel(c string) string {
	if c == "" {
		return "all categories"
	}
	return "category " + c
}
