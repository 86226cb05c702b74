package web

import (
	"net/http"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/geo"
)

// The before/after and rates routes refuse what PRIVACY.md does not allow
// (periods, date ranges, two areas, a layer for rates) before reading
// anything, with a 400 that says why.
func TestBeforeAfterAndRatesRefuseBadParameters(t *testing.T) {
	us := newTileServer(t, newHeatStore(t, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)))
	cell := geo.CellsFor(heatPlace.Lat(), heatPlace.Lon())[2].String()
	for _, path := range []string{
		"/api/v1/before-after",
		"/api/v1/before-after?context=1&cells=" + cell,
		"/api/v1/before-after?cells=" + cell + "&period=last-12m",
		"/api/v1/before-after?cells=" + cell + "&from=2026-01",
		"/api/v1/before-after?cells=" + cell + "&month=2026-01&window=abc",
		"/api/v1/before-after?cells=" + cell + "&month=2026-01&window=0",
		"/api/v1/before-after?cells=" + cell + "&month=2026-01&window=6&window=3",
		"/api/v1/before-after?context=abc&month=2026-01",
		"/api/v1/before-after?cells=" + cell + "&month=2026-01&window=5",
		"/api/v1/before-after?cells=" + cell + "&month=2026-1",
		"/api/v1/rates?period=2026-01",
		"/api/v1/rates?layer=harm",
		"/api/v1/rates?step=week",
		"/api/v1/rates?step=month&step=quarter",
		"/api/v1/rates?category=cse,cce",
		"/api/v1/rates?exclude=cse",
	} {
		w := us.send("GET", path, "", tileAuth)
		if w.Code != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s, want 400", path, w.Code, w.Body)
		}
	}
	if w := us.send("GET", "/api/v1/rates", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("rates without a sign-in: %d", w.Code)
	}
}
