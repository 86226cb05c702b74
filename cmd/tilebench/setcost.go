package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/geo"
	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/tiles"
)

// A reader of observations for one heat query; the variants below are the
// store's own and two alternatives measured against it.
type obsReader func(ctx context.Context, q tiles.Query) ([]tiles.Observation, error)

// runSetCost times the two halves of building one published set the way
// tiles.Service does after an invalidation: reading the observations
// (SQL, transfer, decoding) and tiles.Policy.Publish. It says where the
// first tile after a write spends its time without instrumenting the
// server. With -alt it also times two ways of reading the same data
// without SQL DISTINCT (Publish counts distinct young people itself) and
// checks that they publish exactly the same cells and values.
func runSetCost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("setcost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	layer := fs.String("layer", string(tiles.DefaultLayer), "layer")
	period := fs.String("period", tiles.DefaultPeriod, "period")
	k := fs.Int("k", tiles.DefaultK, "threshold")
	n := fs.Int("n", 5, "repetitions")
	alt := fs.Bool("alt", false, "also time reading without SQL DISTINCT (rows, and binary COPY)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	url, err := databaseURL()
	if err != nil {
		return err
	}
	secret := os.Getenv("CTXMAP_SECRET")
	if len(secret) < contexts.MinSecretLen {
		return errors.New("CTXMAP_SECRET must be set (the benchmark's secret)")
	}
	pool, err := pg.Connect(ctx, url, nil, pg.Options{})
	if err != nil {
		return err
	}
	defer pool.Close()
	store, err := postgres.NewStore(pool, []byte(secret), nil)
	if err != nil {
		return err
	}
	pol, err := tiles.NewPolicy(*k)
	if err != nil {
		return err
	}
	p, err := tiles.ParsePeriod(*period, time.Now())
	if err != nil {
		return err
	}
	q := tiles.Query{Layer: ctxmap.Layer(*layer), From: p.From(), To: p.To()}
	variants := []struct {
		name string
		read obsReader
	}{{"store", store.Observations}}
	if *alt {
		variants = append(variants,
			struct {
				name string
				read obsReader
			}{"rows-nodistinct", func(ctx context.Context, q tiles.Query) ([]tiles.Observation, error) {
				return readRows(ctx, pool, q)
			}},
			struct {
				name string
				read obsReader
			}{"copy-nodistinct", func(ctx context.Context, q tiles.Query) ([]tiles.Observation, error) {
				return readCopy(ctx, pool, q)
			}})
	}
	var reference *tiles.Published
	for _, v := range variants {
		var reads, pubs []time.Duration
		var rows int
		for i := 0; i < *n; i++ {
			t := time.Now()
			obs, err := v.read(ctx, q)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			read := time.Since(t)
			t = time.Now()
			pub := pol.Publish(obs)
			reads, pubs, rows = append(reads, read), append(pubs, time.Since(t)), len(obs)
			if reference == nil {
				reference = pub
			} else if !samePublished(reference, pub) {
				return fmt.Errorf("%s publishes different cells or values than the store's query", v.name)
			}
		}
		slices.Sort(reads)
		slices.Sort(pubs)
		fmt.Fprintf(stdout, "setcost %s: %d rows read in p50 %s (min %s), Publish p50 %s; %d/%d/%d cells published at res 6/7/8\n",
			v.name, rows, ms(pct(reads, 50)), ms(reads[0]), ms(pct(pubs, 50)), reference.Len(6), reference.Len(7), reference.Len(8))
		fmt.Fprintf(stdout, "RESULT label=setcost-%s n=%d rows=%d read_p50_ms=%.0f publish_p50_ms=%.0f\n",
			v.name, *n, rows, msf(pct(reads, 50)), msf(pct(pubs, 50)))
	}
	return nil
}

func samePublished(a, b *tiles.Published) bool {
	for r := geo.MinRes; r <= geo.MaxRes; r++ {
		if !slices.Equal(a.Cells(r), b.Cells(r)) {
			return false
		}
	}
	return true
}

// heatRowsSQL is the store's heat query without DISTINCT: one row per
// active record, from the same covering index.
const heatRowsSQL = `SELECT subject_id, subject_key, cell FROM harm_locations
	WHERE archived_at IS NULL AND layer = $1 AND occurred_on >= $2 AND occurred_on < $3`

func readRows(ctx context.Context, pool *pgxpool.Pool, q tiles.Query) ([]tiles.Observation, error) {
	rows, err := pool.Query(ctx, heatRowsSQL, q.Layer, q.From, q.To)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]tiles.Observation, 0, 1<<16)
	var subject, cell int64
	var key int16
	for rows.Next() {
		if err := rows.Scan(&subject, &key, &cell); err != nil {
			return nil, err
		}
		out = append(out, tiles.Observation{Subject: subject, Key: uint8(key), Cell: h3.Cell(cell)})
	}
	return out, rows.Err()
}

// readCopy reads the same rows with COPY ... TO STDOUT (FORMAT binary):
// one stream instead of a protocol message per row. COPY takes no bind
// parameters; the layer is checked and the dates are formatted here.
func readCopy(ctx context.Context, pool *pgxpool.Pool, q tiles.Query) ([]tiles.Observation, error) {
	if !q.Layer.Valid() {
		return nil, fmt.Errorf("bad layer %q", q.Layer)
	}
	sql := fmt.Sprintf(`COPY (SELECT subject_id, subject_key, cell FROM harm_locations
		WHERE archived_at IS NULL AND layer = '%s' AND occurred_on >= '%s' AND occurred_on < '%s') TO STDOUT (FORMAT binary)`,
		q.Layer, q.From.Format("2006-01-02"), q.To.Format("2006-01-02"))
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	var buf bytes.Buffer
	if _, err := conn.Conn().PgConn().CopyTo(ctx, &buf, sql); err != nil {
		return nil, err
	}
	return parseCopy(buf.Bytes())
}

// parseCopy decodes PostgreSQL's binary COPY format for rows of
// (bigint, smallint, bigint).
func parseCopy(b []byte) ([]tiles.Observation, error) {
	const sig = "PGCOPY\n\xff\r\n\x00"
	if len(b) < len(sig)+8 || string(b[:len(sig)]) != sig {
		return nil, errors.New("copy: bad signature")
	}
	b = b[len(sig)+4:]
	ext := int(binary.BigEndian.Uint32(b))
	b = b[4+ext:]
	out := make([]tiles.Observation, 0, len(b)/32)
	be := binary.BigEndian
	for len(b) >= 2 {
		nf := int16(be.Uint16(b))
		if nf == -1 {
			return out, nil
		}
		// 3 fields: int32 length + bigint, int32 length + smallint, int32 length + bigint.
		if nf != 3 || len(b) < 2+12+6+12 || be.Uint32(b[2:]) != 8 || be.Uint32(b[14:]) != 2 || be.Uint32(b[20:]) != 8 {
			return nil, errors.New("copy: unexpected row shape")
		}
		out = append(out, tiles.Observation{
			Subject: int64(be.Uint64(b[6:])),
			Key:     uint8(be.Uint16(b[18:])),
			Cell:    h3.Cell(int64(be.Uint64(b[24:]))),
		})
		b = b[32:]
	}
	return nil, errors.New("copy: no trailer")
}
