package contexts

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/ctxmap/ctxmap"
)

// Category is one harm type of the deployment's taxonomy. Councils split
// and name harm differently, so categories live in the database and are
// retired, never deleted: a record made under an older version still shows
// its category's label.
type Category struct {
	Code       string `json:"code"`
	Label      string `json:"label"`
	CensusCode string `json:"census_code,omitempty"` // DfE CIN census assessment factor, if one exists
	// ExtraFamilial says whether the category counts towards the
	// overarching extra-familial harm figure.
	ExtraFamilial  bool `json:"extra_familial"`
	AddedVersion   int  `json:"added_version"`
	Retired        bool `json:"retired"`
	RetiredVersion int  `json:"retired_version,omitempty"`
}

// Term is one value of a controlled list: a stable code for storage and
// reporting, and a label for people.
type Term struct {
	Code        string `json:"code"`
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
}

// ContextKind is a kind of context record with the three sides of its
// assessment triangle. The side codes are the same for every kind (so
// reports can compare them) while their labels follow the Contextual
// Safeguarding Network's wording for that kind.
type ContextKind struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	Sides []Term `json:"sides"`
}

// Taxonomy is every controlled list a client needs to build forms and read
// records, served as one document so the UI never hard-codes a code.
type Taxonomy struct {
	Version              int           `json:"version"`
	Categories           []Category    `json:"categories"`
	LocationTypes        []Term        `json:"location_types"`
	ContextKinds         []ContextKind `json:"context_kinds"`
	Familial             []Term        `json:"familial"`
	Layers               []Term        `json:"layers"`
	Sources              []Term        `json:"sources"`
	ArchiveReasons       []Term        `json:"archive_reasons"`
	InterventionStatuses []Term        `json:"intervention_statuses"`
	// ClosingDecisions are what may happen to an open intervention when
	// its context closes (CloseInput.Interventions).
	ClosingDecisions []Term `json:"closing_decisions"`
	PartnerAgencies  []Term `json:"partner_agencies"`
	// SafetyRatings are safety mapping's red, amber and green; TrustedAdults
	// the kinds of adult (never who) that make a green place safe;
	// TypeStatuses the statuses of a harm type on a record (harmtypes.go).
	SafetyRatings []Term `json:"safety_ratings"`
	TrustedAdults []Term `json:"trusted_adults"`
	TypeStatuses  []Term `json:"type_statuses"`
	// ReadPurposes are the answers to "why are you reading this young
	// person's records?" (purpose.go).
	ReadPurposes []Term `json:"read_purposes"`
	// PurposeNoteFor is the purpose that needs a reason in words, of at
	// most PurposeNoteMax characters.
	PurposeNoteFor string `json:"purpose_note_for"`
	PurposeNoteMax int    `json:"purpose_note_max"`
	// The lists of a young person's contextual record (markers.go).
	MarkerKinds     []Term `json:"marker_kinds"`
	MarkerValues    []Term `json:"marker_values"`
	RelocationKinds []Term `json:"relocation_kinds"`
	FactorAreaKinds []Term `json:"factor_area_kinds"`
}

// category returns the category with code, retired or not.
func (t *Taxonomy) category(code string) (Category, bool) {
	for _, c := range t.Categories {
		if c.Code == code {
			return c, true
		}
	}
	return Category{}, false
}

// Side codes: the same three for every context kind.
const (
	SideNeeds        = "needs"
	SideGuardianship = "guardianship"
	SideEnvironment  = "environment"
)

// SideCodes lists the triangle sides in display order.
var SideCodes = []string{SideNeeds, SideGuardianship, SideEnvironment}

// Context kinds.
const (
	KindLocation = "location"
	KindGroup    = "group"
	KindSchool   = "school"
)

// Context statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// contextKinds follows the context assessment triangles (Contextual
// Safeguarding Network, 2019), as tabled in DOMAIN.md.
var contextKinds = []ContextKind{
	{Code: KindLocation, Label: "Location / neighbourhood", Sides: []Term{
		{SideNeeds, "Strengths and needs of young people in this context", "Strengths and needs of young people collectively in this context"},
		{SideGuardianship, "Guardianship capacity", "Adults with a caring intention there: staff, residents, wardens, businesses"},
		{SideEnvironment, "Environment and wider systems", "Resources, physical environment (lighting, sightlines, hidden spaces), policy and wider systemic features"},
	}},
	{Code: KindGroup, Label: "Peer group", Sides: []Term{
		{SideNeeds, "Group functioning", "How the young people relate to each other, identity, how they see themselves and are seen"},
		{SideGuardianship, "Guardianship capacity", "Guardianship capacity around the group"},
		{SideEnvironment, "Environments of the group", "Environments where the group spends its time, neighbourhood and family factors"},
	}},
	{Code: KindSchool, Label: "School", Sides: []Term{
		{SideNeeds, "Needs and functioning of students", "Needs and functioning of students collectively"},
		{SideGuardianship, "Guardianship capacity", "Guardianship capacity of staff and the school"},
		{SideEnvironment, "School environment", "The school's environment, policies and culture"},
	}},
}

