#!/usr/bin/env bash
# Prints the deployment secret of the private development setup, creating it
# once in .data/secret (mode 0600). Production deployments set CTXMAP_SECRET
# themselves; it keys the hashes of young people's ids, so it must never change.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
F="$ROOT/.data/secret"
if [ -n "${CTXMAP_SECRET:-}" ]; then echo "$CTXMAP_SECRET"; exit 0; fi
if [ ! -s "$F" ]; then
  mkdir -p "$ROOT/.data"
  (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$F")
fi
cat "$F"
