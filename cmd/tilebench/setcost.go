package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/tiles"
)

// runSetCost times the two halves of building one published set the way
// tiles.Service does after an invalidation: reading the observations
// through contexts.Store.Observations (SQL, transfer, decoding) and
// tiles.Policy.Publish. It says where the first tile after a write spends
// its time without instrumenting the server.
func runSetCost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("setcost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	layer := fs.String("layer", tiles.DefaultLayer, "layer")
	category := fs.String("category", "", "category (empty: all)")
	period := fs.String("period", tiles.DefaultPeriod, "period")
	k := fs.Int("k", tiles.DefaultK, "threshold")
	n := fs.Int("n", 5, "repetitions")
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
	store, err := contexts.NewStore(pool, []byte(secret), nil)
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
	q := contexts.HeatQuery{Layer: *layer, Category: *category, From: p.From(), To: p.To()}
	var reads, pubs []time.Duration
	for i := 0; i < *n; i++ {
		t := time.Now()
		obs, err := store.Observations(ctx, q)
		if err != nil {
			return err
		}
		read := time.Since(t)
		t = time.Now()
		pub := pol.Publish(obs)
		publish := time.Since(t)
		reads, pubs = append(reads, read), append(pubs, publish)
		fmt.Fprintf(stdout, "setcost %d: %d observations read in %s, published in %s (%d/%d/%d cells at res 6/7/8)\n",
			i+1, len(obs), ms(read), ms(publish), pub.Len(6), pub.Len(7), pub.Len(8))
	}
	slices.Sort(reads)
	slices.Sort(pubs)
	fmt.Fprintf(stdout, "RESULT label=setcost n=%d read_p50_ms=%.0f publish_p50_ms=%.0f\n", *n, msf(pct(reads, 50)), msf(pct(pubs, 50)))
	return nil
}
