package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
)

// sessionLock takes advisory lock key as a session lock on a connection of
// its own, so it is released if the process dies: the lock of work exactly
// one replica may do at a time (a release, a retention run). With wait it
// polls until granted or ctx ends (never blocking in pg_advisory_lock, so
// waiting is bounded by ctx and not by the pool's statement timeout);
// without, it returns locked false at once when another session holds it.
// unlock releases the lock and the connection.
func sessionLock(ctx context.Context, pool *pgxpool.Pool, key int64, wait bool) (conn *pgxpool.Conn, unlock func(), locked bool, err error) {
	conn, err = pool.Acquire(ctx)
	if err != nil {
		return nil, nil, false, fmt.Errorf("advisory lock: %w", err)
	}
	for {
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&locked); err != nil {
			conn.Release()
			return nil, nil, false, fmt.Errorf("advisory lock: %w", err)
		}
		if locked {
			break
		}
		if !wait {
			conn.Release()
			return nil, nil, false, nil
		}
		select {
		case <-ctx.Done():
			conn.Release()
			return nil, nil, false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return conn, func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// A connection that may still hold the lock must not go
			// back to the pool: closing it releases the lock.
			_ = conn.Hijack().Close(uctx)
			return
		}
		conn.Release()
	}, true, nil
}

// releaseLock is the advisory lock key every process takes to make a
// release ("ctxmap-release" as a number), so one replica makes it at a time
// and the minimum interval is checked against the newest release of all.
const releaseLock int64 = 0x63_74_78_72_65_6c_31

// Releases stores releases in PostGIS (tiles.ReleaseStore) and reads the
// records a release is computed from, in one snapshot.
//
// The published values of a release (Set, Totals) may be read through a
// Reader on a streaming replica (ReadFrom): a release is written in one
// transaction and never changed, so a lagging replica holds a release
// completely or not at all. Which release is current (Latest), the list an
// admin sees and every write stay on the primary, so a replica never makes
// the service serve a release id its own database does not have: a read the
// replica cannot answer (the release not replayed there yet, or the replica
// unreachable) is asked of the primary.
type Releases struct {
	pool   *pgxpool.Pool
	reader Reader
	// fromReader and fromPrimary count published reads answered by the
	// reader and those the primary answered instead (ReadStats).
	fromReader, fromPrimary atomic.Int64
	// readerAwayUntil (Unix nanoseconds) is set when the reader fails:
	// until then reads go straight to the primary, so a replica that is
	// down costs one failed attempt and one log line per readerRetry, not
	// one per read.
	readerAwayUntil atomic.Int64
	log             *slog.Logger
}

// readerRetry is how long published reads skip a reader that failed.
const readerRetry = 5 * time.Second

// Reader is what published values are read through: the pool of a
// streaming replica (DATABASE_READ_URL). *pgxpool.Pool implements it.
type Reader interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// NewReleases returns the release store on pool.
func NewReleases(pool *pgxpool.Pool) *Releases { return &Releases{pool: pool} }

// ReadFrom makes r read published values through reader (nil: the
// primary), logging to log (nil: slog.Default) when the primary has to
// answer instead. It returns r; call it before r is used.
func (r *Releases) ReadFrom(reader Reader, log *slog.Logger) *Releases {
	r.reader = reader
	r.log = log
	if r.log == nil {
		r.log = slog.Default()
	}
	return r
}

// ReadStats are the published reads the reader answered and those the
// primary answered because the reader lagged or failed (with no reader,
// every read is the primary's and counted in neither).
type ReadStats struct {
	FromReader, FromPrimary int64
}

// ReadStats returns the counts so far.
func (r *Releases) ReadStats() ReadStats {
	return ReadStats{FromReader: r.fromReader.Load(), FromPrimary: r.fromPrimary.Load()}
}

