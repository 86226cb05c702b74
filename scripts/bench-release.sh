#!/usr/bin/env bash
# Releases and cached tiles over HTTP (issue 10, docs/BENCHMARKS.md
# "Releases"), from scratch, in one run on one fresh database:
#
#   (3) cached heat tiles against a fixed-body control: `tilebench fixed`
#       serves the bytes and headers of one real ctxmap tile from a plain
#       Go net/http server; wrk -t2 -c8, gzip and identity, interleaved
#       rounds; ctxmap's share of the control's throughput
#   (1) a full release (`ctxmap release --force`) while wrk reads cached
#       tiles of the previous release: the release's wall time and
#       duration_ms, and the tiles' p50/p99 during it (wrk stops when the
#       command exits, before the server switches to the new release)
#   (2) the first requests of a new release: $ROUNDS releases, after each
#       the hot z12 tile (pays for loading the release's published set)
#       and then every other z12 tile of the data area once, 1 connection
#
# Steps: private PostGIS cluster (scripts/pg.sh), a fresh database
# $BENCH_DB, migrate, N synthetic harm locations (`tilebench gen`, Greater
# London) imported with `ctxmap import harm-locations`, ctxmap serve on a
# 127.0.0.1 port of its own (bench_port: CTXMAP_PG_PORT + 1000, + 2000, ...,
# or any free port; it makes the first release at start), the control,
# bounded load runs, servers stopped by PID, a summary. Everything lands
# in $OUT.
#
#   bash scripts/bench-release.sh          # about 10-15 minutes
#   N=100000 DURATION=3s HTTP_ROUNDS=1 ROUNDS=1 PROFILE=0 bash scripts/bench-release.sh   # a quick check
#
# Binaries are built from the working tree into $OUT/bin and removed at the
# end (KEEP_BIN=1 keeps them). The cluster is left running; $BENCH_DB is
# kept for EXPLAINs (KEEP_DB=0 drops it). Before each measured run the script
# waits (up to QUIET_WAIT s) until other processes use less than QUIET_BUSY %
# of the CPU, and records what they used. PROFILE=1 (default) adds a
# `perf record` of ctxmap under the cached load, after the measured runs;
# DIAG=1 (default) adds a third series to (3), a second ctxmap on the same
# database with --log-level warn, to show what the access log costs.
# BASE_BIN=path adds another: that ctxmap binary (built from an earlier
# commit, say) serving the same database with the same flags, so a change's
# effect is measured interleaved in one run rather than across runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

N="${N:-1000000}"
SUBJECTS="${SUBJECTS:-150000}"
SEED="${SEED:-1}"
DURATION="${DURATION:-10s}"      # each wrk run of (3)
HTTP_ROUNDS="${HTTP_ROUNDS:-3}"  # interleaved rounds of (3): control and ctxmap, gzip and identity
ROUNDS="${ROUNDS:-3}"            # releases in (2)
CONNS="${CONNS:-8}"
THREADS="${THREADS:-2}"
PROFILE="${PROFILE:-1}"
DIAG="${DIAG:-1}"                # (3) also against a second ctxmap with --log-level warn (no access log)
BASE_BIN="${BASE_BIN:-}"         # (3) also against this ctxmap binary, as the series ctxmap-base
BENCH_DB="${BENCH_DB:-ctxmap_bench_release}"
LOG_LEVEL="${LOG_LEVEL:-info}"   # ctxmap's default: one access-log line per request
QUIET_BUSY="${QUIET_BUSY:-25}"
QUIET_WAIT="${QUIET_WAIT:-60}"
OUT="${OUT:-$ROOT/.data/bench-release/$(date -u +%Y%m%dT%H%M%SZ)}"
BIN="$OUT/bin"
ZOOM=12
HOT_POINT="51.5465,-0.0553"      # Hackney Central: the hot tile
# A fixed, obviously fake secret: benchmark data only, never a deployment's.
export CTXMAP_SECRET="tilebench-fixed-secret-not-for-production-0000"

case "$BENCH_DB" in ctxmap_bench*) ;; *) echo "BENCH_DB must start with ctxmap_bench" >&2; exit 2 ;; esac
mkdir -p "$OUT"
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"

