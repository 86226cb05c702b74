package web

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/paulmach/orb"

	"github.com/ctxmap/ctxmap/contexts"
)

// The services the handlers call, declared here by their consumer and kept
// to the methods the handlers use, so the server can run on in-memory fakes
// and never holds a pool. cmd/ctxmap wires the PostGIS implementations
// (contexts/postgres, geo/postcodes).

// Taxonomies reads and extends the deployment's harm taxonomy.
type Taxonomies interface {
	Taxonomy(ctx context.Context) (*contexts.Taxonomy, error)
	AddCategory(ctx context.Context, a *contexts.Actor, in contexts.CategoryInput) (*contexts.Taxonomy, error)
	RetireCategory(ctx context.Context, a *contexts.Actor, code string) (*contexts.Taxonomy, error)
}

// HarmLocations records where young people were harmed or feel unsafe,
// their harm types, and the places of their safety maps.
type HarmLocations interface {
	CreateHarmLocation(ctx context.Context, a *contexts.Actor, in contexts.HarmLocationInput) (*contexts.HarmLocation, error)
	SubjectHarmLocations(ctx context.Context, a *contexts.Actor, subject string, purpose contexts.ReadPurpose) ([]contexts.HarmLocation, error)
	ArchiveHarmLocation(ctx context.Context, a *contexts.Actor, id int64, in contexts.ArchiveInput) (*contexts.HarmLocation, error)
	ArchiveHarmType(ctx context.Context, a *contexts.Actor, id int64, category string, in contexts.ArchiveInput) (*contexts.HarmLocation, error)
	CorrectCategories(ctx context.Context, a *contexts.Actor, id int64, in contexts.CategoryCorrection) (*contexts.HarmLocation, error)
	CreateSafetyPlace(ctx context.Context, a *contexts.Actor, in contexts.SafetyPlaceInput) (*contexts.HarmLocation, error)
}

// YoungPersonRecords keeps a young person's markers, relocations and
// contextual factors with their plan actions (contexts/markers.go).
type YoungPersonRecords interface {
	AddMarker(ctx context.Context, a *contexts.Actor, in contexts.MarkerInput) (*contexts.Marker, error)
	CorrectMarker(ctx context.Context, a *contexts.Actor, id int64, in contexts.MarkerCorrection) (*contexts.Marker, error)
	AddRelocation(ctx context.Context, a *contexts.Actor, in contexts.RelocationInput) (*contexts.Relocation, error)
	WithdrawRelocation(ctx context.Context, a *contexts.Actor, id int64, in contexts.WithdrawInput) (*contexts.Relocation, error)
	WithdrawFactor(ctx context.Context, a *contexts.Actor, id int64, in contexts.WithdrawInput) (*contexts.Factor, error)
	AddFactor(ctx context.Context, a *contexts.Actor, in contexts.FactorInput) (*contexts.Factor, error)
	AddFactorAction(ctx context.Context, a *contexts.Actor, factorID int64, in contexts.FactorActionInput) (*contexts.FactorAction, error)
	UpdateFactorAction(ctx context.Context, a *contexts.Actor, factorID, id int64, in contexts.FactorActionUpdate) (*contexts.FactorAction, error)
	ContextualRecord(ctx context.Context, a *contexts.Actor, subject string, purpose contexts.ReadPurpose) (*contexts.ContextualRecord, error)
}

// ContextRecords opens, finds and works context records.
type ContextRecords interface {
	CreateContext(ctx context.Context, a *contexts.Actor, in contexts.ContextInput) (*contexts.Context, error)
	PlacePostcode(ctx context.Context, postcode string) (lat, lon float64, err error)
	Nearby(ctx context.Context, lat, lon, radiusM float64, kind, status string, limit int) ([]contexts.ContextListItem, error)
	ListContexts(ctx context.Context, a *contexts.Actor, q contexts.ContextQuery) ([]contexts.ContextListItem, error)
	SimilarContexts(ctx context.Context, a *contexts.Actor, in contexts.ContextInput) (*contexts.Similar, error)
	ContextsInBounds(ctx context.Context, bound orb.Bound, status string, limit int) ([]contexts.ContextFeature, error)
	Context(ctx context.Context, a *contexts.Actor, id int64) (*contexts.Context, error)
	UpdateContext(ctx context.Context, a *contexts.Actor, id int64, in contexts.ContextUpdate) (*contexts.Context, error)
	AddAssessment(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.AssessmentInput) (*contexts.Assessment, error)
	AddIntervention(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.InterventionInput) (*contexts.Intervention, error)
	UpdateIntervention(ctx context.Context, a *contexts.Actor, contextID, id int64, in contexts.InterventionUpdate) (*contexts.Intervention, error)
	CloseContext(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.CloseInput) (*contexts.Context, error)
	ReopenContext(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.ReopenInput) (*contexts.Context, error)
	Chronology(ctx context.Context, a *contexts.Actor, contextID int64) ([]contexts.ChronologyEntry, error)
}

