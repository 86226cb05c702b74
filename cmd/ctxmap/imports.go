package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/geo/postcodes"
	"github.com/ctxmap/ctxmap/migrations/pg"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: ctxmap import postcodes|harm-locations|boundary|allocations ...")
		return errUsage
	}
	switch args[0] {
	case "boundary":
		return importBoundary(ctx, args[1:], stdout, stderr)
	case "harm-locations":
		return importHarm(ctx, args[1:], stdout, stderr)
	case "postcodes":
		return importPostcodes(ctx, args[1:], stdout, stderr)
	case "allocations":
		return importAllocations(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: ctxmap import postcodes|harm-locations|boundary|allocations ...")
	return errUsage
}

// importHarm loads a CSV of harm locations on behalf of one practitioner:
// every row is checked first, and one bad row means nothing is written.
func importHarm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("import harm-locations", stderr)
	as := fs.String("as", "", "the practitioner the records are made by (their team owns them)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *as == "" {
		return fmt.Errorf("usage: ctxmap import harm-locations --as USER FILE.csv: %w", errUsage)
	}
	if err := c.needSecret(); err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	pool, err := openDB(ctx, c, stderr, pg.Options{StatementTimeout: 30 * time.Minute})
	if err != nil {
		return err
	}
	defer pool.Close()
	a, err := postgres.NewUsers(pool).ActiveUser(ctx, *as)
	if err != nil {
		return err
	}
	records, err := newRecords(c, pool, postcodes.NewStore(pool))
	if err != nil {
		return err
	}
	rep, err := records.ImportHarmCSV(ctx, f, a)
	for _, e := range rep.Errors {
		fmt.Fprintf(stderr, "line %d: %s: %s\n", e.Line, e.Code, e.Message)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d harm locations for %d young people (%d postcodes) in %s\n",
		rep.Inserted, rep.Subjects, rep.Postcodes, rep.Timings.Total.Round(time.Millisecond))
	return nil
}

// importAllocations loads the case management system's allocations feed
// (CSV: subject, team) on the server's host, as PUT /api/v1/allocations
// does: the whole feed replaces the previous one, or nothing changes.
func importAllocations(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("import allocations", stderr)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: ctxmap import allocations FILE.csv: %w", errUsage)
	}
	if err := c.needSecret(); err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := contexts.ParseAllocationsCSV(f)
	if err != nil {
		return err
	}
	pool, err := openDB(ctx, c, stderr, pg.Options{})
	if err != nil {
		return err
	}
	defer pool.Close()
	records, err := newRecords(c, pool, postcodes.NewStore(pool))
	if err != nil {
		return err
	}
	rep, err := records.ReplaceAllocations(ctx, nil, rows)
	if rep != nil {
		for _, e := range rep.Errors {
			fmt.Fprintf(stderr, "line %d: %s: %s\n", e.Line, e.Code, e.Message)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d allocations: %d young people in %d teams\n", rep.Rows, rep.YoungPeople, rep.Teams)
	return nil
}

// importPostcodes loads a postcode directory release, replacing the
// current one atomically.
func importPostcodes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("import postcodes", stderr)
	format := fs.String("format", "", "onspd (ONSPD/NSPL CSV) or codepoint (OS Code-Point Open)")
	ifEmpty := fs.Bool("if-empty", false, "do nothing when a directory is already imported (for make run)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if *format == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: ctxmap import postcodes --format onspd|codepoint PATH...: %w", errUsage)
	}
	pool, err := openDB(ctx, c, stderr, pg.Options{StatementTimeout: time.Hour})
	if err != nil {
		return err
	}
	defer pool.Close()
	if *ifEmpty {
		last, err := postcodes.NewStore(pool).LastImport(ctx)
		if err != nil {
			return err
		}
		if last != nil {
			fmt.Fprintln(stdout, "postcode directory already imported")
			return nil
		}
	}
	sum, err := postcodes.Import(ctx, pool, *format, fs.Args(), postcodes.ImportOptions{Progress: stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d postcodes (%d terminated, %d without a location) from %d rows in %s; %d sectors, %d districts\n",
		sum.Loaded, sum.Terminated, sum.Unlocated, sum.Rows, sum.Duration.Round(time.Millisecond), sum.Sectors, sum.Districts)
	for reason, n := range sum.Skipped {
		fmt.Fprintf(stdout, "  skipped %d rows: %s\n", n, reason)
	}
	for reason, n := range sum.Warnings {
		fmt.Fprintf(stdout, "  loaded %d rows with a warning: %s\n", n, reason)
	}
	for file, reason := range sum.SkippedFiles {
		fmt.Fprintf(stdout, "  skipped file %s: %s\n", file, reason)
	}
	// The map's district and sector outlines, drawn now so the first map
	// after an import does not wait for them. Said first: for the whole
	// country it is minutes of work that print nothing else.
	fmt.Fprintf(stdout, "drawing the map's district and sector outlines from %d postcodes (about 3 minutes for the whole country on 2 cores)...\n", sum.Loaded)
	out, err := postcodes.BuildOutlines(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "drew %d district and %d sector outlines in %s\n", out.Districts, out.Sectors, out.Duration.Round(time.Millisecond))
	return nil
}

