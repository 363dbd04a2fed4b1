#!/usr/bin/env bash
# The main job: fetch the default models if missing — SmolLM2 for chat, all-MiniLM-L6-v2 for
# embeddings (documents, memory, /v1/embeddings) — and start the server on the embedded
# default (no PostgreSQL or Redis needed). Data goes to $SP_DATA_DIR (default: the per-user
# data directory). Set DATABASE_URL / REDIS_URL to use those servers instead.
# Every /v1 route needs a key: without SP_ADMIN_KEY in the environment, a random admin key
# is made for this run and printed (create lasting keys with `sp keys create`).
#
#   scripts/run.sh                    listen on 127.0.0.1:8080
#   SP_LISTEN=0.0.0.0:9000 scripts/run.sh
#   scripts/run.sh --help             extra arguments go to `sp serve`
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

"$SP_ROOT/scripts/bootstrap.sh"
model="${SP_MODEL__PATH:-$("$SP_ROOT/scripts/models.sh" smollm2)}"
embedder="${SP_MODEL__EMBEDDING_PATH:-$("$SP_ROOT/scripts/models.sh" minilm)}"
listen="${SP_LISTEN:-127.0.0.1:8080}"

say "building the server (release; the first build compiles llama.cpp and takes several minutes)"
cargo build --release --locked -p sp-server --bin sp

if [ -z "${SP_ADMIN_KEY:-}" ]; then
  SP_ADMIN_KEY="sp-dev-$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
  export SP_ADMIN_KEY
  say "admin key for this run: $SP_ADMIN_KEY"
fi

say "starting sp on http://$listen with model $model and embedding model $embedder"
say "try:  curl -s http://$listen/health"
say "      curl -s http://$listen/v1/chat/completions -H \"Authorization: Bearer $SP_ADMIN_KEY\" \\"
say "        -H 'content-type: application/json' -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'"
say "      API docs (Swagger UI): http://$listen/docs/"
say "      console (sign in with the admin key above): http://$listen/console/"
exec cargo run --release --locked --quiet -p sp-server --bin sp -- \
  serve --listen "$listen" --model "$model" --embedding-model "$embedder" "$@"
