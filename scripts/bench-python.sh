#!/usr/bin/env bash
# The Python bindings benchmark: builds a release wheel (sharing target/ with `cargo bench`),
# installs it in a fresh venv and runs sp-py/bench/overhead.py with the test model.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

tools="$(dirname "$("$SP_ROOT/scripts/python-env.sh")")"
model="$("$SP_ROOT/scripts/models.sh" smollm2)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$tools/maturin" build --quiet --release --manifest-path sp-py/Cargo.toml \
  --compatibility linux --interpreter python3 --out "$work/wheels" >&2
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$work"/wheels/story_portal-*.whl
(cd "$work" && "$work/venv/bin/python" "$SP_ROOT/sp-py/bench/overhead.py" "$model")
