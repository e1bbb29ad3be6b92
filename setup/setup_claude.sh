#!/usr/bin/env bash
# Adds (or removes) the bpftrace-mcp-server entry in Claude Desktop's claude_desktop_config.json.
# The JSON is edited by node (the server needs Node >= 20 anyway); values reach it through the
# environment and argv only, never pasted into the JS source.
set -euo pipefail

readonly PROG="${0##*/}"
readonly PACKAGE_NAME="bpftrace-mcp-server"
readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_NOT_CONFIRMED=3
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
readonly REPO_DIR

usage() {
  cat <<EOF
Usage: $PROG [options]

Adds the bpftrace MCP server to Claude Desktop: merges an "mcpServers.<name>" entry into
claude_desktop_config.json and leaves every other key and server as it was.

Options:
  --mode npx|local   npx (default): command "npx", args ["-y", "$PACKAGE_NAME"].
                     local: command "node", args ["$REPO_DIR/dist/index.js"]
                     (needs a build: cd $REPO_DIR && npm install && npm run build).
  --env-file PATH    add "--env", PATH to the server's args, so the server reads its
                     settings (BPFTRACE_PASSWD, ...) from that file. The file must exist;
                     keep it mode 0600 (a warning is printed otherwise).
  --name NAME        key under "mcpServers" (default: bpftrace); letters, digits, - and _.
  --config PATH      the config file to edit (default below).
  --uninstall        remove only the "<name>" entry (a backup is made first).
  --dry-run          print what would change and write nothing.
  --yes, -y          do not ask for confirmation.
  --help, -h         show this help.

Without --yes the resulting entry is shown and you are asked y/N; when standard input is
not a terminal and --yes is not given, nothing is changed. Before an existing file is
changed, a copy is saved next to it as <file>.bak-YYYYmmdd-HHMMSS. The new file is written
to a temporary file and moved into place, keeping the old file's mode (0600 for a new one).
A file that is not valid JSON is never touched: the parse error and its line are printed.

Default config file:
  macOS   ~/Library/Application Support/Claude/claude_desktop_config.json
  Linux   \${XDG_CONFIG_HOME:-~/.config}/Claude/claude_desktop_config.json
          (Claude Desktop has only community builds on Linux)
  Windows %APPDATA%\\Claude\\claude_desktop_config.json (this script does not run there; add
          the entry by hand). bpftrace needs Linux, so run the server inside WSL:
            "$PACKAGE_NAME": {
              "command": "wsl.exe",
              "args": ["-d", "Ubuntu", "--", "npx", "-y", "$PACKAGE_NAME"]
            }
          (replace Ubuntu by your distribution's name from "wsl.exe -l").

Exit status:
  0  configured, already up to date, removed, nothing to remove, or --dry-run
  1  failed: invalid JSON, unreadable file, missing build or env file, write error
  2  usage error (unknown option, bad value)
  3  not confirmed: answered no, or no terminal to ask on and no --yes

Restart Claude Desktop (quit it completely) after a change. See setup/SETUP.md.
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

mode="npx"
env_file=""
server_name="bpftrace"
config_path=""
action="install"
dry_run=false
assume_yes=false

while (($# > 0)); do
  option="$1"
  value=""
  case "$option" in
    --*=*) value="${option#*=}"; option="${option%%=*}" ;;
    --mode | --env-file | --name | --config)
      (($# >= 2)) || usage_error "$option needs a value"
      value="$2"
      shift
      ;;
  esac
  case "$option" in
    --mode) mode="$value" ;;
    --env-file) env_file="$value" ;;
    --name) server_name="$value" ;;
    --config) config_path="$value" ;;
    --uninstall) action="uninstall" ;;
    --dry-run) dry_run=true ;;
    --yes | -y) assume_yes=true ;;
    --help | -h) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done

case "$mode" in
  npx | local) ;;
  *) usage_error "--mode must be npx or local, not '$mode'" ;;
esac
[[ "$server_name" =~ ^[A-Za-z0-9_-]+$ ]] || usage_error "--name may contain only letters, digits, - and _ (got '$server_name')"

