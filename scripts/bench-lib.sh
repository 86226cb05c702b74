# Shared by scripts/bench-*.sh (sourced, not run): the quiet-machine wait,
# the machine description and wrk's summary line. Expects $OUT to exist.
# Callers set QUIET_BUSY (%) and QUIET_WAIT (s).

say() { printf '\n== %s\n' "$*" | tee -a "$OUT/run.log" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

cpu_busy() { # whole-machine CPU busy % over $1 seconds
  local s1 s2
  s1="$(head -1 /proc/stat)"; sleep "$1"; s2="$(head -1 /proc/stat)"
  awk -v a="$s1" -v b="$s2" 'BEGIN { split(a, x); split(b, y); t = 0
    for (k = 2; k <= 9; k++) t += y[k] - x[k]
    idle = (y[5] - x[5]) + (y[6] - x[6]); printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}

# wait_quiet LABEL: on a shared machine, wait (up to QUIET_WAIT s) until the
# other processes use less than QUIET_BUSY % of the CPU, and record what
# they used in $OUT/quiet.txt.
wait_quiet() {
  local waited=0 b
  while :; do
    b=$(cpu_busy 2)
    if [ "$b" -le "$QUIET_BUSY" ] || [ "$waited" -ge "$QUIET_WAIT" ]; then break; fi
    waited=$((waited + 2))
  done
  echo "$1: other processes used ${b}% of the CPU just before (waited ${waited} s); load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/quiet.txt"
}

machine() { # the machine, tools and commit, into $OUT/machine.txt
  {
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket)'
    free -g | awk '/^Mem:/ { print "RAM: " $2 " GiB" }'
    echo "kernel: $(uname -r)"; go version; psql --version; { wrk --version 2>&1 || true; } | head -1
    echo "commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } | tee "$OUT/machine.txt"
}

wrkcol() { # wrk report -> "tiles/s p50_ms p99_ms"
  awk 'function msv(s) { if (s ~ /us$/) return s/1000; if (s ~ /ms$/) return s+0; if (s ~ /s$/) return s*1000; return s }
       /Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = msv($2) } /^ +99%/ { p99 = msv($2) }
       END { printf "%.0f %.2f %.2f", rps, p50, p99 }' "$1"
}

wrk_ok() { # wrk report: fail on errors
  if grep -qE 'Non-2xx|Socket errors' "$1"; then echo "wrk $1 had errors" >&2; return 1; fi
}

build_and_db() { # build both binaries into $BIN, a fresh $BENCH_DB migrated, two bench users; sets DATABASE_URL, ADMIN_URL, AUTH, ADMIN_AUTH
  say "build"
  go build -o "$BIN/ctxmap" ./cmd/ctxmap
  go build -o "$BIN/tilebench" ./cmd/tilebench
  say "database $BENCH_DB"
  bash scripts/pg.sh start
  eval "$(bash scripts/pg.sh env)"
  ADMIN_URL="$DATABASE_URL"
  DATABASE_URL="$(printf %s "$ADMIN_URL" | sed "s#/ctxmap?#/$BENCH_DB?#")"
  export DATABASE_URL
  psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -qAt -c "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB"
  "$BIN/ctxmap" migrate up
  psql "$DATABASE_URL" -qAt -c 'SELECT postgis_full_version()' | cut -c1-60 | tee -a "$OUT/machine.txt"
  psql "$DATABASE_URL" -qAt -c 'SHOW shared_buffers' -c 'SHOW work_mem' | paste -sd' ' - | sed 's/^/shared_buffers, work_mem: /' | tee -a "$OUT/machine.txt"
  "$BIN/ctxmap" users add --name bench-practitioner --role practitioner --team "Bench Youth Justice" >/dev/null
  local token
  token="$("$BIN/ctxmap" users add --name bench-analyst --role analyst --team "Bench Insight" | sed -n 's/^token.*: //p')"
  [ -n "$token" ] || { echo "no token from ctxmap users add" >&2; exit 1; }
  AUTH="Authorization: Bearer $token"
  # /metrics answers admins only.
  token="$("$BIN/ctxmap" users add --name bench-admin --role admin --team "Bench Insight" | sed -n 's/^token.*: //p')"
  [ -n "$token" ] || { echo "no admin token from ctxmap users add" >&2; exit 1; }
  ADMIN_AUTH="Authorization: Bearer $token"
}

# bench_port N: the N-th port (0, 1, 2, ...) for this run's servers. With
# CTXMAP_PG_PORT set (a private cluster per engineer, several at once on one
# machine), the ports are that port + 1000, + 2000, ...: fixed and our own,
# so two engineers' runs cannot pick each other's; otherwise any free port.
bench_port() {
  if [ -z "${CTXMAP_PG_PORT:-}" ]; then "$BIN/tilebench" freeport; return; fi
  local p=$((CTXMAP_PG_PORT + 1000 * ($1 + 1)))
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "port $p (CTXMAP_PG_PORT + $((1000 * ($1 + 1)))) is already in use" >&2; return 1
  fi
  echo "$p"
}

# bench_tools: the load generator and JSON tool the benchmarks run (Debian's
# wrk and jq), installed when missing and root may, else a clear stop before
# any work (a fresh machine has neither, and the run failed only at its
# first wrk, minutes in).
bench_tools() {
  local missing=() t
  for t in wrk jq; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2; exit 2
  fi
  echo "installing ${missing[*]} from the distribution's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# proc_cpu PID: the CPU time a process has used so far, in clock ticks
# (user + system, /proc/PID/stat fields 14 and 15).
proc_cpu() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# cpu_per_request WRK_REPORT CPU_FILE: the server's CPU microseconds per
# request over a wrk run (CPU_FILE: its ticks before and after). Unlike
# throughput, this hardly depends on what else the machine runs meanwhile.
cpu_per_request() {
  local n
  n=$(awk '/requests in/ { print $1 }' "$1")
  awk -v n="$n" -v hz="$(getconf CLK_TCK)" '{ d = $2 - $1 } END { if (n > 0) printf "%.1f\n", d / hz * 1e6 / n; else print "-" }' "$2"
}
