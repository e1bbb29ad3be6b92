#!/usr/bin/env bash
# Registers (or removes) bpftrace-mcp-server in Claude Code through its own CLI,
# `claude mcp add|get|remove`; prints the command and JSON to use by hand when `claude` is absent.
set -euo pipefail

readonly PROG="${0##*/}"
readonly PACKAGE_NAME="bpftrace-mcp-server"
readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_NOT_CONFIRMED=3 EXIT_NO_CLAUDE=4
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
readonly REPO_DIR

usage() {
  cat <<EOF
Usage: $PROG [options]

Adds the bpftrace MCP server to Claude Code with its CLI:
  claude mcp add --scope <scope> <name> -- npx -y $PACKAGE_NAME [--env PATH]
Run it from your project's folder for the local and project scopes.

Options:
  --scope local|user|project
                     local (default): only you, only this project (~/.claude.json, under
                     the project's path). user: only you, every project (~/.claude.json).
                     project: everyone using this folder (./.mcp.json, meant for git;
                     Claude Code asks each user to approve it).
  --mode npx|local   npx (default): npx -y $PACKAGE_NAME.
                     local: node $REPO_DIR/dist/index.js
                     (needs a build: cd $REPO_DIR && npm install && npm run build).
  --env-file PATH    append --env PATH to the server's arguments, so the server reads
                     its settings (BPFTRACE_PASSWD, ...) from that file. The file must exist;
                     keep it mode 0600 (a warning is printed otherwise).
  --name NAME        the server's name in Claude Code (default: bpftrace); letters, digits,
                     - and _.
  --uninstall        claude mcp remove --scope <scope> <name>.
  --dry-run          show what would be run and run nothing but 'claude mcp get'.
  --yes, -y          do not ask for confirmation.
  --help, -h         show this help.

What it does: 'claude mcp get <name>' (Claude Code starts the server once for a health
check). No entry: add it. The same command and arguments in the same scope: nothing to
do. Different: 'claude mcp remove --scope <scope> <name>', then add. Without --yes, the
commands are shown and you are asked y/N; when standard input is not a terminal and
--yes is not given, nothing is changed.

When 'claude' is not on PATH, the exact command and the JSON to add by hand are
printed and the exit status is 4: nothing was configured.

Exit status:
  0  added, replaced, already up to date, removed, nothing to remove, or --dry-run
  1  failed: a claude command failed, missing build or env file
  2  usage error (unknown option, bad value)
  3  not confirmed: answered no, or no terminal to ask on and no --yes
  4  claude is not on PATH: instructions printed, nothing changed

See setup/SETUP.md for other clients and troubleshooting.
EOF
}

fail() {
  printf '%s: error: %s\n' "$PROG" "$1" >&2
  exit "$EXIT_FAILED"
}

usage_error() {
  printf '%s: %s\n' "$PROG" "$1" >&2
  printf "Run '%s --help' for the options.\n" "$PROG" >&2
  exit "$EXIT_USAGE"
}

warn() {
  printf '%s: warning: %s\n' "$PROG" "$1" >&2
}

# A command line as one string a shell would read back the same way.
shell_words() {
  local quoted
  quoted="$(printf '%q ' "$@")"
  printf '%s' "${quoted% }"
}

# Asks y/N on a terminal; exits 3 when the answer is not yes or there is no terminal.
confirm() {
  $assume_yes && return 0
  if [[ ! -t 0 ]]; then
    printf '%s: not changed: standard input is not a terminal, so there is no one to confirm; rerun with --yes (or --dry-run to preview)\n' "$PROG" >&2
    exit "$EXIT_NOT_CONFIRMED"
  fi
  local answer=""
  read -r -p "$1 [y/N] " answer || answer=""
  case "$answer" in
    y | Y | yes | YES | Yes) return 0 ;;
  esac
  printf 'Not changed.\n'
  exit "$EXIT_NOT_CONFIRMED"
}

