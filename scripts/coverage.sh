#!/usr/bin/env bash
# Line coverage of the Rust test suite, per crate, with cargo-llvm-cov (not in CI: an
# instrumented build of the whole workspace is a second cold build, ~1 h on 2 cores).
#
#   scripts/coverage.sh              every Rust test, then a per-file and per-crate summary
#   scripts/coverage.sh -p sp-core   extra arguments go to `cargo llvm-cov`
#
# Needs the llvm-tools component and cargo-llvm-cov; it installs both when missing. The
# report lands in target/llvm-cov/summary.txt and the per-crate lines in
# target/llvm-cov/crates.txt (the figures docs/development.md quotes).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

"$SP_ROOT/scripts/bootstrap.sh"
rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools-preview
command -v cargo-llvm-cov >/dev/null 2>&1 || cargo install cargo-llvm-cov --locked

env_file="$(mktemp)"
"$SP_ROOT/scripts/services.sh" up > "$env_file"
# shellcheck disable=SC1090
. "$env_file"
rm -f "$env_file"
trap '"$SP_ROOT/scripts/services.sh" down >/dev/null 2>&1 || true' EXIT

SP_TEST_MODEL="$("$SP_ROOT/scripts/models.sh" smollm2)"
SP_TEST_PYTHON="$("$SP_ROOT/scripts/python-env.sh")"
export SP_TEST_MODEL SP_TEST_PYTHON

# Patched third-party crates, the fuzz harnesses and the test, bench and example code itself
# are not what the figure is about.
ignore='(^|/)(vendor|fuzz|tests|benches|examples)/|/\.cargo/registry/'
out="$SP_ROOT/target/llvm-cov"
mkdir -p "$out"
say "cargo llvm-cov --workspace $*"
cargo llvm-cov --workspace --locked --exclude sp-py --ignore-filename-regex "$ignore" \
  --summary-only "$@" | tee "$out/summary.txt"

# Per crate: the files' line counts added up by their first path component.
awk '$1 ~ /^sp-|^story-portal/ {
       split($1, parts, "/"); crate = parts[1]
       lines[crate] += $8; missed[crate] += $9
     }
     END {
       for (crate in lines)
         printf "%-14s %6d lines %6d missed %5.1f%%\n", crate, lines[crate], missed[crate],
                100 * (lines[crate] - missed[crate]) / lines[crate]
     }' "$out/summary.txt" | sort | tee "$out/crates.txt"
