package web

import (
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/tiles"
)

func TestPeriodPresetsAreAllAccepted(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
	} {
		presets := periodPresets(now)
		if len(presets) != 15 {
			t.Fatalf("%s: %d presets", now, len(presets))
		}
		for _, p := range presets {
			if _, err := tiles.ParsePeriod(p["value"], now); err != nil {
				t.Errorf("%s: preset %q refused: %v", now, p["value"], err)
			}
		}
	}
	got := periodPresets(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	if got[3]["value"] != "2026-Q3" || got[7]["value"] != "2026-10" || got[13]["value"] != "2025" {
		t.Errorf("unexpected presets: %v", got)
	}
}
