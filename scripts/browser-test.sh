#!/usr/bin/env bash
# Browser tests of the map UI in headless Debian Chromium (playwright-core),
# against the real server and a fresh PostGIS database:
#   build bin/ctxmap (or use $CTXMAP_BIN), create database ctxmap_browser_<random>, migrate, load
#   the demo data (and, when ../shared/data exists, the Hackney boundary and
#   the Code-Point Open "E" postcode area) and planted hot spots, start a real OpenID Connect
#   provider (cmd/oidc-testop: zitadel's example provider with one test user) on a free port,
#   serve on a free 127.0.0.1 port with single sign-on through it, wait for /readyz, run
#   web/ui/test/run.mjs, then stop the server and the provider (by their PIDs) and drop the
#   database.
#
# Needs DATABASE_URL (and CTXMAP_TEST_DATABASE_URL, a URL of a database on
# the same cluster with CREATEDB rights); without them the private cluster of
# scripts/pg.sh is started. With CI=true a missing Chromium is a failure, not
# a skip. Screenshots go to screenshots/ (git-ignored); set
# CTXMAP_UPDATE_SCREENSHOT=1 to refresh docs/screenshot-map.png as well.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf 'browser-test: %s\n' "$*" >&2; }

CHROMIUM="${CTXMAP_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing Debian's chromium (several minutes the first time)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true
fi
# Under CI (any value but empty or "false", as the Go tests read it) nothing
# may be skipped or quietly replaced.
is_ci() { [ -n "${CI:-}" ] && [ "${CI}" != false ]; }
if [ ! -x "$CHROMIUM" ]; then
  if is_ci; then
    log "FAIL: $CHROMIUM is missing and CI=true (apt-get install -y chromium)"
    exit 1
  fi
  log "SKIP: $CHROMIUM is missing (apt-get install -y chromium); with CI=true this fails"
  exit 0
fi

# The UI's npm packages (playwright-core, maplibre-gl) and the vendored MapLibre.
bash scripts/ui.sh
# CTXMAP_BIN: a binary already built (e.g. by make build); else build one.
BIN="${CTXMAP_BIN:-}"
if [ -z "$BIN" ]; then
  log "building bin/ctxmap"
  go build -o bin/ctxmap ./cmd/ctxmap
  BIN=bin/ctxmap
fi

if [ -z "${DATABASE_URL:-}" ]; then
  bash scripts/pg.sh start
  eval "$(bash scripts/pg.sh env)"
fi
ADMIN_URL="${CTXMAP_TEST_DATABASE_URL:-$DATABASE_URL}"
PSQL="$(command -v psql || true)"
if [ -z "$PSQL" ]; then
  for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    if [ -x "/usr/lib/postgresql/$v/bin/psql" ]; then PSQL="/usr/lib/postgresql/$v/bin/psql"; break; fi
  done
fi
[ -n "$PSQL" ] || { log "FAIL: psql not found"; exit 1; }

DB="ctxmap_browser_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Same cluster and options, another database name.
DB_URL="$(printf '%s' "$ADMIN_URL" | sed -E "s#^(postgres(ql)?://[^/]*/)[^?]*#\1$DB#")"
WORK="$(mktemp -d -t ctxmap-browser.XXXXXX)"
SERVER_PID=""
OP_PID=""
BASEMAP_PID=""

