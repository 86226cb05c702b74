#!/usr/bin/env bash
# make test-scale (issue 15): two `ctxmap serve` replicas behind HAProxy, on a
# private PostgreSQL primary with a streaming replica for published reads, and
# the Go test that drives them (cmd/ctxmap/scale_test.go, build tag "scale"):
# a write on one replica read on the other after the next release; sessions,
# login limits, idempotency keys, notifications and tile ETags as one; the
# read replica used and its lag handled; one replica killed under load.
#
# Everything listens on 127.0.0.1 or on Unix sockets in .data/scale, which is
# made afresh on every run; every process started here is stopped by its PID
# (PostgreSQL by its data directory, as scripts/pg.sh does) when the script
# ends, pass or fail. It fails unless the Go test ran and passed.
#
# Ports: CTXMAP_SCALE_PG_PORT (primary, default 54339), the standby on the
# next port, HAProxy on CTXMAP_SCALE_LB_PORT (default primary + 1000) and
# its stats page on the port after. The replicas take free ports.
# CTXMAP_SCALE_LOAD is the length of the kill run (default 20s).
#
# Local figures: CTXMAP_SCALE_PG_PORT=54348 bash scripts/test-scale.sh prints
# throughput and latency directly and through HAProxy, what clients saw
# during the kill, and the replication lag (docs/BENCHMARKS.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
S="$ROOT/.data/scale"
PG_PORT="${CTXMAP_SCALE_PG_PORT:-54339}"
STANDBY_PORT="$((PG_PORT + 1))"
LB_PORT="${CTXMAP_SCALE_LB_PORT:-$((PG_PORT + 1000))}"
STATS_PORT="$((LB_PORT + 1))"
GO="${GO:-go}"
# Every response is checked against the OpenAPI document, as in the other
# end-to-end tests; CTXMAP_SCALE_VALIDATE=0 leaves that out, for figures of
# the server as deployed (the check buffers every response).
VALIDATE=--validate-responses
# The per-user daily cap of young people new to a user: above what the test's
# practitioner records, low enough for the test to reach it across replicas.
SUBJECT_CAP=60
[ "${CTXMAP_SCALE_VALIDATE:-1}" = 0 ] && VALIDATE=

log() { printf 'test-scale: %s\n' "$*" >&2; }

PIDS=()
cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  CTXMAP_PG_DIR="$S/standby" CTXMAP_PG_PORT="$STANDBY_PORT" bash scripts/pg.sh stop >/dev/null 2>&1 || true
  CTXMAP_PG_DIR="$S/primary" CTXMAP_PG_PORT="$PG_PORT" bash scripts/pg.sh stop >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    for f in "$S"/serve-*.log "$S"/haproxy.log; do
      [ -f "$f" ] && { log "last lines of $f:"; tail -n 20 "$f" >&2; }
    done
    log "FAILED (logs in .data/scale)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so the EXIT trap cleans up after Ctrl-C or a kill too

if ! command -v haproxy >/dev/null; then
  if [ "$(id -u)" != 0 ]; then log "haproxy missing and not root: apt-get install haproxy"; exit 1; fi
  log "installing HAProxy from the distribution's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq haproxy >/dev/null
fi

# A fresh start: the standby is a copy of this run's primary.
for d in standby primary; do
  port="$PG_PORT"; [ "$d" = standby ] && port="$STANDBY_PORT"
  CTXMAP_PG_DIR="$S/$d" CTXMAP_PG_PORT="$port" bash scripts/pg.sh stop >/dev/null 2>&1 || true
done
rm -rf "$S"
mkdir -p "$S"

log "building ctxmap"
"$GO" build -o "$S/ctxmap" ./cmd/ctxmap
BIN="$S/ctxmap"

log "primary on port $PG_PORT, streaming replica on $STANDBY_PORT"
primary() { CTXMAP_PG_DIR="$S/primary" CTXMAP_PG_PORT="$PG_PORT" bash scripts/pg.sh "$@"; }
standby() { CTXMAP_PG_DIR="$S/standby" CTXMAP_PG_PORT="$STANDBY_PORT" bash scripts/pg.sh "$@"; }
primary start
OWNER_URL="$(primary url)"
DATABASE_URL="$OWNER_URL" "$BIN" migrate up >/dev/null
standby standby "$S/primary" "$PG_PORT"
# The superuser's URL: the test pauses and resumes the standby's replay.
STANDBY_SU_URL="$(standby url)"

(umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$S/secret")

# serve N starts replica N and sets ADDR_N and PID_N.
serve() {
  local n="$1" out="$S/serve-$1.out"
  : >"$out" # the background job opens it after it forks
  "$BIN" serve --listen 127.0.0.1:0 --database-url "$(primary runtime-url)" \
    --database-read-url "$(standby runtime-url)" --secret-file "$S/secret" --k 10 \
    --release-poll 200ms --trusted-proxy 127.0.0.1 --subject-daily-cap "$SUBJECT_CAP" \
    $VALIDATE --log-format text --log-level warn >"$out" 2>"$S/serve-$n.log" &
  PIDS+=($!)
  eval "PID_$n=$!"
  disown "$!" # the test kills one on purpose: no "Killed" notice from bash
  local addr=""
  for _ in $(seq 600); do
    addr="$(sed -n 's#.*serving on http://\([0-9.:]*\).*#\1#p' "$out")"
    [ -n "$addr" ] && break
    kill -0 "$!" 2>/dev/null || { log "replica $n exited"; exit 1; }
    sleep 0.1
  done
  [ -n "$addr" ] || { log "replica $n did not start within 60 s"; exit 1; }
  eval "ADDR_$n=$addr"
}
serve a
serve b
log "replicas: a on $ADDR_a (pid $PID_a), b on $ADDR_b (pid $PID_b)"

# HAProxy: round robin over both, health-checked on /readyz every 500 ms,
# down after 2 failed checks and up again after 2 good ones. A GET whose
# connection failed or was cut (the replica died under it) is retried, on
# the other replica (redispatch); requests with other methods are not.
cat >"$S/haproxy.cfg" <<CFG
global
  maxconn 512
  log stdout format short local0 info

defaults
  mode http
  log global
  option httplog
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout

frontend ctxmap
  bind 127.0.0.1:$LB_PORT
  option forwardfor
  default_backend replicas

backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  http-request disable-l7-retry unless METH_GET || METH_HEAD
  http-response set-header X-Served-By %s
  default-server inter 500ms fastinter 250ms downinter 1s fall 2 rise 2 on-marked-down shutdown-sessions
  server a $ADDR_a check
  server b $ADDR_b check

listen stats
  bind 127.0.0.1:$STATS_PORT
  stats enable
  stats uri /stats
  stats refresh 1s
CFG
haproxy -c -q -f "$S/haproxy.cfg"
haproxy -db -f "$S/haproxy.cfg" >"$S/haproxy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  if [ "$(curl -fsS "http://127.0.0.1:$STATS_PORT/stats;csv" 2>/dev/null | grep -c '^replicas,[ab],.*,UP,')" = 2 ]; then break; fi
  sleep 0.1
done
log "HAProxy on 127.0.0.1:$LB_PORT (stats on $STATS_PORT)"

log "running the Go test"
set +e
CTXMAP_SCALE_LB="http://127.0.0.1:$LB_PORT" \
CTXMAP_SCALE_STATS="http://127.0.0.1:$STATS_PORT/stats;csv" \
CTXMAP_SCALE_A="http://$ADDR_a" CTXMAP_SCALE_A_PID="$PID_a" \
CTXMAP_SCALE_B="http://$ADDR_b" CTXMAP_SCALE_B_PID="$PID_b" \
CTXMAP_SCALE_DATABASE_URL="$OWNER_URL" CTXMAP_SCALE_STANDBY_URL="$STANDBY_SU_URL" \
CTXMAP_SCALE_LOAD="${CTXMAP_SCALE_LOAD:-20s}" CTXMAP_SCALE_SUBJECT_CAP="$SUBJECT_CAP" \
  "$GO" test -tags scale -count=1 -v -timeout 5m -run '^TestScale$' ./cmd/ctxmap 2>&1 | tee "$S/test.out"
rc="${PIPESTATUS[0]}"
set -e
if [ "$rc" != 0 ]; then log "the Go test failed"; exit 1; fi
# go test passes when no test matched: insist that this one ran.
if ! grep -q -- '^--- PASS: TestScale ' "$S/test.out"; then log "TestScale did not run"; exit 1; fi
if grep -h 'openapi violation' "$S"/serve-*.log >&2; then log "responses broke the OpenAPI document"; exit 1; fi
if grep -h 'internal error' "$S"/serve-*.log >&2; then log "a replica logged internal errors"; exit 1; fi
# What HAProxy did for the clients: requests it retried on the other replica
# (the "+N" retries field of its log: the replica died under them).
redispatched="$(awk '$11 ~ /\/\+[0-9]+$/ {n++} END {print n+0}' "$S/haproxy.log")"
log "HAProxy redispatched $redispatched requests to the other replica; load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "passed"
