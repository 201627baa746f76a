#!/usr/bin/env bash
# Local infrastructure without Docker: Redis, RabbitMQ, PostgreSQL and FerretDB (MongoDB wire
# protocol on PostgreSQL) on loopback, with all data under <checkout>/.data.
#
#   deploy/local/infra.sh up       install what is missing, start what is not running (idempotent)
#   deploy/local/infra.sh down     stop everything this script started
#   deploy/local/infra.sh status   report each server
#   deploy/local/infra.sh env      print the URLs as shell exports
#   deploy/local/infra.sh restart-one redis|rabbitmq|postgres|ferretdb   (fault-injection helper)
#   deploy/local/infra.sh stop-one    redis|rabbitmq|postgres|ferretdb
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${TESSERA_DATA_DIR:-$ROOT/.data}"
REDIS_PORT="${TESSERA_REDIS_PORT:-6390}"
AMQP_PORT="${TESSERA_AMQP_PORT:-5682}"
AMQP_DIST_PORT="${TESSERA_AMQP_DIST_PORT:-25682}"
PG_PORT="${TESSERA_PG_PORT:-5442}"
MONGO_PORT="${TESSERA_MONGO_PORT:-27027}"
RABBIT_NODE="tessera-${AMQP_PORT}@localhost"
FERRETDB_BIN="$DATA/bin/ferretdb"

log() { printf '[infra] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port name seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_open "$1" && return 0
    sleep 0.1
  done
  log "$2 did not open port $1 within $3 s; see $DATA/logs/$2.log"
  tail -n 30 "$DATA/logs/$2.log" >&2 || true
  return 1
}