# Runs claude with the command echoed; its output lands in $claude_output, its status in $claude_status.
run_claude() {
  printf '+ claude %s\n' "$(shell_words "$@")"
  claude_status=0
  claude_output="$(claude "$@" </dev/null 2>&1)" || claude_status=$?
  if [[ -n "$claude_output" ]]; then printf '%s\n' "$claude_output" | sed 's/^/  /'; fi
}

scope="local"
mode="npx"
env_file=""
server_name="bpftrace"
action="install"
dry_run=false
assume_yes=false

while (($# > 0)); do
  option="$1"
  value=""
  case "$option" in
    --*=*) value="${option#*=}"; option="${option%%=*}" ;;
    --scope | --mode | --env-file | --name)
      (($# >= 2)) || usage_error "$option needs a value"
      value="$2"
      shift
      ;;
  esac
  case "$option" in
    --scope) scope="$value" ;;
    --mode) mode="$value" ;;
    --env-file) env_file="$value" ;;
    --name) server_name="$value" ;;
    --uninstall) action="uninstall" ;;
    --dry-run) dry_run=true ;;
    --yes | -y) assume_yes=true ;;
    --help | -h) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done

case "$scope" in
  local | user | project) ;;
  *) usage_error "--scope must be local, user or project, not '$scope'" ;;
esac
case "$mode" in
  npx | local) ;;
  *) usage_error "--mode must be npx or local, not '$mode'" ;;
esac
[[ "$server_name" =~ ^[A-Za-z0-9_-]+$ ]] || usage_error "--name may contain only letters, digits, - and _ (got '$server_name')"

command -v node >/dev/null 2>&1 || fail "node was not found on PATH; install Node.js 20 or newer (the server needs it too)"

# The server command line: server_command plus server_args.
if [[ "$mode" == "npx" ]]; then
  server_command="npx"
  server_args=(-y "$PACKAGE_NAME")
else
  entry_script="$REPO_DIR/dist/index.js"
  [[ "$action" == "uninstall" || -f "$entry_script" ]] ||
    fail "$entry_script does not exist; build the server first: (cd '$REPO_DIR' && npm install && npm run build)"
  server_command="node"
  server_args=("$entry_script")
