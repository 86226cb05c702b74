package tiles_test

import (
	"fmt"
	"time"

	"github.com/ctxmap/ctxmap/tiles"
	"github.com/uber/h3-go/v4"
)

func ExampleParsePeriod() {
	now := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)
	for _, s := range []string{"last-3m", "2026", "2025-Q4", "2026-04"} {
		p, err := tiles.ParsePeriod(s, now)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(p)
	}
	// Output:
	// last-3m (2026-01 to 2026-03)
	// 2026 (2026-01 to 2026-03, complete months only)
	// 2025-Q4 (2025-10 to 2025-12)
	// period_incomplete: period 2026-04 has no complete month yet; heat data covers whole completed months only (the latest is 2026-03)
}

func ExamplePolicy_Publish() {
	pol, _ := tiles.NewPolicy(10)
	cell := h3.LatLngToCell(h3.NewLatLng(53.4808, -2.2426), 8)
	var obs []tiles.Observation
	// one young person with twenty incidents: counts once
	for i := 0; i < 20; i++ {
		obs = append(obs, tiles.Observation{Subject: 1, Key: 17, Cell: cell})
	}
	pub := pol.Publish(obs)
	_, shown := pub.Value(cell)
	fmt.Println("one child shown:", shown)

	// twelve young people: published, perturbed and rounded to 5
	for s := int64(2); s <= 12; s++ {
		obs = append(obs, tiles.Observation{Subject: s, Key: uint8(s * 31), Cell: cell})
	}
	pub = pol.Publish(obs)
	v, shown := pub.Value(cell)
	fmt.Println("twelve children shown:", shown, "value multiple of 5:", v%5 == 0)
	// Output:
	// one child shown: false
	// twelve children shown: true value multiple of 5: true
}