command -v node >/dev/null 2>&1 || fail "node was not found on PATH; install Node.js 20 or newer (the server needs it too)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  fail "Node.js 20 or newer is needed, found $(node --version)"

if [[ -z "$config_path" ]]; then
  case "$(uname -s)" in
    Darwin) config_path="$HOME/Library/Application Support/Claude/claude_desktop_config.json" ;;
    Linux)
      config_path="${XDG_CONFIG_HOME:-$HOME/.config}/Claude/claude_desktop_config.json"
      if grep -qi microsoft /proc/version 2>/dev/null; then
        warn "this is WSL: Claude Desktop for Windows reads %APPDATA%\\Claude\\claude_desktop_config.json, not $config_path; see --help for the wsl.exe entry"
      fi
      ;;
    *) fail "no default Claude Desktop config on $(uname -s); pass --config PATH (see --help)" ;;
  esac
fi
if ((EUID == 0)) && [[ -n "${SUDO_USER:-}" ]]; then
  warn "running under sudo: this edits root's Claude Desktop config ($config_path), not $SUDO_USER's; run without sudo"
fi

# The server command line for the entry.
server_command=""
server_args=()
if [[ "$action" == "install" ]]; then
  if [[ "$mode" == "npx" ]]; then
    server_command="npx"
    server_args=(-y "$PACKAGE_NAME")
  else
    entry_script="$REPO_DIR/dist/index.js"
    [[ -f "$entry_script" ]] ||
      fail "$entry_script does not exist; build the server first: (cd '$REPO_DIR' && npm install && npm run build)"
    server_command="node"
    server_args=("$entry_script")
  fi
  if [[ -n "$env_file" ]]; then
    # Absolute (the client starts the server from an unknown directory) and checked, so a typo
    # shows up now rather than as a server that will not start.
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
fi

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/setup_claude.XXXXXX")"
temp_target=""
cleanup() {
  rm -rf "$work_dir"
  if [[ -n "$temp_target" ]]; then rm -f "$temp_target"; fi
}
trap cleanup EXIT

# Plans the change: reads the config, refuses invalid JSON, writes the new text to
# $SETUP_NEW_TEXT and "status, mode, real path" lines to $SETUP_PLAN. Touches nothing else.
read -r -d '' PLAN_JS <<'JS' || true
const fs = require("node:fs");
const { configPath, serverName, action, planPath, newTextPath, beforePath, afterPath } = {
  configPath: process.env.SETUP_CONFIG_PATH,
  serverName: process.env.SETUP_SERVER_NAME,
  action: process.env.SETUP_ACTION,
  planPath: process.env.SETUP_PLAN,
  newTextPath: process.env.SETUP_NEW_TEXT,
  beforePath: process.env.SETUP_BEFORE,
  afterPath: process.env.SETUP_AFTER,
};
const [command, ...args] = process.argv.slice(1);

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}
const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

// Offset of the first syntax error: Node 20's JSON.parse messages carry no line, some no position.
function jsonErrorOffset(text) {
  let i = 0;
  const stop = () => { throw new RangeError("json"); };
  const space = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') { i++; return; }
      if (c === "\\") {
        i++;
        if (text[i] === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
        else if ('"\\/bfnrt'.includes(text[i] ?? "x")) i++;
        else stop();
      } else if (c < " ") stop();
      else i++;
    }
    stop();
  };
  const value = () => {
    space();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      space();
      if (text[i] === close) { i++; return; }
      for (;;) {
        space();
        if (c === "{") {
          if (text[i] !== '"') stop();
          string();
          space();
          if (text[i] !== ":") stop();
          i++;
        }
        value();
        space();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === close) { i++; return; }
        stop();
      }
    }
    if (c === '"') return string();
    const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    number.lastIndex = i;
    if (number.test(text)) { i = number.lastIndex; return; }
    for (const word of ["true", "false", "null"]) if (text.startsWith(word, i)) { i += word.length; return; }
    stop();
  };
  try {
    value();
    space();
    if (i < text.length) stop();
    return null;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return i;
  }
}

