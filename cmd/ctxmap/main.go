// Command ctxmap is the contextual safeguarding map: a PostGIS-backed
// service that geocodes locations of harm from an imported postcode
// directory, records them and context records, and serves anonymised H3
// heat tiles to a web map. This file is the only place that knows every
// package; it turns flags and environment into a Config and wires them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/tiles"
	"github.com/ctxmap/ctxmap/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		var e *ctxmap.Error
		if errors.As(err, &e) {
			fmt.Fprintf(os.Stderr, "ctxmap: %s\n", e.Message)
		} else if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "ctxmap: %v\n", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

var usage = fmt.Sprintf(`ctxmap: contextual safeguarding map

usage:
  ctxmap serve [flags]                         serve the API and the map
  ctxmap migrate up|down|status                manage the database schema
  ctxmap users add --name N --role R --team T [--password-stdin]
  ctxmap users list | disable NAME | set-password NAME (password on stdin)
  ctxmap import postcodes --format onspd|codepoint PATH...
  ctxmap import harm-locations --as USER FILE.csv
  ctxmap import boundary --name NAME FILE.geojson
  ctxmap import allocations FILE.csv             the case system's allocations feed (subject, team)
  ctxmap seed-demo [--center LAT,LON]          synthetic demo data and demo logins
  ctxmap release [--force] [--list]            make a data release now (the map changes only with releases)
  ctxmap retention --dry-run | run             list, or erase, what the retention policy says is due now
  ctxmap version
  ctxmap openapi                               print the OpenAPI 3 document (web/apiclient is generated from it)

Configuration comes from flags or the environment (flags win):
  DATABASE_URL        PostgreSQL URL (required)
  DATABASE_READ_URL   optional streaming replica for published values and postcodes (or CTXMAP_DATABASE_READ_URL)
  CTXMAP_LISTEN       listen address (default 127.0.0.1:8080)
  CTXMAP_SECRET_FILE  file holding the deployment secret (mode 0600); or CTXMAP_SECRET
  CTXMAP_SECRET       deployment secret for keyed hashes of subject ids (>= %[1]d chars)
  CTXMAP_LOG_LEVEL    debug|info|warn|error (default info)
  CTXMAP_LOG_FORMAT   json|text (default json)
  CTXMAP_K            disclosure threshold k (default %[2]d, never below %[3]d)
  CTXMAP_BASEMAP      optional local PMTiles basemap file (OS Open Zoomstack...), served by ctxmap itself
  CTXMAP_BASEMAP_URL  optional raster basemap template; unset keeps the map offline
  CTXMAP_CENTER       map centre "lat,lon" (default Hackney 51.545,-0.055)
  CTXMAP_DB_WAIT      how long serve waits for the database at start (default 30s)
  CTXMAP_TRUSTED_PROXIES  reverse proxies (CIDRs or addresses, comma-separated) whose
                      X-Forwarded-For and X-Forwarded-Proto are believed (default none)
  CTXMAP_SUBJECT_DAILY_CAP      young people new to a user that they may record a day (default 30)
  CTXMAP_BURST_ALERT            new young people at one place from one user that alert admins (default 5)
  CTXMAP_RELEASE_SCHEDULE       monthly (default) or off
  CTXMAP_RELEASE_DAY            day of the month the release for the month before is made (default 5)
  CTXMAP_RELEASE_MIN_INTERVAL   least time between releases an admin may cause (default 168h, >= 24h)
  CTXMAP_RELEASE_WINDOW_MONTHS  complete months a release covers (default 36)
  CTXMAP_RELEASE_KEEP           releases kept (default 24)
  CTXMAP_RETENTION_YOUNG_PERSON_YEARS   erase a young person's records this long after their last (default 7; 0 never)
  CTXMAP_RETENTION_CLOSED_CONTEXT_YEARS erase a context this long after its closure (default 6; 0 never)
  CTXMAP_RETENTION_SCHEDULE     daily (default) or off
  CTXMAP_OIDC_ISSUER            OpenID Connect issuer: offers single sign-on (serve --help lists the
                      CTXMAP_OIDC_* settings; docs/INTEGRATION.md has an Entra ID example)
  CTXMAP_LOCAL_LOGIN            on (default) or off: password sign-in refused, API tokens still work
`, contexts.MinSecretLen, tiles.DefaultK, tiles.MinK)

