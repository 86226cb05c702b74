package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/ctxmap/ctxmap/contexts"
)

// WebhookConfig configures deliveries to the case management system.
type WebhookConfig struct {
	URL    string // the receiver; https in production
	Secret []byte // the HMAC key shared with the receiver
	// RetryBase is the first retry's delay; each later one doubles, up to
	// an hour. Default 30 s; tests make it short.
	RetryBase time.Duration
	// MaxAttempts before a delivery is given up (and kept, discarded, in
	// the queue's table for the operator). Default 25: a day and more.
	MaxAttempts int
	Logger      *slog.Logger
}

// MinWebhookSecret is the shortest webhook secret accepted.
const MinWebhookSecret = 32

// Webhooks delivers context changes to the case system through a
// PostgreSQL-backed job queue (riverqueue/river): a change is queued in the
// transaction that makes it, so it is delivered exactly when the change
// commits, and a delivery that fails is retried with backoff across
// restarts of every process; any number of replicas share the queue.
type Webhooks struct {
	cfg    WebhookConfig
	client *river.Client[pgx.Tx]
	http   *http.Client
}

// webhookArgs is a queued delivery.
type webhookArgs struct {
	Change contexts.WebhookChange `json:"change"`
}

// Kind names the job in the queue's table.
func (webhookArgs) Kind() string { return "context_webhook" }

type webhookWorker struct {
	river.WorkerDefaults[webhookArgs]
	w *Webhooks
}

// NewWebhooks makes the queue's client on pool. Start it to deliver.
func NewWebhooks(pool *pgxpool.Pool, cfg WebhookConfig) (*Webhooks, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("webhooks: no receiver URL")
	}
	if len(cfg.Secret) < MinWebhookSecret {
		return nil, fmt.Errorf("webhooks: the secret must be at least %d bytes", MinWebhookSecret)
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 25
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Webhooks{cfg: cfg, http: &http.Client{Timeout: 10 * time.Second}}
	workers := river.NewWorkers()
	river.AddWorker(workers, &webhookWorker{w: w})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		MaxAttempts:       cfg.MaxAttempts,
		FetchPollInterval: 200 * time.Millisecond,
		Logger:            cfg.Logger.With("component", "webhooks"),
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	w.client = client
	return w, nil
}

// Start delivers queued changes until Stop.
func (w *Webhooks) Start(ctx context.Context) error { return w.client.Start(ctx) }

// Stop lets deliveries in flight finish (within ctx) and stops.
func (w *Webhooks) Stop(ctx context.Context) error { return w.client.Stop(ctx) }

// enqueue queues c in tx, so it is delivered only if tx commits.
func (w *Webhooks) enqueue(ctx context.Context, tx pgx.Tx, c contexts.WebhookChange) error {
	if _, err := w.client.InsertTx(ctx, tx, webhookArgs{Change: c}, nil); err != nil {
		return fmt.Errorf("queue webhook: %w", err)
	}
	return nil
}

// Work delivers one change; an error (a failed connection, any answer but
// 2xx) makes the queue retry it.
func (ww *webhookWorker) Work(ctx context.Context, job *river.Job[webhookArgs]) error {
	w := ww.w
	body, err := json.Marshal(job.Args.Change)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(contexts.WebhookIDHeader, strconv.FormatInt(job.Args.Change.ID, 10))
	req.Header.Set(contexts.WebhookTimestampHeader, ts)
	req.Header.Set(contexts.WebhookSignatureHeader, contexts.WebhookSignature(w.cfg.Secret, ts, body))
	resp, err := w.http.Do(req)
	if err != nil {
		return fmt.Errorf("webhook delivery %d (attempt %d): %w", job.Args.Change.ID, job.Attempt, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook delivery %d (attempt %d): the receiver answered %d", job.Args.Change.ID, job.Attempt, resp.StatusCode)
	}
	return nil
}

// NextRetry doubles the delay from RetryBase, up to an hour.
func (ww *webhookWorker) NextRetry(job *river.Job[webhookArgs]) time.Time {
	d := ww.w.cfg.RetryBase
	for i := 1; i < job.Attempt && d < time.Hour; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, time.Hour))
}

// WithWebhooks makes every change to a context with linked young people
// queue a delivery to the case system (issue 15).
func WithWebhooks(w *Webhooks) Option { return func(s *Store) { s.webhooks = w } }

// queueChange queues the case system's delivery for a chronology event of
// a context with active links, in the event's transaction. Links and
// unlinks are not changes to the context, and demo data tells nobody.
func (s *Store) queueChange(ctx context.Context, tx pgx.Tx, contextID, eventID int64, event, summary string) error {
	if s.webhooks == nil || s.demo || event == contexts.EventLinked || event == contexts.EventUnlinked {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT l.id, t.name FROM context_links l JOIN teams t ON t.id = l.team_id
		WHERE l.context_id = $1 AND l.unlinked_at IS NULL ORDER BY l.id`, contextID)
	if err != nil {
		return fmt.Errorf("webhook links: %w", err)
	}
	links, err := pgx.CollectRows(rows, pgx.RowToStructByPos[contexts.LinkedTeam])
	if err != nil {
		return fmt.Errorf("webhook links: %w", err)
	}
	if len(links) == 0 {
		return nil
	}
	c := contexts.WebhookChange{ID: eventID, Event: event, ContextID: contextID, Summary: summary, Links: links}
	if err := tx.QueryRow(ctx, `SELECT c.display_name, e.at FROM contexts c JOIN context_events e ON e.context_id = c.id
		WHERE e.id = $1`, eventID).Scan(&c.Context, &c.At); err != nil {
		return fmt.Errorf("webhook context: %w", err)
	}
	return s.webhooks.enqueue(ctx, tx, c)
}
