#!/usr/bin/env bash
# Prints the path of a `promtool` (Prometheus's rule checker) for the monitoring tests: the
# one on PATH, else the binary unpacked from Debian's `prometheus` package into the cache —
# unpacked, not installed, so no Prometheus service is set up or started on this machine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if command -v promtool >/dev/null 2>&1; then
  command -v promtool; exit 0
fi
out="$SP_CACHE_DIR/promtool"
if [ ! -x "$out/usr/bin/promtool" ]; then
  command -v apt-get >/dev/null 2>&1 || die "no promtool and no apt-get: install Prometheus's promtool and put it on PATH"
  work="$(mktemp -d)"
  # `apt-get download` needs the package lists; refresh them once if it cannot find it.
  (cd "$work" && { apt-get download prometheus >/dev/null 2>&1 \
    || { as_root apt-get update -qq && apt-get download prometheus >/dev/null; }; })
  mkdir -p "$out"
  dpkg-deb -x "$work"/prometheus_*.deb "$out"
  rm -rf "$work"
fi
printf '%s\n' "$out/usr/bin/promtool"