// Config is everything the commands need, from flags and environment.
type Config struct {
	DatabaseURL string
	// DatabaseReadURL, when set, is a streaming replica of DatabaseURL that
	// serve reads published values and the postcode directory from.
	DatabaseReadURL    string
	Listen             string
	Secret             string
	LogLevel           string
	LogFormat          string
	K                  int
	Basemap            string
	BasemapAttribution string
	// BasemapFile is a local PMTiles archive served as the basemap.
	BasemapFile     string
	CenterLat       float64
	CenterLon       float64
	MaxBodyBytes    int64
	ShutdownGrace   time.Duration
	TileCacheBytes  int64
	ReleasePoll     time.Duration
	SecretFile      string
	SubjectDailyCap int
	BurstAlert      int
	DBWait          time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto the server believes (parseTrustedProxies).
	TrustedProxies []netip.Prefix
	// ValidateResponses is serve --validate-responses, for test suites.
	ValidateResponses bool
	// AllocationsRequired: practitioners record for and link only young
	// people the case system's allocations feed gives their team.
	AllocationsRequired bool
	trustedProxiesText  string
	// oidc are serve's single sign-on flags (oidc.go).
	oidc oidcFlags
	// OIDC and PasswordLoginOff are what they say, checked.
	OIDC             web.OIDCConfig
	PasswordLoginOff bool
	release          releaseFlags
	retention        retentionFlags
	centerText       func() string
	kText            func() string
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// newFlags makes a subcommand's flag set with the shared configuration
// flags bound; usage and errors go to stderr.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *Config) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, bindConfig(fs)
}

// bindConfig registers the shared flags with defaults from the environment.
func bindConfig(fs *flag.FlagSet) *Config {
	c := &Config{}
	c.DatabaseURL = env("DATABASE_URL", "")
	fs.Var(hidden{&c.DatabaseURL}, "database-url", "PostgreSQL URL (DATABASE_URL)")
	c.DatabaseReadURL = env("CTXMAP_DATABASE_READ_URL", env("DATABASE_READ_URL", ""))
	fs.Var(hidden{&c.DatabaseReadURL}, "database-read-url",
		"optional PostgreSQL streaming replica of the database for reads that tolerate lag: published values and postcodes (CTXMAP_DATABASE_READ_URL or DATABASE_READ_URL; unset: all on the primary)")
	fs.StringVar(&c.Listen, "listen", env("CTXMAP_LISTEN", "127.0.0.1:8080"), "listen address (CTXMAP_LISTEN)")
	c.Secret = env("CTXMAP_SECRET", "")
	fs.Var(hidden{&c.Secret}, "secret", "deployment secret for keyed hashes (CTXMAP_SECRET); prefer --secret-file")
	fs.StringVar(&c.SecretFile, "secret-file", env("CTXMAP_SECRET_FILE", ""), "file holding the deployment secret, readable by its owner only (CTXMAP_SECRET_FILE)")
	fs.StringVar(&c.LogLevel, "log-level", env("CTXMAP_LOG_LEVEL", "info"), "debug|info|warn|error (CTXMAP_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("CTXMAP_LOG_FORMAT", "json"), "json|text (CTXMAP_LOG_FORMAT)")
	kText := env("CTXMAP_K", strconv.Itoa(tiles.DefaultK))
	fs.Func("k", fmt.Sprintf("disclosure threshold: cells with fewer distinct young people are never shown (CTXMAP_K, default %d, >= %d)", tiles.DefaultK, tiles.MinK), func(v string) error {
		kText = v
		return nil
	})
	fs.StringVar(&c.Basemap, "basemap-url", env("CTXMAP_BASEMAP_URL", ""), "optional raster basemap URL template (CTXMAP_BASEMAP_URL)")
	fs.StringVar(&c.BasemapFile, "basemap", env("CTXMAP_BASEMAP", ""), "optional local PMTiles basemap file (e.g. OS Open Zoomstack), served by ctxmap itself (CTXMAP_BASEMAP)")
	fs.StringVar(&c.BasemapAttribution, "basemap-attribution", env("CTXMAP_BASEMAP_ATTRIBUTION", "© OpenStreetMap contributors"), "attribution for the basemap")
	center := env("CTXMAP_CENTER", "51.545,-0.055")
	fs.Func("center", "map centre lat,lon (CTXMAP_CENTER)", func(v string) error { center = v; return nil })
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 1<<20, "request body limit in bytes")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 25*time.Second, "how long in-flight requests may run after SIGTERM")
	fs.Int64Var(&c.TileCacheBytes, "tile-cache-bytes", 256<<20, "memory for encoded tiles")
	dbWait, err := time.ParseDuration(env("CTXMAP_DB_WAIT", "30s"))
	if err != nil {
		dbWait = 30 * time.Second
	}
	fs.DurationVar(&c.DBWait, "db-wait", dbWait, "how long serve waits for an unreachable database before giving up (CTXMAP_DB_WAIT)")
	fs.IntVar(&c.SubjectDailyCap, "subject-daily-cap", envInt("CTXMAP_SUBJECT_DAILY_CAP", 30),
		"young people new to a user that the user may record in 24 hours (CTXMAP_SUBJECT_DAILY_CAP)")
	fs.IntVar(&c.BurstAlert, "burst-alert", envInt("CTXMAP_BURST_ALERT", 5),
		"young people new to one user at one place within 24 hours that alert the admins (CTXMAP_BURST_ALERT)")
	fs.StringVar(&c.trustedProxiesText, "trusted-proxy", env("CTXMAP_TRUSTED_PROXIES", ""),
		"reverse proxies, CIDRs or addresses comma-separated, whose X-Forwarded-For (client address for the login limit) and X-Forwarded-Proto (Secure cookies) are believed; empty trusts none (CTXMAP_TRUSTED_PROXIES)")
	fs.Func("allocations", "required: practitioners may record for and link only young people the case system's allocations feed allocates to their team; off (default) (CTXMAP_ALLOCATIONS)", func(v string) error {
		switch v {
		case "required":
			c.AllocationsRequired = true
		case "off", "":
			c.AllocationsRequired = false
		default:
			return fmt.Errorf("--allocations must be required or off, not %q", v)
		}
		return nil
	})
	c.AllocationsRequired = env("CTXMAP_ALLOCATIONS", "off") == "required"
	fs.DurationVar(&c.ReleasePoll, "release-poll", tiles.DefaultReleasePoll, "how often a server looks for a newer data release")
	bindReleaseFlags(c, fs)
	bindRetentionFlags(c, fs)
	c.centerText = func() string { return center }
	c.kText = func() string { return kText }
	return c
}

