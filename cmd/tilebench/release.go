package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// releaseID asks a ctxmap server which data release it serves: the id in
// GET /api/v1/config, what the map shows. A server finds a release made
// elsewhere (by `ctxmap release`) at its next poll, so this, not the
// command's exit, is when the new release's tiles start to be served.
func releaseID(ctx context.Context, client *http.Client, base string, headers http.Header) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/config", nil)
	if err != nil {
		return 0, err
	}
	req.Header = headers.Clone()
	req.Header.Del("Accept-Encoding") // the client decompresses nothing
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("GET /api/v1/config: %s", resp.Status)
	}
	var cfg struct {
		Release struct {
			ID int64 `json:"id"`
		} `json:"release"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		return 0, fmt.Errorf("GET /api/v1/config: %w", err)
	}
	return cfg.Release.ID, nil
}

// waitRelease polls the server until it serves a release other than after.
func waitRelease(ctx context.Context, client *http.Client, base string, headers http.Header, after int64) (int64, error) {
	for {
		id, err := releaseID(ctx, client, base, headers)
		if err == nil && id != after {
			return id, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("still release %d", after)
			}
			return 0, fmt.Errorf("waiting for a release after %d: %w (%w)", after, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// madeRelease is one release made between load rounds.
type madeRelease struct {
	id   int64
	wall time.Duration // the command, start to exit
	seen time.Duration // from the command's exit until the server served it
}

// newRelease runs c.release (the operator's `ctxmap release --force`) and
// waits until the server serves the release it made.
func newRelease(ctx context.Context, client *http.Client, c loadConfig, stdout io.Writer) (madeRelease, error) {
	ctx, cancel := context.WithTimeout(ctx, c.relWait)
	defer cancel()
	before, err := releaseID(ctx, client, c.base, c.headers)
	if err != nil {
		return madeRelease{}, fmt.Errorf("load: %w", err)
	}
	cmd := exec.CommandContext(ctx, c.release[0], c.release[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return madeRelease{}, fmt.Errorf("load: %v: %w", c.release, err)
	}
	r := madeRelease{wall: time.Since(start)}
	ended := time.Now()
	if r.id, err = waitRelease(ctx, client, c.base, c.headers, before); err != nil {
		return madeRelease{}, fmt.Errorf("load: %w", err)
	}
	r.seen = time.Since(ended)
	return r, nil
}

// runReleaseID prints the release a server serves; with -after ID it first
// waits until that is another release, for scripts that make one.
func runReleaseID(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("releaseid", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("base", "", "server origin, e.g. http://127.0.0.1:8080")
	var hdrs headerList
	fs.Var(&hdrs, "H", `request header "Name: value" (repeatable), e.g. the Authorization`)
	after := fs.Int64("after", -1, "wait until the server serves a release other than this id")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		return errors.New("releaseid: -base is required")
	}
	h, err := parseHeaders(hdrs)
	if err != nil {
		return fmt.Errorf("releaseid: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	var id int64
	if *after >= 0 {
		id, err = waitRelease(ctx, client, *base, h, *after)
	} else {
		id, err = releaseID(ctx, client, *base, h)
	}
	if err != nil {
		return fmt.Errorf("releaseid: %w", err)
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}
