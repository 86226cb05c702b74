package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// headerList collects repeated -H flags.
type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// loadConfig is one load run: every path requested once per round by c
// concurrent keep-alive connections.
type loadConfig struct {
	base     string
	paths    []string
	conc     int
	rounds   int
	headers  http.Header
	release  []string      // command run before each round to make a release
	relWait  time.Duration // bound on waiting for the server to serve it
	warm     string        // path requested alone at the start of each round
	label    string
	timeout  time.Duration
	deadline time.Duration // bound on the whole run
}

// result is one request's outcome.
type result struct {
	d     time.Duration
	ok    bool
	bytes int
}

// runLoad requests each distinct path once per round and reports latency
// percentiles and throughput. With -release it first runs the command
// (`ctxmap release --force`) and waits until the server's /api/v1/config
// names a new release: ctxmap's caches hold only the previous release's
// sets and tiles, so the -warm request pays for loading the new release's
// published set, and the round measures the first request of every tile
// of the new release. Bounded by -deadline.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c loadConfig
	var hdrs headerList
	fs.StringVar(&c.base, "base", "", "server origin, e.g. http://127.0.0.1:8080")
	pathsFile := fs.String("paths", "", "file with one path per line (else the arguments)")
	fs.IntVar(&c.conc, "c", 8, "concurrent connections")
	fs.IntVar(&c.rounds, "rounds", 1, "passes over the paths")
	fs.Var(&hdrs, "H", `request header "Name: value" (repeatable)`)
	releaseCmd := fs.String("release", "", `command making a release before each round, e.g. "bin/ctxmap release --force" (split on spaces)`)
	fs.DurationVar(&c.relWait, "release-wait", 5*time.Minute, "bound on one release: the command and the server finding it")
	fs.StringVar(&c.warm, "warm", "", "path requested alone at the start of each round (timed separately)")
	fs.StringVar(&c.label, "label", "load", "name printed with the results")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.DurationVar(&c.deadline, "deadline", 5*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.base == "" {
		return errors.New("load: -base is required")
	}
	c.paths = fs.Args()
	if *pathsFile != "" {
		p, err := readLines(*pathsFile)
		if err != nil {
			return err
		}
		c.paths = append(c.paths, p...)
	}
	if len(c.paths) == 0 {
		return errors.New("load: no paths")
	}
	c.release = strings.Fields(*releaseCmd)
	var err error
	if c.headers, err = parseHeaders(hdrs); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.deadline)
	defer cancel()
	return load(ctx, c, stdout)
}