install_missing() {
  local pkgs=()
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || pkgs+=(rabbitmq-server)
  [ -n "$(pg_bin initdb)" ] || pkgs+=(postgresql)
  if [ ${#pkgs[@]} -gt 0 ]; then
    log "installing ${pkgs[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${pkgs[@]}" >/dev/null
    # Debian starts the packaged services; ours run on other ports with our data, so stop theirs.
    service rabbitmq-server stop >/dev/null 2>&1 || true
    service redis-server stop >/dev/null 2>&1 || true
    service postgresql stop >/dev/null 2>&1 || true
  fi
  if [ ! -x "$FERRETDB_BIN" ] || [ "$ROOT/deploy/local/ferretdb/main.go" -nt "$FERRETDB_BIN" ]; then
    command -v go >/dev/null || { log "Go is needed to build FerretDB (apt-get install golang or see go.dev)"; exit 1; }
    log "building FerretDB v1.24.2 (first time takes about a minute)"
    mkdir -p "$DATA/bin"
    (cd "$ROOT/deploy/local/ferretdb" && go build -o "$FERRETDB_BIN" .)
  fi
}

pg_bin() { # newest installed PostgreSQL binary of that name
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/$1" ] && echo "$d/$1"
}

# PostgreSQL refuses to run as root; its data folder must be reachable by the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

make_reachable_by_postgres() {
  [ "$(id -u)" = 0 ] || return 0
  local d="$DATA"
  while [ "$d" != "/" ]; do
    if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then chmod o+x "$d"; fi
    d=$(dirname "$d")
  done
}

start_redis() {
  if port_open "$REDIS_PORT"; then return 0; fi
  mkdir -p "$DATA/redis" "$DATA/logs"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  # appendonly: counters and session state survive a Redis restart.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" --appendonly yes \
    --appendfsync everysec --save "" --daemonize yes --pidfile "$DATA/redis/redis.pid" \
    --logfile "$DATA/logs/redis.log"
  wait_port "$REDIS_PORT" redis 20
}

rabbit_env() {
  export HOME="$DATA/rabbitmq" RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$AMQP_PORT" RABBITMQ_DIST_PORT="$AMQP_DIST_PORT" \
    RABBITMQ_MNESIA_BASE="$DATA/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$DATA/logs/rabbitmq" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$DATA/rabbitmq/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$DATA/rabbitmq/rabbitmq" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_PID_FILE="$DATA/rabbitmq/rabbitmq.pid"
}

start_rabbitmq() {
  if port_open "$AMQP_PORT"; then return 0; fi
  mkdir -p "$DATA/rabbitmq" "$DATA/logs/rabbitmq"
  echo '[].' >"$DATA/rabbitmq/enabled_plugins"
  cat >"$DATA/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
loopback_users = none
vm_memory_high_watermark.relative = 0.2
disk_free_limit.absolute = 50MB
EOF
  log "starting RabbitMQ on 127.0.0.1:$AMQP_PORT"
  (rabbit_env && exec setsid /usr/lib/rabbitmq/bin/rabbitmq-server </dev/null >"$DATA/logs/rabbitmq.log" 2>&1) &
  wait_port "$AMQP_PORT" rabbitmq 90
}

start_postgres() {
  if port_open "$PG_PORT"; then return 0; fi
  local initdb pg_ctl
  initdb=$(pg_bin initdb) pg_ctl=$(pg_bin pg_ctl)
  mkdir -p "$DATA/postgres" "$DATA/logs"
  make_reachable_by_postgres
  [ "$(id -u)" = 0 ] && chown postgres "$DATA/postgres" && chmod 700 "$DATA/postgres" && touch "$DATA/logs/postgres.log" && chown postgres "$DATA/logs/postgres.log"
  if [ ! -f "$DATA/postgres/PG_VERSION" ]; then
    log "initialising PostgreSQL in $DATA/postgres"
    as_pg "$initdb" -D "$DATA/postgres" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_pg "$pg_ctl" -D "$DATA/postgres" -l "$DATA/logs/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $DATA/postgres -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=300" start >/dev/null
  wait_port "$PG_PORT" postgres 30
  if ! as_pg psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='ferretdb'" | grep -q 1; then
    as_pg psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "create database ferretdb" >/dev/null
  fi
}

# GIN indexes FerretDB's pushed-down filters can use (see the script); once per PostgreSQL data
# folder, also when PostgreSQL was already running.
index_ferretdb_collections() {
  if as_pg psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferretdb -tAc "select 1 from pg_event_trigger where evtname='tessera_ferretdb_gin'" | grep -q 1; then
    return 0
  fi
  log "adding GIN indexes for FerretDB's filters (deploy/local/ferretdb-gin.sql)"
  PGOPTIONS='-c client_min_messages=warning' as_pg psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferretdb \
    -v ON_ERROR_STOP=1 -q -o /dev/null <"$ROOT/deploy/local/ferretdb-gin.sql"
}

start_ferretdb() {
  if port_open "$MONGO_PORT"; then return 0; fi
  mkdir -p "$DATA/logs"
  log "starting FerretDB (MongoDB wire protocol) on 127.0.0.1:$MONGO_PORT"
  setsid "$FERRETDB_BIN" --listen-addr "127.0.0.1:$MONGO_PORT" \
    --postgresql-url "postgres://postgres@127.0.0.1:$PG_PORT/ferretdb?pool_max_conns=50" \
    </dev/null >"$DATA/logs/ferretdb.log" 2>&1 &
  echo $! >"$DATA/ferretdb.pid"
  wait_port "$MONGO_PORT" ferretdb 30
}

stop_one() {
  case "$1" in
    redis) [ -f "$DATA/redis/redis.pid" ] && kill "$(cat "$DATA/redis/redis.pid")" 2>/dev/null || true ;;
    rabbitmq) (rabbit_env && /usr/lib/rabbitmq/bin/rabbitmqctl -q stop >/dev/null 2>&1) || true ;;
    ferretdb) [ -f "$DATA/ferretdb.pid" ] && kill "$(cat "$DATA/ferretdb.pid")" 2>/dev/null || true ;;
    postgres) [ -f "$DATA/postgres/postmaster.pid" ] && as_pg "$(pg_bin pg_ctl)" -D "$DATA/postgres" -m fast -w stop >/dev/null 2>&1 || true ;;
    *) log "unknown server $1"; exit 2 ;;
  esac
  local port
  case "$1" in redis) port=$REDIS_PORT ;; rabbitmq) port=$AMQP_PORT ;; ferretdb) port=$MONGO_PORT ;; postgres) port=$PG_PORT ;; esac
  for ((i = 0; i < 300; i++)); do port_open "$port" || return 0; sleep 0.1; done
  log "$1 still listening on $port"
}

start_one() {
  case "$1" in
    redis) start_redis ;; rabbitmq) start_rabbitmq ;; postgres) start_postgres ;;
    ferretdb) start_postgres && index_ferretdb_collections && start_ferretdb ;; *) log "unknown server $1"; exit 2 ;;
  esac
}

print_env() {
  echo "export MONGO_URL=mongodb://127.0.0.1:$MONGO_PORT/tessera"
  echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
  echo "export AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT"
}

status() {
  local rc=0 name port
  for pair in "redis:$REDIS_PORT" "rabbitmq:$AMQP_PORT" "postgres:$PG_PORT" "ferretdb:$MONGO_PORT"; do
    name=${pair%%:*} port=${pair##*:}
    if port_open "$port"; then echo "$name: up (127.0.0.1:$port)"; else echo "$name: down"; rc=1; fi
  done
  return $rc
}

case "${1:-up}" in
  up)
    install_missing
    start_redis
    start_postgres
    index_ferretdb_collections
    start_ferretdb
    start_rabbitmq
    print_env
    ;;
  down) for s in ferretdb postgres rabbitmq redis; do stop_one "$s"; done ;;
  status) status ;;
  env) print_env ;;
  stop-one) stop_one "$2" ;;
  start-one) start_one "$2" ;;
  restart-one) stop_one "$2"; start_one "$2" ;;
  *) echo "usage: $0 up|down|status|env|stop-one NAME|start-one NAME|restart-one NAME" >&2; exit 2 ;;
esac
