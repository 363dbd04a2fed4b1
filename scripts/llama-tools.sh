#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench` and `llama-server` — the anchors our inference
# benchmarks compare against — from the llama-cpp-python sdist (the llama-cpp-sys-2 crate
# vendors llama.cpp without the tool sources). Cached in $SP_CACHE_DIR/llama-tools; prints
# the directory holding the binaries. About 18 minutes of CPU on 2 cores the first time.
# The sdist comes from SP_PYPI_INDEX (default https://pypi.org/simple), sha256-checked.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION="0.3.36"
SDIST_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
INDEX="${SP_PYPI_INDEX:-https://pypi.org/simple}"
# The same ggml kernels as our llama-cpp-sys-2 build (x86-64-v3: AVX2, FMA, F16C, BMI2, no
# AVX-512), so a comparison measures the engines, not the kernels. (-DGGML_NATIVE=ON also
# crashed here: that llama.cpp's AVX-512 build segfaults in its warm-up on this VM.)
if [ "$(uname -m)" = "x86_64" ]; then
  CPU_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  FLAVOUR="x86-64-v3"
else
  CPU_FLAGS="-DGGML_NATIVE=ON"
  FLAVOUR="native"
fi
OUT="$SP_CACHE_DIR/llama-tools/$VERSION-$FLAVOUR"
if [ -x "$OUT/bin/llama-bench" ] && [ -x "$OUT/bin/llama-server" ]; then
  printf '%s\n' "$OUT/bin"; exit 0
fi
apt_ensure cmake build-essential
src_dir="$SP_CACHE_DIR/llama-tools/src"
mkdir -p "$src_dir"
sdist="$(find "$src_dir" -maxdepth 1 -name "llama_cpp_python-$VERSION.tar.gz" | head -n1)"
if [ -z "$sdist" ]; then
  # Straight from the index: `pip download --no-binary :all:` would also build the sdist's
  # build requirements (cmake, ninja) from source just to read its metadata — an hour here.
  say "downloading llama-cpp-python $VERSION sdist"
  url="$(curl -fsSL "$INDEX/llama-cpp-python/" | grep -o "https://[^\"#]*/llama_cpp_python-$VERSION\.tar\.gz" | head -n1)"
  [ -n "$url" ] || die "llama-cpp-python $VERSION sdist not listed on $INDEX"
  sdist="$src_dir/llama_cpp_python-$VERSION.tar.gz"
  curl -fsSL -o "$sdist.part" "$url" || die "download of $url failed"
  check_sha256 "$sdist.part" "$SDIST_SHA256"
  mv "$sdist.part" "$sdist"
fi
[ -n "$sdist" ] || die "sdist not found"
tree="$src_dir/llama_cpp_python-$VERSION"
[ -d "$tree" ] || tar -xzf "$sdist" -C "$src_dir"
say "building llama-bench and llama-server (Release, CPU)"
rm -rf "$tree/build"  # a build of the other flavour must not leak its cache
cmake -S "$tree/vendor/llama.cpp" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  $CPU_FLAGS -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$tree/build" -j "$(nproc)" --target llama-bench llama-server >&2
mkdir -p "$OUT/bin"
cp "$tree/build/bin/llama-bench" "$tree/build/bin/llama-server" "$OUT/bin/"
printf '%s\n' "$OUT/bin"
