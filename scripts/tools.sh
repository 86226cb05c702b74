#!/usr/bin/env bash
# Command-line tools the Go tests use besides PostgreSQL (which scripts/pg.sh
# installs): GDAL's ogrinfo (Debian gdal-bin), the real GIS client that reads
# the CSV and GeoJSON exports. `make unit` (part of `make test`) runs this
# first, so a fresh Debian machine gets what the tests need. Without root or
# apt-get it only says what is missing; the tests that need a tool then skip
# locally and fail under CI=true.
set -euo pipefail

log() { printf 'tools.sh: %s\n' "$*" >&2; }

missing=()
command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "missing ${missing[*]}: sudo apt-get install -y ${missing[*]}"
  exit 0
fi
log "installing ${missing[*]} from the distribution's packages"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
