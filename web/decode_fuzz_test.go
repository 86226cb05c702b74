package web

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// Fuzz targets for the strict JSON decoder every write route uses, one per
// route's request type, and for the other request parsers of this package
// (issue 11: "fuzz targets for every user-facing parser and for each write
// route's JSON decoding"). Their seeds run in every go test; the targets
// run with go test -fuzz=FuzzDecodeHarmLocation ./web/ and so on.

// fuzzNow is "today" for the domain checks run on decoded bodies.
var fuzzNow = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

// mediaSeeds are the Content-Types each decoder target starts from: the
// accepted ones and the refusals finding 6 found.
var mediaSeeds = []string{"application/json", "application/json; charset=utf-8", "", "application/jsonx",
	"application/json; charset=latin1", "text/plain"}

// userStatus fails unless err is a user's error: a typed kind whose status
// is a 4xx, never an internal one.
func userStatus(t *testing.T, what string, err error) {
	t.Helper()
	kind := ctxmap.KindOf(err)
	if st := statusOf[kind]; kind == ctxmap.KindInternal || st < 400 || st > 499 {
		t.Fatalf("%s refused with %v (kind %d, status %d): not a 4xx user's error", what, err, kind, st)
	}
}

// fuzzDecode is the one property of every route's body decoding: decode
// never panics; it refuses with 400 or 415 only; what it accepts is valid
// UTF-8 JSON in application/json, holds no NUL, and round-trips (encoded
// again it decodes to the same value); and the route's own checks (check)
// refuse what they refuse with a 4xx kind, never an internal error.
func fuzzDecode[T any](f *testing.F, seeds []string, check func(T) error) {
	for _, s := range seeds {
		for _, ct := range mediaSeeds {
			f.Add([]byte(s), ct)
		}
	}
	for _, s := range []string{"", "null", "{}", "[]", `{"x":1}`, "{} {}", `{"a":"\u0000"}`, "\xff", `"str"`, "{"} {
		f.Add([]byte(s), "application/json")
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		var v T
		if err := decode(r, &v); err != nil {
			if k := ctxmap.KindOf(err); k != ctxmap.KindInvalid && k != ctxmap.KindUnsupportedMedia {
				t.Fatalf("decode(%q, %q): %v is not a 400 or 415", body, ct, err)
			}
			return
		}
		if !utf8.Valid(body) || bytes.Contains(bytes.ToLower(body), []byte(`\u0000`)) {
			t.Fatalf("decode accepted %q", body)
		}
		if len(body) > 0 && jsonMediaType(ct) != nil {
			t.Fatalf("decode accepted a body in %q", ct)
		}
		enc, err := encodeJSON(v)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", v, err)
		}
		var again T
		r2 := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(enc))
		r2.Header.Set("Content-Type", "application/json")
		if err := decode(r2, &again); err != nil {
			t.Fatalf("%q decoded, but its re-encoding %s is refused: %v", body, enc, err)
		}
		if enc2, _ := encodeJSON(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("%q does not round-trip: %s then %s", body, enc, enc2)
		}
		if err := check(v); err != nil {
			userStatus(t, string(body), err)
		}
	})
}

func fuzzTaxonomy() *contexts.Taxonomy {
	return contexts.NewTaxonomy(1, []contexts.Category{{Code: "cse", Label: "CSE", ExtraFamilial: true},
		{Code: "cce", Label: "CCE", ExtraFamilial: true}, {Code: "old", Label: "Old", Retired: true, RetiredVersion: 1}})
}

// POST /api/v1/harm-locations.
func FuzzDecodeHarmLocation(f *testing.F) {
	fuzzDecode(f, []string{
		`{"subject":"AB12","categories":["cse"],"familial":"extra","layer":"harm","occurred":"2026-02-14","source":"referral","postcode":"E8 3AA","location_type":"park"}`,
		`{"subject":"AB12","categories":["cse","cse"],"familial":"extra","layer":"unsafe","occurred":"2026-02","source":"referral","lat":51.54,"lon":-0.06,"location_type":"park","context_id":3}`,
		`{"subject":"AB12","categories":["cse"],"familial":"extra","layer":"harm","occurred":"0000-01-01","source":"referral","postcode":"e83aa","location_type":"park"}`,
		`{"subject":"","categories":[],"lat":1e400}`,
	}, func(in contexts.HarmLocationInput) error {
		_, err := in.Validate(fuzzTaxonomy(), fuzzNow)
		return err
	})
}

