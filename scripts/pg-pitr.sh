#!/usr/bin/env bash
# PostgreSQL base backups, WAL archiving and point-in-time recovery (PITR), with the project's
# PostgreSQL build (the server's major version must match: 17).
#
#   scripts/pg-pitr.sh config ARCHIVE            print the postgresql.conf lines that archive WAL
#                                                into ARCHIVE (for a server of your own)
#   scripts/pg-pitr.sh archive NAME              turn WAL archiving on for the services.sh instance
#                                                NAME (restarts it); prints its archive folder
#   scripts/pg-pitr.sh base URL DEST             base backup into the new folder DEST (WAL
#                                                streamed in), checked by pg_verifybackup
#   scripts/pg-pitr.sh switch URL                close the current WAL segment and wait until it
#                                                is archived (before a planned restore)
#   scripts/pg-pitr.sh prepare BASE ARCHIVE DATADIR [TIME]
#                                                a data directory that replays ARCHIVE over BASE up
#                                                to TIME (every commit at or before it), or to the
#                                                archive's end, then promotes itself; not started
#   scripts/pg-pitr.sh restore BASE ARCHIVE NAME [TIME]
#                                                prepare into the new services.sh instance NAME,
#                                                start it, wait for the promotion; prints its URL
#
# TIME is a PostgreSQL timestamp with a zone, e.g. '2026-12-07 14:03:11.250+00'.
# docs/operations.md ("PostgreSQL: base backup, WAL archive, point in time") is the runbook.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg-common.sh"

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

archive_conf() {
  local archive="$1"
  # `test ! -f` refuses to overwrite a segment already archived (a second server pointed at the
  # same folder fails loudly instead of corrupting it); `.part` + `mv` keeps a segment that is
  # being copied from looking whole to a restore.
  cat <<CONF
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $archive/%f && cp %p $archive/%f.part && mv $archive/%f.part $archive/%f'
archive_timeout = 60
CONF
}

cmd_archive() {
  local name="$1" inst="$STATE_DIR/pg-$1"
  [ -f "$inst/data/PG_VERSION" ] || die "no instance '$name'; start it: scripts/services.sh pg start $name"
  local archive="$inst/wal-archive"
  mkdir -p "$archive"
  if is_root; then chown "$PG_USER_SYSTEM" "$archive"; fi
  if ! grep -q '^archive_mode = on' "$inst/data/postgresql.conf"; then
    archive_conf "$archive" >> "$inst/data/postgresql.conf"
    pg_run pg_ctl -D "$inst/data" -l "$inst/postgres.log" -m fast -w -t 60 restart >/dev/null \
      || { tail -20 "$inst/postgres.log" >&2; die "PostgreSQL '$name' did not restart"; }
  fi
  printf '%s\n' "$archive"
}

cmd_base() {
  local url="$1" dest="$2"
  [ ! -e "$dest" ] || die "$dest exists; a base backup goes into a new folder"
  # Written aside and renamed once verified, so that DEST is never a half-taken backup.
  local partial="$dest.partial"
  rm -rf "$partial"
  pg_client pg_basebackup -d "$url" -D "$partial" -Fp -X stream --checkpoint=fast \
    --label="sp base $(date -u +%FT%TZ)" >&2 || { rm -rf "$partial"; die "pg_basebackup failed"; }
  pg_client pg_verifybackup -q "$partial" >&2 || { rm -rf "$partial"; die "the base backup does not verify"; }
  mv "$partial" "$dest"
  say "base backup in $dest"
}

cmd_switch() {
  local url="$1" segment archived i
  segment="$(pg_sql "$url" "select pg_walfile_name(pg_switch_wal())")"
  for i in $(seq 600); do
    archived="$(pg_sql "$url" "select coalesce(last_archived_wal, '') from pg_stat_archiver")"
    # Segment names sort in WAL order within a timeline.
    if [ -n "$archived" ] && [[ ! "$archived" < "$segment" ]]; then
      printf '%s\n' "$segment"
      return
    fi
    sleep 0.1
  done
  die "segment $segment was not archived within 60 s (see pg_stat_archiver.last_failed_wal)"
}

