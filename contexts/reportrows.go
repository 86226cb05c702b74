package contexts

import (
	"math"
	"strconv"
	"strings"
)

// The answers of the reports. Each is its rows (the detail, and the CSV
// export) and a summary, both described by columns so a client can show
// any report as a table without knowing it.

// ReportHeader opens every report's answer: which report, its window (for
// monthly reports) or the day it is as of, the grouping, the threshold k
// small link counts are shown under, and the columns of its rows and of
// its summary.
type ReportHeader struct {
	Report         string         `json:"report"`
	Title          string         `json:"title"`
	From           string         `json:"from,omitempty"`
	To             string         `json:"to,omitempty"`
	AsOf           string         `json:"as_of"`
	By             []string       `json:"by"`
	K              int            `json:"k"`
	Columns        []ReportColumn `json:"columns"`
	SummaryColumns []ReportColumn `json:"summary_columns"`
}

// ReportAnswer is the answer to one report request.
type ReportAnswer interface {
	// Table is the report's rows as text, a header line first, in the
	// order of its columns; a code column is followed by its label.
	Table() [][]string
}

// InterventionCount is how many interventions were recorded in a month
// with one partner agency, status and side (each empty when the report is
// not grouped by it).
type InterventionCount struct {
	Month         string `json:"month"`
	PartnerAgency string `json:"partner_agency,omitempty"`
	Status        string `json:"status,omitempty"`
	Side          string `json:"side,omitempty"`
	Interventions int    `json:"interventions"`
}

// MonthInterventions is a month's total, zero included.
type MonthInterventions struct {
	Month         string `json:"month"`
	Interventions int    `json:"interventions"`
}

// InterventionsReport answers ReportInterventions.
type InterventionsReport struct {
	ReportHeader
	Rows    []InterventionCount  `json:"rows"`
	Summary []MonthInterventions `json:"summary"`
}

// NewInterventionsReport totals rows by month for rq.
func NewInterventionsReport(rq ReportQuery, k int, rows []InterventionCount) *InterventionsReport {
	r := &InterventionsReport{ReportHeader: rq.header(k, []ReportColumn{rcMonth}, []ReportColumn{rcInterventions},
		[]ReportColumn{rcMonth, rcInterventions}), Rows: nonNil(rows)}
	byMonth := map[string]int{}
	for _, x := range rows {
		byMonth[x.Month] += x.Interventions
	}
	for _, m := range rq.Months() {
		r.Summary = append(r.Summary, MonthInterventions{Month: m, Interventions: byMonth[m]})
	}
	return r
}

// Table implements ReportAnswer.
func (r *InterventionsReport) Table() [][]string {
	return table(r.Columns, len(r.Rows), func(i int) map[string]string {
		x := r.Rows[i]
		return map[string]string{rcMonth.Key: x.Month, rcAgency.Key: x.PartnerAgency, rcStatus.Key: x.Status,
			rcSide.Key: x.Side, rcInterventions.Key: strconv.Itoa(x.Interventions)}
	})
}

// OverdueIntervention is an intervention still planned or in progress
// after its due date, with its context and the context's link summary as
// the reader may see it.
type OverdueIntervention struct {
	ContextID      int64     `json:"context_id"`
	DisplayName    string    `json:"display_name"`
	Kind           string    `json:"kind"`
	LocationType   string    `json:"location_type,omitempty"`
	InterventionID int64     `json:"intervention_id"`
	Action         string    `json:"action"`
	PartnerAgency  string    `json:"partner_agency"`
	Side           string    `json:"side"`
	Status         string    `json:"status"`
	DueDate        string    `json:"due_date"`
	DaysOverdue    int       `json:"days_overdue"`
	YoungPeople    LinkCount `json:"young_people"`
	Teams          []string  `json:"teams"`
}

// AgencyOverdue is how many overdue interventions one agency holds.
type AgencyOverdue struct {
	PartnerAgency string `json:"partner_agency"`
	Interventions int    `json:"interventions"`
}

// OverdueReport answers ReportOverdue.
type OverdueReport struct {
	ReportHeader
	Rows    []OverdueIntervention `json:"rows"`
	Summary []AgencyOverdue       `json:"summary"`
}

