package tiles

import (
	"bufio"
	"context"
	"io"
	"strconv"

	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/geo"
)

// ExportRequest asks for an export of published cells. Res 0 means all of
// resolutions 6, 7 and 8 (each cell on its own row); BBox limits the rows
// to the whole cells whose hexagon meets it (see inView), the cells a map
// view shows.
type ExportRequest struct {
	Res int
	Filter
	BBox *orb.Bound
}

// ExportColumns are the columns of the CSV, in order, and (without lat and
// lon) the properties of each GeoJSON feature. One list, so the two formats
// and the metadata that describes them cannot disagree.
var ExportColumns = []ExportColumn{
	{"h3", "H3 cell id (lower-case hexadecimal)"},
	{"res", "H3 resolution of the cell (6, 7 or 8)"},
	{"value", "published value: distinct young people, perturbed and rounded to the nearest 5; not an exact count"},
	{"period", "the months covered: YYYY-MM for one month, YYYY-MM/YYYY-MM (first/last, inclusive) for several"},
	{"layer", "harm (harm happened) or unsafe (places young people feel unsafe)"},
	{"category", "the harm category code, extra_familial, or all"},
	{"release", "id of the data release the value comes from"},
	{"release_data_time", "when that release read the records (RFC 3339, UTC): the values stand as of then"},
	{"release_months", "the complete months that release covers: YYYY-MM/YYYY-MM (first/last, inclusive)"},
	{"lat", "latitude of the cell centre (WGS84 degrees; CSV only)"},
	{"lon", "longitude of the cell centre (WGS84 degrees; CSV only)"},
}

// ExportColumn names and describes one column of the exports.
type ExportColumn struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ExportMeta describes an export: what it holds, under which rules, from
// which release. It travels as its own JSON document, so the CSV's first
// line is its header and GIS tools and spreadsheets read it as a table.
type ExportMeta struct {
	Title    string       `json:"title"`
	Layer    ctxmap.Layer `json:"layer"`
	Category string       `json:"category"`
	// Period is the period asked for ("last-12m", "2025-Q1"); First and
	// Last the months it covers in this release; Value the period column.
	Period      string `json:"period"`
	FirstMonth  string `json:"first_month"`
	LastMonth   string `json:"last_month"`
	PeriodValue string `json:"period_value"`
	Resolutions []int  `json:"resolutions"`
	// BBox is min_lon, min_lat, max_lon, max_lat when the export is limited
	// to a view, with the rule that picked the cells.
	BBox     []float64      `json:"bbox,omitempty"`
	BBoxRule string         `json:"bbox_rule,omitempty"`
	Cells    int            `json:"cells"`
	K        int            `json:"k"`
	Policy   string         `json:"policy"`
	Release  ReleaseRef     `json:"release"`
	Caveats  []string       `json:"caveats"`
	Columns  []ExportColumn `json:"columns"`
}

// BBoxRule says which cells a bbox selects, for the metadata and the API
// documentation.
const BBoxRule = "whole cells whose hexagon meets the bbox (lon/lat taken as planar, as GeoJSON clients draw it); no cell is cut"

// export is one export's rows and description, computed once for any format.
type export struct {
	meta   ExportMeta
	rows   []CellValue
	res    []int // res of each row
	period string
	cat    string
}

// prepareExport checks a request and collects its published cells. It
// reads published values only: one set of the current release.
func (s *Service) prepareExport(ctx context.Context, req ExportRequest) (*export, error) {
	if req.Res != 0 {
		if err := checkRes(req.Res); err != nil {
			return nil, err
		}
	}
	if err := checkBBox(req.BBox); err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, req.Filter)
	if err != nil {
		return nil, err
	}
	h, err := s.set(ctx, r.release, s.keyFor(r))
	if err != nil {
		return nil, err
	}
	resList := []int{geo.MinRes, geo.MinRes + 1, geo.MaxRes}
	if req.Res != 0 {
		resList = []int{req.Res}
	}
	e := &export{period: r.period.First.String(), cat: r.category}
	if r.period.Last != r.period.First {
		e.period += "/" + r.period.Last.String()
	}
	if e.cat == "" {
		e.cat = "all"
	}
	for _, res := range resList {
		var cvs []CellValue
		if req.BBox != nil {
			cvs = s.inView(h, res, *req.BBox)
		} else {
			cvs = h.pub.Cells(res)
		}
		e.rows = append(e.rows, cvs...)
		for range cvs {
			e.res = append(e.res, res)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	rel := h.pub.Release
	m := &e.meta
	m.Title = "ctxmap anonymised heat export: published values only"
	m.Layer, m.Category = r.layer, e.cat
	m.Period, m.FirstMonth, m.LastMonth, m.PeriodValue = r.period.Spec, r.period.First.String(), r.period.Last.String(), e.period
	m.Resolutions = resList
	if b := req.BBox; b != nil {
		m.BBox, m.BBoxRule = []float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}, BBoxRule
	}
	m.Cells, m.K, m.Policy = len(e.rows), s.policy.K(), s.policy.Describe()
	m.Release = rel.Ref()
	m.Caveats = []string{
		"absent cells are suppressed or empty (the two are not distinguished); an absent cell is not zero",
		"values are perturbed and rounded to the nearest 5; they are not exact counts, and sums of cells carry the noise of each",
		"values change only with a new data release; quote the release id with any figure",
	}
	m.Columns = ExportColumns
	return e, nil
}