CPID="" FPID="" WPID="" QPID="" BPID=""
cleanup() {
  local pid
  for pid in $WPID $FPID $QPID $BPID $CPID; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

bench_tools
say "machine"
machine

build_and_db

say "generate $N harm locations ($SUBJECTS young people, Greater London) and import"
CSV="$OUT/harm.csv"
"$BIN/tilebench" gen -n "$N" -subjects "$SUBJECTS" -seed "$SEED" >"$CSV"
t0=$(now)
"$BIN/ctxmap" import harm-locations --as bench-practitioner "$CSV" | tee "$OUT/import.txt"
t1=$(now); IMPORT_S=$(secs "$t0" "$t1"); echo "import wall time: ${IMPORT_S} s"
rm -f "$CSV"
psql "$DATABASE_URL" -qAt -c 'VACUUM ANALYZE harm_locations' \
  -c "SELECT 'harm_locations: ' || count(*) || ' rows, ' || count(DISTINCT subject_id) || ' young people' FROM harm_locations" | tee -a "$OUT/machine.txt"

say "tiles"
"$BIN/tilebench" tiles -z $ZOOM >"$OUT/spread.txt"
"$BIN/tilebench" tiles -z $ZOOM -lua "$OUT/spread.lua"
HOT="$("$BIN/tilebench" tiles -z $ZOOM -point "$HOT_POINT")"
grep -vxF "$HOT" "$OUT/spread.txt" >"$OUT/spread-others.txt"
NTILES=$(wc -l <"$OUT/spread.txt")
echo "hot tile $HOT; $NTILES distinct z$ZOOM tiles over the data area"

say "ctxmap serve (makes the first release at start)"
CPORT=$(bench_port 0)
C="http://127.0.0.1:$CPORT"
t0=$(now)
"$BIN/ctxmap" serve --listen "127.0.0.1:$CPORT" --log-level "$LOG_LEVEL" >"$OUT/ctxmap.out" 2>"$OUT/ctxmap.log" &
CPID=$!
"$BIN/tilebench" wait -url "$C/readyz" -timeout 120s
REL0="$("$BIN/tilebench" releaseid -base "$C" -H "$AUTH" -after 0 -timeout 5m)"
t1=$(now); START_S=$(secs "$t0" "$t1")
echo "ctxmap pid $CPID on $C serves release $REL0, ${START_S} s after its start"
releases() { curl -sf -H "$AUTH" "$C/api/v1/releases"; }
release_ms() { releases | jq -r --argjson id "$1" '.releases[] | select(.id == $id) | .duration_ms'; }
releases | jq -c '.releases[0]' | tee "$OUT/release-$REL0.json"

GZ="Accept-Encoding: gzip"   # what browsers send
LOAD() { "$BIN/tilebench" load -deadline 20m "$@" | tee -a "$OUT/load.txt"; }
WRK() { # label url [wrk args...]; with WRK_PID set, that server's CPU ticks before and after in $OUT/cpu-$label.txt
  local label="$1" url="$2" c0=""; shift 2
  wait_quiet "$label"
  [ -n "${WRK_PID:-}" ] && c0=$(proc_cpu "$WRK_PID")
  timeout 300 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s --latency "$@" "$url" | tee "$OUT/wrk-$label.txt"
  [ -n "$c0" ] && echo "$c0 $(proc_cpu "$WRK_PID")" >"$OUT/cpu-$label.txt"
  wrk_ok "$OUT/wrk-$label.txt"
}
LOAD -base "$C" -c 1 -label warm-hot -H "$GZ" -H "$AUTH" "$HOT"
"$BIN/tilebench" mvtinfo -label ctxmap -H "$GZ" -H "$AUTH" "$C$HOT" | tee -a "$OUT/tiles.txt"

say "(3) cached hot tile: ctxmap vs the fixed-body net/http control, gzip and identity, $HTTP_ROUNDS interleaved rounds"
FPORT=$(bench_port 1)
F="http://127.0.0.1:$FPORT"
"$BIN/tilebench" fixed -listen "127.0.0.1:$FPORT" -from "$C$HOT" -H "$AUTH" >"$OUT/fixed.out" 2>"$OUT/fixed.log" &
FPID=$!
"$BIN/tilebench" wait -url "$F$HOT"
cat "$OUT/fixed.out"
SERVERS="fixed ctxmap"
if [ "$DIAG" = 1 ]; then
  QPORT=$(bench_port 2)
  Q="http://127.0.0.1:$QPORT"
  "$BIN/ctxmap" serve --listen "127.0.0.1:$QPORT" --log-level warn >"$OUT/ctxmap-warn.out" 2>"$OUT/ctxmap-warn.log" &
  QPID=$!
  "$BIN/tilebench" wait -url "$Q/readyz" -timeout 120s
  "$BIN/tilebench" releaseid -base "$Q" -H "$AUTH" -after 0 >/dev/null
  LOAD -base "$Q" -c 1 -label warm-hot-warn -H "$GZ" -H "$AUTH" "$HOT"
  SERVERS="$SERVERS ctxmap-warn"
fi
if [ -n "$BASE_BIN" ]; then
  BPORT=$(bench_port 3)
  B="http://127.0.0.1:$BPORT"
  "$BASE_BIN" serve --listen "127.0.0.1:$BPORT" --log-level "$LOG_LEVEL" >"$OUT/ctxmap-base.out" 2>"$OUT/ctxmap-base.log" &
  BPID=$!
  "$BIN/tilebench" wait -url "$B/readyz" -timeout 120s
  "$BIN/tilebench" releaseid -base "$B" -H "$AUTH" -after 0 >/dev/null
  LOAD -base "$B" -c 1 -label warm-hot-base -H "$GZ" -H "$AUTH" "$HOT"
  SERVERS="$SERVERS ctxmap-base"
fi
for enc in gzip identity; do # the two servers' headers, side by side
  h=(); [ "$enc" = gzip ] && h=(-H "$GZ")
  for s in "$F" "$C"; do curl -s -o /dev/null -D - "${h[@]}" -H "$AUTH" "$s$HOT" | grep -v '^Date:'; done
done | tee "$OUT/headers.txt"
for r in $(seq 1 "$HTTP_ROUNDS"); do
  order="$SERVERS"; [ $((r % 2)) = 0 ] && order="$(printf '%s\n' $SERVERS | tac | paste -sd' ' -)"
  for enc in gzip identity; do
    h=(); [ "$enc" = gzip ] && h=(-H "$GZ")
    for s in $order; do
      case "$s" in fixed) u="$F" p="$FPID" ;; ctxmap) u="$C" p="$CPID" ;; ctxmap-base) u="$B" p="$BPID" ;; *) u="$Q" p="$QPID" ;; esac
      WRK_PID="$p" WRK "$s-$enc-$r" "$u$HOT" "${h[@]}" -H "$AUTH"
    done
  done