cleanup() {
  local rc=$?
  if [ -n "$OP_PID" ] && kill -0 "$OP_PID" 2>/dev/null; then
    kill -TERM "$OP_PID" 2>/dev/null || true
  fi
  for pid in "$SERVER_PID" "$BASEMAP_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  "$PSQL" "$ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 \
    || log "could not drop database $DB"
  if [ $rc -ne 0 ] && [ -f "$WORK/server.log" ]; then
    log "last lines of the server log:"; tail -n 40 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

log "creating database $DB"
"$PSQL" "$ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null

export DATABASE_URL="$DB_URL"
export CTXMAP_SECRET="browser-test-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export CTXMAP_LOG_FORMAT=text CTXMAP_LOG_LEVEL="${CTXMAP_LOG_LEVEL:-warn}"
# The map must work with no basemap: never let a developer's setting leak in.
unset CTXMAP_BASEMAP_URL

"$BIN" migrate up >/dev/null
SHARED="${CTXMAP_SHARED_DATA:-$ROOT/../shared/data}"
if [ -f "$SHARED/codepoint-open/CSV/e.csv" ]; then
  log "importing Code-Point Open area E (postcode search by postcode)"
  if "$BIN" import postcodes --format codepoint "$SHARED/codepoint-open/CSV/e.csv" >"$WORK/import.log" 2>&1; then
    export CTXMAP_TEST_POSTCODE="E8 3AA"
  else
    log "postcode import failed; the search test uses lat,lon instead:"; tail -n 3 "$WORK/import.log" >&2
    if is_ci; then exit 1; fi
  fi
elif is_ci; then
  log "FAIL: $SHARED/codepoint-open is missing under CI (set CTXMAP_SHARED_DATA)"; exit 1
fi
if [ -f "$SHARED/boundaries/london/ward/E09000012.geojson" ]; then
  "$BIN" import boundary --name "Hackney wards" "$SHARED/boundaries/london/ward/E09000012.geojson" >/dev/null \
    || { log "boundary import failed; the map is tested without one"; if is_ci; then exit 1; fi; }
fi
log "loading the demo data"
"$BIN" seed-demo >"$WORK/seed.log"
# The demo data alone publishes too few cells for the hot spot analysis to
# find anything: plant a rising and a falling cluster, then release them.
log "planting hot spots (web/ui/test/plant-hotspots.mjs) and making a release"
node web/ui/test/plant-hotspots.mjs >"$WORK/hotspots.csv"
"$BIN" import harm-locations --as demo-practitioner "$WORK/hotspots.csv" >"$WORK/plant.log"
"$BIN" release --force >>"$WORK/plant.log"

# Single sign-on (issue 15): a real OpenID provider, zitadel's example one
# (cmd/oidc-testop), on a free loopback port, with one user whose groups map to
# the practitioner role (and one in no ctxmap group). The server's callback URL must be registered before
# it starts, so its port is chosen here.
log "building and starting the OpenID provider (cmd/oidc-testop)"
go build -o "$WORK/oidc-testop" ./cmd/oidc-testop
OIDC_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# ctxmap reads it from a file of its own, as a deployment should: a flag's value is in ps for every user.
(umask 077; printf %s "$OIDC_SECRET" >"$WORK/oidc-client-secret")
export CTXMAP_OIDC_USER="sso.practitioner" CTXMAP_OIDC_PASSWORD="op-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export CTXMAP_OIDC_NAME="Test Council" CTXMAP_OIDC_UNMAPPED_USER="sso.unmapped"
"$WORK/oidc-testop" --listen 127.0.0.1:0 --client-id ctxmap-browser --client-secret "$OIDC_SECRET" \
  --redirect-glob 'http://127.0.0.1:*/api/v1/auth/oidc/callback' --post-logout-glob 'http://127.0.0.1:*/' \
  --user "$CTXMAP_OIDC_USER:$CTXMAP_OIDC_PASSWORD:grp-staff;grp-ctxmap-practitioners:Hackney North" \
  --user "$CTXMAP_OIDC_UNMAPPED_USER:$CTXMAP_OIDC_PASSWORD:grp-staff:Hackney North" \
  >"$WORK/op.out" 2>"$WORK/op.log" &
OP_PID=$!
ISSUER=""
for _ in $(seq 1 100); do
  ISSUER="$(sed -nE 's#^issuer (http://[0-9.:]+/)$#\1#p' "$WORK/op.out" | head -n1)"
  [ -n "$ISSUER" ] && break
  kill -0 "$OP_PID" 2>/dev/null || { log "FAIL: the OpenID provider exited:"; tail -n 20 "$WORK/op.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$ISSUER" ] || { log "FAIL: the OpenID provider did not say where it listens"; exit 1; }
export CTXMAP_OIDC_ISSUER="$ISSUER"
PORT="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
log "OpenID provider at $ISSUER (pid $OP_PID); the server will listen on port $PORT"

# Every response the browser gets is checked against the OpenAPI document
# (issue 15); a violation fails the run below.
"$BIN" serve --listen "127.0.0.1:$PORT" --validate-responses \
  --oidc-issuer "$ISSUER" --oidc-client-id ctxmap-browser --oidc-client-secret-file "$WORK/oidc-client-secret" \
  --oidc-redirect-url "http://127.0.0.1:$PORT/api/v1/auth/oidc/callback" --oidc-name "$CTXMAP_OIDC_NAME" \
  --oidc-role-claim groups --oidc-role-map "grp-ctxmap-admins=admin,grp-ctxmap-practitioners=practitioner" \
  --oidc-team-claim team \
  >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  URL="$(sed -nE 's#.*serving on (http://[0-9.:]+).*#\1#p' "$WORK/server.out" | head -n1)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { log "FAIL: the server exited"; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { log "FAIL: the server did not say where it listens"; exit 1; }
ready() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$URL/readyz"; }
for _ in $(seq 1 300); do
  if ready; then break; fi
  sleep 0.1
done
ready || { log "FAIL: $URL/readyz never answered 200"; exit 1; }
log "server ready at $URL (pid $SERVER_PID)"

# A second server on the same database with a local PMTiles basemap the
# test writes (web/ui/test/write-pmtiles.mjs): place.test.mjs checks that the
# map draws it and asks no other host.
node web/ui/test/write-pmtiles.mjs "$WORK/basemap-test.pmtiles"
# It signs in by password only: the OpenID provider's issuer, exported for
# the tests, must not switch single sign-on on for it.
env -u CTXMAP_OIDC_ISSUER "$BIN" serve --listen 127.0.0.1:0 --validate-responses --basemap "$WORK/basemap-test.pmtiles" \
  --release-schedule off --retention-schedule off >"$WORK/basemap.out" 2>"$WORK/basemap.log" &
BASEMAP_PID=$!
BASEMAP_URL=""
for _ in $(seq 1 300); do
  BASEMAP_URL="$(sed -nE 's#.*serving on (http://[0-9.:]+).*#\1#p' "$WORK/basemap.out" | head -n1)"
  [ -n "$BASEMAP_URL" ] && break
  kill -0 "$BASEMAP_PID" 2>/dev/null || { log "FAIL: the basemap server exited"; tail -n 5 "$WORK/basemap.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$BASEMAP_URL" ] || { log "FAIL: the basemap server did not say where it listens"; exit 1; }
export CTXMAP_BASEMAP_SERVER_URL="$BASEMAP_URL"

export CTXMAP_URL="$URL" CTXMAP_CHROMIUM="$CHROMIUM" CTXMAP_SCREENSHOTS="$ROOT/screenshots" CTXMAP_DOCS="$ROOT/docs"
rc=0
node web/ui/test/run.mjs "$@" || rc=$?
if grep -q "openapi violation" "$WORK/server.log" "$WORK/basemap.log"; then
  log "FAIL: $(cat "$WORK/server.log" "$WORK/basemap.log" | grep -c "openapi violation") responses broke the OpenAPI document:"
  cat "$WORK/server.log" "$WORK/basemap.log" | grep "openapi violation" | sed -E 's/^time=[^ ]+ //' | sort | uniq -c | sort -rn | head -n 20 >&2
  [ $rc -ne 0 ] || rc=1
fi
exit $rc
