// Command tilebench is the side-by-side heat-tile benchmark of issue 5: a
// benchmark tool, not shipped behaviour. It generates a synthetic CSV of
// harm locations for `ctxmap import harm-locations`, prepares a baseline
// that renders every heat tile per request in PostGIS with ST_AsMVT the way
// pg_tileserv function layers do, serves that baseline over HTTP with the
// same tile URLs as ctxmap, and measures first-request latencies of many
// distinct tiles, each the first request for that tile after a release.
// scripts/bench-tiles.sh runs the whole comparison; scripts/bench-release.sh
// measures releases and the cached-tile path against a fixed-body control.
//
// Subcommands:
//
//	tilebench gen [-n 1000000] [-subjects 150000] [-seed 1] [-now 2026-05-15] > harm.csv
//	tilebench prepare                    hexagon table, baseline indexes and SQL function (DATABASE_URL)
//	tilebench serve -listen 127.0.0.1:P  the ST_AsMVT baseline server (DATABASE_URL)
//	tilebench tiles -z 12 -bbox W,S,E,N  list tile paths (or -point LAT,LON for one; -lua FILE for wrk)
//	tilebench load -base URL [flags] PATH... | -paths FILE   first-request latencies, p50/p99
//	tilebench fixed -listen ADDR -from URL   the cached-tile control: one fixed body, gzip and identity
//	tilebench releaseid -base URL [-after ID] the release a ctxmap server serves (or wait for a newer one)
//	tilebench setcost [-n 5]             time reading observations vs publishing one set
//	tilebench mvtinfo URL                fetch one tile: layers, features, sum of value
//	tilebench wait -url URL              wait until a URL answers 200
//	tilebench freeport                   print a free TCP port on 127.0.0.1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `tilebench: side-by-side heat-tile benchmark (ctxmap vs a per-request ST_AsMVT baseline)

usage:
  tilebench gen [-n N] [-subjects S] [-seed SEED] [-now YYYY-MM-DD] > harm.csv
  tilebench prepare                      (DATABASE_URL) hexagon table, baseline indexes, SQL function
  tilebench serve -listen ADDR [-k 10]   (DATABASE_URL) the ST_AsMVT baseline tile server
  tilebench tiles -z Z (-bbox W,S,E,N | -point LAT,LON) [-query Q] [-lua FILE -header H]
  tilebench load -base URL [-c 8] [-rounds R] [-H HEADER]... [-release "CMD ARGS" -warm PATH] (PATH... | -paths FILE)
  tilebench fixed -listen ADDR -from TILE_URL [-H HEADER]...   fixed-body net/http control (gzip and identity)
  tilebench releaseid -base URL [-H HEADER]... [-after ID]    release id served (waits for another with -after)
  tilebench setcost [-period last-12m] [-n 5]   (DATABASE_URL, CTXMAP_SECRET) published-set cost: read vs publish
  tilebench mvtinfo [-H HEADER]... URL   fetch one tile and describe it
  tilebench wait -url URL [-timeout 60s]
  tilebench freeport
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "tilebench: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "gen":
		return runGen(rest, stdout, stderr)
	case "prepare":
		return runPrepare(ctx, rest, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "tiles":
		return runTiles(rest, stdout, stderr)
	case "load":
		return runLoad(ctx, rest, stdout, stderr)
	case "fixed":
		return runFixed(ctx, rest, stdout, stderr)
	case "releaseid":
		return runReleaseID(ctx, rest, stdout, stderr)
	case "mvtinfo":
		return runMVTInfo(rest, stdout, stderr)
	case "setcost":
		return runSetCost(ctx, rest, stdout, stderr)
	case "wait":
		return runWait(ctx, rest, stderr)
	case "freeport":
		return runFreePort(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
	return flag.ErrHelp
}

// databaseURL returns DATABASE_URL or an error saying how to set it.
func databaseURL() (string, error) {
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		return "", errors.New(`DATABASE_URL is not set (eval "$(bash scripts/pg.sh env)")`)
	}
	return u, nil
}
