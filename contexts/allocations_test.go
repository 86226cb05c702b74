package contexts

import (
	"strings"
	"testing"
)

// TestAllocationErrorsNameTheirLines: a bad line of a CSV feed is reported
// by its line in the file, counting the header, blank lines and quoted line
// breaks, as an editor numbers it; a JSON feed's errors count its items
// from 1; repeats are dropped, keeping the first line.
func TestAllocationErrorsNameTheirLines(t *testing.T) {
	csv := "subject,team\n" + // line 1
		"YP-1,Hackney North\n" + // 2
		"\n" + // 3: blank, skipped
		"\"YP-2\",\"Hackney\nSouth\"\n" + // 4-5: a quoted line break
		",Hackney North\n" + // 6: no id
		"YP-1,Hackney North\n" + // 7: a repeat of line 2
		"YP-3,\n" // 8: no team
	rows, err := ParseAllocationsCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	clean, errs := CheckAllocations(rows)
	if len(errs) != 2 || errs[0].Line != 6 || errs[0].Field != "subject" || errs[1].Line != 8 || errs[1].Field != "team" {
		t.Fatalf("errors %+v", errs)
	}
	if len(clean) != 2 || clean[0].Line != 2 || clean[1].Line != 4 || clean[1].Team != "Hackney\nSouth" {
		t.Fatalf("clean %+v", clean)
	}
	_, errs = CheckAllocations([]Allocation{{Subject: "YP-1", Team: "A"}, {Subject: "", Team: "A"}})
	if len(errs) != 1 || errs[0].Line != 2 {
		t.Fatalf("a JSON feed's second item: %+v", errs)
	}
	if _, err := ParseAllocationsCSV(strings.NewReader("subject,team\nYP-1,\"Hackney\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a broken quote names where the record starts: %v", err)
	}
}
