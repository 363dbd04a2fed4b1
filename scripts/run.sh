#!/usr/bin/env bash
# The main job: fetch the default model if missing and start the server on the embedded
# default (no PostgreSQL or Redis needed). Data goes to $SP_DATA_DIR (default: the per-user
# data directory). Set DATABASE_URL / REDIS_URL to use those servers instead.
#
#   scripts/run.sh                    listen on 127.0.0.1:8080
#   SP_LISTEN=0.0.0.0:9000 scripts/run.sh
#   scripts/run.sh --help             extra arguments go to `sp serve`
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

"$SP_ROOT/scripts/bootstrap.sh"
model="${SP_MODEL__PATH:-$("$SP_ROOT/scripts/models.sh" smollm2)}"
listen="${SP_LISTEN:-127.0.0.1:8080}"

say "building the server (release; the first build compiles llama.cpp and takes several minutes)"
cargo build --release --locked -p sp-server --bin sp

say "starting sp on http://$listen with model $model"
say "try:  curl -s http://$listen/health"
exec cargo run --release --locked --quiet -p sp-server --bin sp -- \
  serve --listen "$listen" --model "$model" "$@"