done

if [ "$PROFILE" = 1 ]; then
  say "profile: perf record of ctxmap under the cached load (not a measured run)"
  for enc in gzip identity; do
    h=(); [ "$enc" = gzip ] && h=(-H "$GZ")
    timeout 60 wrk -t"$THREADS" -c"$CONNS" -d12s --latency "${h[@]}" -H "$AUTH" "$C$HOT" >"$OUT/wrk-profile-$enc.txt" &
    WPID=$!
    sleep 1
    perf record -q -F 499 -g -p "$CPID" -o "$OUT/perf-$enc.data" -- sleep 10 2>"$OUT/perf-$enc.log" || true
    wait "$WPID" || true; WPID=""
    perf report -i "$OUT/perf-$enc.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40 >"$OUT/perf-$enc-self.txt" || true
    perf report -i "$OUT/perf-$enc.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -80 >"$OUT/perf-$enc-children.txt" || true
    rm -f "$OUT/perf-$enc.data"
  done
fi
if [ -n "$QPID" ]; then kill "$QPID"; wait "$QPID" 2>/dev/null || true; QPID=""; fi
if [ -n "$BPID" ]; then kill "$BPID"; wait "$BPID" 2>/dev/null || true; BPID=""; fi

metric() { curl -s -H "$ADMIN_AUTH" "$C/metrics" | awk -v m="$1" '$1 == m { printf "%d\n", $2 }'; }

