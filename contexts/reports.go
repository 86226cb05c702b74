package contexts

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
)

// Reports for commissioning: what partnerships ask of their context work
// (which agencies act, what is late, how long places stay open). Context
// records are thematic records of places, groups and schools, not of
// children, so these reports are read from the records directly rather than
// from a release; the one figure about young people they show, how many are
// linked to a context, follows PRIVACY.md rule 14 through
// LinkSummary.ForRole. The definitions are in docs/REPORTS.md.

// The reports, by the name of their route (GET /api/v1/reports/{name}).
const (
	ReportInterventions   = "interventions"
	ReportOverdue         = "overdue-interventions"
	ReportContextActivity = "contexts"
	ReportTimeToClose     = "time-to-close"
	ReportReviews         = "reviews"
)

// The report window: monthly reports cover whole UK calendar months, from
// one month to ReportMaxMonths, none before January 2000 (earliestDate) and
// none after the current month. Without from and to a report covers the
// ReportDefaultMonths months up to the last complete one.
const (
	ReportMaxMonths     = 36
	ReportDefaultMonths = 12
)

// Reviews are "due" when their date falls within this many days from
// today (due_within, 0 to ReviewDueMaxDays), "overdue" when it has passed.
const (
	ReviewDueDefaultDays = 28
	ReviewDueMaxDays     = 365
)

// Review states of a context's review date.
const (
	ReviewOverdue = "overdue"
	ReviewDue     = "due"
)

// ReportColumn is one column of a report's table: the field of its rows
// (and the CSV header), a heading for people, and how to show the value:
// "month", "code" (a code of the vocabulary of the same key), "count",
// "days", "date", "text", "id" or "link_count" (a LinkCount).
type ReportColumn struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

// The columns reports are made of, so one heading names one thing.
var (
	rcMonth          = ReportColumn{"month", "Month", "month"}
	rcAgency         = ReportColumn{"partner_agency", "Partner agency", "code"}
	rcStatus         = ReportColumn{"status", "Status", "code"}
	rcSide           = ReportColumn{"side", "Triangle side", "code"}
	rcKind           = ReportColumn{"kind", "Kind of context", "code"}
	rcLocationType   = ReportColumn{"location_type", "Location type", "code"}
	rcInterventions  = ReportColumn{"interventions", "Interventions", "count"}
	rcContextID      = ReportColumn{"context_id", "Context", "id"}
	rcDisplayName    = ReportColumn{"display_name", "Name", "text"}
	rcInterventionID = ReportColumn{"intervention_id", "Intervention", "id"}
	rcAction         = ReportColumn{"action", "Action", "text"}
	rcDueDate        = ReportColumn{"due_date", "Due", "date"}
	rcDaysOverdue    = ReportColumn{"days_overdue", "Days overdue", "days"}
	rcYoungPeople    = ReportColumn{"young_people", "Young people linked", "link_count"}
	rcTeams          = ReportColumn{"teams", "Teams with links", "text"}
	rcOpened         = ReportColumn{"opened", "Opened", "count"}
	rcClosed         = ReportColumn{"closed", "Closed", "count"}
	rcReopened       = ReportColumn{"reopened", "Reopened", "count"}
	rcClosures       = ReportColumn{"closures", "Closures", "count"}
	rcMedianDays     = ReportColumn{"median_days", "Median days to close", "days"}
	rcMeanDays       = ReportColumn{"mean_days", "Mean days to close", "days"}
	rcTeam           = ReportColumn{"team", "Owning team", "text"}
	rcReviewDate     = ReportColumn{"review_date", "Review date", "date"}
	rcState          = ReportColumn{"state", "Review", "code"}
	rcDays           = ReportColumn{"days", "Days overdue (-) or until due", "days"}
	rcOverdue        = ReportColumn{"overdue", "Reviews overdue", "count"}
	rcDue            = ReportColumn{"due", "Reviews due", "count"}
	rcLater          = ReportColumn{"later", "Reviews later", "count"}
	rcNone           = ReportColumn{"none", "No review date", "count"}
)

