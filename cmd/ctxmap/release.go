package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/tiles"
)

// releaseFlags are the release settings (PRIVACY.md rule 12), shared by
// serve (the schedule) and release (the operator's command). Values come
// from flags or the environment and are checked by tiles.NewReleaser.
type releaseFlags struct {
	window, keep, day     string
	minInterval, schedule string
}

func bindReleaseFlags(c *Config, fs interface {
	Func(name, usage string, fn func(string) error)
}) {
	r := &c.release
	r.window = env("CTXMAP_RELEASE_WINDOW_MONTHS", strconv.Itoa(tiles.DefaultWindowMonths))
	r.keep = env("CTXMAP_RELEASE_KEEP", strconv.Itoa(tiles.DefaultKeep))
	r.day = env("CTXMAP_RELEASE_DAY", strconv.Itoa(tiles.DefaultReleaseDay))
	r.minInterval = env("CTXMAP_RELEASE_MIN_INTERVAL", tiles.DefaultMinInterval.String())
	r.schedule = env("CTXMAP_RELEASE_SCHEDULE", "monthly")
	set := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	fs.Func("release-window-months", "complete months a release covers (CTXMAP_RELEASE_WINDOW_MONTHS, default 36)", set(&r.window))
	fs.Func("release-keep", "releases kept, so reports can say what changed (CTXMAP_RELEASE_KEEP, default 24)", set(&r.keep))
	fs.Func("release-day", "day of the month (1-28) the scheduled release for the month before is made (CTXMAP_RELEASE_DAY, default 5)", set(&r.day))
	fs.Func("release-min-interval", "least time between releases an admin may cause, never below 24h (CTXMAP_RELEASE_MIN_INTERVAL, default 168h)", set(&r.minInterval))
	fs.Func("release-schedule", "monthly or off (CTXMAP_RELEASE_SCHEDULE)", set(&r.schedule))
}

// releaseConfig parses the release settings.
func (c *Config) releaseConfig() (tiles.ReleaseConfig, error) {
	r := c.release
	var out tiles.ReleaseConfig
	num := func(name, v string, p *int) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number", name, v)
		}
		*p = n
		return nil
	}
	if err := errors.Join(num("release-window-months", r.window, &out.WindowMonths), num("release-keep", r.keep, &out.Keep),
		num("release-day", r.day, &out.Day)); err != nil {
		return out, err
	}
	d, err := time.ParseDuration(strings.TrimSpace(r.minInterval))
	if err != nil {
		return out, fmt.Errorf("release-min-interval: %q is not a duration such as 168h", r.minInterval)
	}
	out.MinInterval = d
	switch r.schedule {
	case "monthly":
	case "off":
		out.ScheduledOff = true
	default:
		return out, fmt.Errorf("release-schedule: %q; use monthly or off", r.schedule)
	}
	return out, nil
}

// newReleaser is the releaser every command uses, on the configured k.
func newReleaser(c *Config, store tiles.ReleaseStore) (*tiles.Releaser, error) {
	cfg, err := c.releaseConfig()
	if err != nil {
		return nil, err
	}
	pol, err := tiles.NewPolicy(c.K)
	if err != nil {
		return nil, err
	}
	return tiles.NewReleaser(store, pol, cfg)
}

// runRelease is `ctxmap release [--force]`: the operator on the server's
// host makes a release. Without --force it keeps the minimum interval like
// an admin's request; with it the interval is ignored and the release is
// audit-logged as forced. Every server finds the new release within seconds.
func runRelease(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("release", stderr)
	force := fs.Bool("force", false, "ignore the minimum interval (audit-logged as forced)")
	list := fs.Bool("list", false, "list the kept releases instead of making one")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("release takes no arguments: %w", errUsage)
	}
	if err := c.parseK(); err != nil {
		return err
	}
	pool, err := openMigratedDB(ctx, c, stderr, pg.Options{StatementTimeout: 10 * time.Minute})
	if err != nil {
		return err
	}
	defer pool.Close()
	store := postgres.NewReleases(pool)
	if *list {
		rels, err := store.List(ctx)
		if err != nil {
			return err
		}
		for _, r := range rels {
			changed := "first kept release" // nothing earlier to compare with
			if r.ChangedCells >= 0 {
				changed = fmt.Sprintf("%d changed", r.ChangedCells)
			}
			fmt.Fprintf(stdout, "%d\t%s\t%s..%s\t%s\t%d cells\t%s\n", r.ID, r.DataTime.UTC().Format(time.RFC3339),
				r.Window.First, r.Window.Last, r.How, r.PublishedCells, changed)
		}
		return nil
	}
	rel, err := newReleaser(c, store)
	if err != nil {
		return err
	}
	how := tiles.HowOperator
	if *force {
		how = tiles.HowForced
	}
	info, err := rel.Make(ctx, tiles.MakeRequest{How: how, Force: *force})
	var e *ctxmap.Error
	if errors.As(err, &e) && e.Code == "release_too_soon" {
		return fmt.Errorf("%s (use --force to ignore the interval; it is audit-logged)", e.Message)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "release %d made (%s): data time %s, covering %s to %s, %d sets, %d published cells, %s\n",
		info.ID, info.How, info.DataTime.UTC().Format(time.RFC3339), info.Window.First, info.Window.Last, info.Sets,
		info.PublishedCells, info.Duration.Round(time.Millisecond))
	return nil
}