// importBoundary stores a GeoJSON file of the partnership's area for the map.
func importBoundary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("import boundary", stderr)
	name := fs.String("name", "", "a name for the boundary (default: the file name)")
	ifEmpty := fs.Bool("if-empty", false, "do nothing when a boundary is already imported (for make run)")
	if err := parseArgs(fs, args); err != nil {
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
	imported, err := postgres.NewBoundaries(pool).Import(ctx, cliActor(), *name, raw, *ifEmpty)
	if err != nil {
		return err
	}
	if !imported {
		fmt.Fprintln(stdout, "boundary already imported")
		return nil
	}
	fmt.Fprintf(stdout, "imported boundary %q\n", *name)
	return nil
}

// demoPassword is the password of every demo login. Demo data is synthetic
// and labelled as such; never run seed-demo on a live deployment.
const demoPassword = "ctxmap-demo"

var demoUsers = []struct {
	name string
	role contexts.Role
	team string
}{
	{"demo-practitioner", contexts.RolePractitioner, "Demo Youth Justice Team"},
	{"demo-practitioner-2", contexts.RolePractitioner, "Demo Children's Social Care North"},
	{"demo-lead", contexts.RoleContextLead, "Demo Contextual Safeguarding Hub"},
	{"demo-analyst", contexts.RoleAnalyst, "Demo Insight Team"},
	{"demo-admin", contexts.RoleAdmin, "Demo Information Governance"},
}

// runSeedDemo creates the demo logins and the synthetic data set once; a
// second run only prints the logins.
func runSeedDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("seed-demo", stderr)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if err := c.parseCenter(); err != nil {
		return err
	}
	if err := c.needSecret(); err != nil {
		return err
	}
	pool, err := openDB(ctx, c, stderr, pg.Options{StatementTimeout: 10 * time.Minute})
	if err != nil {
		return err
	}
	defer pool.Close()
	users := postgres.NewUsers(pool)
	existing, err := users.ListUsers(ctx)
	if err != nil {
		return err
	}
	have := map[string]contexts.Actor{}
	for _, u := range existing {
		have[u.Name] = u.Actor
	}
	var practitioners, leads []contexts.Actor
	for _, d := range demoUsers {
		a, ok := have[d.name]
		if !ok {
			created, _, err := users.AddUser(ctx, cliActor(), d.name, d.role, d.team, demoPassword)
			if err != nil {
				return err
			}
			a = *created
		}
		switch d.role {
		case contexts.RolePractitioner:
			practitioners = append(practitioners, a)
		case contexts.RoleContextLead:
			leads = append(leads, a)
		}
	}
	records, err := newRecords(c, pool, postcodes.NewStore(pool))
	if err != nil {
		return err
	}
	sum, err := records.SeedDemo(ctx, postgres.DemoOptions{
		CenterLat: c.CenterLat, CenterLon: c.CenterLon, Seed: 1, Now: time.Now(),
		Practitioners: practitioners, ContextLeads: leads,
	})
	if err != nil {
		return err
	}
	if sum.Skipped {
		fmt.Fprintln(stdout, "demo data (synthetic) already loaded")
	} else {
		fmt.Fprintf(stdout, "demo data (synthetic) loaded: %d young people, %d harm locations, %d context records, %d assessments, %d interventions, %d links\n",
			sum.YoungPeople, sum.HarmLocations, sum.Contexts, sum.Assessments, sum.Interventions, sum.Links)
	}
	fmt.Fprintln(stdout, "demo logins (password "+demoPassword+"):")
	for _, d := range demoUsers {
		fmt.Fprintf(stdout, "  %-20s %s\n", d.name, d.role)
	}
	return nil
}