// locationTypes is the controlled list of DOMAIN.md. Its labels are the
// first half of a location's display name ("Park, E8 3AA").
var locationTypes = []Term{
	{Code: "park", Label: "Park"},
	{Code: "playground", Label: "Playground"},
	{Code: "stairwell", Label: "Stairwell / communal area"},
	{Code: "estate", Label: "Estate"},
	{Code: "street", Label: "Street"},
	{Code: "bus_stop", Label: "Bus stop"},
	{Code: "station", Label: "Station"},
	{Code: "transport_route", Label: "Transport route"},
	{Code: "shop", Label: "Shop"},
	{Code: "takeaway", Label: "Takeaway / fast-food outlet"},
	{Code: "shopping_centre", Label: "Shopping centre"},
	{Code: "school", Label: "School"},
	{Code: "college", Label: "College"},
	{Code: "youth_club", Label: "Youth club"},
	{Code: "sports_facility", Label: "Sports facility"},
	{Code: "hotel", Label: "Hotel"},
	{Code: "short_let", Label: "Short-let / private address"},
	{Code: "other", Label: "Other"},
}

// Familial says whether harm happened outside the family, inside it, both
// or nobody knows yet: typed, so no package compares it with a literal.
type Familial string

// The familial contexts of a harm location.
const (
	FamilialExtra   Familial = "extra"
	FamilialIntra   Familial = "intra"
	FamilialBoth    Familial = "both"
	FamilialUnknown Familial = "unknown"
)

// Familial contexts of a harm location.
var familialTerms = []Term{
	{Code: string(FamilialExtra), Label: "Extra-familial"},
	{Code: string(FamilialIntra), Label: "Intra-familial"},
	{Code: string(FamilialBoth), Label: "Both"},
	{Code: string(FamilialUnknown), Label: "Unknown"},
}

// Layers keep perception apart from incident: safety mapping's "feels
// unsafe" is never blended with "harm happened". The codes are ctxmap.Layer.
var layerTerms = []Term{
	{Code: string(ctxmap.LayerHarm), Label: "Harm happened here"},
	{Code: string(ctxmap.LayerUnsafe), Label: "Feels unsafe (safety mapping)"},
}

// Source says where the information on a harm location came from. Sources
// are kept on every record because contexts are not crime records: partner
// (including police) information stays distinguishable.
type Source string

// The sources of a harm location.
const (
	SourceReferral           Source = "referral"
	SourceAssessment         Source = "assessment"
	SourceSafetyMap          Source = "safety_map"
	SourcePartnerInformation Source = "partner_information"
	SourceOther              Source = "other"
)

var sourceTerms = []Term{
	{Code: string(SourceReferral), Label: "Referral"},
	{Code: string(SourceAssessment), Label: "Assessment"},
	{Code: string(SourceSafetyMap), Label: "Safety map"},
	{Code: string(SourcePartnerInformation), Label: "Partner information"},
	{Code: string(SourceOther), Label: "Other"},
}

// Archive reasons, so a young person is not labelled permanently or wrongly.
const (
	ArchiveNoLongerAnIssue = "no_longer_an_issue"
	ArchiveNeverAnIssue    = "never_an_issue"
)

var archiveReasonTerms = []Term{
	{Code: ArchiveNoLongerAnIssue, Label: "No longer an issue"},
	{Code: ArchiveNeverAnIssue, Label: "Never an issue"},
}

// Intervention statuses.
const (
	InterventionPlanned    = "planned"
	InterventionInProgress = "in_progress"
	InterventionDone       = "done"
	InterventionDropped    = "dropped"
)

var interventionStatusTerms = []Term{
	{Code: InterventionPlanned, Label: "Planned"},
	{Code: InterventionInProgress, Label: "In progress"},
	{Code: InterventionDone, Label: "Done"},
	{Code: InterventionDropped, Label: "Dropped"},
}

