#!/usr/bin/env bash
# `npm test`: installs what is missing, starts the local infrastructure when no URLs are given,
# checks that generated contract code is current, type-checks, builds the web app, and runs every
# vitest project (unit, integration, e2e).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"

echo "[test] contract code is current" >&2
bash deploy/local/proto-check.sh
echo "[test] type-check" >&2
tsc -p tsconfig.json
echo "[test] lint" >&2
eslint .
echo "[test] web build" >&2
npm run build -w web --silent
echo "[test] vitest" >&2
exec vitest run "$@"
