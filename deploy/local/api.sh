#!/usr/bin/env bash
# The HTTP contract's generated files (`npm run api`): the BFF's OpenAPI document, generated from its
# route schemas, and the web client's types generated from that document. With a folder argument
# they are written there instead of web/src/lib/api/generated (used by api-check.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/web/src/lib/api/generated}"
mkdir -p "$OUT"
cd "$ROOT"
node services/bff/scripts/write-openapi.ts "$OUT/openapi.json"
node_modules/.bin/openapi-typescript "$OUT/openapi.json" --output "$OUT/openapi.ts" --silent
