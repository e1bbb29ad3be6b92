#!/usr/bin/env bash
# Adds (or removes) bpftrace-mcp-server in Claude Desktop's claude_desktop_config.json: a thin
# wrapper, kept at the original project's path, around `bpftrace-mcp-server setup claude-desktop`
# (src/commands/setup.ts), which does the work. Its old options still work: --env-file PATH is
# passed on as --env PATH; --mode, --name, --config, --uninstall, --dry-run and --yes as they are.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
readonly ENTRY="$REPO_DIR/dist/index.js" CLIENT="claude-desktop"

args=()
while (($# > 0)); do
  case "$1" in
    # Node itself takes --env-file, even after the script name (nodejs/node#54232): the server's flag is --env.
    --env-file)
      (($# >= 2)) || { printf '%s: --env-file needs a value\n' "${0##*/}" >&2; exit 2; }
      args+=(--env "$2")
      shift
      ;;
    --env-file=*) args+=("--env=${1#*=}") ;;
    *) args+=("$1") ;;
  esac
  shift
done

command -v node >/dev/null 2>&1 || { printf '%s: node was not found on PATH; install Node.js 20 or newer\n' "${0##*/}" >&2; exit 1; }
[[ -f "$ENTRY" ]] || { printf '%s: %s does not exist; build first: (cd %q && npm install && npm run build)\n' "${0##*/}" "$ENTRY" "$REPO_DIR" >&2; exit 1; }
exec node "$ENTRY" setup "$CLIENT" ${args[@]+"${args[@]}"}
