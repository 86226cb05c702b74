package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/migrations/pg"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: ctxmap import postcodes|harm-locations|boundary ...")
		return errUsage
	}
	switch args[0] {
	case "boundary":
		return importBoundary(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: ctxmap import postcodes|harm-locations|boundary ...")
	return errUsage
}

// importBoundary stores a GeoJSON file of the partnership's area for the map.
func importBoundary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import boundary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := bindConfig(fs)
	name := fs.String("name", "", "a name for the boundary (default: the file name)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: ctxmap import boundary [--name N] FILE.geojson: %w", errUsage)
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil || (probe.Type != "FeatureCollection" && probe.Type != "Feature") {
		return fmt.Errorf("%s is not a GeoJSON Feature or FeatureCollection", fs.Arg(0))
	}
	if *name == "" {
		*name = filepath.Base(fs.Arg(0))
	}
	pool, err := openDB(ctx, c, stderr, pg.Options{})
	if err != nil {
		return err
	}
	defer pool.Close()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `INSERT INTO boundaries (name, geojson) VALUES ($1, $2)`, *name, raw); err != nil {
		return err
	}
	if err := contexts.Audit(ctx, tx, cliActor(), "boundary.import", "", "", map[string]any{"name": *name}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported boundary %q\n", *name)
	return nil
}

func runSeedDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("seed-demo: not wired yet")
}
