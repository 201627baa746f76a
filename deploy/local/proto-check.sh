#!/usr/bin/env bash
# Fails when proto/gen differs from what the .proto sources generate (regenerate: npm run proto).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT/proto"
"$ROOT/node_modules/.bin/buf" lint
"$ROOT/node_modules/.bin/buf" generate -o "$tmp"
if ! diff -r "$tmp/gen" gen >/dev/null; then
  echo "proto/gen is stale: run 'npm run proto' and commit the result" >&2
  diff -r "$tmp/gen" gen | head -n 20 >&2
  exit 1
fi
