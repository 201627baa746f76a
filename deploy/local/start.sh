#!/usr/bin/env bash
# `npm start`: everything needed to run the system on one machine, then the system itself.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"

# Secrets for a local installation, made once and kept with the local data.
mkdir -p .data
if [ ! -f .data/secrets.env ]; then
  umask 077
  {
    echo "INTERNAL_GRPC_TOKEN=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64url"))')"
    echo "SECRETS_KEYRING=k1:$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64"))')"
  } >.data/secrets.env
fi
set -a
# Variables already in the environment win over the generated ones.
while IFS='=' read -r key value; do
  [ -n "$key" ] && [ -z "${!key:-}" ] && export "$key=$value"
done <.data/secrets.env
set +a

# The web app's build, when its sources changed since the last one.
if [ ! -f web/build/index.html ] || [ -n "$(find web/src web/static web/svelte.config.js web/vite.config.ts -newer web/build/index.html 2>/dev/null | head -n 1)" ]; then
  echo "[start] building the web app" >&2
  npm run build -w web --silent
fi

# Helpers started below stop with the system.
BACKGROUND_PIDS=""
trap 'for pid in $BACKGROUND_PIDS; do kill "$pid" 2>/dev/null || true; done' EXIT

# No upstream LLM configured: run the local demo one (model "demo-echo", an echo, not a real model).
if [ -z "${DEFAULT_LLM_BASE_URL:-}" ]; then
  DEMO_LLM_PORT="${DEMO_LLM_PORT:-8099}"
  node services/chat/src/demo-upstream/main.ts &
  BACKGROUND_PIDS="$BACKGROUND_PIDS $!"
  export DEMO_LLM_PORT DEFAULT_LLM_BASE_URL="http://127.0.0.1:${DEMO_LLM_PORT}/v1" DEFAULT_LLM_API_KEYS="demo" DEFAULT_LLM_MODELS="demo-echo=Demo echo (local demo server; not a real model)"
  # Upstreams on internal addresses are refused unless allowed: the demo one is, explicitly.
  export UPSTREAM_ALLOWED_HOSTS="127.0.0.1${UPSTREAM_ALLOWED_HOSTS:+,$UPSTREAM_ALLOWED_HOSTS}"
fi

# OAUTH_DEV_PROVIDER=1: the local OpenID provider of the tests, offered as "Local test SSO" (README).
if [ "${OAUTH_DEV_PROVIDER:-}" = "1" ] && [ -z "${OAUTH_OIDC_ISSUER:-}" ]; then
  OAUTH_DEV_PROVIDER_PORT="${OAUTH_DEV_PROVIDER_PORT:-8097}"
  export OAUTH_DEV_PROVIDER_PORT OAUTH_OIDC_ISSUER="http://127.0.0.1:${OAUTH_DEV_PROVIDER_PORT}" OAUTH_OIDC_CLIENT_ID="tessera-local" OAUTH_OIDC_CLIENT_SECRET="tessera-local-secret" OAUTH_OIDC_NAME="Local test SSO"
  node deploy/local/oidc-dev-provider.ts &
  BACKGROUND_PIDS="$BACKGROUND_PIDS $!"
fi

node deploy/local/run-all.ts
exit $?
