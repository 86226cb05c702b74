package tiles

import (
	"context"

	"github.com/paulmach/orb"
)

// Cell is one published cell as the JSON and CSV outputs show it.
type Cell struct {
	H3    string `json:"h3"`
	Res   int    `json:"res"`
	Value int    `json:"value"`
}

// CellsRequest asks for the published cells at one resolution, optionally
// only the whole cells whose hexagon meets BBox (lon/lat; see inView).
type CellsRequest struct {
	Res int
	Filter
	BBox *orb.Bound
}

// Cells returns the published cells for a request, in id order: the same
// cells and values the tiles show, and the release they come from.
func (s *Service) Cells(ctx context.Context, req CellsRequest) ([]Cell, ReleaseInfo, error) {
	if err := checkRes(req.Res); err != nil {
		return nil, ReleaseInfo{}, err
	}
	if err := checkBBox(req.BBox); err != nil {
		return nil, ReleaseInfo{}, err
	}
	r, err := s.resolve(ctx, req.Filter)
	if err != nil {
		return nil, ReleaseInfo{}, err
	}
	h, err := s.set(ctx, r.release, s.keyFor(r))
	if err != nil {
		return nil, ReleaseInfo{}, err
	}
	return s.cellsOf(h, req.Res, req.BBox), r.release, nil
}

func (s *Service) cellsOf(h *heatSet, res int, bbox *orb.Bound) []Cell {
	var cvs []CellValue
	if bbox != nil {
		cvs = s.inView(h, res, *bbox)
	} else {
		cvs = h.pub.Cells(res)
	}
	out := make([]Cell, len(cvs))
	for i, cv := range cvs {
		out[i] = Cell{H3: cv.Cell.String(), Res: res, Value: cv.Value}
	}
	return out
}
