#!/usr/bin/env bash
# PostgreSQL high availability with the project's PostgreSQL build: a primary, a streaming
# standby and PgBouncer in front of whichever is primary — what `sp` replicas connect to.
#
#   scripts/pg-ha.sh up NAME [sync|async]  start primary, standby and PgBouncer (idempotent);
#                                          sync (default): a commit is acknowledged only once
#                                          the standby has flushed it. Prints
#                                          `export SP_HA_URL=… SP_HA_PRIMARY_URL=… SP_HA_STANDBY_URL=…`
#   scripts/pg-ha.sh failover NAME         what a failover manager does when the primary died:
#                                          fence it (immediate stop), promote the standby, point
#                                          PgBouncer at it (reload, no restart); prints the new
#                                          primary's URL
#   scripts/pg-ha.sh crash NAME            kill -9 the primary's postmaster (a test's crash)
#   scripts/pg-ha.sh down NAME             stop all three and delete their data
#
# `sp` keeps one URL (PgBouncer's) through a failover: docs/scaling.md says why PgBouncer and
# not a multi-host URL, and what asynchronous replication loses.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg-common.sh"

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

STANDBY_NAME="sp_standby"

ha_dir() { printf '%s/ha-%s\n' "$STATE_DIR" "$1"; }

# Starts the data directory $1 as its owner, on the port in $2/port.
start_cluster() {
  local inst="$1"
  pg_run pg_ctl -D "$inst/data" status >/dev/null 2>&1 && return 0
  pg_run pg_ctl -D "$inst/data" -l "$inst/postgres.log" -w -t 60 start >/dev/null \
    || { tail -20 "$inst/postgres.log" >&2; die "PostgreSQL in $inst did not start"; }
}

make_standby() {
  local primary_port="$1" inst="$2" mode="$3"
  [ -f "$inst/data/PG_VERSION" ] && return 0
  mkdir -p "$inst"
  [ -f "$inst/port" ] || free_port > "$inst/port"
  rm -rf "$inst/data"
  say "taking the standby's base backup"
  PGPASSWORD="$PG_PASSWORD" pg_client pg_basebackup -h 127.0.0.1 -p "$primary_port" -U "$PG_ROLE" \
    -D "$inst/data" -X stream --checkpoint=fast -R >"$inst/basebackup.log" 2>&1 \
    || { cat "$inst/basebackup.log" >&2; die "pg_basebackup failed"; }
  # Its own port, and a name the primary's synchronous_standby_names can wait for.
  sed -i "s/^port = .*//" "$inst/data/postgresql.conf"
  printf "port = %s\nprimary_conninfo = 'host=127.0.0.1 port=%s user=%s password=%s application_name=%s'\n" \
    "$(cat "$inst/port")" "$primary_port" "$PG_ROLE" "$PG_PASSWORD" "$STANDBY_NAME" \
    >> "$inst/data/postgresql.auto.conf"
  # A sync pair must not lose an acknowledged commit: the standby (the next primary) is
  # durable too, so that a crash of its host after the promotion loses nothing either.
  if [ "$mode" = sync ]; then
    printf 'synchronous_commit = on\nfsync = on\n' >> "$inst/data/postgresql.conf"
  fi
  chmod 700 "$inst/data"
  if is_root; then chown -R "$PG_USER_SYSTEM" "$inst"; fi
}

pgbouncer_run() {
  if is_root; then runuser -u "$PG_USER_SYSTEM" -- pgbouncer "$@"; else pgbouncer "$@"; fi
}

