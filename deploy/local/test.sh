#!/usr/bin/env bash
# `npm test`: installs what is missing, starts the local infrastructure when no URLs are given,
# checks that generated contract code (proto/gen, the OpenAPI document and the web client's types) is
# current, type-checks (web/ with svelte-check), lints, builds the web app, and runs every
# vitest project (unit, integration, e2e).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"

# Browser tests drive Debian's Chromium through playwright-core (no browser downloads).
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null; then
  echo "[test] installing chromium (apt-get)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
fi

echo "[test] contract code is current" >&2
bash deploy/local/proto-check.sh
bash deploy/local/api-check.sh
echo "[test] type-check" >&2
tsc -p tsconfig.json
npm run check -w web --silent
echo "[test] lint" >&2
eslint .
echo "[test] web build" >&2
npm run build -w web --silent
echo "[test] vitest" >&2
mkdir -p .data
status=0
vitest run --reporter=default --reporter=json --outputFile.json=.data/vitest-report.json "$@" || status=$?
# One plain summary line for CI: "N passed, N failed, N skipped".
node -e '
  const report = JSON.parse(require("fs").readFileSync(".data/vitest-report.json", "utf8"));
  console.log(`${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests + report.numTodoTests} skipped`);
' || true
exit "$status"