// ExportMetadata describes the export a request would give (the same
// cells, so the count matches), without its rows.
func (s *Service) ExportMetadata(ctx context.Context, req ExportRequest) (ExportMeta, error) {
	e, err := s.prepareExport(ctx, req)
	if err != nil {
		return ExportMeta{}, err
	}
	return e.meta, nil
}

// ExportCSV writes the published cells for a request as CSV whose first
// line is its header (ExportColumns), so spreadsheets, QGIS and GDAL read
// it as a table; the caveats and the policy are in ExportMetadata. It
// writes published values only. The caller audit-logs the export
// (PRIVACY.md rule 11).
func (s *Service) ExportCSV(ctx context.Context, w io.Writer, req ExportRequest) (ExportMeta, error) {
	e, err := s.prepareExport(ctx, req)
	if err != nil {
		return ExportMeta{}, err
	}
	bw := bufio.NewWriter(w)
	for i, c := range ExportColumns {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(c.Name)
	}
	bw.WriteByte('\n')
	rel := &e.meta.Release
	tail := "," + e.period + "," + string(e.meta.Layer) + "," + e.cat + "," + strconv.FormatInt(rel.ID, 10) + "," +
		rel.DataTime + "," + rel.Months() + ","
	for i, cv := range e.rows {
		lat, lon := geo.CellCenter(cv.Cell)
		bw.WriteString(cv.Cell.String() + "," + strconv.Itoa(e.res[i]) + "," + strconv.Itoa(cv.Value) + tail +
			strconv.FormatFloat(lat, 'f', 6, 64) + "," + strconv.FormatFloat(lon, 'f', 6, 64) + "\n")
	}
	return e.meta, bw.Flush()
}

// ExportGeoJSON writes the published cells for a request as an RFC 7946
// FeatureCollection: each cell a Polygon (its hexagon, exterior ring
// counter-clockwise, closed, lon/lat WGS84) with the properties of
// ExportColumns but lat and lon. Published values only; the caller
// audit-logs the export.
func (s *Service) ExportGeoJSON(ctx context.Context, w io.Writer, req ExportRequest) (ExportMeta, error) {
	e, err := s.prepareExport(ctx, req)
	if err != nil {
		return ExportMeta{}, err
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(`{"type":"FeatureCollection","features":[`)
	props := `,"period":` + strconv.Quote(e.period) + `,"layer":` + strconv.Quote(string(e.meta.Layer)) +
		`,"category":` + strconv.Quote(e.cat) + `,"release":` + strconv.FormatInt(e.meta.Release.ID, 10) +
		`,"release_data_time":` + strconv.Quote(e.meta.Release.DataTime) +
		`,"release_months":` + strconv.Quote(e.meta.Release.Months()) + `}}`
	for i, cv := range e.rows {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n" + `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[`)
		for j, p := range counterClockwise(s.bounds.Boundary(cv.Cell).Ring) {
			if j > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("[" + strconv.FormatFloat(p[0], 'f', 7, 64) + "," + strconv.FormatFloat(p[1], 'f', 7, 64) + "]")
		}
		bw.WriteString(`]]},"properties":{"h3":"` + cv.Cell.String() + `","res":` + strconv.Itoa(e.res[i]) +
			`,"value":` + strconv.Itoa(cv.Value) + props)
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return ExportMeta{}, err
			}
		}
	}
	bw.WriteString("\n]}\n")
	return e.meta, bw.Flush()
}

// counterClockwise returns a closed ring in counter-clockwise order (RFC
// 7946 section 3.1.6 for exterior rings), copying it when it must turn it:
// rings from the boundary cache are shared.
func counterClockwise(r orb.Ring) orb.Ring {
	if r.Orientation() == orb.CCW {
		return r
	}
	out := r.Clone()
	out.Reverse()
	return out
}
