#!/usr/bin/env bash
# Real MCP clients for test/e2e/http-clients.test.ts, installed once into a cache outside the repo
# (together ~450 MB: too much for devDependencies every `npm ci` would fetch). Both run offline.
# Usage: bash .ci/http-clients.sh install | dir
set -euo pipefail
CACHE=${BPFTRACE_MCP_CI_CACHE:-/var/cache/bpftrace-mcp-ci}/http-clients
PACKAGES=("@anthropic-ai/claude-code@2.1.332" "@modelcontextprotocol/inspector@2.12.0")
case "${1:-}" in
  install)
    if [ "$(cat "$CACHE/.installed" 2>/dev/null)" != "${PACKAGES[*]}" ]; then
      mkdir -p "$CACHE"
      npm install --prefix "$CACHE" --no-audit --no-fund --no-save "${PACKAGES[@]}" </dev/null
      echo "${PACKAGES[*]}" >"$CACHE/.installed"
    fi
    "$CACHE/node_modules/.bin/claude" --version
    ;;
  dir) echo "$CACHE" ;;
  *) echo "usage: $0 install | dir" >&2; exit 2 ;;
esac
