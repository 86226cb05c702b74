#!/usr/bin/env bash
# Side-by-side heat-tile benchmark over HTTP (issue 5, docs/BENCHMARKS.md
# "Tiles over HTTP"), from scratch, in one run on one database:
#
#   baseline  tilebench serve (cmd/tilebench): every tile rendered per request
#             in PostGIS by a pg_tileserv-style SQL function (ST_AsMVTGeom + ST_AsMVT)
#   ctxmap    ctxmap serve: the current release's published sets and encoded
#             tiles cached; (3) makes a new release (`ctxmap release --force`)
#             before each round, so every tile is a first request of a release
#
# Steps: private PostGIS cluster (scripts/pg.sh), a fresh database
# $BENCH_DB, migrate, N synthetic harm locations around Greater London
# imported with `ctxmap import harm-locations` (timed), the baseline's
# hexagon table, indexes and function, both servers on free 127.0.0.1
# ports, then bounded load runs (wrk -t2 -c8 -d20s --latency, and
# tilebench load for first-request latencies), a summary table, and
# the servers stopped by PID. Everything lands in $OUT.
#
#   bash scripts/bench-tiles.sh            # about 10 minutes
#   N=200000 DURATION=5s ROUNDS=1 bash scripts/bench-tiles.sh   # a quick check
#
# The binaries are built from the working tree into $OUT/bin (the same
# `go build ./cmd/ctxmap`), so a concurrent `make build` cannot swap bin/ctxmap
# under a running benchmark. The cluster is started if it is not running and
# left running (others may be using it); only $BENCH_DB is dropped and
# recreated, and it is kept afterwards for EXPLAINs (KEEP_DB=0 drops it). The
# binaries are removed and the access log compressed at the end (KEEP_BIN=1
# keeps the binaries, e.g. for perf). On a shared machine each load run first waits (up to
# QUIET_WAIT s) until the other processes use less than QUIET_BUSY % of the
# CPU, and records what they used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

N="${N:-1000000}"
SUBJECTS="${SUBJECTS:-150000}"
SEED="${SEED:-1}"
DURATION="${DURATION:-20s}"
CONNS="${CONNS:-8}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-5}"
BENCH_DB="${BENCH_DB:-ctxmap_bench}"
LOG_LEVEL="${LOG_LEVEL:-info}"   # ctxmap's default: one access-log line per request
QUIET_BUSY="${QUIET_BUSY:-25}"
QUIET_WAIT="${QUIET_WAIT:-180}"
OUT="${OUT:-$ROOT/.data/bench-tiles/$(date -u +%Y%m%dT%H%M%SZ)}"
BIN="$OUT/bin"
ZOOM=12
HOT_POINT="51.5465,-0.0553"      # Hackney Central: the hot tile
WARM_POINT="52.4800,-1.9000"     # Birmingham: no data, so its tile costs only the published set
# A fixed, obviously fake secret: benchmark data only, never a deployment's.
export CTXMAP_SECRET="tilebench-fixed-secret-not-for-production-0000"

case "$BENCH_DB" in ctxmap_bench*) ;; *) echo "BENCH_DB must start with ctxmap_bench" >&2; exit 2 ;; esac
mkdir -p "$OUT"
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"