fi
if [[ -n "$env_file" && "$action" == "install" ]]; then
  # Absolute, and checked, so a typo shows up now rather than as a server that will not start.
  env_file_facts="$(node -e '
    const fs = require("node:fs");
    const absolute = require("node:path").resolve(process.argv[1]);
    let state = "missing";
    try {
      const stats = fs.statSync(absolute);
      state = stats.isFile() ? (stats.mode & 0o777).toString(8) : "not-a-file";
    } catch {}
    process.stdout.write(absolute + "\n" + state + "\n");
  ' -- "$env_file")"
  env_file="$(sed -n 1p <<<"$env_file_facts")"
  env_file_mode="$(sed -n 2p <<<"$env_file_facts")"
  case "$env_file_mode" in
    missing) fail "--env-file $env_file does not exist; create it first (install -m 600 /dev/null '$env_file'), then write BPFTRACE_PASSWD=... and any other settings in it" ;;
    not-a-file) fail "--env-file $env_file is not a regular file" ;;
  esac
  if ((8#$env_file_mode & 8#022)); then
    warn "$env_file has mode $env_file_mode: other users can change it, e.g. point BPFTRACE_PATH at a program that sudo then runs as root; run: chmod 600 '$env_file'"
  elif ((8#$env_file_mode & 8#044)); then
    warn "$env_file has mode $env_file_mode: other users can read it (and BPFTRACE_PASSWD in it); run: chmod 600 '$env_file'"
  fi
  server_args+=(--env "$env_file")
fi
server_line=("$server_command" "${server_args[@]}")
add_args=(mcp add --scope "$scope" "$server_name" -- "${server_line[@]}")
remove_args=(mcp remove --scope "$scope" "$server_name")

project_dir="$(pwd -P)"
if [[ "$scope" != "user" ]]; then
  git_top="$(git rev-parse --show-toplevel 2>/dev/null || true)"
  if [[ "$scope" == "project" && -n "$git_top" && "$git_top" != "$project_dir" ]]; then
    warn "Claude Code writes .mcp.json in the current folder ($project_dir), not at the repository's top ($git_top); cd there first if that is what you meant"
  fi
  if [[ "$scope" == "project" && ("$mode" == "local" || -n "$env_file") && "$action" == "install" ]]; then
    warn ".mcp.json is meant to be shared, but this entry names paths on this machine; consider --scope local"
  fi
  if [[ "$scope" == "local" && -n "$git_top" ]]; then project_dir="$git_top"; fi
fi

if ! command -v claude >/dev/null 2>&1; then
  printf "Claude Code's 'claude' command is not on PATH, so nothing was changed.\n"
  if [[ "$action" == "uninstall" ]]; then
    printf 'With Claude Code installed, run:\n\n  claude %s\n\n' "$(shell_words "${remove_args[@]}")"
    case "$scope" in
      local) printf 'Or delete "%s" from "mcpServers" under "projects" > "%s" in ~/.claude.json.\n' "$server_name" "$project_dir" ;;
      user) printf 'Or delete "%s" from the top-level "mcpServers" in ~/.claude.json.\n' "$server_name" ;;
      project) printf 'Or delete "%s" from "mcpServers" in %s/.mcp.json.\n' "$server_name" "$project_dir" ;;
    esac
    exit "$EXIT_NO_CLAUDE"
  fi
  printf 'Install it (npm install -g @anthropic-ai/claude-code) and run, from your project folder:\n\n  claude %s\n\n' \
    "$(shell_words "${add_args[@]}")"
  case "$scope" in
    local) printf 'Or add this to ~/.claude.json, merged into "projects" > "%s" (keep everything else):\n\n' "$project_dir" ;;
    user) printf 'Or add this to ~/.claude.json, merged into its top level (keep everything else):\n\n' ;;
    project) printf 'Or put this in %s/.mcp.json (merge it if the file exists):\n\n' "$project_dir" ;;
  esac
  SETUP_SERVER_NAME="$server_name" node -e '
    const [command, ...args] = process.argv.slice(1);
    const entry = { type: "stdio", command, args, env: {} };
    process.stdout.write(JSON.stringify({ mcpServers: { [process.env.SETUP_SERVER_NAME]: entry } }, null, 2) + "\n");
  ' -- "${server_line[@]}"
  exit "$EXIT_NO_CLAUDE"
fi

# What Claude Code has now. `get` takes no --scope: it shows one entry, from the first scope
# that has the name, and starts the server once for its health check.
printf "Looking for an existing '%s' entry (claude mcp get %s)...\n" "$server_name" "$server_name"
get_status=0
get_output="$(claude mcp get "$server_name" </dev/null 2>&1)" || get_status=$?
found_scope=""
found_command=""
found_args=""
found_env_names=""
if ((get_status == 0)); then
  found_scope_text="$(sed -n 's/^ *Scope: *//p' <<<"$get_output" | sed -n 1p)"
  case "$found_scope_text" in
    Local*) found_scope="local" ;;
    User*) found_scope="user" ;;
    Project*) found_scope="project" ;;
    *) found_scope="other ($found_scope_text)" ;;
  esac
  found_command="$(sed -n 's/^ *Command: *//p' <<<"$get_output" | sed -n 1p)"
  found_args="$(sed -n 's/^ *Args: *//p' <<<"$get_output" | sed -n 1p)"
  # Only the names: values may be secrets.
  found_env_names="$(sed -n '/^ *Environment:/,/^ *$/{/^ *Environment:/d;/^ *$/d;s/^ *\([^=]*\)=.*/\1/p;}' <<<"$get_output" | paste -sd' ' -)"
fi
desired_args="${server_args[*]}"

