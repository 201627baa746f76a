#!/bin/sh
# Starts one Tessera service process: the one place for the runtime settings of every service,
# used by the local launcher (`npm start`, tests, benches), `npm start -w services/<name>`, the
# container image (Docker Compose, Kubernetes) and Tilt. Usage: service.sh <name>; NODE_BINARY
# picks the node to run (default: node on the PATH). Measured figures: services/platform/README.md.
#   MALLOC_ARENA_MAX=2        glibc makes up to 8 malloc arenas per core, one per thread that
#                             allocates (V8's compiler and GC threads, libuv's pool, HTTP/2); each
#                             keeps what it freed, which left RSS growing after load. 2 bound it.
#   --max-semi-space-size=4   a 4 MB young generation (V8 grows it to 16-32 MB) keeps idle
#                             services well under 150 MB resident.
#   --max-old-space-size=384  with a limit under 2 GB V8 lets the old generation grow to ~1.35x
#                             its live size after a full GC, where the default limit (a quarter
#                             of the machine's memory) lets it grow up to 4x; 384 MB leaves an
#                             overload's queued requests room within the containers' 512 MiB.
set -eu
case "${1:-}" in
  identity | session | quota | chat | admin | bff) ;;
  *)
    echo "usage: $0 identity|session|quota|chat|admin|bff" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/.."
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
exec "${NODE_BINARY:-node}" --max-semi-space-size=4 --max-old-space-size=384 --import @tessera/platform/telemetry/register "services/$1/src/main.ts"
