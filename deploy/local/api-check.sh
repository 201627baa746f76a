#!/usr/bin/env bash
# Fails when the committed OpenAPI document or the web client's types differ from what the BFF's
# route schemas generate (regenerate: npm run api).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$ROOT/deploy/local/api.sh" "$tmp"
if ! diff -r "$tmp" "$ROOT/web/src/lib/api/generated" >/dev/null; then
  echo "web/src/lib/api/generated is stale: run 'npm run api' and commit the result" >&2
  diff -r "$tmp" "$ROOT/web/src/lib/api/generated" | head -n 20 >&2
  exit 1
fi
