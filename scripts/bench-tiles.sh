#!/usr/bin/env bash
# Side-by-side heat-tile benchmark over HTTP (issue 5, docs/BENCHMARKS.md
# "Tiles over HTTP"), from scratch, in one run on one database:
#
#   baseline  bin/tilebench serve: every tile rendered per request in PostGIS
#             by a pg_tileserv-style SQL function (ST_AsMVTGeom + ST_AsMVT)
#   ctxmap    bin/ctxmap serve: published sets and encoded tiles cached
#
# Steps: private PostGIS cluster (scripts/pg.sh), a fresh database
# $BENCH_DB, migrate, N synthetic harm locations around Greater London
# imported with `ctxmap import harm-locations` (timed), the baseline's
# hexagon table, indexes and function, both servers on free 127.0.0.1
# ports, then bounded load runs (wrk -t2 -c8 -d20s --latency, and
# bin/tilebench load for first-request latencies), a summary table, and
# the servers stopped by PID. Everything lands in $OUT.
#
#   bash scripts/bench-tiles.sh            # about 6 minutes
#   N=200000 DURATION=5s bash scripts/bench-tiles.sh   # a quick check
#
# The cluster is started if it is not running and left running (others may
# be using it); only $BENCH_DB is dropped and recreated.
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
OUT="${OUT:-$ROOT/.data/bench-tiles/$(date -u +%Y%m%dT%H%M%SZ)}"
ZOOM=12
HOT_POINT="51.5465,-0.0553"      # Hackney Central: the hot tile
WARM_POINT="52.4800,-1.9000"     # Birmingham: no data, so its tile costs only the published set
# A fixed, obviously fake secret: benchmark data only, never a deployment's.
export CTXMAP_SECRET="tilebench-fixed-secret-not-for-production-0000"

case "$BENCH_DB" in ctxmap_bench*) ;; *) echo "BENCH_DB must start with ctxmap_bench" >&2; exit 2 ;; esac
mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*" | tee -a "$OUT/run.log" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

