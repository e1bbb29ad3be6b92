#!/usr/bin/env bash
# better-sqlite3 compiles for 2-4 minutes in `npm ci` here: its prebuilt binaries come from GitHub,
# which CI cannot reach. This keeps what one `npm ci` compiled as a local prebuild (the tarball
# prebuild-install looks for), so the next `npm ci` installs it in a second.
#   eval "$(bash .ci/sqlite-prebuild.sh env)"   before npm ci: where prebuild-install looks
#   bash .ci/sqlite-prebuild.sh save           after npm ci: keep this build, if not kept yet
# The cache is ${BPFTRACE_MCP_CI_CACHE:-/var/cache/bpftrace-mcp-ci}/prebuilds, beside the chroots.
set -euo pipefail
cd "$(dirname "$0")/.."

PREBUILDS="${BPFTRACE_MCP_CI_CACHE:-/var/cache/bpftrace-mcp-ci}/prebuilds"
MODULE=node_modules/better-sqlite3

case "${1:-}" in
  env)
    mkdir -p "$PREBUILDS"
    printf 'export npm_config_better_sqlite3_local_prebuilds=%q\n' "$PREBUILDS"
    ;;
  save)
    version=$(node -p "require('./$MODULE/package.json').version")
    # prebuild-install's name for it: <name>-v<version>-node-v<ABI>-<platform>-<arch>.tar.gz
    tarball="$PREBUILDS/better-sqlite3-v$version-node-v$(node -p process.versions.modules)-$(node -p process.platform)-$(node -p process.arch).tar.gz"
    if [ -f "$tarball" ]; then
      echo "local prebuild present: $tarball"
      exit 0
    fi
    node -e "new (require('./$MODULE'))(':memory:').prepare('select 1').get()"
    mkdir -p "$PREBUILDS"
    tar -czf "$tarball.partial" -C "$MODULE" build/Release/better_sqlite3.node
    mv "$tarball.partial" "$tarball"
    echo "local prebuild saved: $tarball"
    ;;
  *)
    echo "usage: $0 env|save" >&2
    exit 2
    ;;
esac
