#!/usr/bin/env bash
# A Python virtual environment for the tests that drive Story Portal from Python (the
# official `openai` client against a running `sp`). Created once under the cache, reused
# while its requirements are unchanged; prints the interpreter's path.
#
#   scripts/python-env.sh           print the path of its python (creating it if needed)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

requirements="$SP_ROOT/scripts/python-requirements.txt"
venv="$SP_CACHE_DIR/venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  command -v python3 >/dev/null 2>&1 || "$SP_ROOT/scripts/bootstrap.sh"
  python3 -m venv --help >/dev/null 2>&1 || apt_ensure python3-venv
  say "creating the Python test environment in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
