package contexts

import (
	"encoding/json"
	"testing"
	"time"
)

func TestLinkSummaryForRole(t *testing.T) {
	for _, tc := range []struct {
		name   string
		byTeam map[string]int
		want   string
	}{
		{"total under k", map[string]int{"A": 1, "B": 3},
			`{"young_people":{"count":null,"fewer_than":10},"teams":["A","B"],"by_team":[{"team":"A","young_people":{"count":null,"fewer_than":10}},{"team":"B","young_people":{"count":null,"fewer_than":10}}]}`},
		{"all teams at k", map[string]int{"A": 10, "B": 12},
			`{"young_people":{"count":22},"teams":["A","B"],"by_team":[{"team":"A","young_people":{"count":10}},{"team":"B","young_people":{"count":12}}]}`},
		{"one small team: the total is a lower bound", map[string]int{"A": 11, "B": 2, "C": 15},
			`{"young_people":{"count":null,"at_least":27},"teams":["A","B","C"],"by_team":[{"team":"A","young_people":{"count":11}},{"team":"B","young_people":{"count":null,"fewer_than":10}},{"team":"C","young_people":{"count":15}}]}`},
		{"small teams adding up to k", map[string]int{"A": 11, "B": 5, "C": 6},
			`{"young_people":{"count":null,"at_least":13},"teams":["A","B","C"],"by_team":[{"team":"A","young_people":{"count":11}},{"team":"B","young_people":{"count":null,"fewer_than":10}},{"team":"C","young_people":{"count":null,"fewer_than":10}}]}`},
		{"none", map[string]int{},
			`{"young_people":{"count":null,"fewer_than":10},"teams":[],"by_team":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exact := NewLinkSummary(tc.byTeam)
			b, _ := json.Marshal(exact.ForRole(RoleAnalyst, 10))
			if string(b) != tc.want {
				t.Fatalf("\n got %s\nwant %s", b, tc.want)
			}
			if got := exact.ForRole(RolePractitioner, 10); got.YoungPeople.Count == nil {
				t.Fatalf("practitioner %+v", got)
			}
		})
	}
}

// TestLinkTotalsDoNotDifference: the insider review's finding 4. An analyst
// reads the summary, one team links two young people, the analyst reads it
// again: nothing in the two answers together says how many that team
// linked, whatever the other teams' counts.
func TestLinkTotalsDoNotDifference(t *testing.T) {
	for _, before := range []map[string]int{{"A": 12}, {"A": 12, "B": 3}, {"A": 12, "B": 10}, {"A": 4, "B": 3}} {
		after := map[string]int{"C": 2}
		for team, n := range before {
			after[team] = n
		}
		b := NewLinkSummary(before).ForRole(RoleContextLead, 10)
		a := NewLinkSummary(after).ForRole(RoleContextLead, 10)
		if b.YoungPeople.Count != nil && a.YoungPeople.Count != nil {
			t.Fatalf("%v: exact totals %d then %d give team C's count", before, *b.YoungPeople.Count, *a.YoungPeople.Count)
		}
		for _, tc := range a.ByTeam {
			if tc.Team == "C" && tc.YoungPeople.Count != nil {
				t.Fatalf("%v: team C shown %d", before, *tc.YoungPeople.Count)
			}
		}
		// The lower bound moves by one for a newly hidden team, never by its count.
		if b.YoungPeople.AtLeast != 0 && a.YoungPeople.AtLeast-b.YoungPeople.AtLeast != 1 {
			t.Fatalf("%v: at least %d then %d", before, b.YoungPeople.AtLeast, a.YoungPeople.AtLeast)
		}
	}
}

func TestChronologyForRole(t *testing.T) {
	at := func(s string) EventTime { v, _ := time.Parse(time.RFC3339, s); return EventTime{Time: v} }
	events := []ChronologyEntry{
		{ID: 1, At: at("2026-10-31T23:30:00Z"), Event: EventOpened, Actor: "lee", Summary: "Opened"},
		{ID: 2, At: at("2026-11-02T09:15:00Z"), Event: EventLinked, Team: "A", Summary: "A young person was linked by A"},
		{ID: 3, At: at("2026-11-20T16:00:00Z"), Event: EventLinked, Team: "A", Summary: "A young person was linked by A"},
		{ID: 4, At: at("2026-11-21T10:00:00Z"), Event: EventUnlinked, Team: "A", Summary: "A young person was unlinked by A"},
		{ID: 5, At: at("2026-11-25T12:00:00Z"), Event: EventAssessmentAdded, Actor: "lee", Summary: "Assessment added"},
		{ID: 6, At: at("2026-12-01T10:00:00Z"), Event: EventLinked, Team: "A", Summary: "A young person was linked by A"},
	}
	if got := ChronologyForRole(events, RolePractitioner); len(got) != 6 {
		t.Fatalf("practitioner %+v", got)
	}
	b, _ := json.Marshal(ChronologyForRole(events, RoleAnalyst))
	// Numbered by position (gaps in event ids would count the hidden link
	// events), the month's merged link entries after its other events (their
	// place would bound their time).
	want := `[{"id":1,"at":"2026-10-31T23:30:00Z","event":"opened","actor":"lee","summary":"Opened"},` +
		`{"id":2,"at":"2026-11-25T12:00:00Z","event":"assessment_added","actor":"lee","summary":"Assessment added"},` +
		`{"id":3,"at":"2026-11","event":"young_person_linked","team":"A","summary":"One or more young people were linked by A this month"},` +
		`{"id":4,"at":"2026-11","event":"young_person_unlinked","team":"A","summary":"One or more young people were unlinked by A this month"},` +
		`{"id":5,"at":"2026-12","event":"young_person_linked","team":"A","summary":"One or more young people were linked by A this month"}]`
	if string(b) != want {
		t.Fatalf("\n got %s\nwant %s", b, want)
	}
	var back []ChronologyEntry
	if err := json.Unmarshal(b, &back); err != nil || !back[2].At.Month || back[0].At.Month {
		t.Fatalf("round trip %+v %v", back, err)
	}
}
