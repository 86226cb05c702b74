package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/paulmach/orb/encoding/mvt"
)

// runMVTInfo fetches one tile and describes it (layers, features, the sum
// of the value property), so a run can show that both servers draw
// comparable hexagons for the same URL.
func runMVTInfo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mvtinfo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var hdrs headerList
	fs.Var(&hdrs, "H", `request header "Name: value" (repeatable)`)
	label := fs.String("label", "tile", "name printed with the result")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: tilebench mvtinfo [-H header]... URL")
	}
	req, err := http.NewRequest("GET", fs.Arg(0), nil)
	if err != nil {
		return err
	}
	for _, h := range hdrs {
		if name, value, ok := strings.Cut(h, ":"); ok {
			req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mvtinfo: %s: %s", resp.Status, b)
	}
	wire := len(b)
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return err
		}
		if b, err = io.ReadAll(zr); err != nil {
			return err
		}
	}
	layers, err := mvt.Unmarshal(b)
	if err != nil {
		return err
	}
	for _, l := range layers {
		var sum float64
		for _, f := range l.Features {
			if v, ok := f.Properties["value"].(float64); ok {
				sum += v
			}
		}
		fmt.Fprintf(stdout, "%s: %d bytes on the wire (%s), %d as MVT; layer %q extent %d: %d features, sum of value %.0f\n",
			*label, wire, orIdentity(resp.Header.Get("Content-Encoding")), len(b), l.Name, l.Extent, len(l.Features), sum)
	}
	return nil
}

func orIdentity(enc string) string {
	if enc == "" {
		return "identity"
	}
	return enc
}
