package contexts

import (
	"context"
	"time"

	"github.com/ctxmap/ctxmap"
)

// The shared limits every replica must agree on: failed sign-ins and
// idempotency keys. Their policy is here; PostgreSQL keeps their state
// (contexts/postgres/logins.go, idempotency.go), so replicas share it.

// LoginLimits are the allowances of failed sign-ins within a sliding
// window: per name, slowing the guessing of one person's password, and per
// client address, much larger, because a whole council may sign in through
// one proxy and a few typos must not lock everyone out.
type LoginLimits struct {
	Window  time.Duration
	PerName int
	PerAddr int
}

// DefaultLoginLimits are the deployment's limits: 5 failures of a name or
// 100 from an address within 15 minutes.
var DefaultLoginLimits = LoginLimits{Window: 15 * time.Minute, PerName: 5, PerAddr: 100}

// LoginAttempt is one sign-in about to check a password: who it names (as
// typed, lower-cased), where it comes from and when.
type LoginAttempt struct {
	Name string
	Addr string
	At   time.Time
}

// IdempotencyTTL is how long the first answer to a create sent with an
// Idempotency-Key is kept for retries.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyLease is how long a claimed key whose request never finished
// (the server died mid-request) refuses retries as in progress before a
// retry may run the request again. It outlasts the server's write timeout.
const IdempotencyLease = 2 * time.Minute

// IdempotencyKey names one create request sent with an Idempotency-Key:
// the key is the user's own, per route (method and path), so two users, or
// one user on two routes, never share an answer. RequestHash is the
// SHA-256 of the body, so the same key with another body is refused.
// Claim is a random value naming this attempt, so a claim taken over after
// its lease cannot be finished by the request that lost it.
type IdempotencyKey struct {
	UserID      int64
	Route       string
	Key         string
	RequestHash []byte
	Claim       string
	At          time.Time
}

// StoredResponse is the first answer to an idempotent create, replayed to
// every retry.
type StoredResponse struct {
	Status int
	Body   []byte
}

// KeyedCreate is the Idempotency-Key of the create a request makes, carried
// in its context from the web middleware (which claimed the key) to the
// store, which stores the answer in the create's own transaction: the
// created rows and the answer a retry will get commit together or not at
// all, so no crash between them can let a retry create the record twice
// (issue 11, finding 7).
type KeyedCreate struct {
	Key IdempotencyKey
	// Answer renders the answer to the request from what the create made
	// (the value the store's create method returns). An error rolls the
	// create back.
	Answer func(created any) (StoredResponse, error)

	stored *StoredResponse
}

// Render is Answer, remembering its result: the answer the store is about
// to commit with the created rows, which the caller then sends.
func (k *KeyedCreate) Render(created any) (StoredResponse, error) {
	resp, err := k.Answer(created)
	if err != nil {
		return StoredResponse{}, err
	}
	k.stored = &resp
	return resp, nil
}

// Stored is the answer last rendered for storing, or nil if the create
// never reached its commit.
func (k *KeyedCreate) Stored() *StoredResponse { return k.stored }

type keyedCreateKey struct{}

// WithKeyedCreate returns ctx carrying k for the create it runs.
func WithKeyedCreate(ctx context.Context, k *KeyedCreate) context.Context {
	return context.WithValue(ctx, keyedCreateKey{}, k)
}

// KeyedCreateFrom returns the KeyedCreate ctx carries, or nil when the
// request has no Idempotency-Key.
func KeyedCreateFrom(ctx context.Context) *KeyedCreate {
	k, _ := ctx.Value(keyedCreateKey{}).(*KeyedCreate)
	return k
}

var (
	// ErrIdempotencyKeyReused refuses a key already used with another body:
	// the client's retry logic is broken, and guessing which body it meant
	// could record the wrong thing.
	ErrIdempotencyKeyReused = ctxmap.Errorf(ctxmap.KindUnprocessable, "idempotency_key_reused",
		"this Idempotency-Key was already used with a different request body; use a new key for a new request")
	// ErrIdempotencyInProgress refuses a retry while the first request with
	// its key is still running, so both cannot write.
	ErrIdempotencyInProgress = ctxmap.Errorf(ctxmap.KindConflict, "idempotency_in_progress",
		"a request with this Idempotency-Key is still in progress; retry shortly").WithDetail("retry_after_seconds", 1)
)
