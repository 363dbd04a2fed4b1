#!/usr/bin/env bash
# What the console's browser test needs: Debian's Chromium (apt) and axe-core's script (npm,
# sha256-checked, cached). Prints `export SP_CHROMIUM=… SP_AXE_JS=…`; Playwright itself is in
# the Python test venv (scripts/python-requirements.txt).
#
#   eval "$(scripts/browser.sh)"
set -euo pipefail
. "$(dirname "$0")/lib.sh"

AXE_VERSION="4.10.3"
AXE_SHA256="0f2b4d7dcdf7d1219df8d1959ad68e565f51d14c3f0d88bb71cd59abeb956292"

command -v chromium >/dev/null 2>&1 || apt_ensure chromium
dir="$SP_CACHE_DIR/axe-core-$AXE_VERSION"
if [ ! -f "$dir/axe.min.js" ]; then
  command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null 2>&1) || die "npm pack axe-core failed"
  check_sha256 "$tmp/axe-core-$AXE_VERSION.tgz" "$AXE_SHA256"
  tar -xzf "$tmp/axe-core-$AXE_VERSION.tgz" -C "$tmp" package/axe.min.js
  mkdir -p "$dir"
  mv "$tmp/package/axe.min.js" "$dir/axe.min.js"
  rm -rf "$tmp"
fi
printf 'export SP_CHROMIUM=%q SP_AXE_JS=%q\n' "$(command -v chromium)" "$dir/axe.min.js"