cmd_up() {
  local name="$1" mode="${2:-sync}" dir primary standby
  [[ "$mode" =~ ^(sync|async)$ ]] || usage
  command -v pgbouncer >/dev/null 2>&1 || apt_ensure pgbouncer
  dir="$(ha_dir "$name")"
  mkdir -p "$dir"
  chmod 755 "$STATE_DIR" "$dir"
  primary="$("$SP_ROOT/scripts/services.sh" pg start "ha-$name-primary")"
  local primary_inst="$STATE_DIR/pg-ha-$name-primary" standby_inst="$STATE_DIR/pg-ha-$name-standby"
  local primary_port; primary_port="$(cat "$primary_inst/port")"
  make_standby "$primary_port" "$standby_inst" "$mode"
  start_cluster "$standby_inst"
  if [ "$mode" = sync ]; then
    pg_sql "$primary" "alter system set synchronous_standby_names = '$STANDBY_NAME'" >/dev/null
    pg_sql "$primary" "alter system set synchronous_commit = 'on'" >/dev/null
    pg_sql "$primary" "alter system set fsync = 'on'" >/dev/null
    pg_sql "$primary" "select pg_reload_conf()" >/dev/null
  fi
  local i
  for i in $(seq 100); do
    [ "$(pg_sql "$primary" "select count(*) from pg_stat_replication where state = 'streaming'")" = 1 ] && break
    sleep 0.1
  done
  [ "$i" -lt 100 ] || die "the standby is not streaming (see $standby_inst/postgres.log)"
  [ -f "$dir/pgbouncer.port" ] || free_port > "$dir/pgbouncer.port"
  [ -f "$dir/primary" ] || printf '%s\n' "$primary_inst" > "$dir/primary"
  if ! [ -f "$dir/pgbouncer.pid" ] || ! kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; then
    write_pgbouncer "$dir" 127.0.0.1 "$(cat "$dir/pgbouncer.port")" 127.0.0.1 "$(cat "$(cat "$dir/primary")/port")"
    pgbouncer_run -d "$dir/pgbouncer.ini" || die "pgbouncer did not start (see $dir/pgbouncer.log)"
  fi
  local bouncer="postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$(cat "$dir/pgbouncer.port")/$PG_DB"
  for i in $(seq 50); do pg_sql "$bouncer" 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
  pg_sql "$bouncer" 'select 1' >/dev/null || die "PgBouncer does not answer (see $dir/pgbouncer.log)"
  printf 'export SP_HA_URL=%q SP_HA_PRIMARY_URL=%q SP_HA_STANDBY_URL=%q\n' "$bouncer" "$primary" \
    "postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$(cat "$standby_inst/port")/$PG_DB"
}

cmd_failover() {
  local name="$1" dir; dir="$(ha_dir "$name")"
  local old new="$STATE_DIR/pg-ha-$name-standby"
  old="$(cat "$dir/primary")"
  [ "$old" != "$new" ] || die "already failed over to the standby"
  # Fencing: the old primary must not come back as a second writer.
  pg_run pg_ctl -D "$old/data" -m immediate -w stop >/dev/null 2>&1 || true
  pg_run pg_ctl -D "$new/data" -w -t 60 promote >/dev/null \
    || { tail -20 "$new/postgres.log" >&2; die "the standby did not promote"; }
  printf '%s\n' "$new" > "$dir/primary"
  write_pgbouncer "$dir" 127.0.0.1 "$(cat "$dir/pgbouncer.port")" 127.0.0.1 "$(cat "$new/port")"
  # SIGHUP: PgBouncer re-reads its file and sends new server connections to the new host;
  # clients stay connected to it.
  kill -HUP "$(cat "$dir/pgbouncer.pid")"
  printf 'postgres://%s:%s@127.0.0.1:%s/%s\n' "$PG_ROLE" "$PG_PASSWORD" "$(cat "$new/port")" "$PG_DB"
}

cmd_crash() {
  local dir; dir="$(ha_dir "$1")"
  local pid; pid="$(head -n1 "$(cat "$dir/primary")/data/postmaster.pid")"
  kill -9 "$pid"
}

cmd_down() {
  local name="$1" dir; dir="$(ha_dir "$name")"
  if [ -f "$dir/pgbouncer.pid" ]; then kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true; fi
  "$SP_ROOT/scripts/services.sh" pg destroy "ha-$name-standby"
  "$SP_ROOT/scripts/services.sh" pg destroy "ha-$name-primary"
  rm -rf "$dir"
}

mkdir -p "$STATE_DIR"
[ $# -ge 2 ] || usage
[[ "$2" =~ ^[a-z0-9_-]+$ ]] || die "NAME must match [a-z0-9_-]+"
case "$1" in
  up) cmd_up "$2" "${3:-sync}" ;;
  failover) cmd_failover "$2" ;;
  crash) cmd_crash "$2" ;;
  down) cmd_down "$2" ;;
  *) usage ;;
esac
