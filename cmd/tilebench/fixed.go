package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// fixedBody is one encoding of the control's response: the headers and
// body a ctxmap tile response had, minus what changes per response.
type fixedBody struct {
	header http.Header
	body   []byte
}

// runFixed serves the control of the cached-tile benchmark: a plain Go
// net/http server answering every GET with one fixed body, gzip or
// identity by Accept-Encoding, with the headers ctxmap sent for it. The
// bodies and headers are copied from a real ctxmap tile (-from), so the
// two servers put the same bytes on the wire and the ratio of their
// throughputs is what ctxmap's handler chain costs. No router, no auth,
// no log, no metrics.
func runFixed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fixed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8082", "listen address")
	from := fs.String("from", "", "URL of the tile to copy (a ctxmap heat tile)")
	var hdrs headerList
	fs.Var(&hdrs, "H", `header sent when copying (repeatable), e.g. the Authorization`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("fixed: -from is required")
	}
	h, err := parseHeaders(hdrs)
	if err != nil {
		return fmt.Errorf("fixed: %w", err)
	}
	gz, err := copyResponse(ctx, *from, h, "gzip")
	if err != nil {
		return err
	}
	raw, err := copyResponse(ctx, *from, h, "")
	if err != nil {
		return err
	}
	if gz.header.Get("Content-Encoding") != "gzip" || raw.header.Get("Content-Encoding") != "" {
		return fmt.Errorf("fixed: %s did not answer gzip and identity by Accept-Encoding", *from)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: fixedHandler(gz, raw), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(stdout, "tilebench fixed serving on http://%s: gzip %d bytes, identity %d bytes\n", ln.Addr(), len(gz.body), len(raw.body))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// fixedHandler answers every request with gz or raw by Accept-Encoding,
// the way ctxmap chooses (a substring test), with their copied headers.
func fixedHandler(gz, raw fixedBody) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := &raw
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			b = &gz
		}
		dst := w.Header()
		for k, v := range b.header {
			dst[k] = v
		}
		_, _ = w.Write(b.body)
	})
}

// copyResponse fetches url with Accept-Encoding enc (none if empty) and
// keeps its body and headers, except Date, which net/http adds itself.
func copyResponse(ctx context.Context, url string, h http.Header, enc string) (fixedBody, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return fixedBody{}, err
	}
	req.Header = h.Clone()
	req.Header.Del("Accept-Encoding")
	if enc != "" {
		req.Header.Set("Accept-Encoding", enc)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fixedBody{}, fmt.Errorf("fixed: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fixedBody{}, fmt.Errorf("fixed: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fixedBody{}, fmt.Errorf("fixed: GET %s: %s", url, resp.Status)
	}
	out := resp.Header.Clone()
	out.Del("Date")
	return fixedBody{header: out, body: body}, nil
}
