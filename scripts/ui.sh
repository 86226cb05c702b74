#!/usr/bin/env bash
# Installs the map's npm packages from the lockfile (only when they changed)
# and copies MapLibre into web/static/vendor for the Go binary to embed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/web/ui"
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "ui.sh: npm is missing; install Node.js and npm" >&2; exit 1
  fi
fi
stamp=node_modules/.ctxmap-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent vendor
