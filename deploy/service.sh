#!/bin/sh
# Starts one Tessera service process: the one place for the runtime settings of every service,
# used by the local launcher (`npm start`, tests, benches), `npm start -w services/<name>`, the
# container image (Docker Compose, Kubernetes) and Tilt. Usage: service.sh <name>; NODE_BINARY
# picks the node to run (default: node on the PATH). Figures: README.md, "Memory".
#   MALLOC_ARENA_MAX=2        glibc makes up to 8 malloc arenas per core for the threads that
#                             allocate (V8's compiler and GC threads, libuv's pool), each keeping
#                             what was freed in it: 2 make every idle service ~10 MB smaller.
#   --max-semi-space-size=4   a 4 MB young generation (V8 grows it to 16-32 MB) keeps idle
#                             services well under 150 MB resident.
#   no --max-old-space-size   a limit under 2 GB makes V8 grow the old generation to only ~1.3x
#                             its live size: the heap peaks lower under load, but at 300 req/s it
#                             ran 3x the full collections (19-30 instead of 8-9 per run) for the
#                             CPU the latency target needs; what the load leaves is given back
#                             once quiet instead (next line).
#   --expose-gc, runtime/register  a process that grew under load and is then quiet runs one
#                             memory-reducing collection, which gives back the pages V8 keeps
#                             pooled (services/platform/src/runtime/memory-trim.ts).
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
exec "${NODE_BINARY:-node}" --max-semi-space-size=4 --expose-gc \
  --import @tessera/platform/runtime/register --import @tessera/platform/telemetry/register "services/$1/src/main.ts"
