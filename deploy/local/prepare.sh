#!/usr/bin/env bash
# Shared by `npm start` and `npm test`: installs dependencies when missing and, unless MONGO_URL,
# REDIS_URL and AMQP_URL are all given, starts the local infrastructure and exports its URLs.
# Source it: `. deploy/local/prepare.sh`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[prepare] installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
# npm puts node_modules/.bin first for scripts; make it so for direct calls of this script too.
export PATH="$ROOT/node_modules/.bin:$PATH"

if [ -z "${MONGO_URL:-}" ] || [ -z "${REDIS_URL:-}" ] || [ -z "${AMQP_URL:-}" ]; then
  eval "$(bash deploy/local/infra.sh up)"
fi
export MONGO_URL REDIS_URL AMQP_URL