// ReportSpec describes one report to clients: what it shows, whether it
// covers months (from, to) or is as of today, the columns it may be grouped
// by (by, a comma-separated list, default all of them) and the query
// parameters it takes.
type ReportSpec struct {
	Name        string         `json:"name"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Monthly     bool           `json:"monthly"`
	Groupings   []ReportColumn `json:"groupings"`
	Params      []string       `json:"params"`
}

var reportSpecs = []ReportSpec{
	{Name: ReportInterventions, Title: "Interventions by partner agency, status and triangle side per month", Monthly: true,
		Description: "Interventions recorded in each month (the month they were added), by partner agency, current status and the side of the triangle they address.",
		Groupings:   []ReportColumn{rcAgency, rcStatus, rcSide}, Params: []string{"from", "to", "by"}},
	{Name: ReportOverdue, Title: "Overdue interventions",
		Description: "Interventions on open contexts still planned or in progress after their due date, as of today, most overdue first, with how many young people are linked to each context.",
		Groupings:   []ReportColumn{}, Params: []string{}},
	{Name: ReportContextActivity, Title: "Contexts opened, closed and reopened per month", Monthly: true,
		Description: "Context records opened, closed and reopened in each month, by kind of context and location type.",
		Groupings:   []ReportColumn{rcKind, rcLocationType}, Params: []string{"from", "to", "by"}},
	{Name: ReportTimeToClose, Title: "Time to close", Monthly: true,
		Description: "For closures in the months chosen: days from opening (or the last reopening) to closing, median and mean, by kind of context.",
		Groupings:   []ReportColumn{rcKind, rcLocationType}, Params: []string{"from", "to", "by"}},
	{Name: ReportReviews, Title: "Reviews due and overdue",
		Description: "Open contexts whose review date has passed (overdue) or falls within the next due_within days (due), as of today, with how many young people are linked to each.",
		Groupings:   []ReportColumn{}, Params: []string{"due_within"}},
}

// ReportSpecs lists every report, in the order they are offered.
func ReportSpecs() []ReportSpec { return slices.Clone(reportSpecs) }

func reportSpec(name string) (ReportSpec, bool) {
	for _, s := range reportSpecs {
		if s.Name == name {
			return s, true
		}
	}
	return ReportSpec{}, false
}

// sideTerms name the triangle sides for reports across kinds of context;
// a context's own page uses its kind's wording (SideLabel).
var sideTerms = []Term{
	{Code: SideNeeds, Label: "Needs and functioning of young people"},
	{Code: SideGuardianship, Label: "Guardianship capacity"},
	{Code: SideEnvironment, Label: "Environment and wider systems"},
}

var reviewStateTerms = []Term{
	{Code: ReviewOverdue, Label: "Overdue"},
	{Code: ReviewDue, Label: "Due"},
}

// ReportVocab is the label of every code a report shows, keyed by the
// column that holds it, so clients hold no copy of a list.
func ReportVocab() map[string][]Term {
	kinds := make([]Term, len(contextKinds))
	for i, k := range contextKinds {
		kinds[i] = Term{Code: k.Code, Label: k.Label}
	}
	return map[string][]Term{
		rcAgency.Key:       partnerAgencies,
		rcStatus.Key:       interventionStatusTerms,
		rcSide.Key:         sideTerms,
		rcKind.Key:         kinds,
		rcLocationType.Key: locationTypes,
		rcState.Key:        reviewStateTerms,
	}
}

// ReportWindow says which months reports may cover, as of today.
type ReportWindow struct {
	MaxMonths        int    `json:"max_months"`
	Earliest         string `json:"earliest"`
	Latest           string `json:"latest"`
	DefaultFrom      string `json:"default_from"`
	DefaultTo        string `json:"default_to"`
	DueWithinDefault int    `json:"due_within_default"`
	DueWithinMax     int    `json:"due_within_max"`
}

// ReportCatalogue is everything a client needs to offer the reports: the
// reports, the window, the labels of their codes and the disclosure
// threshold small link counts are shown under.
type ReportCatalogue struct {
	Reports []ReportSpec      `json:"reports"`
	Window  ReportWindow      `json:"window"`
	Vocab   map[string][]Term `json:"vocab"`
	K       int               `json:"k"`
}

// NewReportCatalogue describes the reports as of now, with threshold k.
func NewReportCatalogue(now time.Time, k int) ReportCatalogue {
	cur := monthOf(now).Time
	to := cur.AddDate(0, -1, 0)
	return ReportCatalogue{Reports: ReportSpecs(), Vocab: ReportVocab(), K: k, Window: ReportWindow{
		MaxMonths: ReportMaxMonths, Earliest: earliestDate.Format(monthLayout), Latest: cur.Format(monthLayout),
		DefaultFrom: to.AddDate(0, 1-ReportDefaultMonths, 0).Format(monthLayout), DefaultTo: to.Format(monthLayout),
		DueWithinDefault: ReviewDueDefaultDays, DueWithinMax: ReviewDueMaxDays}}
}

const monthLayout = "2006-01"

// ReportQuery is a checked request for one report.
type ReportQuery struct {
	Spec ReportSpec
	// From and To are the first and last months (their first instant in
	// the UK); End is the instant after To, so a month's records are those
	// at or after From and before End. Zero for reports as of today.
	From, To, End time.Time
	// By lists the grouping columns' keys, in the spec's order.
	By []string
	// DueWithin is the reviews' horizon in days.
	DueWithin int
	// Today is the UK calendar day the report is made on (UKDay).
	Today time.Time
}

// ParseReportQuery checks the query parameters of report name on now's
// UK day: an unknown report is 404; an unknown parameter, a month that is
// not YYYY-MM, a window outside ReportWindow, an unknown grouping or a bad
// due_within is 400 naming the parameter.
func ParseReportQuery(name string, q url.Values, now time.Time) (ReportQuery, error) {
	spec, ok := reportSpec(name)
	if !ok {
		return ReportQuery{}, ctxmap.Errorf(ctxmap.KindNotFound, "unknown_report", "there is no report %q (see /api/v1/reports)", Trunc(name, 60))
	}
	rq := ReportQuery{Spec: spec, Today: UKDay(now), DueWithin: ReviewDueDefaultDays}
	for key, vals := range q {
		if !slices.Contains(spec.Params, key) {
			if len(spec.Params) == 0 {
				return rq, InvalidField(key, "unknown_parameter", "the %s report is as of today and takes no parameters, not %s", name, Trunc(key, 40))
			}
			return rq, InvalidField(key, "unknown_parameter", "the %s report takes %s, not %s", name, strings.Join(spec.Params, ", "), Trunc(key, 40))
		}
		if len(vals) > 1 {
			return rq, InvalidField(key, "repeated_parameter", "give %s once", key)
		}
	}
	if spec.Monthly {
		if err := rq.window(q.Get("from"), q.Get("to"), now); err != nil {
			return rq, err
		}
		by, err := grouping(spec, q)
		if err != nil {
			return rq, err
		}
		rq.By = by
	}
	if slices.Contains(spec.Params, "due_within") && q.Has("due_within") {
		n, err := strconv.Atoi(strings.TrimSpace(q.Get("due_within")))
		if err != nil || n < 0 || n > ReviewDueMaxDays {
			return rq, InvalidField("due_within", "invalid_parameter", "due_within must be a whole number of days from 0 to %d, not %q",
				ReviewDueMaxDays, Trunc(q.Get("due_within"), 40))
		}
		rq.DueWithin = n
	}
	return rq, nil
}

// window sets From, To and End from the from and to parameters.
func (rq *ReportQuery) window(from, to string, now time.Time) error {
	cur := monthOf(now).Time
	last := cur.AddDate(0, -1, 0)
	var err error
	if strings.TrimSpace(to) != "" {
		if last, err = parseReportMonth("to", to); err != nil {
			return err
		}
	}
	first := last.AddDate(0, 1-ReportDefaultMonths, 0)
	if strings.TrimSpace(from) != "" {
		if first, err = parseReportMonth("from", from); err != nil {
			return err
		}
	}
	window := func() string {
		return "reports cover whole months from " + earliestDate.Format(monthLayout) + " to the current month (" +
			cur.Format(monthLayout) + "), at most " + strconv.Itoa(ReportMaxMonths) + " months at a time"
	}
	switch {
	case first.After(last):
		return InvalidField("from", "invalid_window", "from (%s) is after to (%s)", first.Format(monthLayout), last.Format(monthLayout))
	case first.Before(monthOf(earliestDate).Time):
		return InvalidField("from", "invalid_window", "from (%s) is too early: %s", first.Format(monthLayout), window())
	case last.After(cur):
		return InvalidField("to", "invalid_window", "to (%s) is in the future: %s", last.Format(monthLayout), window())
	case monthsBetween(first, last) > ReportMaxMonths:
		return InvalidField("from", "invalid_window", "%s to %s is %d months: %s", first.Format(monthLayout), last.Format(monthLayout),
			monthsBetween(first, last), window())
	}
	rq.From, rq.To, rq.End = first, last, last.AddDate(0, 1, 0)
	return nil
}

func parseReportMonth(field, s string) (time.Time, error) {
	t, err := time.ParseInLocation(monthLayout, strings.TrimSpace(s), london)
	if err != nil {
		return t, InvalidField(field, "invalid_month", "%s must be a month like 2026-03, not %q", field, Trunc(s, 40))
	}
	return t, nil
}

// monthsBetween counts the months from first to last, both included.
func monthsBetween(first, last time.Time) int {
	return (last.Year()-first.Year())*12 + int(last.Month()-first.Month()) + 1
}

// grouping reads by: the spec's groupings named, in the spec's order;
// all of them when by is absent, none when it is empty.
func grouping(spec ReportSpec, q url.Values) ([]string, error) {
	all := make([]string, len(spec.Groupings))
	for i, g := range spec.Groupings {
		all[i] = g.Key
	}
	if !q.Has("by") {
		return all, nil
	}
	want := map[string]bool{}
	for _, part := range strings.Split(q.Get("by"), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !slices.Contains(all, part) {
			return nil, InvalidField("by", "invalid_grouping", "the %s report can be grouped by %s, not %q",
				spec.Name, strings.Join(all, ", "), Trunc(part, 40))
		}
		want[part] = true
	}
	var by []string
	for _, k := range all {
		if want[k] {
			by = append(by, k)
		}
	}
	return by, nil
}

// Months lists the window's months as YYYY-MM, first to last.
func (rq ReportQuery) Months() []string {
	var out []string
	for m := rq.From; m.Before(rq.End); m = m.AddDate(0, 1, 0) {
		out = append(out, m.Format(monthLayout))
	}
	return out
}

// Grouped reports whether the report is grouped by column key.
func (rq ReportQuery) Grouped(key string) bool { return slices.Contains(rq.By, key) }

// header starts the answer to rq with its columns: those of a monthly
// report are the month, the grouping columns chosen, then values.
func (rq ReportQuery) header(k int, lead, values, summary []ReportColumn) ReportHeader {
	h := ReportHeader{Report: rq.Spec.Name, Title: rq.Spec.Title, AsOf: rq.Today.Format(time.DateOnly), By: rq.By, K: k,
		Columns: slices.Clone(lead), SummaryColumns: summary}
	if h.By == nil {
		h.By = []string{}
	}
	if rq.Spec.Monthly {
		h.From, h.To = rq.From.Format(monthLayout), rq.To.Format(monthLayout)
	}
	for _, g := range rq.Spec.Groupings {
		if rq.Grouped(g.Key) {
			h.Columns = append(h.Columns, g)
		}
	}
	h.Columns = append(h.Columns, values...)
	return h
}
