package postgres

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
)

// Idempotency keeps the first answers to creates sent with an
// Idempotency-Key, so a client that retries after a lost answer gets that
// answer instead of a second record, whichever replica it reaches (issue
// 11, finding 7).
type Idempotency struct {
	pool   *pgxpool.Pool
	secret []byte
}

// NewIdempotency returns the idempotency key store on pool. The request
// hashes it stores are keyed with the deployment secret: a create's body
// holds a young person's id, and a plain digest of it could be matched
// against guessed ids by anyone who reads the database (PRIVACY.md rule 2).
func NewIdempotency(pool *pgxpool.Pool, secret []byte) *Idempotency {
	return &Idempotency{pool: pool, secret: secret}
}

// keyed is the stored form of a request digest.
func (s *Idempotency) keyed(digest []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write(digest)
	return m.Sum(nil)
}

// ClaimIdempotencyKey starts the request k names, outside any create's
// transaction: the claim writes no record, and its answer is stored by the
// create itself (keyed, storeAnswer). It returns nil, nil when
// the request is to run: the key is new, expired, or its first request was
// abandoned (its lease passed with no answer) with the same body. It
// returns the stored answer of a finished request with the same body,
// ErrIdempotencyKeyReused for another body and ErrIdempotencyInProgress
// while the first request runs. Concurrent claims of one key are decided
// by the primary key: exactly one inserts or takes over.
func (s *Idempotency) ClaimIdempotencyKey(ctx context.Context, k contexts.IdempotencyKey) (*contexts.StoredResponse, error) {
	k.RequestHash = s.keyed(k.RequestHash)
	for range 3 {
		tag, err := s.pool.Exec(ctx, `INSERT INTO idempotency_keys AS i
				(user_id, route, key, request_hash, claim, locked_until, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (user_id, route, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,
				claim = EXCLUDED.claim, locked_until = EXCLUDED.locked_until, status = NULL, body = NULL,
				created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
			WHERE i.expires_at <= EXCLUDED.created_at
			   OR (i.status IS NULL AND i.locked_until <= EXCLUDED.created_at AND i.request_hash = EXCLUDED.request_hash)`,
			k.UserID, k.Route, k.Key, k.RequestHash, k.Claim, k.At.Add(contexts.IdempotencyLease), k.At, k.At.Add(contexts.IdempotencyTTL))
		if err != nil {
			return nil, fmt.Errorf("claiming an idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		var hash, body []byte
		var status *int
		err = s.pool.QueryRow(ctx, `SELECT request_hash, status, body FROM idempotency_keys
			WHERE user_id = $1 AND route = $2 AND key = $3`, k.UserID, k.Route, k.Key).Scan(&hash, &status, &body)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // pruned or released in between: claim again
		}
		if err != nil {
			return nil, fmt.Errorf("reading an idempotency key: %w", err)
		}
		switch {
		case !bytes.Equal(hash, k.RequestHash):
			return nil, contexts.ErrIdempotencyKeyReused
		case status == nil:
			return nil, contexts.ErrIdempotencyInProgress
		}
		return &contexts.StoredResponse{Status: *status, Body: body}, nil
	}
	return nil, contexts.ErrIdempotencyInProgress
}

// ReleaseIdempotencyKey forgets the claim on k of a request that wrote
// nothing (it was refused), so a retry runs afresh.
func (s *Idempotency) ReleaseIdempotencyKey(ctx context.Context, k contexts.IdempotencyKey) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys
		WHERE user_id = $1 AND route = $2 AND key = $3 AND claim = $4`, k.UserID, k.Route, k.Key, k.Claim); err != nil {
		return fmt.Errorf("releasing an idempotency key: %w", err)
	}
	return nil
}

// PruneIdempotencyKeys deletes keys that expired before now.
func (s *Idempotency) PruneIdempotencyKeys(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("pruning idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// keyed runs create, one of the Store's creates, for the request ctx
// carries. Without an Idempotency-Key that is just create. With one, create
// runs on a copy of the Store whose statements all go to one transaction
// (its own transactions become savepoints in it), and the answer it renders
// is stored on the key in that transaction, after the created rows and
// their read-back: a crash before the commit leaves neither, a crash after
// it leaves the answer a retry gets (issue 11, finding 7).
func keyed[T any](ctx context.Context, s *Store, create func(*Store) (T, error)) (T, error) {
	kc := contexts.KeyedCreateFrom(ctx)
	if kc == nil || s.keyed {
		return create(s)
	}
	var out T
	var createErr error
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		in := *s
		in.db, in.keyed = tx, true
		out, createErr = create(&in)
		if createErr != nil {
			// A refused create's own transaction has rolled back; what it
			// wrote outside it (the audit of a refusal) is kept, as
			// without a key.
			return nil
		}
		return storeAnswer(ctx, tx, kc, out)
	})
	if createErr == nil {
		createErr = err
	}
	if createErr != nil {
		var zero T
		return zero, createErr
	}
	return out, nil
}

// storeAnswer renders the answer to kc's request from what it created and
// stores it on the key in tx, the create's transaction. The key must still
// be held by this request's claim: one taken over after its lease belongs
// to a retry that is creating the record itself, so this create rolls back.
func storeAnswer(ctx context.Context, tx pgx.Tx, kc *contexts.KeyedCreate, created any) error {
	resp, err := kc.Render(created)
	if err != nil {
		return fmt.Errorf("rendering an idempotent answer: %w", err)
	}
	k := kc.Key
	tag, err := tx.Exec(ctx, `UPDATE idempotency_keys SET status = $5, body = $6, claim = NULL
		WHERE user_id = $1 AND route = $2 AND key = $3 AND claim = $4`,
		k.UserID, k.Route, k.Key, k.Claim, resp.Status, resp.Body)
	if err != nil {
		return fmt.Errorf("storing an idempotent answer: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return contexts.ErrIdempotencyInProgress
	}
	return nil
}
