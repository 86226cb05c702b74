// Command oidc-testop runs a real OpenID Connect provider for ctxmap's
// browser tests (scripts/browser-test.sh): web/oidctest, which is zitadel's
// example provider with users whose ID tokens carry groups and a team. It
// listens on loopback, prints "issuer URL" once it serves, and runs until
// it is sent SIGTERM or SIGINT. Never for production: its users and keys are
// made up at start.
//
//	oidc-testop --listen 127.0.0.1:0 --client-id ctxmap --client-secret S \
//	  --redirect-glob 'http://127.0.0.1:*/api/v1/auth/oidc/callback' --post-logout-glob 'http://127.0.0.1:*/' \
//	  --user 'jo.bloggs:PASSWORD:grp-practitioners;grp-other:Hackney North'
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ctxmap/ctxmap/web"
	"github.com/ctxmap/ctxmap/web/oidctest"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "oidc-testop:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	cfg := oidctest.Config{}
	flag.StringVar(&cfg.ClientID, "client-id", "ctxmap", "the one client's id")
	flag.StringVar(&cfg.ClientSecret, "client-secret", "", "the client's secret")
	var redirects, logouts, users repeated
	flag.Var(&redirects, "redirect-glob", "allowed redirect URI pattern (repeatable)")
	flag.Var(&logouts, "post-logout-glob", "allowed post-logout redirect URI pattern (repeatable)")
	flag.Var(&users, "user", "NAME:PASSWORD:GROUP;GROUP:TEAM, a user who may sign in (repeatable; groups and team may be empty)")
	flag.Parse()
	cfg.RedirectGlobs, cfg.PostLogoutGlobs = redirects, logouts
	for i, u := range users {
		f := strings.SplitN(u, ":", 4)
		if len(f) != 4 || f[0] == "" || f[1] == "" {
			return fmt.Errorf("--user %q: want NAME:PASSWORD:GROUPS:TEAM", u)
		}
		var groups []string
		for _, g := range strings.Split(f[2], ";") {
			if g = strings.TrimSpace(g); g != "" {
				groups = append(groups, g)
			}
		}
		cfg.Users = append(cfg.Users, oidctest.User{ID: fmt.Sprintf("user-%d", i+1), Username: f[0], Password: f[1],
			Email: f[0] + "@example.org", Groups: groups, Team: f[3]})
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %s: a test provider listens on loopback only", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	issuer := fmt.Sprintf("http://%s/", ln.Addr())
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := oidctest.New(issuer, cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := web.NewHTTPServer(h)
	fmt.Printf("issuer %s\n", issuer)
	return web.Serve(ctx, srv, func() error { return srv.Serve(ln) }, 5*time.Second)
}