// published runs one published read through the reader, then through the
// primary when the reader failed or did not have the answer (found false:
// the release is not replayed there yet). Without a reader it is one read
// on the primary.
func (r *Releases) published(ctx context.Context, what string, release int64, read func(Reader) (found bool, err error)) error {
	if r.reader == nil {
		_, err := read(r.pool)
		return err
	}
	if time.Now().UnixNano() < r.readerAwayUntil.Load() {
		r.fromPrimary.Add(1)
		_, err := read(r.pool)
		return err
	}
	found, err := read(r.reader)
	if err == nil && found {
		r.fromReader.Add(1)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	r.fromPrimary.Add(1)
	if err != nil {
		r.readerAwayUntil.Store(time.Now().Add(readerRetry).UnixNano())
		r.log.Warn("read replica failed; published reads go to the primary for a while", "read", what, "release", release,
			"err", err, "retry_in", readerRetry.String())
	} else {
		// Debug only: a filter the release has no sets for (a category
		// added since) comes here on every cache miss too.
		r.log.Debug("read replica lacks the answer (lag, or none exists); reading from the primary", "read", what, "release", release)
	}
	_, err = read(r.pool)
	return err
}

var _ tiles.ReleaseStore = (*Releases)(nil)

// InRelease takes the release lock on a connection of its own (a session
// lock, so it is released if the process dies), then runs fn in one
// REPEATABLE READ transaction begun after the lock was granted: its snapshot
// therefore includes any release another process finished while we waited.
func (r *Releases) InRelease(ctx context.Context, wait bool, fn func(context.Context, tiles.ReleaseTx) error) (bool, error) {
	conn, unlock, locked, err := sessionLock(ctx, r.pool, releaseLock, wait)
	if err != nil || !locked {
		return false, err
	}
	defer unlock()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return true, fmt.Errorf("release: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '10min'`); err != nil {
		return true, fmt.Errorf("release: %w", err)
	}
	rt := &releaseTx{tx: tx}
	if err := fn(ctx, rt); err != nil {
		return true, err
	}
	// A release an admin asked for with an Idempotency-Key commits with
	// its answer, like every other keyed create.
	if kc := contexts.KeyedCreateFrom(ctx); kc != nil && rt.made != nil {
		if err := storeAnswer(ctx, tx, kc, *rt.made); err != nil {
			return true, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return true, fmt.Errorf("release: commit: %w", err)
	}
	return true, nil
}

const releaseColumns = `id, data_time, first_month, last_month, k, how, made_by, coalesce(made_by_name, ''),
	sets, published_cells, coalesce(changed_cells, -1), duration_ms, totals`

func scanRelease(row pgx.Row) (tiles.ReleaseInfo, error) {
	var in tiles.ReleaseInfo
	var first, last time.Time
	var ms int64
	err := row.Scan(&in.ID, &in.DataTime, &first, &last, &in.K, &in.How, &in.MadeByID, &in.MadeBy,
		&in.Sets, &in.PublishedCells, &in.ChangedCells, &ms, &in.Totals)
	in.Window = tiles.Window{First: tiles.MonthOf(first), Last: tiles.MonthOf(last)}
	in.Duration = time.Duration(ms) * time.Millisecond
	return in, err
}

func latest(ctx context.Context, q pgx.Tx, pool *pgxpool.Pool) (tiles.ReleaseInfo, bool, error) {
	const sql = `SELECT ` + releaseColumns + ` FROM releases ORDER BY id DESC LIMIT 1`
	var row pgx.Row
	if q != nil {
		row = q.QueryRow(ctx, sql)
	} else {
		row = pool.QueryRow(ctx, sql)
	}
	in, err := scanRelease(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return tiles.ReleaseInfo{}, false, nil
	}
	if err != nil {
		return tiles.ReleaseInfo{}, false, fmt.Errorf("latest release: %w", err)
	}
	return in, true, nil
}

// Latest is the newest release.
func (r *Releases) Latest(ctx context.Context) (tiles.ReleaseInfo, bool, error) {
	return latest(ctx, nil, r.pool)
}

// List returns the kept releases, newest first.
func (r *Releases) List(ctx context.Context) ([]tiles.ReleaseInfo, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+releaseColumns+` FROM releases ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tiles.ReleaseInfo, error) { return scanRelease(row) })
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return out, nil
}

// Set returns one stored set of a release, from the reader when it has
// the release.
func (r *Releases) Set(ctx context.Context, release int64, k tiles.SetKey) ([]byte, bool, error) {
	var b []byte
	var ok bool
	err := r.published(ctx, "set", release, func(q Reader) (bool, error) {
		b, ok = nil, false
		err := q.QueryRow(ctx, `SELECT cells FROM release_sets
			WHERE release_id = $1 AND layer = $2 AND category = $3 AND first_month = $4 AND last_month = $5`,
			release, string(k.Layer), k.Category, k.First.Start(), k.Last.Start()).Scan(&b)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("release set %s: %w", k, err)
		}
		ok = true
		return true, nil
	})
	if err != nil {
		return nil, false, err
	}
	return b, ok, nil
}

// Totals returns the partnership totals of a release's sets for one filter,
// from the reader when it has the release (every release has sets for
// every filter, so none means the reader has not replayed it yet).
func (r *Releases) Totals(ctx context.Context, release int64, category string) ([]tiles.StoredTotal, error) {
	var out []tiles.StoredTotal
	err := r.published(ctx, "totals", release, func(q Reader) (bool, error) {
		rows, err := q.Query(ctx, `SELECT layer, first_month, last_month, total FROM release_sets
			WHERE release_id = $1 AND category = $2 ORDER BY layer, first_month, last_month`, release, category)
		if err != nil {
			return false, fmt.Errorf("release totals: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (tiles.StoredTotal, error) {
			var st tiles.StoredTotal
			var layer string
			var first, last time.Time
			var total *int
			err := row.Scan(&layer, &first, &last, &total)
			st.Key = tiles.SetKey{Layer: ctxmap.Layer(layer), Category: category, First: tiles.MonthOf(first), Last: tiles.MonthOf(last)}
			st.Total = totalOf(total)
			return st, err
		})
		if err != nil {
			return false, fmt.Errorf("release totals: %w", err)
		}
		return len(out) > 0, nil
	})
	return out, err
}

// totalOf reads a stored total: NULL is absent.
func totalOf(v *int) tiles.Total {
	if v == nil {
		return tiles.Total{}
	}
	return tiles.Total{Value: *v, Published: true}
}

// releaseTx is the work of one release inside InRelease's transaction.
type releaseTx struct {
	tx pgx.Tx
	// made is the release written in tx: the answer to an admin's keyed
	// request, stored with it.
	made *tiles.ReleaseInfo
}

func (t *releaseTx) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	if err := t.tx.QueryRow(ctx, `SELECT statement_timestamp()`).Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("release: %w", err)
	}
	return now.UTC(), nil
}

func (t *releaseTx) Latest(ctx context.Context) (tiles.ReleaseInfo, bool, error) {
	return latest(ctx, t.tx, nil)
}

// releaseRecordsSQL reads every active harm location of the window once per
// active harm type (categories holds the active types only: archived and
// corrected types leave it in the transaction that ends them), and once with
// category index -1 (tiles.NoCategory) for a safety-map place, which has no
// category. Amber places (sometimes unsafe) stay on the record and out of
// every release (docs/PRIVACY.md). The layer is its index in $4 (the one
// list of layers). Every column is fixed-width binary, decoded without
// Scan: a million records are one and a half million rows.
const releaseRecordsSQL = `SELECT array_position($4::text[], layer)::int - 1,
	(extract(year FROM occurred_on)::int * 12 + extract(month FROM occurred_on)::int - 1),
	array_position($3::text[], c)::int - 1, subject_id, subject_key, cell
	FROM harm_locations, unnest(categories) AS c
	WHERE archived_at IS NULL AND occurred_on >= $1 AND occurred_on < $2
	UNION ALL
	SELECT array_position($4::text[], layer)::int - 1,
	(extract(year FROM occurred_on)::int * 12 + extract(month FROM occurred_on)::int - 1),
	-1, subject_id, subject_key, cell
	FROM harm_locations
	WHERE archived_at IS NULL AND occurred_on >= $1 AND occurred_on < $2 AND cardinality(categories) = 0
	  AND safety IN ('red', 'green')`

func (t *releaseTx) Input(ctx context.Context, w tiles.Window) (tiles.ReleaseInput, error) {
	var in tiles.ReleaseInput
	rows, err := t.tx.Query(ctx, `SELECT code, extra_familial FROM harm_categories ORDER BY code`)
	if err != nil {
		return in, fmt.Errorf("release taxonomy: %w", err)
	}
	for rows.Next() {
		var code string
		var ef bool
		if err := rows.Scan(&code, &ef); err != nil {
			return in, fmt.Errorf("release taxonomy: %w", err)
		}
		in.Categories = append(in.Categories, code)
		in.ExtraFamilial = append(in.ExtraFamilial, ef)
	}
	if err := rows.Err(); err != nil {
		return in, fmt.Errorf("release taxonomy: %w", err)
	}
	layers := ctxmap.Layers()
	layerCodes := make([]string, len(layers))
	for i, l := range layers {
		layerCodes[i] = string(l)
	}
	rows, err = t.tx.Query(ctx, releaseRecordsSQL, w.First.Start(), w.Last.Add(1).Start(), in.Categories, layerCodes)
	if err != nil {
		return in, fmt.Errorf("release records: %w", err)
	}
	defer rows.Close()
	in.Records = make([]tiles.ReleaseRecord, 0, 1<<16)
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 6 || raw[2] == nil || raw[0] == nil {
			continue // a category no longer in the taxonomy
		}
		if len(raw[0]) != 4 || len(raw[1]) != 4 || len(raw[2]) != 4 || len(raw[3]) != 8 || len(raw[4]) != 2 || len(raw[5]) != 8 {
			return in, errors.New("release records: unexpected row encoding")
		}
		li := int(int32(binary.BigEndian.Uint32(raw[0])))
		if li < 0 || li >= len(layers) {
			return in, errors.New("release records: unknown layer")
		}
		layer := layers[li]
		m := int(int32(binary.BigEndian.Uint32(raw[1])))
		in.Records = append(in.Records, tiles.ReleaseRecord{
			Layer:         layer,
			Month:         tiles.Month{Year: m / 12, Month: time.Month(m%12 + 1)},
			CategoryIndex: int(int32(binary.BigEndian.Uint32(raw[2]))),
			Observation: tiles.Observation{
				Subject: int64(binary.BigEndian.Uint64(raw[3])),
				Key:     uint8(binary.BigEndian.Uint16(raw[4])),
				Cell:    h3.Cell(binary.BigEndian.Uint64(raw[5])),
			},
		})
	}
	if err := rows.Err(); err != nil {
		return in, fmt.Errorf("release records: %w", err)
	}
	return in, readFacts(ctx, t.tx, w, &in)
}

func (t *releaseTx) Sets(ctx context.Context, release int64) ([]tiles.StoredSet, error) {
	rows, err := t.tx.Query(ctx, `SELECT layer, category, first_month, last_month, cell_count, cells, total
		FROM release_sets WHERE release_id = $1`, release)
	if err != nil {
		return nil, fmt.Errorf("release sets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tiles.StoredSet, error) {
		var s tiles.StoredSet
		var layer string
		var first, last time.Time
		var total *int
		err := row.Scan(&layer, &s.Key.Category, &first, &last, &s.Cells, &s.Data, &total)
		s.Key.Layer, s.Key.First, s.Key.Last = ctxmap.Layer(layer), tiles.MonthOf(first), tiles.MonthOf(last)
		s.Total = totalOf(total)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("release sets: %w", err)
	}
	return out, nil
}

func (t *releaseTx) Write(ctx context.Context, info tiles.ReleaseInfo, sets []tiles.StoredSet) (int64, error) {
	var changed *int
	if info.ChangedCells >= 0 {
		changed = &info.ChangedCells
	}
	var made *string
	if info.MadeBy != "" {
		made = &info.MadeBy
	}
	var id int64
	err := t.tx.QueryRow(ctx, `INSERT INTO releases (data_time, first_month, last_month, k, how, made_by, made_by_name,
			sets, published_cells, changed_cells, duration_ms, totals)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		info.DataTime, info.Window.First.Start(), info.Window.Last.Start(), info.K, info.How, info.MadeByID, made,
		info.Sets, info.PublishedCells, changed, info.Duration.Milliseconds(), info.Totals).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("write release: %w", err)
	}
	_, err = t.tx.CopyFrom(ctx, pgx.Identifier{"release_sets"},
		[]string{"release_id", "layer", "category", "first_month", "last_month", "cell_count", "cells", "total"},
		pgx.CopyFromSlice(len(sets), func(i int) ([]any, error) {
			s := sets[i]
			var total *int32
			if s.Total.Published {
				v := int32(s.Total.Value)
				total = &v
			}
			return []any{id, string(s.Key.Layer), s.Key.Category, s.Key.First.Start(), s.Key.Last.Start(), s.Cells, s.Data, total}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("write release sets: %w", err)
	}
	written := info
	written.ID = id
	t.made = &written
	return id, nil
}

func (t *releaseTx) Prune(ctx context.Context, keep int) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM releases WHERE id NOT IN (SELECT id FROM releases ORDER BY id DESC LIMIT $1)`, keep)
	if err != nil {
		return fmt.Errorf("prune releases: %w", err)
	}
	return nil
}

func (t *releaseTx) Audit(ctx context.Context, info tiles.ReleaseInfo, forced bool) error {
	detail, err := json.Marshal(map[string]any{
		"how": info.How, "forced": forced, "data_time": info.DataTime.UTC().Format(time.RFC3339),
		"first_month": info.Window.First.String(), "last_month": info.Window.Last.String(),
		"sets": info.Sets, "published_cells": info.PublishedCells, "changed_cells": info.ChangedCells,
	})
	if err != nil {
		return err
	}
	var name *string
	if info.MadeBy != "" {
		name = &info.MadeBy
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO audit_log (user_id, user_name, action, record, reason, detail, request_id)
		VALUES ($1, $2, 'release.make', $3, $4, $5, $6)`,
		info.MadeByID, name, fmt.Sprintf("release:%d", info.ID), info.How, detail, contexts.RequestID(ctx))
	if err != nil {
		return fmt.Errorf("audit release: %w", err)
	}
	return nil
}
