package tiles

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap/geo"
)

// ExportRequest asks for a CSV of published cells. Res 0 means all of
// resolutions 6, 7 and 8 (each cell on its own row); BBox limits the rows
// to cells whose hexagon intersects it.
type ExportRequest struct {
	Res int
	Filter
	BBox *orb.Bound
}

// ExportCSV writes the published cells for a request as CSV (h3, res,
// value, and the cell centre's lat and lon for tools without H3), after
// '#' header lines naming the filter, the period, the policy (k, rounding,
// perturbation) and the data time, so the figures never travel without
// their caveats. It writes published values only. The caller audit-logs
// the export (PRIVACY.md rule 11).
func (s *Service) ExportCSV(ctx context.Context, w io.Writer, req ExportRequest) error {
	if req.Res != 0 {
		if err := checkRes(req.Res); err != nil {
			return err
		}
	}
	if err := checkBBox(req.BBox); err != nil {
		return err
	}
	r, err := s.resolve(ctx, req.Filter)
	if err != nil {
		return err
	}
	h, err := s.set(ctx, r.release, s.keyFor(r))
	if err != nil {
		return err
	}
	resList := []int{geo.MinRes, geo.MinRes + 1, geo.MaxRes}
	if req.Res != 0 {
		resList = []int{req.Res}
	}
	bw := bufio.NewWriter(w)
	header := []string{
		"ctxmap anonymised heat export: published values only",
		"layer: " + string(r.layer),
		"category: " + categoryLabel(r.category),
		"period: " + r.period.String(),
		fmt.Sprintf("resolutions: %v", resList),
		"policy: " + s.policy.Describe(),
		fmt.Sprintf("release: %d, data time %s, covering %s to %s", h.pub.Release.ID,
			h.pub.Release.DataTime.UTC().Format(time.RFC3339), h.pub.Release.Window.First, h.pub.Release.Window.Last),
		"absent cells are suppressed or empty (the two are not distinguished); values are not exact counts",
	}
	if req.BBox != nil {
		header = append(header, fmt.Sprintf("bbox: %g,%g,%g,%g", req.BBox.Min[0], req.BBox.Min[1], req.BBox.Max[0], req.BBox.Max[1]))
	}
	for _, line := range header {
		bw.WriteString("# " + line + "\n")
	}
	bw.WriteString("h3,res,value,lat,lon\n")
	for _, res := range resList {
		var cvs []CellValue
		if req.BBox != nil {
			cvs = s.inBound(h, res, *req.BBox)
		} else {
			cvs = h.pub.Cells(res)
		}
		for _, cv := range cvs {
			lat, lon := geo.CellCenter(cv.Cell)
			bw.WriteString(cv.Cell.String() + "," + strconv.Itoa(res) + "," + strconv.Itoa(cv.Value) + "," +
				strconv.FormatFloat(lat, 'f', 6, 64) + "," + strconv.FormatFloat(lon, 'f', 6, 64) + "\n")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return bw.Flush()
}
