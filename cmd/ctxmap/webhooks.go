package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap/contexts/postgres"
)

// webhookFlags configure deliveries to the case system (issue 15). The
// secret comes from the environment or a file, never the command line,
// where any user of the host could read it in the process list.
type webhookFlags struct {
	url        string
	secret     string
	secretFile string
	retryBase  time.Duration
}

func bindWebhookFlags(fs *flag.FlagSet) *webhookFlags {
	w := &webhookFlags{secret: env("CTXMAP_WEBHOOK_SECRET", "")}
	fs.StringVar(&w.url, "webhook-url", env("CTXMAP_WEBHOOK_URL", ""),
		"the case system's receiver for changes to contexts with linked young people; empty sends none (CTXMAP_WEBHOOK_URL)")
	fs.StringVar(&w.secretFile, "webhook-secret-file", env("CTXMAP_WEBHOOK_SECRET_FILE", ""),
		"file holding the HMAC key shared with the receiver (or CTXMAP_WEBHOOK_SECRET; at least 32 bytes)")
	fs.DurationVar(&w.retryBase, "webhook-retry-base", 30*time.Second,
		"delay before a failed delivery's first retry; each later one doubles, up to an hour")
	return w
}

// start makes and starts the delivery queue's client, or returns nil when
// no receiver is configured. Stop it before the pool closes.
func (w *webhookFlags) start(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (*postgres.Webhooks, error) {
	if w.url == "" {
		if w.secret != "" || w.secretFile != "" {
			return nil, errors.New("a webhook secret is set but no --webhook-url (CTXMAP_WEBHOOK_URL)")
		}
		return nil, nil
	}
	if u, err := url.Parse(w.url); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--webhook-url %q is not an http(s) URL", w.url)
	}
	if w.secretFile != "" {
		if w.secret != "" {
			return nil, errors.New("give the webhook secret once: CTXMAP_WEBHOOK_SECRET or --webhook-secret-file, not both")
		}
		s, err := readSecretFile(w.secretFile)
		if err != nil {
			return nil, fmt.Errorf("webhook %w", err)
		}
		w.secret = s
	}
	hooks, err := postgres.NewWebhooks(pool, postgres.WebhookConfig{URL: w.url, Secret: []byte(w.secret), RetryBase: w.retryBase, Logger: log})
	if err != nil {
		return nil, err
	}
	// The queue outlives ctx's cancellation until Stop, so deliveries in
	// flight at SIGTERM finish instead of being cut off mid-request.
	if err := hooks.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return hooks, nil
}
