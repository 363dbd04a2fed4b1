#!/usr/bin/env bash
# Fuzzes the input paths with cargo fuzz (libFuzzer + AddressSanitizer, on the nightly
# toolchain): the OpenAI, Anthropic and Responses request decoders, the chunker, workflow
# templates, the JWT verifier and the Markdown ingest (targets in fuzz/fuzz_targets/, corpora in fuzz/corpus/).
#
#   scripts/fuzz.sh                  every target for $SP_FUZZ_SECONDS (60) s, growing the corpora
#   scripts/fuzz.sh chunker          one target
#   scripts/fuzz.sh --ci             the bounded pass of the test suite: 25 s per target, the
#                                    kept corpora read but not changed
#
# A crash stops the run; libFuzzer writes the input to fuzz/artifacts/<target>/ and prints how
# to replay it (`cargo +nightly fuzz run <target> <file>`). Make it a regression test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

ci=0
if [ "${1:-}" = "--ci" ]; then
  ci=1
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(openai_requests message_requests chunker workflow_templates jwt markdown_ingest)
seconds="${SP_FUZZ_SECONDS:-60}"
[ $ci -eq 0 ] || seconds=25

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
# cargo-fuzz from the crate registry (its build is cached in ~/.cargo/bin).
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

say "fuzz build (nightly, AddressSanitizer)"
cargo +nightly fuzz build

for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  [ -d "$corpus" ] || die "no target $target (fuzz/corpus/$target)"
  if [ $ci -eq 1 ]; then
    # New inputs go to a scratch directory: a CI run leaves the repository as it was.
    scratch="$(mktemp -d)"
    dirs=("$scratch" "$corpus")
  else
    scratch=""
    dirs=("$corpus")
  fi
  say "fuzz $target for ${seconds}s"
  set +e
  cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    2>&1 | grep -E '^(Done|stat::number_of_executed_units|==|SUMMARY|thread|artifact_prefix|Test unit)'
  status=${PIPESTATUS[0]}
  set -e
  [ -z "$scratch" ] || rm -rf "$scratch"
  [ "$status" -eq 0 ] || die "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/"
done
say "fuzzing found nothing"