// Links attaches young people to contexts and tells their practitioners
// what changed.
type Links interface {
	LinkYoungPerson(ctx context.Context, a *contexts.Actor, contextID int64, in contexts.LinkInput) (*contexts.Link, error)
	UnlinkYoungPerson(ctx context.Context, a *contexts.Actor, contextID, linkID int64, in contexts.UnlinkInput) error
	TeamLinks(ctx context.Context, a *contexts.Actor, contextID int64) ([]contexts.Link, error)
	LabelLink(ctx context.Context, a *contexts.Actor, contextID, linkID int64, in contexts.LinkLabelInput) (*contexts.Link, error)
	LinkSummary(ctx context.Context, a *contexts.Actor, contextID int64) (*contexts.LinkSummary, error)
	Notifications(ctx context.Context, a *contexts.Actor) ([]contexts.Notification, error)
	MarkNotificationsRead(ctx context.Context, a *contexts.Actor, upTo, contextID int64) (int64, error)
	MarkNotificationRead(ctx context.Context, a *contexts.Actor, id int64) error
}

// Reports are the reports for commissioning, read from the context
// records (contexts/reports.go). Both check the actor; the caller audits.
type Reports interface {
	ReportCatalogue(ctx context.Context, a *contexts.Actor) (*contexts.ReportCatalogue, error)
	Report(ctx context.Context, a *contexts.Actor, name string, q url.Values) (contexts.ReportAnswer, error)
}

// Records is the records store as the record routes use it.
type Records interface {
	Taxonomies
	HarmLocations
	YoungPersonRecords
	ContextRecords
	Links
	Reports
}

// Users signs people in and lists accounts.
type Users interface {
	TokenActor(ctx context.Context, token string) (*contexts.Actor, error)
	RecordTokenUse(ctx context.Context, a *contexts.Actor, token string) error
	CheckPassword(ctx context.Context, name, password string) (*contexts.Actor, error)
	CreateSession(ctx context.Context, a *contexts.Actor, ttl time.Duration) (*contexts.Session, error)
	SessionActor(ctx context.Context, id string) (*contexts.Actor, string, error)
	DeleteSession(ctx context.Context, a *contexts.Actor, id string) error
	ListUsers(ctx context.Context) ([]contexts.User, error)
	// CreateUser, DisableUser and ResetUser are the users screen's
	// changes; each checks the actor and is audited. Credentials hold the
	// new password and token, which are never retrievable again.
	CreateUser(ctx context.Context, by *contexts.Actor, in contexts.UserInput) (*contexts.Credentials, error)
	DisableUser(ctx context.Context, by *contexts.Actor, id int64) (*contexts.User, error)
	ResetUser(ctx context.Context, by *contexts.Actor, id int64) (*contexts.Credentials, error)
}

// SSOUsers keeps single sign-ons (oidc.go): sign-ins between the redirect
// to the provider and its callback, the accounts they sign in to, and
// sessions that keep the provider's ID token for its sign-out.
type SSOUsers interface {
	// BeginSSO keeps l until its callback (or its expiry).
	BeginSSO(ctx context.Context, l contexts.SSOLogin) error
	// TakeSSO returns and forgets the sign-in begun with state; each works
	// once (contexts.ErrSSOState otherwise).
	TakeSSO(ctx context.Context, state string) (*contexts.SSOLogin, error)
	// SSOActor finds or makes the account of id, with its role and team
	// as the provider says; audited.
	SSOActor(ctx context.Context, id contexts.SSOIdentity) (*contexts.Actor, error)
	CreateSSOSession(ctx context.Context, a *contexts.Actor, ttl time.Duration, idToken string) (*contexts.Session, error)
	// SessionIDToken is the ID token of session id; empty for a password
	// session.
	SessionIDToken(ctx context.Context, id string) (string, error)
}

