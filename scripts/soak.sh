#!/usr/bin/env bash
# A soak test (not in CI): the load test's mix of non-model requests at one fixed rate for a
# long time, on the embedded default, printing p50 / p99 / errors / RSS per minute — both
# should stay flat.
#
#   scripts/soak.sh            100 req/s for 30 minutes
#   scripts/soak.sh 200 10     200 req/s for 10 minutes
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"
rate="${1:-100}"
minutes="${2:-30}"
say "soak: $rate req/s for $minutes min (benches/load.rs)"
SP_LOAD_RATES="$rate" SP_SOAK_MINUTES="$minutes" \
  env -u DATABASE_URL -u REDIS_URL cargo bench -p sp-benches --bench load