BPID="" CPID=""
cleanup() {
  local pid
  for pid in $BPID $CPID; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

bench_tools
say "machine"
machine

build_and_db

say "generate $N harm locations ($SUBJECTS young people, Greater London)"
CSV="$OUT/harm.csv"
t0=$(now); "$BIN/tilebench" gen -n "$N" -subjects "$SUBJECTS" -seed "$SEED" >"$CSV"; t1=$(now)
GEN_S=$(secs "$t0" "$t1"); echo "generated $(($(wc -l <"$CSV") - 1)) rows in ${GEN_S} s"

say "import (ctxmap import harm-locations)"
t0=$(now)
"$BIN/ctxmap" import harm-locations --as bench-practitioner "$CSV" | tee "$OUT/import.txt"
t1=$(now); IMPORT_S=$(secs "$t0" "$t1"); echo "import wall time (process start to exit): ${IMPORT_S} s"
[ "${KEEP_CSV:-0}" = 1 ] || rm -f "$CSV"

say "baseline preparation (hexagons, indexes, function, VACUUM ANALYZE)"
t0=$(now); "$BIN/tilebench" prepare | tee "$OUT/prepare.txt"; t1=$(now); PREP_S=$(secs "$t0" "$t1")
psql "$DATABASE_URL" -qAt -c "SELECT 'harm_locations: ' || count(*) || ' rows, ' || count(DISTINCT subject_id) || ' young people' FROM harm_locations" | tee -a "$OUT/machine.txt"

say "tiles"
"$BIN/tilebench" tiles -z $ZOOM >"$OUT/spread.txt"
"$BIN/tilebench" tiles -z $ZOOM -lua "$OUT/spread.lua"
HOT="$("$BIN/tilebench" tiles -z $ZOOM -point "$HOT_POINT")"
WARM="$("$BIN/tilebench" tiles -z $ZOOM -point "$WARM_POINT")"
NTILES=$(wc -l <"$OUT/spread.txt")
echo "hot tile $HOT; spread: $NTILES distinct z$ZOOM tiles over the data area; warm-up tile $WARM"

say "servers"
BPORT=$(bench_port 0); CPORT=$(bench_port 1)
"$BIN/tilebench" serve -listen "127.0.0.1:$BPORT" >"$OUT/baseline.out" 2>"$OUT/baseline.log" &
BPID=$!
"$BIN/ctxmap" serve --listen "127.0.0.1:$CPORT" --log-level "$LOG_LEVEL" >"$OUT/ctxmap.out" 2>"$OUT/ctxmap.log" &
CPID=$!
B="http://127.0.0.1:$BPORT"; C="http://127.0.0.1:$CPORT"
"$BIN/tilebench" wait -url "$B/healthz"
"$BIN/tilebench" wait -url "$C/readyz"
"$BIN/tilebench" releaseid -base "$C" -H "$AUTH" -after 0 >/dev/null   # the release the server makes at start
echo "baseline pid $BPID on $B; ctxmap pid $CPID on $C"

GZ="Accept-Encoding: gzip"   # what browsers send; ctxmap stores tiles gzipped
LOAD() { "$BIN/tilebench" load -deadline 10m -H "$GZ" "$@" | tee -a "$OUT/load.txt"; }
WRK() { # label url [wrk args...]
  local label="$1" url="$2"; shift 2
  wait_quiet "$label"
  timeout 300 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s --latency -H "$GZ" "$@" "$url" | tee "$OUT/wrk-$label.txt"
  wrk_ok "$OUT/wrk-$label.txt"
}

say "ctxmap: first requests after start"
LOAD -base "$C" -c 1 -label ctxmap-auth -H "$AUTH" /api/v1/me
LOAD -base "$C" -c 1 -label ctxmap-first-after-start -H "$AUTH" "$HOT"
LOAD -base "$C" -c 1 -label ctxmap-second-request -H "$AUTH" "$HOT"

"$BIN/tilebench" mvtinfo -label baseline -H "$GZ" "$B$HOT" | tee -a "$OUT/tiles.txt"
"$BIN/tilebench" mvtinfo -label ctxmap -H "$GZ" -H "$AUTH" "$C$HOT" | tee -a "$OUT/tiles.txt"

say "baseline: one warm-up pass (PostgreSQL buffers)"
LOAD -base "$B" -c "$CONNS" -label baseline-warmup -paths "$OUT/spread.txt"

metrics() { # ctxmap's own latency histogram for heat tiles and its GC count
  curl -s -H "$ADMIN_AUTH" "$C/metrics" | grep -E '^(ctxmap_http_request_duration_seconds_bucket\{method="GET",route="/tiles/heat/|go_gc_duration_seconds_count|go_memstats_alloc_bytes_total)' || true
}
serverside() { # before after: requests per latency bucket measured inside ctxmap during the run
  awk 'FNR == NR { before[$1] = $2; next } { d[$1] = $2 - before[$1] }
       END { for (k in d) if (k ~ /le="\+Inf"/) total = d[k]
             if (total == 0) { print "no requests"; exit }
             n = split("0.0005 0.001 0.0025 0.005 0.01 0.025 0.1", les, " ")
             for (i = 1; i <= n; i++) for (k in d) if (index(k, "le=\"" les[i] "\"")) printf "<= %g ms: %.2f%%; ", les[i] * 1000, 100 * d[k] / total
             for (k in d) if (k ~ /^go_gc_duration_seconds_count/) printf "GC cycles: %d; ", d[k]
             for (k in d) if (k ~ /^go_memstats_alloc_bytes_total/) printf "allocated per request: %.0f bytes", d[k] / total
             printf "\n" }' "$1" "$2"
}

say "(1) cached: one hot tile, wrk -t$THREADS -c$CONNS -d$DURATION (floor: a fixed body from memory, no database)"
FLOOR="$(printf %s "$HOT" | sed 's#^/tiles/heat/#/floor/#; s#?.*##')"
WRK floor-hot "$B$FLOOR"
WRK baseline-hot "$B$HOT"
metrics >"$OUT/metrics-before.txt"
WRK ctxmap-hot "$C$HOT" -H "$AUTH"
metrics >"$OUT/metrics-after.txt"
serverside "$OUT/metrics-before.txt" "$OUT/metrics-after.txt" | tee "$OUT/serverside-hot.txt"

say "(2) spread: wrk cycling through $NTILES distinct tiles"
WRK baseline-spread "$B" -s "$OUT/spread.lua"
WRK ctxmap-spread "$C" -s "$OUT/spread.lua" -H "$AUTH"

say "(3) first request of each distinct tile: $ROUNDS rounds; for ctxmap a new release before each (ctxmap release --force)"
LOAD -base "$B" -c "$CONNS" -rounds "$ROUNDS" -label baseline-first-c$CONNS -paths "$OUT/spread.txt"
LOAD -base "$C" -c "$CONNS" -rounds "$ROUNDS" -label ctxmap-first-c$CONNS -H "$AUTH" \
  -release "$BIN/ctxmap release --force" -warm "$WARM" -paths "$OUT/spread.txt"
LOAD -base "$B" -c 1 -rounds "$ROUNDS" -label baseline-first-c1 -paths "$OUT/spread.txt"
LOAD -base "$C" -c 1 -rounds "$ROUNDS" -label ctxmap-first-c1 -H "$AUTH" \
  -release "$BIN/ctxmap release --force" -warm "$WARM" -paths "$OUT/spread.txt"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

say "published-set cost, in process: Observations (SQL + transfer) vs Publish"
"$BIN/tilebench" setcost -alt -n "$ROUNDS" | tee "$OUT/setcost.txt"

say "stop servers"
cleanup
BPID="" CPID=""
gzip -f "$OUT/ctxmap.log"
[ "${KEEP_BIN:-0}" = 1 ] || rm -rf "$BIN"
[ "${KEEP_DB:-1}" = 1 ] || psql "$ADMIN_URL" -qAt -c "DROP DATABASE $BENCH_DB"

# ---- summary -------------------------------------------------------------
loadcol() { # label -> "tiles/s p50_ms p99_ms"
  grep "^RESULT label=$1 " "$OUT/load.txt" | tail -1 |
    sed -E 's/.*tiles_per_s=([0-9.]+) p50_ms=([0-9.]+) p90_ms=[0-9.]+ p99_ms=([0-9.]+).*/\1 \2 \3/'
}
field() { grep "^RESULT label=$1 " "$OUT/load.txt" | tail -1 | sed -E "s/.* $2=([0-9.]+).*/\1/"; }
row() { # name "b_rps b_p50 b_p99" "c_rps c_p50 c_p99"
  read -r brps bp50 bp99 <<<"$2"; read -r crps cp50 cp99 <<<"$3"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$brps" "$bp50" "$bp99" "$crps" "$cp50" "$cp99" \
    "$(awk -v a="$crps" -v b="$brps" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')"
}
{
  echo "### Run $(basename "$OUT")"
  echo
  echo "$N harm locations, $NTILES distinct z$ZOOM tiles, $CONNS connections, wrk -d$DURATION, $ROUNDS first-request rounds."
  echo
  echo "| measurement (z$ZOOM) | baseline tiles/s | baseline p50 ms | baseline p99 ms | ctxmap tiles/s | ctxmap p50 ms | ctxmap p99 ms | ctxmap / baseline |"
  echo "|---|---|---|---|---|---|---|---|"
  row "(1) cached: one hot tile, wrk" "$(wrkcol "$OUT/wrk-baseline-hot.txt")" "$(wrkcol "$OUT/wrk-ctxmap-hot.txt")"
  read -r frps fp50 fp99 <<<"$(wrkcol "$OUT/wrk-floor-hot.txt")"
  printf '| (control) floor: fixed %s-byte body from memory, no database, no auth, no log | | | | %s | %s | %s | |\n' 2400 "$frps" "$fp50" "$fp99"
  row "(2) spread: $NTILES tiles cycled, wrk" "$(wrkcol "$OUT/wrk-baseline-spread.txt")" "$(wrkcol "$OUT/wrk-ctxmap-spread.txt")"
  row "(3) first request per tile, $CONNS conns" "$(loadcol baseline-first-c$CONNS)" "$(loadcol ctxmap-first-c$CONNS)"
  row "(3) first request per tile, 1 conn" "$(loadcol baseline-first-c1)" "$(loadcol ctxmap-first-c1)"
  echo
  echo "- import of $N rows (\`ctxmap import harm-locations\`, process wall time): ${IMPORT_S} s; CSV generation ${GEN_S} s; baseline preparation ${PREP_S} s"
  echo "- the hot tile $HOT: $(sed 's/$/;/' "$OUT/tiles.txt" | paste -sd' ' -)"
  echo "- ctxmap cached run, latency inside the server (its /metrics histogram): $(cat "$OUT/serverside-hot.txt")"
  echo "- CPU used by other processes just before each wrk run: $(sed -E 's/^([^:]+): other processes used ([0-9]+)%.*/\1 \2%/' "$OUT/quiet.txt" | paste -sd, - | sed 's/,/, /g')"
  echo "- published set, in process (p50 of $ROUNDS): $(sed -nE 's/^RESULT label=setcost-([a-z-]+) n=[0-9]+ rows=([0-9]+) read_p50_ms=([0-9]+) publish_p50_ms=([0-9]+).*/\1: read \2 rows \3 ms + Publish \4 ms/p' "$OUT/setcost.txt" | paste -sd';' - | sed 's/;/; /g') (store = contexts/postgres Store.Observations as shipped; the others read without SQL DISTINCT and publish identical cells)"
  echo "- ctxmap first tile after start (published set, hexagon boundaries and pool cold): $(field ctxmap-first-after-start p50_ms) ms; the same tile again: $(field ctxmap-second-request p50_ms) ms"
  echo "- ctxmap first tile after a release (the release's published set loaded; $((ROUNDS * 2)) samples): p50 $(field ctxmap-first-c$CONNS warm_p50_ms) ms (c$CONNS runs), $(field ctxmap-first-c1 warm_p50_ms) ms (c1 runs); max $(field ctxmap-first-c$CONNS warm_max_ms) / $(field ctxmap-first-c1 warm_max_ms) ms"
  echo "- \`ctxmap release --force\` between rounds (no other load): p50 $(field ctxmap-first-c1 release_p50_s) s, max $(field ctxmap-first-c1 release_max_s) s"
} | tee "$OUT/summary.md"
echo
echo "results in $OUT"