// AuditLog writes what users did outside the records store's own writes
// (exports of aggregates) and lets administrators search it: a page of
// the screen, or (export) the entries of a CSV, the search audited by the
// store itself. Every method checks the actor.
type AuditLog interface {
	Audit(ctx context.Context, a *contexts.Actor, action, record, reason string, detail any) error
	SearchAudit(ctx context.Context, a *contexts.Actor, q contexts.AuditQuery, export bool) (*contexts.AuditPage, error)
	AuditActions(ctx context.Context, a *contexts.Actor) ([]string, error)
}

// Reviews is the oversight of review dates: the open contexts past theirs.
// It checks the actor and audits the read.
type Reviews interface {
	OverdueReviews(ctx context.Context, a *contexts.Actor) (*contexts.OverdueReviews, error)
}

// Retention describes the retention policy, its runs and what is due; runs
// themselves happen on the server's schedule or on the host (ctxmap
// retention), never through the API. It checks the actor and audits.
type Retention interface {
	Status(ctx context.Context, a *contexts.Actor) (*contexts.RetentionStatus, error)
}

// Alerts are the insider alerts for administrators (bursts of new young
// people at one place, records archived soon after creation). Both check
// the actor and audit the read.
type Alerts interface {
	AdminAlerts(ctx context.Context, a *contexts.Actor, q contexts.AlertQuery) ([]contexts.AdminAlert, error)
	MarkAlertRead(ctx context.Context, a *contexts.Actor, id int64) (*contexts.AdminAlert, error)
}

// Boundaries reads the partnership's imported area: each stored GeoJSON
// document, a Feature or a FeatureCollection, in import order.
type Boundaries interface {
	Boundaries(ctx context.Context) ([]json.RawMessage, error)
}

// Readiness says whether the service can take traffic (the database answers
// and is at the newest migration), and which errors mean it cannot: the
// driver names an outage ("the database system is starting up") that the
// next readiness check may already find over, and such an error is a 503,
// never a 500. The two come together so neither can be wired without the
// other.
type Readiness interface {
	Ready(ctx context.Context) error
	Unavailable(err error) bool
}

// NewReadiness is the Readiness of a check and of the database adapter's
// classifier of its driver's errors.
func NewReadiness(check func(ctx context.Context) error, unavailable func(error) bool) Readiness {
	return readiness{check: check, unavailable: unavailable}
}

type readiness struct {
	check       func(ctx context.Context) error
	unavailable func(error) bool
}

func (r readiness) Ready(ctx context.Context) error { return r.check(ctx) }

func (r readiness) Unavailable(err error) bool { return r.unavailable != nil && r.unavailable(err) }

// LoginLimiter counts failed sign-ins per name and per client address. The
// check and the count are one step: an attempt is counted as a failure
// before its password is checked and forgiven after a success, so
// concurrent guesses cannot all pass a check none of them has failed yet.
// cmd/ctxmap wires the PostgreSQL one, shared by every replica; without one
// the server counts in memory, for itself alone.
type LoginLimiter interface {
	// BeginLogin counts at as a failure and returns its id, or returns
	// false (counting nothing) when the name or the address has no
	// allowance left.
	BeginLogin(ctx context.Context, at contexts.LoginAttempt) (id int64, ok bool, err error)
	// ForgiveLogin uncounts attempt id: it succeeded, or its password could
	// not be checked.
	ForgiveLogin(ctx context.Context, id int64) error
}

// IdempotencyKeys keep the first answer to each create sent with an
// Idempotency-Key, per user and route, so a retry gets that answer and
// writes nothing (see idempotency.go for the protocol). The answer itself
// is stored by the create, in its own transaction, from the
// contexts.KeyedCreate its context carries.
type IdempotencyKeys interface {
	// ClaimIdempotencyKey returns nil, nil when the request is to run, the
	// stored answer of a finished one with the same body, or
	// contexts.ErrIdempotencyKeyReused / ErrIdempotencyInProgress.
	ClaimIdempotencyKey(ctx context.Context, k contexts.IdempotencyKey) (*contexts.StoredResponse, error)
	// ReleaseIdempotencyKey drops the claim of a request that wrote nothing.
	ReleaseIdempotencyKey(ctx context.Context, k contexts.IdempotencyKey) error
}