func load(ctx context.Context, c loadConfig, stdout io.Writer) error {
	tr := &http.Transport{
		// Headers are sent as given (wrk and browsers send Accept-Encoding:
		// gzip); the client never decompresses, like wrk.
		DisableCompression:  true,
		MaxIdleConns:        c.conc,
		MaxIdleConnsPerHost: c.conc,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: c.timeout}
	get := func(path string) result {
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
		if err != nil {
			return result{}
		}
		req.Header = c.headers.Clone()
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return result{d: time.Since(start)}
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return result{d: time.Since(start), ok: err == nil && resp.StatusCode == http.StatusOK, bytes: int(n)}
	}
	var all, warms []result
	var allElapsed time.Duration
	var releases []time.Duration
	for round := 1; round <= c.rounds; round++ {
		if len(c.release) > 0 {
			nr, err := newRelease(ctx, client, c, stdout)
			if err != nil {
				return err
			}
			releases = append(releases, nr.wall)
			fmt.Fprintf(stdout, "%s round %d: release %d made in %s, served %s after the command ended\n",
				c.label, round, nr.id, ms(nr.wall), ms(nr.seen))
		}
		if c.warm != "" {
			w := get(c.warm)
			warms = append(warms, w)
			fmt.Fprintf(stdout, "%s round %d: warm-up %s %s ok=%v\n", c.label, round, c.warm, ms(w.d), w.ok)
		}
		res, elapsed := pass(c, get)
		all = append(all, res...)
		allElapsed += elapsed
		fmt.Fprintf(stdout, "%s round %d: %s\n", c.label, round, summarize(res, elapsed))
		if ctx.Err() != nil {
			return fmt.Errorf("load: %w", ctx.Err())
		}
	}
	if c.rounds > 1 {
		fmt.Fprintf(stdout, "%s all rounds: %s\n", c.label, summarize(all, allElapsed))
	}
	if len(warms) > 0 {
		d := durations(warms)
		fmt.Fprintf(stdout, "%s warm-ups: n=%d p50=%s min=%s max=%s\n", c.label, len(d), ms(pct(d, 50)), ms(d[0]), ms(d[len(d)-1]))
	}
	// One machine-readable line for scripts/bench-tiles.sh.
	d := durations(all)
	fmt.Fprintf(stdout, "RESULT label=%s n=%d errors=%d tiles_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f",
		c.label, len(all), countErrors(all), float64(len(all))/allElapsed.Seconds(),
		msf(pct(d, 50)), msf(pct(d, 90)), msf(pct(d, 99)), msf(d[len(d)-1]))
	if len(warms) > 0 {
		w := durations(warms)
		fmt.Fprintf(stdout, " warm_p50_ms=%.1f warm_max_ms=%.1f", msf(pct(w, 50)), msf(w[len(w)-1]))
	}
	if len(releases) > 0 {
		slices.Sort(releases)
		fmt.Fprintf(stdout, " release_p50_s=%.1f release_max_s=%.1f", pct(releases, 50).Seconds(), releases[len(releases)-1].Seconds())
	}
	fmt.Fprintln(stdout)
	if countErrors(all) > 0 {
		return fmt.Errorf("load: %d of %d requests failed", countErrors(all), len(all))
	}
	return nil
}

// pass requests every path once with c.conc workers.
func pass(c loadConfig, get func(string) result) ([]result, time.Duration) {
	res := make([]result, len(c.paths))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c.conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(c.paths) {
					return
				}
				res[i] = get(c.paths[i])
			}
		}()
	}
	wg.Wait()
	return res, time.Since(start)
}

func summarize(res []result, elapsed time.Duration) string {
	d := durations(res)
	var bytes int
	for _, r := range res {
		bytes += r.bytes
	}
	return fmt.Sprintf("n=%d errors=%d %.0f tiles/s p50=%s p90=%s p99=%s max=%s mean_bytes=%d",
		len(res), countErrors(res), float64(len(res))/elapsed.Seconds(),
		ms(pct(d, 50)), ms(pct(d, 90)), ms(pct(d, 99)), ms(d[len(d)-1]), bytes/len(res))
}

func durations(res []result) []time.Duration {
	d := make([]time.Duration, len(res))
	for i, r := range res {
		d[i] = r.d
	}
	slices.Sort(d)
	return d
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func countErrors(res []result) int {
	n := 0
	for _, r := range res {
		if !r.ok {
			n++
		}
	}
	return n
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func ms(d time.Duration) string   { return strconv.FormatFloat(msf(d), 'f', 2, 64) + "ms" }

// parseHeaders turns repeated -H "Name: value" flags into a header.
func parseHeaders(hdrs []string) (http.Header, error) {
	h := http.Header{}
	for _, v := range hdrs {
		name, value, ok := strings.Cut(v, ":")
		if !ok {
			return nil, fmt.Errorf("header %q is not Name: value", v)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return h, nil
}

func readLines(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// runWait polls a URL until it answers 200, for scripts starting servers.
func runWait(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "URL to poll")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, "GET", *url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait: %s did not answer 200 within %s", *url, *timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runFreePort prints a TCP port on 127.0.0.1 that was free a moment ago.
func runFreePort(stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, port)
	return err
}
