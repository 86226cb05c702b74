package tiles

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// Defaults applied to an empty Filter field, so a bare tile URL shows
// something sensible.
const (
	DefaultLayer  = ctxmap.LayerHarm
	DefaultPeriod = "last-12m"
)

// Categories answers whether a code may be used as a heat category filter
// (a harm category of the taxonomy, or ctxmap.ExtraFamilial). The taxonomy
// lives in contexts and may change at run time, so the service asks through
// this interface, with the request's context; the implementation decides how
// fresh its answer is. An error is ours (the taxonomy could not be read), not
// the caller's.
type Categories interface {
	Known(ctx context.Context, code string) (bool, error)
}

// Filter is the whole choice a viewer has (PRIVACY.md rule 5): one layer,
// one category or all, one period. Empty Layer means DefaultLayer, empty
// Period DefaultPeriod, empty Category all categories.
type Filter struct {
	Layer    ctxmap.Layer
	Category string
	Period   string
}

// resolved is a validated filter with its period resolved against the
// release that answers it.
type resolved struct {
	release  ReleaseInfo
	layer    ctxmap.Layer
	category string
	period   Period
}

// resolve validates a filter: layer, category and period, in that order.
func (s *Service) resolve(ctx context.Context, f Filter) (resolved, error) {
	layer, category, err := s.checkLayerCategory(ctx, f.Layer, f.Category)
	if err != nil {
		return resolved{}, err
	}
	rel, err := s.current.get(ctx)
	if err != nil {
		return resolved{}, err
	}
	spec := f.Period
	if spec == "" {
		spec = DefaultPeriod
	}
	p, err := s.periods.period(spec, rel, s.clock)
	if err != nil {
		return resolved{}, err
	}
	return resolved{rel, layer, category, p}, nil
}

// maxMemoPeriods bounds the periods remembered per release: a map view asks
// for a handful, and a client inventing periods must not grow the memory.
const maxMemoPeriods = 256

// periodMemo remembers the periods resolved against the release served, by
// spec: every tile of a map view names the same period, and parsing it
// again (with its month formatting) was most of a cached tile's cost in
// tiles. Only successes are remembered: a resolved period depends on the
// spec and the release alone (the clock decides only which error a refused
// period gets), and releases are immutable, so the answer cannot change
// while the release is served.
type periodMemo struct {
	cur atomic.Pointer[releasePeriods]
}

// releasePeriods are one release's remembered periods.
type releasePeriods struct {
	rel ReleaseInfo
	m   sync.Map // spec -> Period
	n   atomic.Int32
}

// period is releasePeriod(spec, rel, clock()), remembered.
func (pm *periodMemo) period(spec string, rel ReleaseInfo, clock func() time.Time) (Period, error) {
	rp := pm.cur.Load()
	if rp != nil && rp.rel.ID == rel.ID && rp.rel.DataTime.Equal(rel.DataTime) && rp.rel.Window == rel.Window {
		if p, ok := rp.m.Load(spec); ok {
			return p.(Period), nil
		}
	} else {
		rp = &releasePeriods{rel: rel}
		pm.cur.Store(rp) // racing first requests of a release: one table wins, the others are dropped
	}
	p, err := releasePeriod(spec, rel, clock())
	if err != nil {
		return Period{}, err
	}
	if rp.n.Add(1) <= maxMemoPeriods {
		rp.m.Store(spec, p)
	}
	return p, nil
}

// releasePeriod resolves a period as of a release: rolling periods end at
// the release's last month, and a period the release does not cover (later
// months, or months before its window) is refused with the months it covers.
func releasePeriod(spec string, rel ReleaseInfo, now time.Time) (Period, error) {
	p, err := ParsePeriod(spec, rel.DataTime)
	if err != nil {
		if _, errNow := ParsePeriod(spec, now); errNow == nil {
			// Complete now, but not when the release was made.
			return Period{}, notReleasedSpec(rel, spec)
		}
		return Period{}, err
	}
	if !rel.Window.Contains(p.First, p.Last) {
		return Period{}, notReleasedSpec(rel, spec)
	}
	return p, nil
}

func notReleasedSpec(rel ReleaseInfo, spec string) error {
	return errInvalid("period_not_released",
		"period %s is not in the current data release (%d, made %s), which covers %s to %s; later months appear with the next release",
		ctxmap.Truncate(spec, echoRunes), rel.ID, rel.DataTime.UTC().Format("2 Jan 2006"), rel.Window.First, rel.Window.Last)
}

func notReleased(rel ReleaseInfo, first, last Month) error {
	return notReleasedSpec(rel, periodSpec(first, last))
}

// missingSet explains a set the release does not hold although its period
// is in the release's window: a category added to the taxonomy after the
// release was made, which is published from the next one. Saying so beats
// blaming the period, which the map's own picker offered.
func missingSet(rel ReleaseInfo, k SetKey) error {
	if k.Category != "" && k.Category != ctxmap.ExtraFamilial && rel.Window.Contains(k.First, k.Last) {
		return errInvalid("category_not_released",
			"category %q was added after the current data release (%d, made %s); it is published from the next release",
			ctxmap.Truncate(k.Category, echoRunes), rel.ID, rel.DataTime.UTC().Format("2 Jan 2006"))
	}
	return notReleased(rel, k.First, k.Last)
}

// checkLayerCategory is the one check of a layer and a category, for every
// output (tiles, cells, exports, trends, TileJSON).
func (s *Service) checkLayerCategory(ctx context.Context, layer ctxmap.Layer, category string) (ctxmap.Layer, string, error) {
	if layer == "" {
		layer = DefaultLayer
	}
	if !layer.Valid() {
		return "", "", errInvalid("layer_unsupported", "layer %q is not supported; use %s", ctxmap.Truncate(string(layer), echoRunes), layerList())
	}
	if category == "" || category == ctxmap.AllCategories {
		return layer, "", nil
	}
	if !layer.Categorised() {
		return "", "", errInvalid("category_not_for_layer",
			"layer %q has no harm categories (a safe place records none); omit category, or give all", layer)
	}
	known := false
	if categorySyntax(category) && s.categories != nil {
		var err error
		if known, err = s.categories.Known(ctx, category); err != nil {
			return "", "", fmt.Errorf("tiles: checking category: %w", err)
		}
	}
	if !known {
		return "", "", errInvalid("category_unsupported",
			"category %q is not supported; give one harm category code, or all (or none) for all categories", ctxmap.Truncate(category, echoRunes))
	}
	return layer, category, nil
}

// layerList names the layers for messages: "harm", "unsafe" or "safe".
func layerList() string {
	var q []string
	for _, l := range ctxmap.Layers() {
		q = append(q, strconv.Quote(string(l)))
	}
	return strings.Join(q, " or ")
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

func categoryLabel(c string) string {
	if c == "" {
		return "all categories"
	}
	return "category " + c
}

func checkRes(res int) error {
	if res < geo.MinRes || res > geo.MaxRes {
		return errInvalid("res_unsupported", "resolution %d is not published; use %s", res, ResList())
	}
	return nil
}

// ResList names the published resolutions for messages: "6, 7 or 8".
func ResList() string {
	var b strings.Builder
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		switch {
		case r == geo.MaxRes && r > geo.MinRes:
			b.WriteString(" or ")
		case r > geo.MinRes:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(r))
	}
	return b.String()
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
