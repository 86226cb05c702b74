package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctxmap/ctxmap"
	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/tiles"
)

// baseline serves heat tiles the way a pg_tileserv function layer does:
// every request calls the SQL function, which aggregates and encodes the
// tile with ST_AsMVT. There is no tile cache, no gzip and no access log:
// each is something ctxmap pays for and the baseline does not.
type baseline struct {
	pool *pgxpool.Pool
	k    int
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "listen address")
	k := fs.Int("k", tiles.DefaultK, "threshold: cells with fewer distinct young people are left out")
	maxConns := fs.Int("max-conns", 4, "database connections (pg_tileserv's default pool size is 4)")
	floorBytes := fs.Int("floor-bytes", 2400, "size of the fixed body served at /floor")
	if err := fs.Parse(args); err != nil {
		return err
	}
	url, err := benchDatabaseURL(*k)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	pool, err := pg.Connect(ctx, url, log, pg.Options{MaxConns: int32(*maxConns)})
	if err != nil {
		return err
	}
	defer pool.Close()
	b := &baseline{pool: pool, k: *k}
	r := mux.NewRouter()
	r.HandleFunc("/tiles/heat/{z:[0-9]+}/{x:[0-9]+}/{y:[0-9]+}.mvt", b.heatTile).Methods("GET")
	// The floor: a fixed in-memory body through the same router, no
	// database, no auth, no logging; what any cached tile server on this
	// machine can at best do, to tell the machine's limits from the code's.
	floor := make([]byte, *floorBytes)
	_, _ = rand.NewChaCha8([32]byte{}).Read(floor) // incompressible, like a gzipped tile
	r.HandleFunc("/floor/{z:[0-9]+}/{x:[0-9]+}/{y:[0-9]+}.mvt", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/vnd.mapbox-vector-tile")
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(len(floor)))
		_, _ = w.Write(floor)
	}).Methods("GET")
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := pool.Ping(r.Context()); err != nil {
			httpError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	}).Methods("GET")
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(stdout, "tilebench baseline serving on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// heatTile handles GET /tiles/heat/{z}/{x}/{y}.mvt?layer=&category=&period=
// with ctxmap's defaults (harm, all categories, last-12m) and its tile and
// period validation.
func (b *baseline) heatTile(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	t, err := tiles.ParseTile(v["z"], v["x"], v["y"])
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	layer := ctxmap.Layer(q.Get("layer"))
	if layer == "" {
		layer = tiles.DefaultLayer
	}
	if !layer.Valid() {
		httpError(w, http.StatusBadRequest, "layer must be harm or unsafe")
		return
	}
	spec := q.Get("period")
	if spec == "" {
		spec = tiles.DefaultPeriod
	}
	p, err := tiles.ParsePeriod(spec, time.Now())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	var mvt []byte
	err = b.pool.QueryRow(r.Context(), "SELECT "+heatFunc+"($1, $2, $3, $4, $5, $6, $7, $8)",
		int32(t.Z), int32(t.X), int32(t.Y), string(layer), q.Get("category"), p.From(), p.To(), int32(b.k)).Scan(&mvt)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.mapbox-vector-tile")
	h.Set("Content-Length", strconv.Itoa(len(mvt)))
	_, _ = w.Write(mvt)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": http.StatusText(status), "message": msg}})
}

// benchDatabaseURL guards the baseline, which publishes true counts with no
// perturbation or secondary suppression: it may only ever run against a
// benchmark database of synthetic data, and never below the policy's
// minimum threshold.
func benchDatabaseURL(k int) (string, error) {
	if k < tiles.MinK {
		return "", fmt.Errorf("-k %d is below the minimum threshold %d", k, tiles.MinK)
	}
	url, err := databaseURL()
	if err != nil {
		return "", err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(cfg.Database, "ctxmap_bench") {
		return "", fmt.Errorf("database %q is not a ctxmap_bench* benchmark database; the baseline shows unprotected counts", cfg.Database)
	}
	return url, nil
}
