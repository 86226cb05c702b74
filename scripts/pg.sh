#!/usr/bin/env bash
# A private PostGIS cluster for `make run` and `make test`, under .data/pg in
# the project folder, on its own port and a Unix socket only (no TCP listener,
# so nobody else on the machine can reach it; the socket directory is 0700).
# Any system cluster is left alone. DATABASE_URL, when set, overrides all this
# in the Makefile.
#
#   scripts/pg.sh start   install what is missing, init once, start if stopped
#   scripts/pg.sh stop    stop the private cluster (only ours, by its data dir)
#   scripts/pg.sh running exit 0 when the private cluster is up
#   scripts/pg.sh env     print export lines for DATABASE_URL and the test URL
#   scripts/pg.sh url     print the application database URL (the schema owner's)
#   scripts/pg.sh runtime-url  the same as the service's role, ctxmap_app (migration 00006)
#   scripts/pg.sh standby PRIMARY_DIR PRIMARY_PORT
#                         a streaming replica of the private cluster in PRIMARY_DIR (a CTXMAP_PG_DIR)
#                         listening on PRIMARY_PORT: pg_basebackup -R once, then started read-only
#                         (hot standby) on CTXMAP_PG_PORT; stop, url and env work on it as on a primary
#
# CTXMAP_PG_DIR (default .data/pg in the project folder) holds a cluster, so
# scripts (scripts/test-scale.sh) can run a primary and a standby of their own.
#
# Durability: every start writes synchronous_commit = on and fsync = on into the
# cluster's postgresql.conf (replacing whatever an older pg.sh wrote there) and
# reloads a running server, so a commit the service acknowledged survives a
# crash. CTXMAP_PG_UNSAFE_NO_SYNC=1 is the one explicit, test-only speed switch:
# it writes both settings off, and a crash may then lose acknowledged writes
# (or, after an OS crash, the cluster). It lasts until the next start without it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${CTXMAP_PG_PORT:-54329}"
D="${CTXMAP_PG_DIR:-$ROOT/.data/pg}"
DATA="$D/data"
# sock_of DIR is the socket directory of the cluster in DIR. Unix socket
# paths are limited to ~107 bytes; fall back to /tmp for deep checkouts.
sock_of() {
  local s="$1/run"
  if [ "${#s}" -gt 80 ]; then
    s="/tmp/ctxmap-pg-$(printf %s "$1" | sha256sum | cut -c1-10)"
  fi
  echo "$s"
}
SOCK="$(sock_of "$D")"
DB=ctxmap

log() { printf 'pg.sh: %s\n' "$*" >&2; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pgbin() {
  local v
  for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then echo "/usr/lib/postgresql/$v/bin"; return; fi
  done
}

have_postgis() {
  local bin="$1" share
  share="$("$bin/pg_config" --sharedir 2>/dev/null || true)"
  [ -n "$share" ] && ls "$share"/extension/postgis.control >/dev/null 2>&1
}

install_packages() {
  local bin ver pkgs=()
  bin="$(pgbin || true)"
  if [ -n "$bin" ] && have_postgis "$bin"; then return; fi
  if [ -n "$bin" ]; then ver="$(basename "$(dirname "$bin")")"; fi
  if [ -z "${ver:-}" ]; then
    # No server yet: take the distribution's default major version.
    pkgs+=(postgresql)
  fi
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL/PostGIS missing and not root: install postgresql-${ver:-<major>}-postgis-3 (sudo apt-get install ...)"
    exit 1
  fi
  log "installing PostgreSQL + PostGIS from the distribution's packages (about a minute)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  if [ -z "${ver:-}" ]; then
    apt-get install -y -qq postgresql >/dev/null
    bin="$(pgbin)"; ver="$(basename "$(dirname "$bin")")"
  fi
  apt-get install -y -qq "postgresql-$ver-postgis-3" >/dev/null
}

start() {
  install_packages
  local bin; bin="$(pgbin)"
  if [ "$(id -u)" = 0 ]; then
    install -d -o postgres -g postgres -m 700 "$D" "$SOCK"
  else
    install -d -m 700 "$D" "$SOCK"
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "creating the private cluster in $DATA"
    as_owner env LC_ALL=C.UTF-8 "$bin/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$DATA/postgresql.conf" <<CONF
# ctxmap private cluster: socket only, tuned for a small machine.
listen_addresses = ''
max_parallel_workers_per_gather = 0
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
CONF
  fi
  local sync
  sync="$(durability)"
  CONF_CHANGED=0
  set_conf synchronous_commit "$sync"
  set_conf fsync "$sync"
  if ! as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$D/server.log" -w -t 60 \
      -o "-p $PORT -k $SOCK" start >/dev/null
  elif [ "$CONF_CHANGED" = 1 ]; then
    as_owner "$bin/pg_ctl" -D "$DATA" reload >/dev/null
  fi
  local psql=("$bin/psql" -h "$SOCK" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
  check_durability "$sync" "${psql[@]}" -d postgres
  if [ "$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    "${psql[@]}" -d postgres -c "CREATE DATABASE $DB" >/dev/null
  fi
  "${psql[@]}" -d "$DB" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS postgis' >/dev/null
}

# durability prints the value for synchronous_commit and fsync: on unless the
# test-only switch asks for speed over safety.
durability() {
  case "${CTXMAP_PG_UNSAFE_NO_SYNC:-}" in
    "" | 0) echo on ;;
    1) log "CTXMAP_PG_UNSAFE_NO_SYNC=1: synchronous_commit and fsync off; a crash may lose acknowledged writes"; echo off ;;
    *) log "CTXMAP_PG_UNSAFE_NO_SYNC must be 1 or unset, not '$CTXMAP_PG_UNSAFE_NO_SYNC'"; exit 2 ;;
  esac
}