// POST /api/v1/harm-locations/{id}/archive.
func FuzzDecodeArchive(f *testing.F) {
	fuzzDecode(f, []string{`{"reason":"no_longer_an_issue","note":"Moved away"}`, `{"reason":"","note":""}`},
		func(in contexts.ArchiveInput) error { _, err := in.Validate(); return err })
}

// POST /api/v1/contexts: the kind, and for a location its type plus
// postcode (or lat/lon), which name the place and make its identity.
func FuzzDecodeContext(f *testing.F) {
	fuzzDecode(f, []string{
		`{"kind":"location","location_type":"park","postcode":"E8 3AA"}`,
		`{"kind":"location","location_type":"park","lat":51.5,"lon":-0.06,"review_date":"2026-06-30"}`,
		`{"kind":"group","name":"Park lot","description":"Meets after school"}`,
		`{"kind":"school","name":"Hackney High","postcode":"n16 7aa"}`,
		`{"kind":"location","location_type":"","postcode":"E8"}`,
	}, func(in contexts.ContextInput) error {
		c, err := in.Validate(fuzzNow)
		if err == nil && c.HasPlace && !c.LatLon {
			// The place's identity is its normal form: another spelling
			// of the same postcode is the same record.
			variant := in
			variant.Postcode = c.Postcode.String()
			v, verr := variant.Validate(fuzzNow)
			if verr != nil || v.Postcode != c.Postcode ||
				*contexts.DedupeKey(c.Kind, c.LocationType, c.Name, c.Postcode.String()) != *contexts.DedupeKey(v.Kind, v.LocationType, v.Name, v.Postcode.String()) {
				return ctxmap.Errorf(ctxmap.KindInternal, "fuzz", "normal form %q gives %+v, %v; want %+v", c.Postcode, v, verr, c)
			}
		}
		return err
	})
}

// PATCH /api/v1/contexts/{id}.
func FuzzDecodeContextUpdate(f *testing.F) {
	fuzzDecode(f, []string{`{"name":"New name"}`, `{"description":"","review_date":""}`, `{"review_date":"9999-12-31"}`},
		func(in contexts.ContextUpdate) error { _, err := in.Validate(fuzzNow); return err })
}

// POST /api/v1/contexts/{id}/assessments.
func FuzzDecodeAssessment(f *testing.F) {
	fuzzDecode(f, []string{`{"side":"needs","note":"Boredom after school"}`, `{"side":"","note":"ring 07700 900123"}`},
		func(in contexts.AssessmentInput) error { _, err := in.Validate(); return err })
}

// POST /api/v1/contexts/{id}/interventions.
func FuzzDecodeIntervention(f *testing.F) {
	fuzzDecode(f, []string{
		`{"action":"Detached youth work","partner_agency":"youth_services","side":"guardianship"}`,
		`{"action":"CCTV","partner_agency":"community_safety","side":"environment","status":"done","due_date":"2026-04-01","done_date":"2026-03-01"}`,
		`{"action":"x","partner_agency":"police","side":"needs","status":"","due_date":"0000-01-01","done_date":"9999-12-31"}`,
	}, func(in contexts.InterventionInput) error {
		iv, err := contexts.NewIntervention(in)
		if err != nil {
			return err
		}
		return iv.Check(contexts.KindLocation, contexts.UKDay(fuzzNow))
	})
}

// PATCH /api/v1/contexts/{id}/interventions/{iid}.
func FuzzDecodeInterventionUpdate(f *testing.F) {
	fuzzDecode(f, []string{`{"status":"done"}`, `{"status":""}`, `{"due_date":"","done_date":"2026-01-01","action":"Renamed"}`},
		func(in contexts.InterventionUpdate) error {
			iv, err := contexts.NewIntervention(contexts.InterventionInput{Action: "Youth work", PartnerAgency: "youth_services", Side: "needs"})
			if err != nil {
				return err
			}
			if err := iv.Apply(in); err != nil {
				return err
			}
			return iv.Check(contexts.KindLocation, contexts.UKDay(fuzzNow))
		})
}

// POST /api/v1/contexts/{id}/links.
func FuzzDecodeLink(f *testing.F) {
	fuzzDecode(f, []string{`{"subject":"AB12","reason":"Seen there"}`, `{"subject":" ab 12 ","reason":""}`},
		func(in contexts.LinkInput) error { _, err := in.Validate(); return err })
}

