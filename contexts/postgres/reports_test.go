package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// reportData is a hand-made set of context work with every expected figure
// worked out below from the dates (today is testNow, 2026-03-20):
//
//	park      E8 3AA  opened 2025-10-05, review 2026-03-01 (overdue 19 days); 2 + 1 young people linked
//	bus stop  E8 3AA  opened 2025-11-10, review 2026-04-05 (due in 16 days); 11 + 1 linked
//	group             opened 2025-12-01, closed 2026-01-15 (45 days), reopened 2026-02-01,
//	                  closed 2026-02-11 (10 days), reopened 2026-02-20; review 2026-06-30 (later)
//	school    N16 7AA opened 2026-01-05, closed 2026-03-04 (58 days); no review date
//	takeaway  E8 3AB  opened 2025-06-30 23:30 UTC, which is July in the UK (BST); no review date
//
//	I1 park     police          environment planned     due 2026-02-01  added 2025-10-10  overdue 47 days
//	I2 park     parks           environment in_progress due 2026-03-19  added 2025-10-20  overdue 1 day
//	I3 park     parks           environment done        due 2026-01-01  added 2025-11-02
//	I4 bus stop transport       guardianship planned    due 2026-04-30  added 2025-11-15
//	I5 bus stop police          guardianship dropped    due 2025-12-01  added 2025-11-20
//	I6 group    youth_services  needs       planned     due 2026-01-10  added 2025-12-05  overdue 69 days
//	I7 school   school          needs       planned     due 2026-02-01  added 2026-01-06  (school closed: not chased)
//	I8 takeaway licensing       environment planned     no due date     added 2025-06-30 23:45 UTC (July)
type reportData struct {
	park, busStop, group, school, takeaway int64
	i1, i2, i6                             int64
}

func newReportData(t *testing.T, f *fixture) reportData {
	t.Helper()
	ctx := context.Background()
	at := func(s string) *Store {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		st := *f.store
		st.at = &tm
		return &st
	}
	open := func(when string, in contexts.ContextInput) int64 {
		in.Description = "Report test"
		return must[*contexts.Context](t)(at(when).CreateContext(ctx, f.lead, in)).ID
	}
	var d reportData
	d.takeaway = open("2025-06-30T23:30:00Z", contexts.ContextInput{Kind: "location", LocationType: "takeaway", Postcode: "E8 3AB"})
	d.park = open("2025-10-05T10:00:00Z", contexts.ContextInput{Kind: "location", LocationType: "park", Postcode: "E8 3AA", ReviewDate: "2026-03-01"})
	d.busStop = open("2025-11-10T10:00:00Z", contexts.ContextInput{Kind: "location", LocationType: "bus_stop", Postcode: "E8 3AA", ReviewDate: "2026-04-05"})
	d.group = open("2025-12-01T10:00:00Z", contexts.ContextInput{Kind: "group", Name: "Market Street group", ReviewDate: "2026-06-30"})
	d.school = open("2026-01-05T09:00:00Z", contexts.ContextInput{Kind: "school", Name: "Northfield Academy", Postcode: "N16 7AA"})
	add := func(when string, cid int64, agency, side, status, due string) int64 {
		in := contexts.InterventionInput{Action: "Report test action " + agency, PartnerAgency: agency, Side: side, Status: &status, DueDate: due}
		if status == contexts.InterventionDone {
			in.DoneDate = "2026-01-10"
		}
		return must[*contexts.Intervention](t)(at(when).AddIntervention(ctx, f.lead, cid, in)).ID
	}
	add("2025-06-30T23:45:00Z", d.takeaway, "licensing", "environment", "planned", "")
	d.i1 = add("2025-10-10T10:00:00Z", d.park, "police", "environment", "planned", "2026-02-01")
	d.i2 = add("2025-10-20T10:00:00Z", d.park, "parks", "environment", "in_progress", "2026-03-19")
	add("2025-11-02T10:00:00Z", d.park, "parks", "environment", "done", "2026-01-01")
	add("2025-11-15T10:00:00Z", d.busStop, "transport", "guardianship", "planned", "2026-04-30")
	add("2025-11-20T10:00:00Z", d.busStop, "police", "guardianship", "dropped", "2025-12-01")
	d.i6 = add("2025-12-05T10:00:00Z", d.group, "youth_services", "needs", "planned", "2026-01-10")
	add("2026-01-06T10:00:00Z", d.school, "school", "needs", "planned", "2026-02-01")
	evidence := map[string]string{"needs": "Young people use the youth centre", "guardianship": "Wardens on patrol", "environment": "New lighting"}
	closeAt := func(when string, cid int64) {
		must[*contexts.Context](t)(at(when).CloseContext(ctx, f.lead, cid, contexts.CloseInput{Reason: "Safer", Evidence: evidence,
			Interventions: carryOver(t, f, cid)}))
	}
	reopenAt := func(when string, cid int64) {
		must[*contexts.Context](t)(at(when).ReopenContext(ctx, f.lead, cid, contexts.ReopenInput{Reason: "Back again"}))
	}
	closeAt("2026-01-15T09:00:00Z", d.group)
	reopenAt("2026-02-01T09:00:00Z", d.group)
	closeAt("2026-02-11T16:00:00Z", d.group)
	reopenAt("2026-02-20T09:00:00Z", d.group)
	closeAt("2026-03-04T09:00:00Z", d.school)
	link := func(a *contexts.Actor, cid int64, subject string) {
		must[*contexts.Link](t)(f.store.LinkYoungPerson(ctx, a, cid, contexts.LinkInput{Subject: subject, Reason: "Named the place"}))
	}
	link(f.pracA, d.park, "R-1")
	link(f.pracA2, d.park, "R-2")
	link(f.pracB, d.park, "R-3")
	for i := range 11 {
		link(f.pracA, d.busStop, fmt.Sprintf("S-%d", i+1))
	}
	link(f.pracB, d.busStop, "S-1")
	return d
}

