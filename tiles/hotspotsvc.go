package tiles

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// HotspotsLayer is the MVT layer of hot spot tiles, part of the map's
// style contract.
const HotspotsLayer = "hotspots"

// Limits on a hot spot request. A trend test on fewer than four steps
// says nothing (ArcGIS recommends at least ten); the cell limit bounds the
// work a boundary at resolution 8 can cause.
const (
	MinHotspotSteps = 4
	MaxHotspotCells = 50_000
)

// Study area kinds, as the answer names them.
const (
	AreaBoundary       = "boundary"
	AreaPublishedCells = "published_cells"
)

// HotspotRequest asks for an emerging hot spot analysis of the current
// release. From and To are "YYYY-MM" (month steps) or "YYYY-Qn" / "YYYY-MM"
// (quarter steps: the quarter holding that month); empty means the first
// and last step wholly inside the release's window. Alpha 0 means
// DefaultHotspotAlpha.
type HotspotRequest struct {
	Layer    ctxmap.Layer
	Category string
	Res      int
	Step     string
	From, To string
	Alpha    float64
	// Area is the study area: the partnership boundary's cells at Res.
	// Nil means every cell published at Res in any step.
	Area []h3.Cell
}

// HotspotStep is one time step: a month or a whole quarter, as published.
type HotspotStep struct {
	Label       string
	First, Last Month
}

// HotspotResult is an analysis and what it was computed from. It is
// shared through a cache: callers must not modify it.
type HotspotResult struct {
	Release  ReleaseInfo
	Layer    ctxmap.Layer
	Category string
	Res      int
	Step     string
	Alpha    float64
	AreaKind string
	Steps    []HotspotStep
	// Cells are the study area's cells in id order.
	Cells []CellHotspot
}

type hotspotKey struct {
	release  int64
	layer    ctxmap.Layer
	category string
	res      int
	step     string
	from, to Month
	alpha    float64
	area     [32]byte // hash of the study area; zero for published cells
}

type hotTileKey struct {
	hotspotKey
	tile maptile.Tile
}