// partnerAgencies is a controlled list so partnerships can report which
// agencies act on contextual factors across cases.
var partnerAgencies = []Term{
	{Code: "police", Label: "Police"},
	{Code: "housing", Label: "Housing"},
	{Code: "transport", Label: "Transport"},
	{Code: "licensing", Label: "Licensing"},
	{Code: "school", Label: "School / education"},
	{Code: "youth_services", Label: "Youth services"},
	{Code: "local_business", Label: "Local businesses"},
	{Code: "community_safety", Label: "Community safety"},
	{Code: "parks", Label: "Parks and open spaces"},
	{Code: "health", Label: "Health"},
	{Code: "social_care", Label: "Children's social care"},
	{Code: "voluntary_sector", Label: "Voluntary / community sector"},
	{Code: "other", Label: "Other"},
}

// NewTaxonomy wraps the deployment's categories with the fixed lists.
func NewTaxonomy(version int, cats []Category) *Taxonomy {
	return &Taxonomy{
		Version:              version,
		Categories:           cats,
		LocationTypes:        locationTypes,
		ContextKinds:         contextKinds,
		Familial:             familialTerms,
		Layers:               layerTerms,
		Sources:              sourceTerms,
		ArchiveReasons:       archiveReasonTerms,
		InterventionStatuses: interventionStatusTerms,
		ClosingDecisions:     closingDecisionTerms,
		PartnerAgencies:      partnerAgencies,
		SafetyRatings:        safetyRatingTerms,
		TrustedAdults:        trustedAdultTerms,
		TypeStatuses:         typeStatusTerms,
		ReadPurposes:         readPurposeTerms,
		PurposeNoteFor:       PurposeOther,
		PurposeNoteMax:       PurposeNoteMax,
		MarkerKinds:          markerKindTerms,
		MarkerValues:         markerValueTerms,
		RelocationKinds:      relocationKindTerms,
		FactorAreaKinds:      factorAreaTerms,
	}
}

func termLabel(list []Term, code string) (string, bool) {
	for _, t := range list {
		if t.Code == code {
			return t.Label, true
		}
	}
	return "", false
}

func termCodes(list []Term) string {
	codes := make([]string, len(list))
	for i, t := range list {
		codes[i] = t.Code
	}
	return strings.Join(codes, ", ")
}

// LocationTypeLabel returns the label of a location type code, or false.
func LocationTypeLabel(code string) (string, bool) { return termLabel(locationTypes, code) }

// SideLabel returns the label of a triangle side for a context kind, so a
// note filed under "guardianship" reads right for a school or a group.
func SideLabel(kind, side string) (string, bool) {
	for _, k := range contextKinds {
		if k.Code == kind {
			return termLabel(k.Sides, side)
		}
	}
	return "", false
}

// DisplayName names a context by the naming convention that prevents
// duplicates and lets a closed record be found again: location type plus
// postcode ("Park, E8 3AA"), or a building or organisation name plus
// postcode ("Kingsland Shopping Centre, E8 2LX"). A place known only by a
// coordinate gets the type and the coordinate, rounded to about 1 m.
func DisplayName(locationType, name, postcode string, lat, lon *float64) string {
	head := strings.TrimSpace(name)
	if head == "" {
		head, _ = LocationTypeLabel(locationType)
		if head == "" {
			head = "Place"
		}
	}
	switch {
	case postcode != "":
		return head + ", " + postcode
	case lat != nil && lon != nil && strings.TrimSpace(name) == "":
		return head + " near " + strconv.FormatFloat(*lat, 'f', 5, 64) + ", " + strconv.FormatFloat(*lon, 'f', 5, 64)
	}
	return head
}

// PartnerAgencyLabel returns the label of a partner agency code, or false.
func PartnerAgencyLabel(code string) (string, bool) { return termLabel(partnerAgencies, code) }

// VocabularyCodes are the codes of the taxonomy list whose JSON name is
// name ("intervention_statuses"), for the OpenAPI document: an input field
// tagged vocab:"name" takes one of them. The lists themselves stay here,
// read by the same reflection encoding/json uses, so the document cannot
// drift from GET /api/v1/taxonomy. Harm categories are not a fixed list
// (an admin adds them) and have none.
func VocabularyCodes(name string) ([]string, bool) {
	v := reflect.ValueOf(*NewTaxonomy(0, nil))
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag != name || t.Field(i).Type.Kind() != reflect.Slice {
			continue
		}
		list := v.Field(i)
		codes := make([]string, 0, list.Len())
		for j := range list.Len() {
			code := list.Index(j).FieldByName("Code")
			if !code.IsValid() {
				return nil, false
			}
			codes = append(codes, code.String())
		}
		return codes, len(codes) > 0
	}
	return nil, false
}