// NewOverdueReport counts rows by agency (in the agencies' order).
func NewOverdueReport(rq ReportQuery, k int, rows []OverdueIntervention) *OverdueReport {
	r := &OverdueReport{ReportHeader: rq.header(k, []ReportColumn{rcContextID, rcDisplayName, rcKind, rcLocationType,
		rcInterventionID, rcAction, rcAgency, rcSide, rcStatus, rcDueDate, rcDaysOverdue, rcYoungPeople, rcTeams}, nil,
		[]ReportColumn{rcAgency, rcInterventions}), Rows: nonNil(rows), Summary: []AgencyOverdue{}}
	n := map[string]int{}
	for _, x := range rows {
		n[x.PartnerAgency]++
	}
	for _, a := range partnerAgencies {
		if n[a.Code] > 0 {
			r.Summary = append(r.Summary, AgencyOverdue{PartnerAgency: a.Code, Interventions: n[a.Code]})
		}
	}
	return r
}

// Table implements ReportAnswer.
func (r *OverdueReport) Table() [][]string {
	return table(r.Columns, len(r.Rows), func(i int) map[string]string {
		x := r.Rows[i]
		return map[string]string{rcContextID.Key: itoa64(x.ContextID), rcDisplayName.Key: x.DisplayName, rcKind.Key: x.Kind,
			rcLocationType.Key: x.LocationType, rcInterventionID.Key: itoa64(x.InterventionID), rcAction.Key: x.Action,
			rcAgency.Key: x.PartnerAgency, rcSide.Key: x.Side, rcStatus.Key: x.Status, rcDueDate.Key: x.DueDate,
			rcDaysOverdue.Key: strconv.Itoa(x.DaysOverdue), rcYoungPeople.Key: x.YoungPeople.Text(),
			rcTeams.Key: strings.Join(x.Teams, "; ")}
	})
}

// ContextActivity is how many contexts of one kind and location type were
// opened, closed and reopened in a month.
type ContextActivity struct {
	Month        string `json:"month"`
	Kind         string `json:"kind,omitempty"`
	LocationType string `json:"location_type,omitempty"`
	Opened       int    `json:"opened"`
	Closed       int    `json:"closed"`
	Reopened     int    `json:"reopened"`
}

// ContextActivityReport answers ReportContextActivity; its summary is
// every month's totals, zeros included.
type ContextActivityReport struct {
	ReportHeader
	Rows    []ContextActivity `json:"rows"`
	Summary []ContextActivity `json:"summary"`
}

// NewContextActivityReport totals rows by month for rq.
func NewContextActivityReport(rq ReportQuery, k int, rows []ContextActivity) *ContextActivityReport {
	values := []ReportColumn{rcOpened, rcClosed, rcReopened}
	r := &ContextActivityReport{ReportHeader: rq.header(k, []ReportColumn{rcMonth}, values,
		append([]ReportColumn{rcMonth}, values...)), Rows: nonNil(rows)}
	byMonth := map[string]*ContextActivity{}
	for _, m := range rq.Months() {
		r.Summary = append(r.Summary, ContextActivity{Month: m})
	}
	for i := range r.Summary {
		byMonth[r.Summary[i].Month] = &r.Summary[i]
	}
	for _, x := range rows {
		if t := byMonth[x.Month]; t != nil {
			t.Opened += x.Opened
			t.Closed += x.Closed
			t.Reopened += x.Reopened
		}
	}
	return r
}

// Table implements ReportAnswer.
func (r *ContextActivityReport) Table() [][]string {
	return table(r.Columns, len(r.Rows), func(i int) map[string]string {
		x := r.Rows[i]
		return map[string]string{rcMonth.Key: x.Month, rcKind.Key: x.Kind, rcLocationType.Key: x.LocationType,
			rcOpened.Key: strconv.Itoa(x.Opened), rcClosed.Key: strconv.Itoa(x.Closed), rcReopened.Key: strconv.Itoa(x.Reopened)}
	})
}

// CloseTime is how long contexts of one kind (and location type) took to
// close: the number of closures and the median and mean days, or nil
// without closures.
type CloseTime struct {
	Kind         string   `json:"kind,omitempty"`
	LocationType string   `json:"location_type,omitempty"`
	Closures     int      `json:"closures"`
	MedianDays   *float64 `json:"median_days"`
	MeanDays     *float64 `json:"mean_days"`
}

// TimeToCloseReport answers ReportTimeToClose; its summary is one row over
// every closure in the window.
type TimeToCloseReport struct {
	ReportHeader
	Rows    []CloseTime `json:"rows"`
	Summary []CloseTime `json:"summary"`
}

// NewTimeToCloseReport wraps the grouped rows and the overall row.
func NewTimeToCloseReport(rq ReportQuery, k int, rows []CloseTime, all CloseTime) *TimeToCloseReport {
	values := []ReportColumn{rcClosures, rcMedianDays, rcMeanDays}
	return &TimeToCloseReport{ReportHeader: rq.header(k, nil, values, values), Rows: nonNil(rows), Summary: []CloseTime{all}}
}

