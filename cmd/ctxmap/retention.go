package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/geo/postcodes"
	"github.com/ctxmap/ctxmap/migrations/pg"
)

// retentionFlags are the retention policy and schedule (docs/PRIVACY.md,
// "Retention"), shared by serve (the daily run) and retention (the
// operator's command), from flags or the environment.
type retentionFlags struct {
	youngPersonYears, closedContextYears, schedule string
}

func bindRetentionFlags(c *Config, fs interface {
	Func(name, usage string, fn func(string) error)
}) {
	r := &c.retention
	r.youngPersonYears = env("CTXMAP_RETENTION_YOUNG_PERSON_YEARS", strconv.Itoa(contexts.DefaultYoungPersonYears))
	r.closedContextYears = env("CTXMAP_RETENTION_CLOSED_CONTEXT_YEARS", strconv.Itoa(contexts.DefaultClosedContextYears))
	r.schedule = env("CTXMAP_RETENTION_SCHEDULE", "daily")
	set := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	fs.Func("retention-young-person-years", fmt.Sprintf("erase a young person's records this many years after their last record, 0 never (CTXMAP_RETENTION_YOUNG_PERSON_YEARS, default %d)", contexts.DefaultYoungPersonYears), set(&r.youngPersonYears))
	fs.Func("retention-closed-context-years", fmt.Sprintf("erase a context record this many years after it was closed, 0 never (CTXMAP_RETENTION_CLOSED_CONTEXT_YEARS, default %d)", contexts.DefaultClosedContextYears), set(&r.closedContextYears))
	fs.Func("retention-schedule", "daily (default): serve runs the retention policy once a day on one replica; off (CTXMAP_RETENTION_SCHEDULE)", set(&r.schedule))
}

// retentionPolicy parses the retention settings: the policy and whether
// serve runs it daily.
func (c *Config) retentionPolicy() (contexts.RetentionPolicy, bool, error) {
	r := c.retention
	var p contexts.RetentionPolicy
	for _, x := range []struct {
		name, v string
		p       *int
	}{{"retention-young-person-years", r.youngPersonYears, &p.YoungPersonYears}, {"retention-closed-context-years", r.closedContextYears, &p.ClosedContextYears}} {
		n, err := strconv.Atoi(strings.TrimSpace(x.v))
		if err != nil {
			return p, false, fmt.Errorf("%s: %q is not a whole number of years", x.name, x.v)
		}
		*x.p = n
	}
	if err := p.Validate(); err != nil {
		return p, false, err
	}
	switch r.schedule {
	case "daily":
		return p, true, nil
	case "off":
		return p, false, nil
	}
	return p, false, fmt.Errorf("retention-schedule: %q; use daily or off", r.schedule)
}

// newRetention is the retention runner every command uses.
func newRetention(c *Config, pool *pgxpool.Pool, records *postgres.Store) (*postgres.Retention, error) {
	p, scheduled, err := c.retentionPolicy()
	if err != nil {
		return nil, err
	}
	return postgres.NewRetention(records, pool, p, scheduled)
}

// retentionCheck is how often serve looks whether the daily run is due; the
// run happens on one replica at most once a day.
const retentionCheck = time.Hour

// runRetention is `ctxmap retention --dry-run | run`: the operator on the
// host applies the retention policy now, or lists what it would erase. A
// run waits for one in progress elsewhere; every erasure is audited, and
// the dry run's listing too.
func runRetention(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("retention", stderr)
	dry := fs.Bool("dry-run", false, "list what the policy would erase now, erasing nothing")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	switch {
	case *dry && fs.NArg() == 0, *dry && fs.NArg() == 1 && fs.Arg(0) == "dry-run":
	case fs.NArg() == 1 && fs.Arg(0) == "dry-run":
		*dry = true
	case !*dry && fs.NArg() == 1 && fs.Arg(0) == "run":
	default:
		fmt.Fprintln(stderr, "usage: ctxmap retention --dry-run | run")
		return errUsage
	}
	if err := c.needSecret(); err != nil {
		return err
	}
	pool, err := openMigratedDB(ctx, c, stderr, pg.Options{StatementTimeout: 10 * time.Minute})
	if err != nil {
		return err
	}
	defer pool.Close()
	records, err := newRecords(c, pool, postcodes.NewStore(pool))
	if err != nil {
		return err
	}
	ret, err := newRetention(c, pool, records)
	if err != nil {
		return err
	}
	rep, _, err := ret.Run(ctx, cliActor(), contexts.RetentionRequest{How: contexts.RetentionOperator, DryRun: *dry})
	if rep != nil {
		printRetention(stdout, rep)
	}
	if err == nil && rep.Failed > 0 {
		err = fmt.Errorf("%d erasure(s) failed and were rolled back whole; the server log says why, and the next run tries again", rep.Failed)
	}
	return err
}

// printRetention writes a run's erasures as a table and a summary line.
func printRetention(w io.Writer, rep *contexts.RetentionReport) {
	verb := "erased"
	if rep.DryRun {
		verb = "would erase"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tRECORD\tSINCE\tROWS\tWHY")
	for _, e := range rep.Erasures {
		var n int64
		for _, v := range e.Rows {
			n += v
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", e.Kind, e.Record, e.Since.UTC().Format(time.DateOnly), n, e.Why)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "retention run %d (%s): %s %d record(s) under the policy (young people %d years after their last record, closed contexts %d years after closure); %d failed\n",
		rep.RunID, rep.How, verb, len(rep.Erasures), rep.Policy.YoungPersonYears, rep.Policy.ClosedContextYears, rep.Failed)
}