say "(1) a full release while wrk reads cached tiles of release $REL0"
LOAD -base "$C" -c "$CONNS" -label cache-spread -H "$GZ" -H "$AUTH" -paths "$OUT/spread.txt"
WRK spread-before "$C" -s "$OUT/spread.lua" -H "$GZ" -H "$AUTH"
MISS0=$(metric ctxmap_heat_tile_cache_misses_total)
wait_quiet release-under-load
timeout 900 wrk -t"$THREADS" -c"$CONNS" -d600s --timeout 10s --latency -s "$OUT/spread.lua" -H "$GZ" -H "$AUTH" "$C" >"$OUT/wrk-spread-during-release.txt" &
WPID=$!
sleep 2
t0=$(now)
"$BIN/ctxmap" release --force | tee "$OUT/release-under-load.txt"
t1=$(now); REL_S=$(secs "$t0" "$t1")
kill -INT "$WPID"; wait "$WPID" || true; WPID=""
MISS1=$(metric ctxmap_heat_tile_cache_misses_total)
cat "$OUT/wrk-spread-during-release.txt"
wrk_ok "$OUT/wrk-spread-during-release.txt"
REL1="$("$BIN/tilebench" releaseid -base "$C" -H "$AUTH" -after "$REL0")"
REL1_MS=$(release_ms "$REL1")
releases | jq -c --argjson id "$REL1" '.releases[] | select(.id == $id)' | tee "$OUT/release-$REL1.json"
echo "release $REL1: command wall time ${REL_S} s, duration_ms $REL1_MS; tile cache misses during wrk: $((MISS1 - MISS0))" | tee -a "$OUT/release.txt"

say "(2) first requests of a new release: $ROUNDS releases; the hot tile first, then the $((NTILES - 1)) others, 1 connection"
LOAD -base "$C" -c 1 -rounds "$ROUNDS" -label first-c1 -H "$GZ" -H "$AUTH" \
  -release "$BIN/ctxmap release --force" -warm "$HOT" -paths "$OUT/spread-others.txt"
releases | jq -c '.releases[]' >"$OUT/releases.jsonl"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

say "stop servers"
cleanup
CPID="" FPID=""
gzip -f "$OUT/ctxmap.log"
[ "${KEEP_BIN:-0}" = 1 ] || rm -rf "$BIN"
[ "${KEEP_DB:-1}" = 1 ] || psql "$ADMIN_URL" -qAt -c "DROP DATABASE $BENCH_DB"

