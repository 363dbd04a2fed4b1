#!/usr/bin/env bash
# Builds the docs site (docs/ with mdBook) into target/book; installs mdBook from the crate
# registry into the cache the first time (a few minutes; no serve/watch features).
#
#   scripts/docs.sh            build target/book (open target/book/index.html)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

MDBOOK_VERSION="0.5.4"
root="$SP_CACHE_DIR/mdbook-$MDBOOK_VERSION"
if [ ! -x "$root/bin/mdbook" ]; then
  say "installing mdBook $MDBOOK_VERSION into $root"
  cargo install --quiet --locked --no-default-features --features search \
    --version "$MDBOOK_VERSION" --root "$root" mdbook >&2
fi
# docs/api.md is generated from the routes and checked by a test; the book renders it.
"$root/bin/mdbook" build docs >&2
[ -f target/book/api.html ] || die "mdBook wrote no target/book/api.html"
say "docs site: $SP_ROOT/target/book/index.html"