func report[T contexts.ReportAnswer](t *testing.T, f *fixture, a *contexts.Actor, name, query string) T {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.store.Report(context.Background(), a, name, q)
	if err != nil {
		t.Fatalf("%s?%s: %v", name, query, err)
	}
	out, ok := r.(T)
	if !ok {
		t.Fatalf("%s answered %T", name, r)
	}
	return out
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("%s\n got %s\nwant %s", what, g, w)
	}
}

// Short constructors for the expected rows.
func ic(month, agency, status, side string, n int) contexts.InterventionCount {
	return contexts.InterventionCount{Month: month, PartnerAgency: agency, Status: status, Side: side, Interventions: n}
}

func mi(month string, n int) contexts.MonthInterventions {
	return contexts.MonthInterventions{Month: month, Interventions: n}
}

func ao(agency string, n int) contexts.AgencyOverdue {
	return contexts.AgencyOverdue{PartnerAgency: agency, Interventions: n}
}

func ca(month, kind, ltype string, opened, closed, reopened int) contexts.ContextActivity {
	return contexts.ContextActivity{Month: month, Kind: kind, LocationType: ltype, Opened: opened, Closed: closed, Reopened: reopened}
}

func TestReports(t *testing.T) {
	f := newFixture(t)
	d := newReportData(t, f)
	f.markReleased(t) // link counts reach analysts as of the latest release
	f10 := contexts.FewerThan(10)

	t.Run("interventions by agency, status and side per month", func(t *testing.T) {
		r := report[*contexts.InterventionsReport](t, f, f.analyst, "interventions", "from=2025-06&to=2026-02")
		wantEqual(t, "rows", r.Rows, []contexts.InterventionCount{
			ic("2025-07", "licensing", "planned", "environment", 1),
			ic("2025-10", "parks", "in_progress", "environment", 1),
			ic("2025-10", "police", "planned", "environment", 1),
			ic("2025-11", "parks", "done", "environment", 1),
			ic("2025-11", "police", "dropped", "guardianship", 1),
			ic("2025-11", "transport", "planned", "guardianship", 1),
			ic("2025-12", "youth_services", "planned", "needs", 1),
			ic("2026-01", "school", "planned", "needs", 1),
		})
		wantEqual(t, "summary", r.Summary, []contexts.MonthInterventions{mi("2025-06", 0), mi("2025-07", 1), mi("2025-08", 0), mi("2025-09", 0),
			mi("2025-10", 2), mi("2025-11", 3), mi("2025-12", 1), mi("2026-01", 1), mi("2026-02", 0)})
		if r.From != "2025-06" || r.To != "2026-02" || r.AsOf != "2026-03-20" || len(r.Columns) != 5 {
			t.Fatalf("header %+v", r.ReportHeader)
		}
		r = report[*contexts.InterventionsReport](t, f, f.lead, "interventions", "from=2025-11&to=2025-11&by=status")
		wantEqual(t, "by status", r.Rows, []contexts.InterventionCount{ic("2025-11", "", "done", "", 1), ic("2025-11", "", "dropped", "", 1), ic("2025-11", "", "planned", "", 1)})
		r = report[*contexts.InterventionsReport](t, f, f.admin, "interventions", "from=2025-10&to=2025-12&by=")
		wantEqual(t, "ungrouped", r.Rows, []contexts.InterventionCount{{Month: "2025-10", Interventions: 2}, {Month: "2025-11", Interventions: 3}, {Month: "2025-12", Interventions: 1}})
		// The default window is the 12 complete months before March 2026.
		r = report[*contexts.InterventionsReport](t, f, f.analyst, "interventions", "")
		if r.From != "2025-03" || r.To != "2026-02" || len(r.Summary) != 12 || len(r.Rows) != 8 {
			t.Fatalf("default window %s..%s, %d months, %d rows", r.From, r.To, len(r.Summary), len(r.Rows))
		}
	})

	t.Run("overdue interventions with rule-14 link counts", func(t *testing.T) {
		r := report[*contexts.OverdueReport](t, f, f.analyst, "overdue-interventions", "")
		type row struct {
			Context, Intervention int64
			Agency, Status, Due   string
			Days                  int
			YoungPeople           contexts.LinkCount
			Teams                 []string
		}
		var got []row
		for _, x := range r.Rows {
			got = append(got, row{x.ContextID, x.InterventionID, x.PartnerAgency, x.Status, x.DueDate, x.DaysOverdue, x.YoungPeople, x.Teams})
		}
		wantEqual(t, "overdue", got, []row{
			{d.group, d.i6, "youth_services", "planned", "2026-01-10", 69, f10, []string{}},
			{d.park, d.i1, "police", "planned", "2026-02-01", 47, f10, []string{"Hackney North", "Hackney South"}},
			{d.park, d.i2, "parks", "in_progress", "2026-03-19", 1, f10, []string{"Hackney North", "Hackney South"}},
		})
		wantEqual(t, "by agency", r.Summary, []contexts.AgencyOverdue{ao("police", 1), ao("youth_services", 1), ao("parks", 1)})
	})

	t.Run("contexts opened, closed and reopened per month", func(t *testing.T) {
		r := report[*contexts.ContextActivityReport](t, f, f.analyst, "contexts", "from=2025-06&to=2026-03")
		wantEqual(t, "rows", r.Rows, []contexts.ContextActivity{
			ca("2025-07", "location", "takeaway", 1, 0, 0),
			ca("2025-10", "location", "park", 1, 0, 0),
			ca("2025-11", "location", "bus_stop", 1, 0, 0),
			ca("2025-12", "group", "", 1, 0, 0),
			ca("2026-01", "group", "", 0, 1, 0),
			ca("2026-01", "school", "", 1, 0, 0),
			ca("2026-02", "group", "", 0, 1, 2),
			ca("2026-03", "school", "", 0, 1, 0),
		})
		if len(r.Summary) != 10 || r.Summary[0] != (contexts.ContextActivity{Month: "2025-06"}) ||
			r.Summary[8] != (contexts.ContextActivity{Month: "2026-02", Closed: 1, Reopened: 2}) {
			t.Fatalf("summary %+v", r.Summary)
		}
		r = report[*contexts.ContextActivityReport](t, f, f.analyst, "contexts", "from=2026-01&to=2026-01&by=kind")
		wantEqual(t, "by kind", r.Rows, []contexts.ContextActivity{ca("2026-01", "group", "", 0, 1, 0), ca("2026-01", "school", "", 1, 0, 0)})
	})

	t.Run("time to close, median and mean days", func(t *testing.T) {
		r := report[*contexts.TimeToCloseReport](t, f, f.analyst, "time-to-close", "from=2025-06&to=2026-03&by=kind")
		wantEqual(t, "by kind", r.Rows, []contexts.CloseTime{
			{Kind: "group", Closures: 2, MedianDays: ptr(27.5), MeanDays: ptr(27.5)},
			{Kind: "school", Closures: 1, MedianDays: ptr(58.0), MeanDays: ptr(58.0)},
		})
		wantEqual(t, "all", r.Summary, []contexts.CloseTime{{Closures: 3, MedianDays: ptr(45.0), MeanDays: ptr(37.7)}})
		// February alone holds the group's second closure, timed from its reopening.
		r = report[*contexts.TimeToCloseReport](t, f, f.analyst, "time-to-close", "from=2026-02&to=2026-02")
		wantEqual(t, "february", r.Rows, []contexts.CloseTime{{Kind: "group", Closures: 1, MedianDays: ptr(10.0), MeanDays: ptr(10.0)}})
		r = report[*contexts.TimeToCloseReport](t, f, f.analyst, "time-to-close", "from=2025-06&to=2025-12")
		wantEqual(t, "no closures", r.Summary, []contexts.CloseTime{{}})
		if len(r.Rows) != 0 {
			t.Fatalf("rows %+v", r.Rows)
		}
	})

	t.Run("reviews due and overdue with rule-14 link counts", func(t *testing.T) {
		r := report[*contexts.ReviewsReport](t, f, f.analyst, "reviews", "")
		type row struct {
			Context     int64
			Review      string
			State       string
			Days        int
			YoungPeople contexts.LinkCount
		}
		var got []row
		for _, x := range r.Rows {
			got = append(got, row{x.ContextID, x.ReviewDate, x.State, x.Days, x.YoungPeople})
		}
		// The bus stop's 12 links: Hackney North's 11 shown, Hackney South's
		// one hidden, so the total is only "at least 12".
		wantEqual(t, "rows", got, []row{
			{d.park, "2026-03-01", "overdue", -19, f10},
			{d.busStop, "2026-04-05", "due", 16, contexts.LinkCount{AtLeast: 12}},
		})
		wantEqual(t, "bus stop teams", r.Rows[1].Teams, []string{"Hackney North", "Hackney South"})
		wantEqual(t, "by kind", r.Summary, []contexts.ReviewCounts{{Kind: "group", Later: 1}, {Kind: "location", Overdue: 1, Due: 1, None: 1}})
		r = report[*contexts.ReviewsReport](t, f, f.lead, "reviews", "due_within=0")
		if len(r.Rows) != 1 || r.Rows[0].ContextID != d.park || r.DueWithin != 0 {
			t.Fatalf("due within 0: %+v", r.Rows)
		}
		r = report[*contexts.ReviewsReport](t, f, f.admin, "reviews", "due_within=365")
		if len(r.Rows) != 3 || r.Rows[2].ContextID != d.group || !reflect.DeepEqual(r.Rows[2].YoungPeople, f10) {
			t.Fatalf("due within 365: %+v", r.Rows)
		}
	})

	t.Run("CSV table: header first, codes with labels, link counts in words", func(t *testing.T) {
		r := report[*contexts.ReviewsReport](t, f, f.analyst, "reviews", "")
		tbl := r.Table()
		wantEqual(t, "header", tbl[0], []string{"context_id", "display_name", "kind", "kind_label", "location_type", "location_type_label",
			"team", "review_date", "state", "state_label", "days", "young_people", "teams"})
		wantEqual(t, "first row", tbl[1], []string{fmt.Sprint(d.park), "Park, E8 3AA", "location", "Location / neighbourhood", "park", "Park",
			"Partnership", "2026-03-01", "overdue", "Overdue", "-19", "fewer than 10", "Hackney North; Hackney South"})
		wantEqual(t, "second row's count", tbl[2][11], "at least 12")
	})

	t.Run("only the partnership's roles", func(t *testing.T) {
		_, err := f.store.Report(context.Background(), f.pracA, "reviews", url.Values{})
		wantCode(t, err, ctxmap.KindForbidden, "forbidden")
		_, err = f.store.ReportCatalogue(context.Background(), f.pracA)
		wantCode(t, err, ctxmap.KindForbidden, "forbidden")
	})
}

