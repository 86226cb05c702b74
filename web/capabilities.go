package web

import "github.com/ctxmap/ctxmap/contexts"

// Capability names a part of the map UI a role is offered. The routes'
// Roles and the domain's checks decide what is allowed; capabilities only
// keep the UI from offering what would be refused, or what a role's work
// does not call for (practitioners see no trends or exports). They are
// served with the session (/api/v1/me) so the JS holds no role table.
type Capability string

// The capabilities the UI knows.
const (
	CapContexts Capability = "contexts" // read context records and their tiles
	CapSearch   Capability = "search"   // find context records near a place
	CapRecord   Capability = "record"   // record harm locations (POST /harm-locations)
	CapLink     Capability = "link"     // link young people to contexts
	CapManage   Capability = "manage"   // open and work on context records
	CapTrend    Capability = "trend"    // monthly trend of a hexagon
	CapExport   Capability = "export"   // CSV export of published cells
	CapReports  Capability = "reports"  // reports for commissioning (/reports.html)
	// CapHotspots offers the emerging hot spot view: the route lets every
	// signed-in role read it, but it is the work of analysts and of the
	// leads who take places to a MACE panel.
	CapHotspots Capability = "hotspots"
	// CapAdmin offers the administration page (/admin.html): audit search,
	// users, taxonomy and retention.
	CapAdmin Capability = "admin"
	// CapReviews offers the list of contexts past their review date (on
	// the administration page), to the leads who own the reviews too.
	CapReviews Capability = "reviews"
)

// roleCapabilities is the one table of what each role is offered.
var roleCapabilities = map[contexts.Role][]Capability{
	contexts.RolePractitioner: {CapContexts, CapSearch, CapRecord, CapLink},
	contexts.RoleContextLead:  {CapContexts, CapSearch, CapManage, CapTrend, CapReports, CapHotspots, CapReviews},
	contexts.RoleAnalyst:      {CapContexts, CapSearch, CapTrend, CapExport, CapReports, CapHotspots},
	contexts.RoleAdmin:        {CapContexts, CapSearch, CapTrend, CapExport, CapReports, CapHotspots, CapAdmin, CapReviews},
}

// capabilitiesOf lists what a signed-in user is offered; none when nobody
// is signed in.
func capabilitiesOf(a *contexts.Actor) []Capability {
	if a == nil {
		return []Capability{}
	}
	return append([]Capability{}, roleCapabilities[a.Role]...)
}