let target = configPath;
try { target = fs.realpathSync(configPath); } catch {}
let text = null;
try {
  text = fs.readFileSync(target, "utf8");
} catch (error) {
  if (error.code !== "ENOENT") fail(`cannot read ${configPath}: ${error.message}`);
}

let config = {};
let mode = "";
let indent = 2;
let bom = "";
let eol = "\n";
let finalNewline = true;
if (text !== null) {
  mode = (fs.statSync(target).mode & 0o7777).toString(8);
  if (text.startsWith("\uFEFF")) { bom = "\uFEFF"; text = text.slice(1); }
  if (text.trim() !== "") {
    try {
      config = JSON.parse(text);
    } catch (error) {
      const offset = jsonErrorOffset(text) ?? text.length;
      const before = text.slice(0, offset);
      const line = before.split("\n").length;
      const column = offset - (before.lastIndexOf("\n") + 1) + 1;
      const lineText = (text.split("\n")[line - 1] ?? "").replace(/\r$/, "");
      const where = offset >= text.length ? `line ${line} (the end of the file)` : `line ${line}, column ${column}`;
      fail(
        `${configPath} is not valid JSON: ${where}: ${error.message}\n` +
          `  ${line} | ${lineText}\n  ${" ".repeat(String(line).length)} | ${" ".repeat(Math.max(0, column - 1))}^\n` +
          "The file was not changed. Fix it (or restore a backup) and run again.",
      );
    }
    const indentMatch = /^([ \t]+)\S/m.exec(text);
    if (indentMatch) indent = indentMatch[1].slice(0, 10);
    if (text.includes("\r\n")) eol = "\r\n";
    finalNewline = /\n$/.test(text);
  }
}
if (!isObject(config)) fail(`${configPath}: the top level is not a JSON object; the file was not changed`);
if (config.mcpServers !== undefined && !isObject(config.mcpServers)) {
  fail(`${configPath}: "mcpServers" is not a JSON object; the file was not changed`);
}
const servers = config.mcpServers;
const current = servers !== undefined && Object.hasOwn(servers, serverName) ? servers[serverName] : undefined;

let status;
let next;
if (action === "uninstall") {
  if (current === undefined) status = "absent";
  else { status = "removed"; delete servers[serverName]; }
} else {
  // Our entry keeps any other keys the user gave it (env, cwd, ...); command and args are ours.
  next = isObject(current) ? { ...current, command, args } : { command, args, env: {} };
  if (JSON.stringify(next) === JSON.stringify(current)) status = "unchanged";
  else {
    status = text === null ? "created" : "updated";
    if (servers === undefined) config.mcpServers = { [serverName]: next };
    else servers[serverName] = next;
  }
  if (isObject(next.env) && Object.hasOwn(next.env, "BPFTRACE_PASSWD")) {
    process.stderr.write(
      `warning: the "${serverName}" entry keeps BPFTRACE_PASSWD in its "env", i.e. the sudo password sits in ${configPath}; ` +
        "move it to a 0600 .env file, delete it from the entry and rerun with --env-file\n",
    );
  }
}

const newText = bom + JSON.stringify(config, null, indent).replace(/\n/g, eol) + (finalNewline ? eol : "");
fs.writeFileSync(newTextPath, newText);
fs.writeFileSync(beforePath, current === undefined ? "" : JSON.stringify(current, null, 2) + "\n");
fs.writeFileSync(afterPath, next === undefined ? "" : JSON.stringify(next, null, 2) + "\n");
fs.writeFileSync(planPath, `${status}\n${mode}\n${target}\n`);
JS

plan_exit=0
# ${a[@]+"${a[@]}"}: an empty array under set -u, for macOS's bash 3.2.
SETUP_CONFIG_PATH="$config_path" SETUP_SERVER_NAME="$server_name" SETUP_ACTION="$action" \
  SETUP_PLAN="$work_dir/plan" SETUP_NEW_TEXT="$work_dir/new.json" \
  SETUP_BEFORE="$work_dir/before.json" SETUP_AFTER="$work_dir/after.json" \
  node -e "$PLAN_JS" -- "$server_command" ${server_args[@]+"${server_args[@]}"} 2>"$work_dir/plan.err" ||
  plan_exit=$?