// DELETE /api/v1/contexts/{id}/links/{lid} (a body with the reason).
func FuzzDecodeUnlink(f *testing.F) {
	fuzzDecode(f, []string{`{"reason":"Moved school"}`, `{"reason":""}`},
		func(in contexts.UnlinkInput) error { _, err := in.Validate(); return err })
}

// POST /api/v1/contexts/{id}/close.
func FuzzDecodeClose(f *testing.F) {
	fuzzDecode(f, []string{`{"reason":"Resolved","evidence":{"needs":"Met","guardianship":"Staffed","environment":"Lit"}}`,
		`{"reason":"x","evidence":{"nowhere":"?"}}`},
		func(in contexts.CloseInput) error { _, err := in.Validate(); return err })
}

// POST /api/v1/contexts/{id}/reopen.
func FuzzDecodeReopen(f *testing.F) {
	fuzzDecode(f, []string{`{"reason":"Seen again"}`, `{}`},
		func(in contexts.ReopenInput) error { _, err := in.Validate(); return err })
}

// POST /api/v1/taxonomy/categories.
func FuzzDecodeCategory(f *testing.F) {
	fuzzDecode(f, []string{`{"code":"online","label":"Online harm","census_code":"","extra_familial":true}`, `{"code":"Bad Code","label":""}`},
		func(in contexts.CategoryInput) error { _, err := in.Validate(); return err })
}

// POST /api/v1/session: the sign-in body (the handler's own type).
func FuzzDecodeLogin(f *testing.F) {
	fuzzDecode(f, []string{`{"name":"ada","password":"correct horse"}`, `{"name":"","password":""}`},
		func(loginRequest) error { return nil })
}

// POST /api/v1/me/notifications/read.
func FuzzDecodeMarkRead(f *testing.F) {
	fuzzDecode(f, []string{`{"up_to":12}`, `{"up_to":-1}`, `{"up_to":1e30}`}, func(markReadRequest) error { return nil })
}

// FuzzHeatFilterQuery checks the heat routes' query grammar (layer, one
// category or all, period, nothing else that filters): noFilterTricks
// never panics, refuses with 400 filter_unsupported only, and what it lets
// through names no refused filter and no repeated one.
func FuzzHeatFilterQuery(f *testing.F) {
	for _, s := range []string{"layer=harm&category=cse&period=last-12m", "category=cse&category=cce", "categories=cse,cce",
		"from=2025-01&to=2025-06", "layer=unsafe&period=2025-Q1&_=123", "exclude=cse", "res=8&res=7", "%zz", "category=%00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the router answers 400 for a malformed query first
		}
		if err := noFilterTricks(q); err != nil {
			var e *ctxmap.Error
			if ctxmap.KindOf(err) != ctxmap.KindInvalid || !errors.As(err, &e) || e.Code != "filter_unsupported" {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		for _, name := range []string{"from", "to", "exclude", "categories", "polygon", "subject", "k"} {
			if _, ok := q[name]; ok {
				t.Fatalf("%q: filter %q let through", raw, name)
			}
		}
		for _, name := range []string{"layer", "category", "period", "res"} {
			if len(q[name]) > 1 {
				t.Fatalf("%q: %q given %d times let through", raw, name, len(q[name]))
			}
		}
		fl := filterOf(q)
		if string(fl.Layer) != q.Get("layer") || fl.Category != q.Get("category") || fl.Period != q.Get("period") {
			t.Fatalf("%q: filter %+v", raw, fl)
		}
	})
}

// FuzzIdempotencyKey checks the Idempotency-Key header's grammar: one
// value of 1 to 255 visible ASCII characters, nothing else.
func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{"key-1", "0b7e3e2c-5d3a-4f0e-9a55-0e0f2b1a9c77", "", "has space", "tab\tkey", "é", "\x7f", string(make([]byte, 256))} {
		f.Add(s, false)
	}
	f.Add("a", true)
	f.Fuzz(func(t *testing.T, key string, twice bool) {
		keys := []string{key}
		if twice {
			keys = append(keys, key)
		}
		ok := validIdempotencyKey(keys)
		want := !twice && len(key) >= 1 && len(key) <= maxIdempotencyKey
		for _, r := range key {
			want = want && r >= '!' && r <= '~'
		}
		if ok != want {
			t.Fatalf("validIdempotencyKey(%q) = %v, want %v", keys, ok, want)
		}
	})
}
