package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/tiles"
)

// refusedFilters are the parameters that would ask for more than
// PRIVACY.md allows (date ranges, negations, polygons), in the order they
// are reported; onceFilters may be given at most once.
var (
	refusedFilters = indexOf("from", "to", "start", "end", "since", "until", "date", "days", "weeks", "exclude", "except", "not",
		"categories", "polygon", "geometry", "within", "radius", "point", "subject", "k", "threshold", "res_override",
		"familial", "extra_familial", "source", "location_type", "team", "context", "context_id", "kind", "status",
		"age", "gender", "ethnicity", "school", "group")
	onceFilters = indexOf("layer", "category", "period", "res", "bbox", "h3", "ward", "step", "from", "to", "status")
)

// indexOf numbers names by their position.
func indexOf(names ...string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// noFilterTricks refuses the refused filters and repeated filter
// parameters, so a caller is told plainly rather than silently ignored.
// Other unknown parameters (cache busters) are ignored: they cannot change
// the answer. It looks up the query's few names in the tables rather than
// every table entry in the query, and names the first offender in table
// order, whatever order the query's map iterates in.
func noFilterTricks(q url.Values, allowed ...string) error {
	c := filterCheck{allowed: allowed, ri: len(refusedFilters), pi: len(onceFilters)}
	for name, vs := range q {
		c.see(name, len(vs))
	}
	return c.err()
}

// filterCheck is noFilterTricks over a query's names, each seen with the
// number of times it is given, in any order.
type filterCheck struct {
	allowed           []string
	refused, repeated string
	ri, pi            int // their places in the tables
}

func (c *filterCheck) see(name string, n int) {
	if i, ok := refusedFilters[name]; ok && i < c.ri && !slices.Contains(c.allowed, name) {
		c.refused, c.ri = name, i
	}
	if i, ok := onceFilters[name]; ok && i < c.pi && n > 1 {
		c.repeated, c.pi = name, i
	}
}

func (c *filterCheck) err() error {
	if c.refused != "" {
		return ctxmap.Errorf(ctxmap.KindInvalid, "filter_unsupported",
			"%q is not a supported filter: heat data is available by layer, one category (or all) and period (%s) only", c.refused, tiles.PeriodForms)
	}
	if c.repeated != "" {
		return ctxmap.Errorf(ctxmap.KindInvalid, "filter_unsupported", "give %q at most once", c.repeated)
	}
	return nil
}

func filterOf(q url.Values) tiles.Filter {
	return tiles.Filter{Layer: ctxmap.Layer(q.Get("layer")), Category: q.Get("category"), Period: q.Get("period")}
}

// tileFilter reads and checks a heat tile's filter. A map view's tile
// requests carry a short query that needs no decoding, which is read in
// place, without building a url.Values; any other query takes the general
// path, with the same answer.
func tileFilter(r *http.Request) (tiles.Filter, error) {
	p, ok := plainQuery(r.URL.RawQuery, info(r.Context()).plainQuery)
	if !ok {
		q := query(r)
		if err := noFilterTricks(q); err != nil {
			return tiles.Filter{}, err
		}
		return filterOf(q), nil
	}
	c := filterCheck{ri: len(refusedFilters), pi: len(onceFilters)}
	for _, kv := range p.kv[:p.n] {
		c.see(kv[0], p.count(kv[0]))
	}
	if err := c.err(); err != nil {
		return tiles.Filter{}, err
	}
	return tiles.Filter{Layer: ctxmap.Layer(p.get("layer")), Category: p.get("category"), Period: p.get("period")}, nil
}

// queryPairs are the parameters of a plain query string (plainQuery), as
// written.
type queryPairs struct {
	n  int
	kv [8][2]string
}

// plainQuery splits a query string that needs no decoding (no '%' or '+')
// and that url.ParseQuery would not refuse (no ';', no NUL, valid UTF-8)
// into at most 8 name and value pairs, as url.ParseQuery would, without
// allocating. ok is false for any other query. known says checkRequest has
// already found raw plain (plainQueryString), so it is not checked again.
func plainQuery(raw string, known bool) (p queryPairs, ok bool) {
	if !known && !plainQueryString(raw) {
		return p, false
	}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		if p.n == len(p.kv) {
			return p, false
		}
		name, value, _ := strings.Cut(kv, "=")
		p.kv[p.n] = [2]string{name, value}
		p.n++
	}
	return p, true
}

// plainQueryString reports whether raw means what it says: nothing to
// decode, nothing checkRequest or url.ParseQuery would refuse.
func plainQueryString(raw string) bool {
	return !strings.ContainsAny(raw, "%+;\x00") && utf8.ValidString(raw)
}

// get is url.Values.Get: the first value given for name.
func (p *queryPairs) get(name string) string {
	for _, kv := range p.kv[:p.n] {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

// count is the number of times name is given.
func (p *queryPairs) count(name string) int {
	n := 0
	for _, kv := range p.kv[:p.n] {
		if kv[0] == name {
			n++
		}
	}
	return n
}