while IFS= read -r message_line; do
  printf '%s: %s\n' "$PROG" "$message_line" >&2
done <"$work_dir/plan.err"
((plan_exit == 0)) || exit "$EXIT_FAILED"

{
  read -r plan_status
  read -r file_mode
  read -r target_path
} <"$work_dir/plan"

case "$plan_status" in
  unchanged)
    printf 'Claude Desktop already has the "%s" entry in %s; nothing to do.\n' "$server_name" "$config_path"
    exit 0
    ;;
  absent)
    printf 'No "%s" entry in %s; nothing to remove.\n' "$server_name" "$config_path"
    exit 0
    ;;
  created) printf 'Will create %s with this "%s" entry:\n' "$config_path" "$server_name" ;;
  updated)
    if [[ -s "$work_dir/before.json" ]]; then
      printf 'Will replace the "%s" entry in %s. Current entry:\n' "$server_name" "$config_path"
      sed 's/^/  /' "$work_dir/before.json"
      printf 'New entry:\n'
    else
      printf 'Will add this "%s" entry to %s:\n' "$server_name" "$config_path"
    fi
    ;;
  removed) printf 'Will remove this "%s" entry from %s (other entries are kept):\n' "$server_name" "$config_path" ;;
  *) fail "internal error: unexpected plan '$plan_status'" ;;
esac
if [[ "$plan_status" == "removed" ]]; then
  sed 's/^/  /' "$work_dir/before.json"
else
  sed 's/^/  /' "$work_dir/after.json"
fi

if $dry_run; then
  printf 'Dry run: nothing was written.\n'
  exit 0
fi
if ! $assume_yes; then
  if [[ ! -t 0 ]]; then
    printf '%s: not changed: standard input is not a terminal, so there is no one to confirm; rerun with --yes (or --dry-run to preview)\n' "$PROG" >&2
    exit "$EXIT_NOT_CONFIRMED"
  fi
  read -r -p "Apply this change? [y/N] " answer || answer=""
  case "$answer" in
    y | Y | yes | YES | Yes) ;;
    *)
      printf 'Not changed.\n'
      exit "$EXIT_NOT_CONFIRMED"
      ;;
  esac
fi

target_dir="$(dirname "$target_path")"
backup_path=""
if [[ -n "$file_mode" ]]; then
  backup_path="$target_path.bak-$(date +%Y%m%d-%H%M%S)"
  suffix=1
  while [[ -e "$backup_path" ]]; do
    backup_path="$target_path.bak-$(date +%Y%m%d-%H%M%S)-$suffix"
    suffix=$((suffix + 1))
  done
  cp -p "$target_path" "$backup_path" || fail "could not back up $target_path to $backup_path; nothing was changed"
else
  mkdir -p "$target_dir" || fail "could not create $target_dir"
  file_mode="600"
fi
temp_target="$(mktemp "$target_dir/.${target_path##*/}.XXXXXX")" || fail "could not create a temporary file in $target_dir"
cat "$work_dir/new.json" >"$temp_target"
chmod "$file_mode" "$temp_target"
mv -f "$temp_target" "$target_path" || fail "could not replace $target_path; it is unchanged"
temp_target=""

case "$plan_status" in
  created) printf 'Created %s.\n' "$target_path" ;;
  updated) printf 'Updated %s (backup: %s).\n' "$target_path" "$backup_path" ;;
  removed) printf 'Removed "%s" from %s (backup: %s).\n' "$server_name" "$target_path" "$backup_path" ;;
esac
printf 'Quit and restart Claude Desktop to load the change.\n'
if [[ "$action" == "install" ]]; then
  printf 'Check that the server can trace with: %s %s doctor\n' "$server_command" "$(printf '%q ' "${server_args[@]}" | sed 's/ $//')"
fi
