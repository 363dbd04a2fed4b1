#!/usr/bin/env bash
# The Python suite: builds the story_portal wheel with maturin (dev profile, sharing target/
# with `cargo test`, so nothing compiled twice), installs it in a fresh virtual environment
# the way a user would, and runs sp-py/tests with pytest against the real model and the
# running PostgreSQL. scripts/test.sh calls it with SP_TEST_MODEL and DATABASE_URL set.
#
#   scripts/python-test.sh [PYTEST ARGS…]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

tools="$(dirname "$("$SP_ROOT/scripts/python-env.sh")")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say "building the story_portal wheel"
"$tools/maturin" build --quiet --profile dev --manifest-path sp-py/Cargo.toml \
  --compatibility linux --interpreter python3 --out "$work/wheels" >&2

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check \
  "$work"/wheels/story_portal-*.whl "pytest==9.2.0"

say "pytest sp-py/tests $*"
# From outside the source tree: the installed wheel is what is imported, not sp-py/python.
(cd "$work" && "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$SP_ROOT/sp-py/tests" "$@")
