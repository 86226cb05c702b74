package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
)

// Idempotency-Key on creates (issue 11, finding 7): a client that lost the
// answer to a create (a reset, a timeout, a server killed mid-request)
// retries with the same key and gets the first answer, status and body,
// instead of a second record. The protocol, per user, route (method and
// path) and key:
//
//   - the first request claims the key (IdempotencyKeys.ClaimIdempotencyKey)
//     and runs with a contexts.KeyedCreate in its context; the store's
//     create renders its answer and stores it on the key in the same
//     transaction as the created rows, so the record and the answer a retry
//     gets commit together or not at all, whenever the server dies; a
//     refusal stores nothing and frees the key, so a retry runs afresh (it
//     wrote nothing either);
//   - a retry with the same body gets the stored answer, with
//     Idempotent-Replayed: true, and writes nothing;
//   - the same key with another body is 422 idempotency_key_reused;
//   - a retry while the first request runs is 409 idempotency_in_progress
//     (Retry-After: 1); a claim whose request never finished (so never
//     committed) blocks retries for contexts.IdempotencyLease only, and a
//     create whose claim was taken over after that rolls back;
//   - answers are kept for contexts.IdempotencyTTL (24 h).
//
// The header is optional: without it a create behaves as before.

const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"
	maxIdempotencyKey = 255
)

// idempotencyParam documents the header on every create route.
var idempotencyParam = Param{Name: idempotencyHeader, In: "header",
	Desc: "optional, 1-255 visible ASCII characters (a UUID will do): a retry with the same key, by the same user on the same route, " +
		"gets the first answer and writes nothing for 24 h; the same key with another body is 422 idempotency_key_reused, " +
		"a retry while the first request runs is 409 idempotency_in_progress"}

var (
	errIdempotencyKeyInvalid = ctxmap.Errorf(ctxmap.KindInvalid, "invalid_idempotency_key",
		"the %s header must be one value of 1 to %d visible ASCII characters", idempotencyHeader, maxIdempotencyKey)
	errIdempotencyUnavailable = ctxmap.Errorf(ctxmap.KindUnavailable, "idempotency_unavailable",
		"this server cannot keep idempotency keys; retry without the %s header", idempotencyHeader)
)

// idempotent is the middleware of the create routes: it runs next at most
// once per key and replays its answer to retries. It runs after
// authorisation, since keys belong to the signed-in user.
func (s *Server) idempotent(op Op, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys := r.Header.Values(idempotencyHeader)
		if len(keys) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.runOnce(w, r, op, next, keys); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// validIdempotencyKey accepts one short value of visible ASCII.
func validIdempotencyKey(keys []string) bool {
	if len(keys) != 1 || len(keys[0]) == 0 || len(keys[0]) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(keys[0]); i++ {
		if c := keys[0][i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func (s *Server) runOnce(w http.ResponseWriter, r *http.Request, op Op, next http.Handler, keys []string) error {
	if !validIdempotencyKey(keys) {
		return errIdempotencyKeyInvalid
	}
	if s.idem == nil {
		return errIdempotencyUnavailable
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError becomes 413 in writeError
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	claim := make([]byte, 16)
	_, _ = rand.Read(claim)
	k := contexts.IdempotencyKey{UserID: actor(r).UserID, Route: r.Method + " " + r.URL.Path, Key: keys[0],
		RequestHash: sum[:], Claim: hex.EncodeToString(claim), At: s.now()}
	stored, err := s.idem.ClaimIdempotencyKey(r.Context(), k)
	if err != nil {
		return err
	}
	if stored != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set(replayedHeader, "true")
		w.WriteHeader(stored.Status)
		_, _ = w.Write(stored.Body)
		return nil
	}
	kc := &contexts.KeyedCreate{Key: k, Answer: func(created any) (contexts.StoredResponse, error) {
		return keyedAnswer(op, created)
	}}
	r = r.WithContext(contexts.WithKeyedCreate(r.Context(), kc))
	// The claim is dropped after a refusal even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	rec := &bufferedWriter{header: w.Header()}
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.releaseKey(ctx, k)
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	}()
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 200 && rec.status < 300 {
		if stored := kc.Stored(); stored != nil {
			// What the create committed, exactly as retries will get it.
			w.WriteHeader(stored.Status)
			_, _ = w.Write(stored.Body)
			return nil
		}
		// A create whose store kept no answer: retries run it again, as
		// without a key. Every store create keeps one; this is a bug.
		s.log.ErrorContext(ctx, "a keyed create stored no answer", "route", k.Route, "request_id", requestID(ctx))
	}
	s.releaseKey(ctx, k)
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
	return nil
}

// keyedAnswer is the answer to a keyed create of op that made created: the
// status and the bytes its handler writes.
func keyedAnswer(op Op, created any) (contexts.StoredResponse, error) {
	v := created
	if op.Answer != nil {
		var err error
		if v, err = op.Answer(created); err != nil {
			return contexts.StoredResponse{}, err
		}
	}
	body, err := encodeJSON(v)
	if err != nil {
		return contexts.StoredResponse{}, err
	}
	status := op.Status
	if status == 0 {
		status = http.StatusOK
	}
	return contexts.StoredResponse{Status: status, Body: body}, nil
}

func (s *Server) releaseKey(ctx context.Context, k contexts.IdempotencyKey) {
	if err := s.idem.ReleaseIdempotencyKey(ctx, k); err != nil {
		s.log.WarnContext(ctx, "releasing an idempotency key", "err", err, "request_id", requestID(ctx))
	}
}

// bufferedWriter holds a create's answer until the create is over, so a
// client never sees an answer a retry could not get. Headers go straight to
// the real writer's map.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