// Hotspots runs the emerging hot spot analysis for a request on the
// current release's published sets (one per step: the same sets the tiles
// and trends read), never on records. Results are cached per release.
func (s *Service) Hotspots(ctx context.Context, req HotspotRequest) (*HotspotResult, error) {
	k, steps, area, rel, err := s.hotspotPlan(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.hotspots(ctx, k, steps, area, rel)
}

func (s *Service) hotspots(ctx context.Context, k hotspotKey, steps []HotspotStep, area []h3.Cell, rel ReleaseInfo) (*HotspotResult, error) {
	if r, ok := s.hotResults.get(k); ok {
		return r, nil
	}
	return s.hotFlight.do(ctx, k, func(ctx context.Context) (*HotspotResult, error) {
		if r, ok := s.hotResults.get(k); ok {
			return r, nil
		}
		sets := make([]*Published, len(steps))
		published := map[h3.Cell]bool{}
		for t, st := range steps {
			h, err := s.set(ctx, rel, setKey{release: rel.ID, layer: k.layer, category: k.category, first: st.First, last: st.Last})
			if err != nil {
				return nil, err
			}
			sets[t] = h.pub
			if area == nil || k.res == geo.MaxRes {
				for _, cv := range h.pub.Cells(k.res) {
					published[cv.Cell] = true
				}
			}
		}
		kind := AreaBoundary
		if area == nil {
			kind = AreaPublishedCells
			area = make([]h3.Cell, 0, len(published))
			for c := range published {
				area = append(area, c)
			}
			slices.Sort(area)
		}
		if k.res == geo.MaxRes && len(published) == 0 {
			return nil, errInvalid("res_nothing_published",
				"nothing is published at resolution %d for %s in these steps, so there is nothing to analyse; use resolution 6 or 7", k.res, categoryLabel(k.category))
		}
		series := make([][]float64, len(steps))
		for t, p := range sets {
			x := make([]float64, len(area))
			for i, c := range area {
				if v, ok := p.Value(c); ok {
					x[i] = float64(v)
				}
			}
			series[t] = x
		}
		r := &HotspotResult{Release: rel, Layer: k.layer, Category: k.category, Res: k.res, Step: k.step, Alpha: k.alpha,
			AreaKind: kind, Steps: steps, Cells: EmergingHotSpots(area, series, k.alpha)}
		s.hotResults.add(k, r, 1024+int64(len(area))*int64(96+16*len(steps)))
		return r, nil
	})
}

// hotspotPlan validates a request against the current release: layer,
// category, resolution, step, range, alpha and study area, in that order.
func (s *Service) hotspotPlan(ctx context.Context, req HotspotRequest) (hotspotKey, []HotspotStep, []h3.Cell, ReleaseInfo, error) {
	var k hotspotKey
	fail := func(err error) (hotspotKey, []HotspotStep, []h3.Cell, ReleaseInfo, error) {
		return hotspotKey{}, nil, nil, ReleaseInfo{}, err
	}
	layer, category, err := s.checkLayerCategory(ctx, req.Layer, req.Category)
	if err != nil {
		return fail(err)
	}
	if err := checkRes(req.Res); err != nil {
		return fail(err)
	}
	step := Step(req.Step)
	if step == "" {
		step = StepMonth
	}
	if step != StepMonth && step != StepQuarter {
		return fail(errInvalid("step_unsupported", "step %q is not supported; use %s or %s", ctxmap.Truncate(string(step), echoRunes), StepMonth, StepQuarter))
	}
	alpha := req.Alpha
	if alpha == 0 {
		alpha = DefaultHotspotAlpha
	}
	if !(alpha > 0 && alpha <= 0.5) || math.IsNaN(alpha) {
		return fail(errInvalid("alpha_invalid", "alpha is the significance level: a number above 0 and at most 0.5 (default %g)", DefaultHotspotAlpha))
	}
	rel, err := s.current.get(ctx)
	if err != nil {
		return fail(err)
	}
	steps, err := hotspotSteps(rel, step, req.From, req.To)
	if err != nil {
		return fail(err)
	}
	var area []h3.Cell
	if req.Area != nil {
		if area, k.area, err = studyArea(req.Area, req.Res); err != nil {
			return fail(err)
		}
	}
	k.release, k.layer, k.category, k.res, k.step, k.alpha = rel.ID, layer, category, req.Res, string(step), alpha
	k.from, k.to = steps[0].First, steps[len(steps)-1].Last
	return k, steps, area, rel, nil
}

// studyArea checks, orders and deduplicates a study area and hashes it for
// the cache key.
func studyArea(in []h3.Cell, res int) ([]h3.Cell, [32]byte, error) {
	area := slices.Clone(in)
	slices.Sort(area)
	area = slices.Compact(area)
	if len(area) > MaxHotspotCells {
		return nil, [32]byte{}, errInvalid("area_too_large", "the study area has %d cells at resolution %d; at most %d can be analysed, use a coarser resolution", len(area), res, MaxHotspotCells)
	}
	h := sha256.New()
	var b [8]byte
	for _, c := range area {
		if !geo.ValidCell(c) || geo.CellRes(c) != res {
			return nil, [32]byte{}, fmt.Errorf("tiles: study area cell %s is not a resolution %d cell", c, res)
		}
		binary.LittleEndian.PutUint64(b[:], uint64(c))
		h.Write(b[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return area, sum, nil
}

// hotspotSteps lists the steps of a range inside the release's window.
// Quarter steps are whole quarters only: a quarter the window covers in
// part is not a step, since its fewer months would look like a fall.
func hotspotSteps(rel ReleaseInfo, step Step, from, to string) ([]HotspotStep, error) {
	w := rel.Window
	var first, last Month
	var err error
	if step == StepMonth {
		first, last = w.First, w.Last
		if from != "" {
			if first, err = ParseMonth(from); err != nil {
				return nil, err
			}
		}
		if to != "" {
			if last, err = ParseMonth(to); err != nil {
				return nil, err
			}
		}
	} else {
		first, last = quarterOf(w.First), quarterOf(w.Last)
		if first.Before(w.First) {
			first = first.Add(3)
		}
		if w.Last.Before(last.Add(2)) {
			last = last.Add(-3)
		}
		if from != "" {
			if first, err = parseQuarter(from); err != nil {
				return nil, err
			}
		}
		if to != "" {
			if last, err = parseQuarter(to); err != nil {
				return nil, err
			}
		}
		last = last.Add(2) // the quarter's last month
	}
	if last.Before(first) {
		return nil, errInvalid("range_invalid", "from %s is after to %s", first, last)
	}
	if !w.Contains(first, last) {
		return nil, notReleased(rel, first, last)
	}
	size := 1
	if step == StepQuarter {
		size = 3
	}
	var out []HotspotStep
	for m := first; !last.Before(m.Add(size - 1)); m = m.Add(size) {
		st := HotspotStep{Label: m.String(), First: m, Last: m.Add(size - 1)}
		if size == 3 {
			st.Label = quarterLabel(m)
		}
		out = append(out, st)
	}
	if len(out) < MinHotspotSteps {
		return nil, errInvalid("range_too_short", "a hot spot analysis needs at least %d %s steps; %s to %s has %d", MinHotspotSteps, step, first, last, len(out))
	}
	return out, nil
}

func quarterOf(m Month) Month { return Month{m.Year, m.Month - (m.Month-1)%3} }

func quarterLabel(m Month) string { return fmt.Sprintf("%04d-Q%d", m.Year, (int(m.Month)-1)/3+1) }

// parseQuarter reads "YYYY-Qn" or a month "YYYY-MM" (its quarter) and
// returns the quarter's first month.
func parseQuarter(s string) (Month, error) {
	if y, q, ok := strings.Cut(s, "-Q"); ok && len(y) == 4 && len(q) == 1 {
		yi, err1 := strconv.Atoi(y)
		qi, err2 := strconv.Atoi(q)
		if err1 == nil && err2 == nil && qi >= 1 && qi <= 4 && yi >= 1000 {
			return Month{yi, time.Month(3*qi - 2)}, nil
		}
	}
	m, err := ParseMonth(s)
	if err != nil {
		return Month{}, errInvalid("quarter_invalid", "%q is not a quarter; use YYYY-Qn (e.g. 2025-Q1) or a month YYYY-MM", ctxmap.Truncate(s, echoRunes))
	}
	return quarterOf(m), nil
}

// HotspotTile returns the hot spot tile of a request: layer "hotspots",
// one polygon per study-area cell meeting the tile (plus Buffer), with
// properties h3, res and category. With Res 0 the resolution follows the
// zoom, as the heat tiles do.
func (s *Service) HotspotTile(ctx context.Context, t maptile.Tile, req HotspotRequest) (*Tile, error) {
	if err := CheckTile(t); err != nil {
		return nil, err
	}
	if req.Res == 0 {
		req.Res = geo.ResForZoom(int(t.Z))
	}
	k, steps, area, rel, err := s.hotspotPlan(ctx, req)
	if err != nil {
		return nil, err
	}
	tk := hotTileKey{k, t}
	if tl, ok := s.hotTiles.get(tk); ok {
		return tl, nil
	}
	r, err := s.hotspots(ctx, k, steps, area, rel)
	if err != nil {
		return nil, err
	}
	b := bufferedBound(t)
	var cells []CellValue
	category := map[h3.Cell]HotspotCategory{}
	for _, c := range r.Cells {
		if s.bounds.Boundary(c.Cell).Bound.Intersects(b) {
			cells = append(cells, CellValue{Cell: c.Cell})
			category[c.Cell] = c.Category
		}
	}
	feats := heatFeatures(t, r.Res, cells, s.bounds.Boundary)
	for _, f := range feats {
		c := h3.Cell(f.ID.(uint64))
		f.Properties = map[string]any{"h3": c.String(), "res": r.Res, "category": string(category[c])}
	}
	gz, raw, err := encodeLayer(HotspotsLayer, feats)
	if err != nil {
		return nil, fmt.Errorf("tiles: encoding hot spot tile %d/%d/%d: %w", t.Z, t.X, t.Y, err)
	}
	tl := NewTile(gz, raw, rel.DataTime)
	s.hotTiles.add(tk, tl, int64(len(gz)+len(raw))+256)
	return tl, nil
}