cmd_prepare() {
  local base="$1" archive="$2" data="$3" target="${4:-}"
  [ -f "$base/PG_VERSION" ] || die "$base is not a base backup (no PG_VERSION)"
  [ -d "$archive" ] || die "no WAL archive at $archive"
  [ ! -e "$data/PG_VERSION" ] || die "$data already holds a cluster; restore into a new folder"
  # -n: the WAL the backup needs may already be recycled out of it into the archive.
  pg_client pg_verifybackup -q -n "$base" >&2 || die "the base backup $base does not verify"
  mkdir -p "$data"
  cp -a "$base/." "$data/"
  rm -f "$data/backup_manifest" "$data/postmaster.pid"
  {
    printf "restore_command = 'cp %s/%%f %%p'\n" "$archive"
    if [ -n "$target" ]; then
      printf "recovery_target_time = '%s'\n" "$target"
      printf "recovery_target_inclusive = on\n"
    fi
    printf "recovery_target_action = 'promote'\n"
    # The restored copy must not write into the archive of the server it was taken from; turn
    # archiving back on (into a new folder) once it is the primary you keep.
    printf "archive_mode = off\n"
  } >> "$data/postgresql.auto.conf"
  touch "$data/recovery.signal"
  chmod 700 "$data"
  if is_root; then chown -R "$PG_USER_SYSTEM" "$data"; fi
}

cmd_restore() {
  local base="$1" archive="$2" name="$3" target="${4:-}"
  local inst="$STATE_DIR/pg-$name"
  [ ! -e "$inst/data/PG_VERSION" ] || die "instance '$name' exists; restore into a new name"
  ensure_pg_user
  mkdir -p "$inst"
  chmod 755 "$STATE_DIR" "$inst"
  cmd_prepare "$base" "$archive" "$inst/data" "$target"
  [ -f "$inst/port" ] || free_port > "$inst/port"
  sed -i "s/^port = .*//" "$inst/data/postgresql.conf"
  echo "port = $(cat "$inst/port")" >> "$inst/data/postgresql.conf"
  if is_root; then chown "$PG_USER_SYSTEM" "$inst"; fi
  pg_run pg_ctl -D "$inst/data" -l "$inst/postgres.log" -w -t 120 start >/dev/null \
    || { tail -20 "$inst/postgres.log" >&2; die "the restored PostgreSQL '$name' did not start"; }
  local url i; url="$(pg_url "$name")"
  # A hot standby accepts connections before its replay ends; the restore is done once promoted.
  for i in $(seq 1200); do
    [ "$(pg_sql "$url" 'select pg_is_in_recovery()' 2>/dev/null || true)" = "f" ] && break
    sleep 0.1
  done
  [ "$(pg_sql "$url" 'select pg_is_in_recovery()')" = "f" ] \
    || { tail -20 "$inst/postgres.log" >&2; die "the restored PostgreSQL '$name' did not finish recovery in 120 s"; }
  printf '%s\n' "$url"
}

mkdir -p "$STATE_DIR"
case "${1:-}" in
  config) [ $# -eq 2 ] || usage; archive_conf "$2" ;;
  archive) [ $# -eq 2 ] || usage; cmd_archive "$2" ;;
  base) [ $# -eq 3 ] || usage; cmd_base "$2" "$3" ;;
  switch) [ $# -eq 2 ] || usage; cmd_switch "$2" ;;
  prepare) { [ $# -eq 4 ] || [ $# -eq 5 ]; } || usage; cmd_prepare "$2" "$3" "$4" "${5:-}" ;;
  restore)
    { [ $# -eq 4 ] || [ $# -eq 5 ]; } || usage
    [[ "$4" =~ ^[a-z0-9_-]+$ ]] || die "instance name must match [a-z0-9_-]+"
    cmd_restore "$2" "$3" "$4" "${5:-}" ;;
  *) usage ;;
esac