// envInt reads a whole number from the environment; a value that is not one
// is left to the flag's own parsing by returning def, so the mistake is
// reported when the flag is given and otherwise the default holds.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(strings.TrimSpace(env(name, ""))); err == nil {
		return v
	}
	return def
}

// hidden is a string flag whose value never appears in usage text: the
// secret and the database URL (with its password) must not reach a
// terminal or a journal because someone typed --help.
type hidden struct{ p *string }

func (h hidden) String() string { return "" }

func (h hidden) Set(v string) error { *h.p = v; return nil }

// parseK reads the threshold strictly: an operator who set a stricter k
// must never silently get the default.
func (c *Config) parseK() error {
	k, err := strconv.Atoi(strings.TrimSpace(c.kText()))
	if err != nil {
		return fmt.Errorf("k (CTXMAP_K): %q is not a whole number", c.kText())
	}
	if k < tiles.MinK {
		return fmt.Errorf("k (CTXMAP_K): %d is below the minimum of %d", k, tiles.MinK)
	}
	c.K = k
	return nil
}

// parseTrustedProxies reads the trusted proxy list strictly: a typo must
// not silently trust nobody (or everybody). A bare address is a one-address
// prefix.
func (c *Config) parseTrustedProxies() error {
	c.TrustedProxies = nil
	for _, f := range strings.FieldsFunc(c.trustedProxiesText, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return fmt.Errorf("trusted proxy (CTXMAP_TRUSTED_PROXIES): %q is neither a CIDR nor an address", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if !p.IsValid() {
			return fmt.Errorf("trusted proxy (CTXMAP_TRUSTED_PROXIES): %q is not a valid prefix", f)
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

// parseCenter runs after flag parsing so the flag and env are handled alike.
func (c *Config) parseCenter() error {
	lat, lon, ok := strings.Cut(c.centerText(), ",")
	var err1, err2 error
	if ok {
		c.CenterLat, err1 = strconv.ParseFloat(strings.TrimSpace(lat), 64)
		c.CenterLon, err2 = strconv.ParseFloat(strings.TrimSpace(lon), 64)
	}
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("center: want lat,lon, got %q", c.centerText())
	}
	return nil
}

func (c *Config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use json or text", c.LogFormat)
}

func (c *Config) needDB() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (make run sets up a private PostGIS and sets it)")
	}
	return nil
}

func (c *Config) needSecret() error {
	if c.SecretFile != "" {
		if c.Secret != "" {
			return errors.New("give the deployment secret once: CTXMAP_SECRET (--secret) or CTXMAP_SECRET_FILE (--secret-file), not both")
		}
		secret, err := readSecretFile(c.SecretFile)
		if err != nil {
			return err
		}
		c.Secret = secret
	}
	if len(c.Secret) < contexts.MinSecretLen {
		return fmt.Errorf("CTXMAP_SECRET must be set to at least %d characters: it keys the hashes of young people's ids, so keep it secret and never change it", contexts.MinSecretLen)
	}
	return nil
}

// readSecretFile reads a secret from a file only its owner may read: a
// secret others can read keys nothing.
func readSecretFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("secret file %s is readable by others (mode %04o): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Run executes one command line; main and the end-to-end tests share it.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "users":
		return runUsers(ctx, rest, stdin, stdout, stderr)
	case "import":
		return runImport(ctx, rest, stdout, stderr)
	case "seed-demo":
		return runSeedDemo(ctx, rest, stdout, stderr)
	case "release":
		return runRelease(ctx, rest, stdout, stderr)
	case "retention":
		return runRetention(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "ctxmap", version)
		return nil
	case "openapi":
		// The API's document, for client generators; it needs no
		// database (web/apiclient is generated from it).
		b, err := web.New(web.Config{}, web.Deps{}).OpenAPI()
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

// parseArgs parses flags wherever they appear, so "migrate status --k 5"
// and "migrate --k 5 status" both work; positional arguments keep their
// order and are left in fs.Args().
func parseArgs(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}