BPID="" CPID=""
cleanup() {
  local pid
  for pid in $BPID $CPID; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

say "machine"
{
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket)'
  free -g | awk '/^Mem:/ { print "RAM: " $2 " GiB" }'
  echo "kernel: $(uname -r)"; go version; psql --version; { wrk --version 2>&1 || true; } | head -1
  echo "commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

say "build"
go build -o bin/ctxmap ./cmd/ctxmap
go build -o bin/tilebench ./cmd/tilebench

say "database $BENCH_DB"
bash scripts/pg.sh start
eval "$(bash scripts/pg.sh env)"
ADMIN_URL="$DATABASE_URL"
DATABASE_URL="$(printf %s "$ADMIN_URL" | sed "s#/ctxmap?#/$BENCH_DB?#")"
export DATABASE_URL
psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -qAt -c "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB"
bin/ctxmap migrate up
psql "$DATABASE_URL" -qAt -c 'SELECT postgis_full_version()' | cut -c1-60 | tee -a "$OUT/machine.txt"
bin/ctxmap users add --name bench-practitioner --role practitioner --team "Bench Youth Justice" >/dev/null
TOKEN="$(bin/ctxmap users add --name bench-analyst --role analyst --team "Bench Insight" | sed -n 's/^token.*: //p')"
[ -n "$TOKEN" ] || { echo "no token from ctxmap users add" >&2; exit 1; }
AUTH="Authorization: Bearer $TOKEN"

say "generate $N harm locations ($SUBJECTS young people, Greater London)"
CSV="$OUT/harm.csv"
t0=$(now); bin/tilebench gen -n "$N" -subjects "$SUBJECTS" -seed "$SEED" >"$CSV"; t1=$(now)
GEN_S=$(secs "$t0" "$t1"); echo "generated $(($(wc -l <"$CSV") - 1)) rows in ${GEN_S} s"

say "import (bin/ctxmap import harm-locations)"
t0=$(now)
bin/ctxmap import harm-locations --as bench-practitioner "$CSV" | tee "$OUT/import.txt"
t1=$(now); IMPORT_S=$(secs "$t0" "$t1"); echo "import wall time (process start to exit): ${IMPORT_S} s"
[ "${KEEP_CSV:-0}" = 1 ] || rm -f "$CSV"

say "baseline preparation (hexagons, indexes, function, VACUUM ANALYZE)"
t0=$(now); bin/tilebench prepare | tee "$OUT/prepare.txt"; t1=$(now); PREP_S=$(secs "$t0" "$t1")
psql "$DATABASE_URL" -qAt -c "SELECT 'harm_locations: ' || count(*) || ' rows, ' || count(DISTINCT subject_id) || ' young people' FROM harm_locations" | tee -a "$OUT/machine.txt"

say "tiles"
bin/tilebench tiles -z $ZOOM >"$OUT/spread.txt"
bin/tilebench tiles -z $ZOOM -lua "$OUT/spread.lua"
HOT="$(bin/tilebench tiles -z $ZOOM -point "$HOT_POINT")"
WARM="$(bin/tilebench tiles -z $ZOOM -point "$WARM_POINT")"
NTILES=$(wc -l <"$OUT/spread.txt")
echo "hot tile $HOT; spread: $NTILES distinct z$ZOOM tiles over the data area; warm-up tile $WARM"

say "servers"
BPORT=$(bin/tilebench freeport); CPORT=$(bin/tilebench freeport)
bin/tilebench serve -listen "127.0.0.1:$BPORT" >"$OUT/baseline.out" 2>"$OUT/baseline.log" &
BPID=$!
bin/ctxmap serve --listen "127.0.0.1:$CPORT" --log-level "$LOG_LEVEL" >"$OUT/ctxmap.out" 2>"$OUT/ctxmap.log" &
CPID=$!
B="http://127.0.0.1:$BPORT"; C="http://127.0.0.1:$CPORT"
bin/tilebench wait -url "$B/healthz"
bin/tilebench wait -url "$C/readyz"
echo "baseline pid $BPID on $B; ctxmap pid $CPID on $C"

GZ="Accept-Encoding: gzip"   # what browsers send; ctxmap stores tiles gzipped
LOAD() { bin/tilebench load -deadline 10m -H "$GZ" "$@" | tee -a "$OUT/load.txt"; }
WRK() { # label url [wrk args...]
  local label="$1" url="$2"; shift 2
  echo "load average before $label: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/run.log"
  timeout 300 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s --latency -H "$GZ" "$@" "$url" | tee "$OUT/wrk-$label.txt"
  if grep -qE 'Non-2xx|Socket errors' "$OUT/wrk-$label.txt"; then echo "wrk $label had errors" >&2; exit 1; fi
}

say "ctxmap: first requests after start"
LOAD -base "$C" -c 1 -label ctxmap-auth -H "$AUTH" /api/v1/me
LOAD -base "$C" -c 1 -label ctxmap-first-after-start -H "$AUTH" "$HOT"
LOAD -base "$C" -c 1 -label ctxmap-second-request -H "$AUTH" "$HOT"

say "baseline: one warm-up pass (PostgreSQL buffers)"
LOAD -base "$B" -c "$CONNS" -label baseline-warmup -paths "$OUT/spread.txt"

say "(1) cached: one hot tile, wrk -t$THREADS -c$CONNS -d$DURATION"
WRK baseline-hot "$B$HOT"
WRK ctxmap-hot "$C$HOT" -H "$AUTH"

say "(2) spread: wrk cycling through $NTILES distinct tiles"
WRK baseline-spread "$B" -s "$OUT/spread.lua"
WRK ctxmap-spread "$C" -s "$OUT/spread.lua" -H "$AUTH"

say "(3) first request of each distinct tile: $ROUNDS rounds; ctxmap caches dropped before each (NOTIFY ctxmap_heat)"
LOAD -base "$B" -c "$CONNS" -rounds "$ROUNDS" -label baseline-first-c$CONNS -paths "$OUT/spread.txt"
LOAD -base "$C" -c "$CONNS" -rounds "$ROUNDS" -label ctxmap-first-c$CONNS -H "$AUTH" \
  -notify "$DATABASE_URL" -warm "$WARM" -paths "$OUT/spread.txt"
LOAD -base "$B" -c 1 -rounds "$ROUNDS" -label baseline-first-c1 -paths "$OUT/spread.txt"
LOAD -base "$C" -c 1 -rounds "$ROUNDS" -label ctxmap-first-c1 -H "$AUTH" \
  -notify "$DATABASE_URL" -warm "$WARM" -paths "$OUT/spread.txt"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

say "stop servers"
cleanup
BPID="" CPID=""

# ---- summary -------------------------------------------------------------
wrkcol() { # file -> "tiles/s p50_ms p99_ms"
  awk 'function msv(s) { if (s ~ /us$/) return s/1000; if (s ~ /ms$/) return s+0; if (s ~ /s$/) return s*1000; return s }
       /Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = msv($2) } /^ +99%/ { p99 = msv($2) }
       END { printf "%.0f %.2f %.2f", rps, p50, p99 }' "$1"
}
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
  row "(2) spread: $NTILES tiles cycled, wrk" "$(wrkcol "$OUT/wrk-baseline-spread.txt")" "$(wrkcol "$OUT/wrk-ctxmap-spread.txt")"
  row "(3) first request per tile, $CONNS conns" "$(loadcol baseline-first-c$CONNS)" "$(loadcol ctxmap-first-c$CONNS)"
  row "(3) first request per tile, 1 conn" "$(loadcol baseline-first-c1)" "$(loadcol ctxmap-first-c1)"
  echo
  echo "- import of $N rows (\`ctxmap import harm-locations\`, process wall time): ${IMPORT_S} s; CSV generation ${GEN_S} s; baseline preparation ${PREP_S} s"
  echo "- ctxmap first tile after start (published set, hexagon boundaries and pool cold): $(field ctxmap-first-after-start p50_ms) ms; the same tile again: $(field ctxmap-second-request p50_ms) ms"
  echo "- ctxmap first tile after an invalidation (published set rebuilt; $((ROUNDS * 2)) samples): p50 $(field ctxmap-first-c$CONNS warm_p50_ms) ms (c$CONNS runs), $(field ctxmap-first-c1 warm_p50_ms) ms (c1 runs); max $(field ctxmap-first-c$CONNS warm_max_ms) / $(field ctxmap-first-c1 warm_max_ms) ms"
} | tee "$OUT/summary.md"
echo
echo "results in $OUT"