if [[ "$action" == "uninstall" ]]; then
  if ((get_status != 0)); then
    printf "Claude Code has no '%s' server; nothing to remove.\n" "$server_name"
    exit 0
  fi
  if [[ "$found_scope" != "$scope" ]]; then
    printf "Note: 'claude mcp get' shows '%s' in the %s scope; removing from the %s scope only.\n" "$server_name" "$found_scope" "$scope"
  fi
  printf 'Will run: claude %s\n' "$(shell_words "${remove_args[@]}")"
  if $dry_run; then
    printf 'Dry run: nothing was changed.\n'
    exit 0
  fi
  confirm "Remove '$server_name' from the $scope scope?"
  run_claude "${remove_args[@]}"
  if ((claude_status == 0)); then
    printf "Removed '%s' from Claude Code's %s scope.\n" "$server_name" "$scope"
    exit 0
  fi
  if grep -q 'No MCP server named' <<<"$claude_output"; then
    printf "There is no '%s' in the %s scope; nothing to remove.\n" "$server_name" "$scope"
    exit 0
  fi
  fail "claude mcp remove failed (exit $claude_status)"
fi

plan="add"
if ((get_status == 0)); then
  if [[ "$found_scope" == "$scope" ]]; then
    if [[ "$found_command" == "$server_command" && "$found_args" == "$desired_args" ]]; then
      printf "Claude Code already has '%s' in the %s scope: %s %s. Nothing to do.\n" "$server_name" "$scope" "$found_command" "$found_args"
      exit 0
    fi
    plan="replace"
    printf "Claude Code has '%s' in the %s scope with a different command:\n  now:  %s %s\n  want: %s\n" \
      "$server_name" "$scope" "$found_command" "$found_args" "$(shell_words "${server_line[@]}")"
    if [[ -n "$found_env_names" ]]; then
      warn "the current entry sets environment variables ($found_env_names) that the new one will not have; put them in the --env-file instead"
    fi
  else
    # The name is also (or only) in another scope; ours may still hold one that get cannot show.
    plan="add-or-replace"
    printf "Note: 'claude mcp get' shows '%s' in the %s scope (%s %s); Claude Code uses one entry per name, preferring local, then project, then user.\n" \
      "$server_name" "$found_scope" "$found_command" "$found_args"
  fi
fi

printf 'Will run:\n'
if [[ "$plan" == "replace" ]]; then printf '  claude %s\n' "$(shell_words "${remove_args[@]}")"; fi
printf '  claude %s\n' "$(shell_words "${add_args[@]}")"
if [[ "$plan" == "add-or-replace" ]]; then
  printf "  (and, if the %s scope already has a '%s' entry: remove it first, then add)\n" "$scope" "$server_name"
fi
if $dry_run; then
  printf 'Dry run: nothing was changed.\n'
  exit 0
fi
confirm "Apply this change to Claude Code's $scope scope?"

if [[ "$plan" == "replace" ]]; then
  run_claude "${remove_args[@]}"
  ((claude_status == 0)) || fail "claude mcp remove failed (exit $claude_status); nothing was added"
fi
run_claude "${add_args[@]}"
if ((claude_status != 0)) && [[ "$plan" == "add-or-replace" ]] && grep -q 'already exists' <<<"$claude_output"; then
  run_claude "${remove_args[@]}"
  ((claude_status == 0)) || fail "claude mcp remove failed (exit $claude_status); nothing was added"
  run_claude "${add_args[@]}"
fi
((claude_status == 0)) || fail "claude mcp add failed (exit $claude_status)"

printf "Added '%s' to Claude Code's %s scope.\n" "$server_name" "$scope"
if [[ "$scope" == "project" ]]; then
  printf 'Commit .mcp.json to share it; Claude Code asks each user to approve project servers.\n'
fi
printf 'In Claude Code, /mcp shows the server. Check that it can trace with: %s doctor\n' "$(shell_words "${server_line[@]}")"