// Table implements ReportAnswer.
func (r *TimeToCloseReport) Table() [][]string {
	return table(r.Columns, len(r.Rows), func(i int) map[string]string {
		x := r.Rows[i]
		return map[string]string{rcKind.Key: x.Kind, rcLocationType.Key: x.LocationType, rcClosures.Key: strconv.Itoa(x.Closures),
			rcMedianDays.Key: days(x.MedianDays), rcMeanDays.Key: days(x.MeanDays)}
	})
}

// RoundDays rounds a number of days to one decimal, as reports show them.
func RoundDays(d float64) float64 { return math.Round(d*10) / 10 }

// ReviewRow is an open context whose review is overdue or due.
type ReviewRow struct {
	ContextID    int64     `json:"context_id"`
	DisplayName  string    `json:"display_name"`
	Kind         string    `json:"kind"`
	LocationType string    `json:"location_type,omitempty"`
	Team         string    `json:"team"`
	ReviewDate   string    `json:"review_date"`
	State        string    `json:"state"`
	Days         int       `json:"days"`
	YoungPeople  LinkCount `json:"young_people"`
	Teams        []string  `json:"teams"`
}

// ReviewCounts counts the open contexts of one kind by review state.
type ReviewCounts struct {
	Kind    string `json:"kind"`
	Overdue int    `json:"overdue"`
	Due     int    `json:"due"`
	Later   int    `json:"later"`
	None    int    `json:"none"`
}

// ReviewsReport answers ReportReviews.
type ReviewsReport struct {
	ReportHeader
	DueWithin int            `json:"due_within"`
	Rows      []ReviewRow    `json:"rows"`
	Summary   []ReviewCounts `json:"summary"`
}

// NewReviewsReport wraps the rows and the counts by kind.
func NewReviewsReport(rq ReportQuery, k int, rows []ReviewRow, counts []ReviewCounts) *ReviewsReport {
	return &ReviewsReport{ReportHeader: rq.header(k, []ReportColumn{rcContextID, rcDisplayName, rcKind, rcLocationType,
		rcTeam, rcReviewDate, rcState, rcDays, rcYoungPeople, rcTeams}, nil,
		[]ReportColumn{rcKind, rcOverdue, rcDue, rcLater, rcNone}), DueWithin: rq.DueWithin, Rows: nonNil(rows), Summary: nonNil(counts)}
}

// Table implements ReportAnswer.
func (r *ReviewsReport) Table() [][]string {
	return table(r.Columns, len(r.Rows), func(i int) map[string]string {
		x := r.Rows[i]
		return map[string]string{rcContextID.Key: itoa64(x.ContextID), rcDisplayName.Key: x.DisplayName, rcKind.Key: x.Kind,
			rcLocationType.Key: x.LocationType, rcTeam.Key: x.Team, rcReviewDate.Key: x.ReviewDate, rcState.Key: x.State,
			rcDays.Key: strconv.Itoa(x.Days), rcYoungPeople.Key: x.YoungPeople.Text(), rcTeams.Key: strings.Join(x.Teams, "; ")}
	})
}

// table writes n rows under cols: a header of the column keys, each code
// column followed by "<key>_label" with the code's label, so a spreadsheet
// reads words and a program reads codes. Text that a spreadsheet would take
// for a formula (=, +, -, @ first) is written with a leading apostrophe.
func table(cols []ReportColumn, n int, row func(i int) map[string]string) [][]string {
	vocab := ReportVocab()
	var head []string
	for _, c := range cols {
		head = append(head, c.Key)
		if c.Type == "code" {
			head = append(head, c.Key+"_label")
		}
	}
	out := [][]string{head}
	for i := range n {
		vals := row(i)
		line := make([]string, 0, len(head))
		for _, c := range cols {
			v := vals[c.Key]
			if c.Type == "text" {
				v = SpreadsheetSafe(v)
			}
			line = append(line, v)
			if c.Type == "code" {
				label, _ := termLabel(vocab[c.Key], vals[c.Key])
				line = append(line, label)
			}
		}
		out = append(out, line)
	}
	return out
}

// SpreadsheetSafe writes text a spreadsheet would run as a formula (=, +,
// -, @, tab or carriage return first) with a leading apostrophe, for every
// CSV that people open in Excel.
func SpreadsheetSafe(v string) string {
	if strings.ContainsAny(v[:min(len(v), 1)], "=+-@\t\r") {
		return "'" + v
	}
	return v
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func days(d *float64) string {
	if d == nil {
		return ""
	}
	return strconv.FormatFloat(*d, 'f', -1, 64)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