# set_conf KEY VALUE makes postgresql.conf say "KEY = VALUE" exactly once,
# replacing every active line for KEY (an older pg.sh appended
# "synchronous_commit = off"). It sets CONF_CHANGED=1 when it edited the file.
set_conf() {
  local key="$1" val="$2" f="$DATA/postgresql.conf" want
  want="$key = $val"
  if [ "$(grep -Ec "^[[:space:]]*$key[[:space:]]*=" "$f" || true)" = 1 ] && grep -qx "$want" "$f"; then
    return 0
  fi
  # Edit as the file's owner so it stays readable by the server.
  as_owner sed -E -i "/^[[:space:]]*$key[[:space:]]*=/d" "$f"
  printf '%s\n' "$want" | as_owner tee -a "$f" >/dev/null
  log "postgresql.conf: $want"
  CONF_CHANGED=1
}

# check_durability VALUE PSQL... fails when the running server does not use the
# settings just written (for example an ALTER SYSTEM override).
check_durability() {
  local want="$1" got; shift
  got="$("$@" -c 'SHOW synchronous_commit' -c 'SHOW fsync' | tr '\n' ' ')"
  if [ "$got" != "$want $want " ]; then
    log "the server runs with synchronous_commit/fsync = $got, want $want (check $DATA/postgresql.auto.conf)"
    exit 1
  fi
}

# standby PRIMARY_DIR PRIMARY_PORT makes (once) and starts a hot standby of
# the private cluster in PRIMARY_DIR, streaming from it over its Unix socket
# (the primary's default pg_hba trusts local replication connections).
standby() {
  local pdir="${1:?standby: give the primary data folder}" pport="${2:?standby: give the primary port}"
  install_packages
  local bin psock; bin="$(pgbin)"; psock="$(sock_of "$pdir")"
  if [ "$(id -u)" = 0 ]; then
    install -d -o postgres -g postgres -m 700 "$D" "$SOCK"
  else
    install -d -m 700 "$D" "$SOCK"
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "copying the primary into $DATA (pg_basebackup -R)"
    as_owner "$bin/pg_basebackup" -h "$psock" -p "$pport" -U postgres -D "$DATA" -R -X stream -c fast
  fi
  CONF_CHANGED=0
  local sync; sync="$(durability)"
  set_conf synchronous_commit "$sync"
  set_conf fsync "$sync"
  set_conf hot_standby on
  if ! as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$D/server.log" -w -t 60 \
      -o "-p $PORT -k $SOCK" start >/dev/null
  elif [ "$CONF_CHANGED" = 1 ]; then
    as_owner "$bin/pg_ctl" -D "$DATA" reload >/dev/null
  fi
  local psql=("$bin/psql" -h "$SOCK" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt -d postgres)
  if [ "$("${psql[@]}" -c 'SELECT pg_is_in_recovery()')" != t ]; then
    log "the cluster in $DATA is not a standby"; exit 1
  fi
}

stop() {
  local bin; bin="$(pgbin)"
  if [ -f "$DATA/PG_VERSION" ]; then as_owner "$bin/pg_ctl" -D "$DATA" -w stop -m fast || true; fi
}

running() {
  local bin; bin="$(pgbin || true)"
  [ -n "$bin" ] && [ -f "$DATA/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

url() { echo "postgres://${2:-postgres}@/$1?host=$SOCK&port=$PORT&sslmode=disable"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  standby) standby "${2:-}" "${3:-}" ;;
  running) running ;;
  url) url "$DB" ;;
  runtime-url) url "$DB" ctxmap_app ;;
  env)
    echo "export DATABASE_URL='$(url "$DB")'"
    echo "export CTXMAP_TEST_DATABASE_URL='$(url postgres)'"
    ;;
  *) echo "usage: $0 start|stop|running|env|url|runtime-url|standby PRIMARY_DIR PRIMARY_PORT" >&2; exit 2 ;;
esac
