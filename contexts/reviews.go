package contexts

import "time"

// OverdueReview is one open context whose review date has passed: the
// oversight list of the admin's and the context leads' screen. It is the
// "overdue" state of the reviews report (ReviewOverdue), read the same way.
type OverdueReview struct {
	ContextID    int64  `json:"context_id"`
	DisplayName  string `json:"display_name"`
	Kind         string `json:"kind"`
	LocationType string `json:"location_type,omitempty"`
	Team         string `json:"team"`
	ReviewDate   string `json:"review_date"`
	// DaysOverdue is how many days ago the review date was (at least 1).
	DaysOverdue int `json:"days_overdue"`
}

// OverdueReviews lists the open contexts past their review date on Today
// (the UK calendar day), most overdue first.
type OverdueReviews struct {
	Today    string          `json:"today"`
	Contexts []OverdueReview `json:"contexts"`
}

// OverdueQuery is the reviews report's query that holds only the overdue:
// due within -1 days of today is a review date before today.
func OverdueQuery(now time.Time) ReportQuery {
	spec, _ := reportSpec(ReportReviews)
	return ReportQuery{Spec: spec, Today: UKDay(now), DueWithin: -1}
}

// NewOverdueReviews keeps the overdue rows of a reviews report.
func NewOverdueReviews(today time.Time, rows []ReviewRow) *OverdueReviews {
	out := &OverdueReviews{Today: today.Format(time.DateOnly), Contexts: []OverdueReview{}}
	for _, r := range rows {
		if r.State != ReviewOverdue {
			continue
		}
		out.Contexts = append(out.Contexts, OverdueReview{ContextID: r.ContextID, DisplayName: r.DisplayName, Kind: r.Kind,
			LocationType: r.LocationType, Team: r.Team, ReviewDate: r.ReviewDate, DaysOverdue: -r.Days})
	}
	return out
}