# ---- summary -------------------------------------------------------------
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
series() { # server enc col(1 rps, 2 p50, 3 p99) -> median over rounds
  for r in $(seq 1 "$HTTP_ROUNDS"); do wrkcol "$OUT/wrk-$1-$2-$r.txt" | cut -d' ' -f"$3"; done | median
}
perround() { # server enc -> "rps, rps, rps"
  for r in $(seq 1 "$HTTP_ROUNDS"); do wrkcol "$OUT/wrk-$1-$2-$r.txt" | cut -d' ' -f1; done | paste -sd, - | sed 's/,/, /g'
}
cpuseries() { # server enc -> median server CPU us per request over rounds
  for r in $(seq 1 "$HTTP_ROUNDS"); do cpu_per_request "$OUT/wrk-$1-$2-$r.txt" "$OUT/cpu-$1-$2-$r.txt"; done | median
}
cpuround() { # server enc -> "us, us, us"
  for r in $(seq 1 "$HTTP_ROUNDS"); do cpu_per_request "$OUT/wrk-$1-$2-$r.txt" "$OUT/cpu-$1-$2-$r.txt"; done | paste -sd, - | sed 's/,/, /g'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
field() { grep "^RESULT label=$1 " "$OUT/load.txt" | tail -1 | sed -E "s/.* $2=([0-9.]+).*/\1/"; }
{
  echo "### Run $(basename "$OUT")"
  echo
  echo "$N harm locations ($(grep '^harm_locations' "$OUT/machine.txt" | cut -d' ' -f2-)), imported in ${IMPORT_S} s; $NTILES distinct z$ZOOM tiles; wrk -t$THREADS -c$CONNS."
  echo
  echo "(3) cached hot tile $HOT, wrk -d$DURATION, median of $HTTP_ROUNDS interleaved rounds:"
  echo
  echo "| encoding | control tiles/s | control p50 / p99 ms | ctxmap tiles/s | ctxmap p50 / p99 ms | ctxmap / control | per round (control; ctxmap) |"
  echo "|---|---|---|---|---|---|---|"
  for enc in gzip identity; do
    fr=$(series fixed $enc 1); cr=$(series ctxmap $enc 1)
    printf '| %s | %s | %s / %s | %s | %s / %s | **%s** | %s; %s |\n' "$enc" "$fr" "$(series fixed $enc 2)" "$(series fixed $enc 3)" \
      "$cr" "$(series ctxmap $enc 2)" "$(series ctxmap $enc 3)" "$(ratio "$cr" "$fr")" "$(perround fixed $enc)" "$(perround ctxmap $enc)"
  done
  if [ "$DIAG" = 1 ]; then
    for enc in gzip identity; do
      fr=$(series fixed $enc 1); cr=$(series ctxmap-warn $enc 1)
      printf '| %s, ctxmap --log-level warn (diagnosis) | | | %s | %s / %s | %s | %s |\n' "$enc" "$cr" "$(series ctxmap-warn $enc 2)" \
        "$(series ctxmap-warn $enc 3)" "$(ratio "$cr" "$fr")" "$(perround ctxmap-warn $enc)"
    done
  fi
  if [ -n "$BASE_BIN" ]; then
    for enc in gzip identity; do
      fr=$(series fixed $enc 1); cr=$(series ctxmap-base $enc 1)
      printf '| %s, ctxmap-base (%s) | | | %s | %s / %s | %s | %s |\n' "$enc" "$(basename "$BASE_BIN")" "$cr" "$(series ctxmap-base $enc 2)" \
        "$(series ctxmap-base $enc 3)" "$(ratio "$cr" "$fr")" "$(perround ctxmap-base $enc)"
    done
  fi
  echo
  echo "Server CPU per request (the process's user + system time over each wrk run / its requests), median of the rounds; control / ctxmap is the throughput ratio the two would have with the same CPU:"
  echo
  echo "| encoding | control us/tile | ctxmap us/tile | control / ctxmap | per round (control; ctxmap) |"
  echo "|---|---|---|---|---|"
  for enc in gzip identity; do
    fc=$(cpuseries fixed $enc); cc=$(cpuseries ctxmap $enc)
    printf '| %s | %s | %s | %s | %s; %s |\n' "$enc" "$fc" "$cc" "$(ratio "$fc" "$cc")" "$(cpuround fixed $enc)" "$(cpuround ctxmap $enc)"
    if [ -n "$BASE_BIN" ]; then
      bc=$(cpuseries ctxmap-base $enc)
      printf '| %s, ctxmap-base | | %s | %s | %s |\n' "$enc" "$bc" "$(ratio "$fc" "$bc")" "$(cpuround ctxmap-base $enc)"
    fi
  done
  echo
  echo "- bodies: $(sed -E 's/.*: //' "$OUT/fixed.out"); the tile: $(sed 's/$/;/' "$OUT/tiles.txt" | paste -sd' ' -)"
  read -r brps bp50 bp99 <<<"$(wrkcol "$OUT/wrk-spread-before.txt")"
  read -r drps dp50 dp99 <<<"$(wrkcol "$OUT/wrk-spread-during-release.txt")"
  echo "- (1) release $REL1 under load: \`ctxmap release --force\` wall time **${REL_S} s**, duration_ms **$REL1_MS**;" \
    "cached tiles of release $REL0 during it (wrk, $NTILES tiles cycled): $drps tiles/s, p50 **$dp50 ms**, p99 **$dp99 ms**" \
    "(tile cache misses during the run: $((MISS1 - MISS0))); the same before the release: $brps tiles/s, p50 $bp50 ms, p99 $bp99 ms"
  echo "- first release, made by the server at start: $(jq -r '.duration_ms' "$OUT/release-$REL0.json") ms (serving it ${START_S} s after the process started)"
  echo "- (2) after each of $ROUNDS releases (\`ctxmap release --force\` without other load: p50 $(field first-c1 release_p50_s) s, max $(field first-c1 release_max_s) s):" \
    "first request of the hot tile (loads the published set) p50 **$(field first-c1 warm_p50_ms) ms**, max $(field first-c1 warm_max_ms) ms;" \
    "first request of each of the other $((NTILES - 1)) tiles, 1 connection: p50 **$(field first-c1 p50_ms) ms**, p90 $(field first-c1 p90_ms) ms, p99 $(field first-c1 p99_ms) ms, max $(field first-c1 max_ms) ms"
  echo "- release durations (duration_ms, newest first): $(jq -r '"\(.id): \(.duration_ms) ms (\(.how))"' "$OUT/releases.jsonl" | paste -sd, - | sed 's/,/, /g')"
  echo "- CPU used by other processes just before each run: $(sed -E 's/^([^:]+): other processes used ([0-9]+)%.*/\1 \2%/' "$OUT/quiet.txt" | paste -sd, - | sed 's/,/, /g')"
  echo "- $(grep 'load average at start' "$OUT/machine.txt"); $(grep 'load average at end' "$OUT/machine.txt")"
} | tee "$OUT/summary.md"
echo
echo "results in $OUT"