func TestReportParamsRefused(t *testing.T) {
	f := newFixture(t)
	cases := []struct{ name, query, code string }{
		{"interventions", "from=2026-13", "invalid_month"},
		{"interventions", "from=March", "invalid_month"},
		{"interventions", "from=2026-02&to=2025-12", "invalid_window"},
		{"interventions", "to=2026-04", "invalid_window"},
		{"interventions", "from=1999-12&to=2000-01", "invalid_window"},
		{"interventions", "from=2023-02&to=2026-02", "invalid_window"}, // 37 months
		{"interventions", "by=team", "invalid_grouping"},
		{"interventions", "period=last-12m", "unknown_parameter"},
		{"interventions", "from=2025-01&from=2025-02", "repeated_parameter"},
		{"contexts", "by=status", "invalid_grouping"},
		{"overdue-interventions", "from=2025-01", "unknown_parameter"},
		{"reviews", "due_within=366", "invalid_parameter"},
		{"reviews", "due_within=-1", "invalid_parameter"},
		{"reviews", "due_within=soon", "invalid_parameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name+"?"+tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			_, err := f.store.Report(context.Background(), f.analyst, tc.name, q)
			e := wantCode(t, err, ctxmap.KindInvalid, tc.code)
			if e.Message == "" || e.Details["field"] == nil {
				t.Fatalf("no message or field: %+v", e)
			}
		})
	}
	_, err := f.store.Report(context.Background(), f.analyst, "children", url.Values{})
	wantCode(t, err, ctxmap.KindNotFound, "unknown_report")
	// 36 months is the longest window.
	if _, err := f.store.Report(context.Background(), f.analyst, "interventions", url.Values{"from": {"2023-03"}, "to": {"2026-02"}}); err != nil {
		t.Fatal(err)
	}
}
