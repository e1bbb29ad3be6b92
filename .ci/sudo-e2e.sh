#!/usr/bin/env bash
# The server as an unprivileged user whose sudo runs bpftrace, for real (CI, as root, after
# `npm run build`; no TTY or stdin needed). Creates a throwaway user with a random password and a
# sudoers rule for bpftrace only, drives the built server through the MCP SDK (.ci/sudo-driver.mjs)
# as that user, scans /proc as root for the password while a trace runs, and greps every output
# for it. Everything it creates is removed on exit, even on failure; a leftover user from an
# earlier run is removed first.
#
#   bash .ci/sudo-e2e.sh                    the built dist/, the password in a 0600 .env (--env)
#   bash .ci/sudo-e2e.sh --bundle F.mcpb    the MCP Bundle unpacked alone, started as Claude Desktop
#                                           does, the password in the server's environment
set -euo pipefail

readonly CI_USER=bpfmcp-ci
readonly SUDOERS_FILE=/etc/sudoers.d/bpfmcp-ci
readonly SAFE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
RUN_ID="bpfmcp-ci-$$-${RANDOM}"
readonly RUN_ID
BUNDLE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE=$(realpath "${2:?--bundle needs a .mcpb file}"); shift 2 ;;
    *) printf '[sudo-e2e] unknown argument: %s\n' "$1" >&2; exit 2 ;;
  esac
done
readonly BUNDLE
WORK=""
FAILURES=0
SUMMARY=()

log() { printf '[sudo-e2e %3ss] %s\n' "$SECONDS" "$*"; }
fail() {
  printf '[sudo-e2e %3ss] FAIL: %s\n' "$SECONDS" "$*" >&2
  FAILURES=$((FAILURES + 1))
}
die() {
  printf '[sudo-e2e] cannot run: %s\n' "$*" >&2
  exit 1
}

# Ends, by pid, what this test started: the CI user's processes and any root bpftrace carrying our run id.
end_leftovers() {
  local pid
  if id -u "$CI_USER" >/dev/null 2>&1; then
    for pid in $(pgrep -u "$CI_USER" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  for pid in $(pgrep -f -- "$RUN_ID" || true); do
    [ "$pid" = "$$" ] || kill -TERM "$pid" 2>/dev/null || true
  done
}

remove_user() {
  end_leftovers
  if id -u "$CI_USER" >/dev/null 2>&1; then
    userdel --remove "$CI_USER" >/dev/null 2>&1 || userdel --force --remove "$CI_USER" >/dev/null 2>&1 || true
  fi
  if getent group "$CI_USER" >/dev/null; then groupdel "$CI_USER" >/dev/null 2>&1 || true; fi
  rm -f "$SUDOERS_FILE"
  rm -rf "/run/sudo/ts/$CI_USER" "/var/run/sudo/ts/$CI_USER"
}

cleanup() {
  local status=$?
  trap - EXIT
  remove_user
  if [ -n "$WORK" ]; then rm -rf -- "$WORK"; fi
  if id -u "$CI_USER" >/dev/null 2>&1 || [ -e "$SUDOERS_FILE" ]; then
    printf '[sudo-e2e] WARNING: could not remove user %s or %s\n' "$CI_USER" "$SUDOERS_FILE" >&2
  fi
  exit "$status"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || die "run as root (it creates a user and a sudoers rule)"
command -v sudo >/dev/null || die "sudo is not installed"
BPFTRACE_BIN=$(command -v bpftrace) || die "bpftrace is not installed"
NODE_BIN=$(command -v node) || die "node is not on PATH"
[ -f "$REPO/dist/index.js" ] || die "$REPO/dist/index.js is missing: run npm run build first"
if [ -n "$BUNDLE" ]; then [ -f "$BUNDLE" ] || die "$BUNDLE does not exist (npm run bundle makes it)"; fi
readonly BPFTRACE_BIN NODE_BIN

log "removing anything an earlier run left behind"
remove_user

WORK=$(mktemp -d /tmp/bpfmcp-ci.XXXXXX)
chmod 0755 "$WORK"
SECRETS="$WORK/root"     # root only: the passwords, the sudo log
APP="$WORK/app"          # readable copy of the build (or the unpacked bundle)
DRIVER_DIR="$APP"        # the driver and the node_modules it imports
HOME_DIR="$WORK/home"    # the user's home
USER_DIR="$WORK/user"    # the user's: .env files, logs, audit, sync
OUT="$USER_DIR/out"
SYNC="$USER_DIR/sync"
SUDO_LOG="$SECRETS/sudo.log"
mkdir -m 0700 "$SECRETS"
mkdir -m 0755 "$APP"

log "creating user $CI_USER with a random password"
useradd --home-dir "$HOME_DIR" --create-home --shell /bin/sh --comment "bpftrace-mcp-server CI" "$CI_USER"
random_password() {
  local raw
  raw=$(head -c 600 /dev/urandom | tr -dc 'A-Za-z0-9_.:@%+-')
  printf 'Ci%s' "${raw:0:28}"
}
PASSWORD=$(random_password)
WRONG_PASSWORD=$(random_password)
# printf is a builtin: the password never appears in an argv.
printf '%s:%s\n' "$CI_USER" "$PASSWORD" | chpasswd
printf '%s\n%s\n' "$PASSWORD" "$WRONG_PASSWORD" >"$SECRETS/passwords"

install_sudoers() { # $1: "" or "NOPASSWD: "
  local draft="$SECRETS/sudoers.draft"
  {
    printf 'Defaults:%s logfile=%s, loglinelen=0\n' "$CI_USER" "$SUDO_LOG"
    printf '%s ALL=(root) %s%s\n' "$CI_USER" "$1" "$BPFTRACE_BIN"
  } >"$draft"
  visudo -cqf "$draft" || die "visudo rejected the rule: $(cat "$draft")"
  install -m 0440 -o root -g root "$draft" "$SUDOERS_FILE"
  rm -f "$draft" "/run/sudo/ts/$CI_USER"
}
install_sudoers ""
log "sudoers: $(tail -n 1 "$SUDOERS_FILE")"

if [ -n "$BUNDLE" ]; then
  # The bundle alone in its folder, as Claude Desktop unpacks it: no node_modules in it or above it.
  DRIVER_DIR="$WORK/driver"
  log "unpacking $BUNDLE into $APP; the driver and its node_modules go to $DRIVER_DIR, beside it"
  "$REPO/node_modules/.bin/mcpb" unpack "$BUNDLE" "$APP" >/dev/null
  mkdir -m 0755 "$DRIVER_DIR"
  cp -a "$REPO/node_modules" "$DRIVER_DIR/"
else
  log "copying dist/, node_modules/ and package.json to $APP"
  cp -a "$REPO/dist" "$REPO/node_modules" "$REPO/package.json" "$APP/"
  if [ -d "$REPO/setup" ]; then cp -a "$REPO/setup" "$APP/"; fi
fi
cp "$REPO/.ci/sudo-driver.mjs" "$DRIVER_DIR/sudo-driver.mjs"
chmod -R a+rX "$APP" "$DRIVER_DIR"
install -d -m 0700 -o "$CI_USER" -g "$(id -g "$CI_USER")" "$USER_DIR" "$USER_DIR/env" "$OUT" "$SYNC"
runuser -u "$CI_USER" -- test -x "$NODE_BIN" || die "$NODE_BIN is not executable by $CI_USER (install node system-wide)"
USER_PATH="$(dirname "$NODE_BIN"):$SAFE_PATH"

write_env() { # $1: file name, $2: password or ""
  local file="$USER_DIR/env/$1"
  (
    umask 077
    {
      if [ -n "$2" ]; then printf "BPFTRACE_PASSWD='%s'\n" "$2"; fi
      printf 'LOG_LEVEL=debug\n'
      printf 'BPFTRACE_MCP_AUDIT_LOG=%s\n' "$USER_DIR/audit/audit.jsonl"
    } >"$file"
  )
  chown "$CI_USER:" "$file"
  chmod 0600 "$file"
  printf '%s' "$file"
}
ENV_GOOD=$(write_env good.env "$PASSWORD")
ENV_WRONG=$(write_env wrong.env "$WRONG_PASSWORD")
ENV_NONE=$(write_env none.env "")

as_user() {
  runuser -u "$CI_USER" -- env -i PATH="$USER_PATH" HOME="$HOME_DIR" LANG=C.UTF-8 "$@" </dev/null
}

sudo_attempts() { grep -c "incorrect password attempt" "$SUDO_LOG" 2>/dev/null || true; }
sudo_entries() { grep -c " : $CI_USER : " "$SUDO_LOG" 2>/dev/null || true; }

# How the root bpftrace behind `marker` runs: its parents, its stdio, its environment.
describe_trace() {
  local marker=$1 pid parent grandparent fd
  for pid in $(pgrep -f -- "$marker" || true); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = bpftrace ] || continue
    parent=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status")
    grandparent=$(awk '/^PPid:/ { print $2 }' "/proc/$parent/status")
    log "  bpftrace pid $pid uid $(awk '/^Uid:/ { print $2 }' "/proc/$pid/status"), parent $parent ($(cat "/proc/$parent/comm")), grandparent $grandparent ($(cat "/proc/$grandparent/comm"), uid $(awk '/^Uid:/ { print $2 }' "/proc/$grandparent/status"))"
    for fd in 0 1 2; do
      log "  bpftrace fd $fd -> $(readlink "/proc/$pid/fd/$fd")"
      if readlink "/proc/$pid/fd/$fd" | grep -q '^/dev/pts/'; then
        SUMMARY+=("use_pty: bpftrace fd $fd is a pty ($(readlink "/proc/$pid/fd/$fd"))")
      fi
    done
    log "  sudo (pid $parent) fd 0/1/2 -> $(readlink "/proc/$parent/fd/0") $(readlink "/proc/$parent/fd/1") $(readlink "/proc/$parent/fd/2")"
    # stat fields 6 and 7: session id and controlling tty (0 = none); use_pty only acts when sudo has a terminal.
    log "  session/tty: server $(awk '{ print $6 "/" $7 }' "/proc/$grandparent/stat"), sudo $(awk '{ print $6 "/" $7 }' "/proc/$parent/stat"), bpftrace $(awk '{ print $6 "/" $7 }' "/proc/$pid/stat")"
    # NUL-separated: values (SUDO_COMMAND holds the program) may contain newlines.
    log "  bpftrace environment: $(grep -zo '^[A-Za-z_][A-Za-z0-9_]*=' "/proc/$pid/environ" | tr '\0' ' ')"
    if grep -zq '^BPFTRACE_PASSWD=' "/proc/$pid/environ"; then fail "bpftrace's environment has BPFTRACE_PASSWD"; fi
    SUMMARY+=("process chain: $(cat "/proc/$grandparent/comm") -> $(cat "/proc/$parent/comm") -> bpftrace; bpftrace stdout $(readlink "/proc/$pid/fd/1")")
  done
}

# As root, while the trace runs: no process's argv or environment may hold either password.
root_scan() {
  local marker=$1 hits count
  count=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
  hits=$(grep -laF -f "$SECRETS/passwords" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null || true)
  if [ -n "$hits" ]; then
    fail "a password is in: $(printf '%s ' "$hits")"
  else
    log "root scan: the password is in no /proc/*/cmdline or /proc/*/environ ($count processes)"
    SUMMARY+=("root scan of $count processes' cmdline and environ during a trace: password absent")
  fi
  describe_trace "$marker"
}

run_driver() { # $1: mode, $2: env file
  local mode=$1 env_file=$2 driver_pid status=0
  rm -f "$SYNC/scan-request" "$SYNC/scan-done"
  log "driver: $mode"
  as_user "$NODE_BIN" "$DRIVER_DIR/sudo-driver.mjs" "$mode" --app "$APP" --env "$env_file" --out "$OUT" --sync "$SYNC" --run-id "$RUN_ID" --user "$CI_USER" ${BUNDLE:+--bundle} \
    >"$OUT/driver-$mode.stdout" 2>"$OUT/driver-$mode.stderr" &
  driver_pid=$!
  while kill -0 "$driver_pid" 2>/dev/null; do
    if [ -f "$SYNC/scan-request" ]; then
      root_scan "$(cat "$SYNC/scan-request")"
      rm -f "$SYNC/scan-request"
      : >"$SYNC/scan-done"
    fi
    sleep 0.1
  done
  wait "$driver_pid" || status=$?
  # The driver checks this too, but it cannot see root's processes where /proc is mounted hidepid.
  if pgrep -f -- "$RUN_ID" >/dev/null; then fail "after $mode, processes are left: $(pgrep -af -- "$RUN_ID" | cut -c1-120)"; fi
  sed 's/^/    /' "$OUT/driver-$mode.stdout"
  if [ -s "$OUT/driver-$mode.stderr" ]; then sed 's/^/    stderr: /' "$OUT/driver-$mode.stderr"; fi
  if [ "$status" -ne 0 ]; then fail "driver $mode exited with $status"; fi
  grep '^info - ' "$OUT/driver-$mode.stdout" | sed "s/^info - /$mode: /" >>"$OUT/timings" || true
}

log "1. sudo with BPFTRACE_PASSWD (${BUNDLE:+the sensitive setting of the bundle, in the environment of the server}${BUNDLE:-.env 0600, --env})"
run_driver password "$ENV_GOOD"
if ! grep -q '"privilege":"sudo-password"' "$USER_DIR/audit/audit.jsonl"; then fail "the audit log has no start line with privilege sudo-password"; fi
if grep -q 'chmod 600' "$OUT/server-password.log"; then fail "the server called the 0600 .env too open"; fi

log "2. a wrong BPFTRACE_PASSWD"
before=$(sudo_attempts)
entries_before=$(sudo_entries)
run_driver wrong-password "$ENV_WRONG"
attempts=$(( $(sudo_attempts) - before ))
entries=$(( $(sudo_entries) - entries_before ))
log "sudo log: $attempts failed password attempt(s), $entries sudo invocation(s) for 6 tool calls"
if [ "$attempts" -ne 1 ] || [ "$entries" -ne 1 ]; then fail "expected exactly one sudo attempt with the wrong password, sudo logged $attempts failure(s) in $entries invocation(s)"; fi
SUMMARY+=("wrong password: sudo was called once for 6 tool calls (sudo's own log: $attempts failed attempt)")

log "3. doctor with the wrong password"
before=$(sudo_attempts)
doctor_status=0
as_user "$NODE_BIN" "$APP/dist/index.js" doctor --env "$ENV_WRONG" >"$OUT/doctor.txt" 2>&1 || doctor_status=$?
sed 's/^/    /' "$OUT/doctor.txt"
if [ "$doctor_status" -ne 1 ]; then fail "doctor exited with $doctor_status, expected 1"; fi
if ! grep -q "\[FAIL\] privileges .*sudo rejected BPFTRACE_PASSWD for user $CI_USER" "$OUT/doctor.txt"; then
  fail "doctor did not print '[FAIL] privileges ... sudo rejected BPFTRACE_PASSWD for user $CI_USER'"
fi
log "doctor: exit $doctor_status, $(( $(sudo_attempts) - before )) sudo password attempt(s)"

log "4. a NOPASSWD rule and no BPFTRACE_PASSWD"
install_sudoers "NOPASSWD: "
log "sudoers: $(tail -n 1 "$SUDOERS_FILE")"
run_driver nopasswd "$ENV_NONE"

log "5. the NOPASSWD rule removed"
rm -f "$SUDOERS_FILE" "/run/sudo/ts/$CI_USER"
run_driver nopasswd-removed "$ENV_NONE"

log "6. grepping every output for the passwords"
checked=("$OUT" "$USER_DIR/audit" "$SUDO_LOG")
leaks=$(grep -rlaF -f "$SECRETS/passwords" "${checked[@]}" 2>/dev/null || true)
if [ -n "$leaks" ]; then
  fail "a password appears in: $(printf '%s ' "$leaks")"
else
  files=$(find "${checked[@]}" -type f | wc -l)
  bytes=$(find "${checked[@]}" -type f -exec cat {} + | wc -c)
  log "no password in $files files ($bytes bytes): driver output, server logs, audit log, doctor output, sudo log"
  SUMMARY+=("password absent from $files output files: driver stdout/stderr, server logs (debug), audit log, doctor, sudo log")
fi
for required in "$OUT/server-password.log" "$OUT/server-wrong-password.log" "$USER_DIR/audit/audit.jsonl" "$OUT/doctor.txt"; do
  [ -s "$required" ] || fail "$required is missing or empty, so it was not really checked"
done
if [ -e "$USER_DIR/audit/audit.jsonl" ] && [ "$(stat -c %a "$USER_DIR/audit/audit.jsonl")" != 600 ]; then fail "the audit log is not 0600"; fi

printf '\n=== sudo e2e summary%s (%ss)\n' "${BUNDLE:+, from the MCP Bundle $BUNDLE}" "$SECONDS"
for line in "${SUMMARY[@]}"; do printf -- '- %s\n' "$line"; done
if [ -f "$OUT/timings" ]; then sed 's/^/- /' "$OUT/timings"; fi
if [ "$FAILURES" -ne 0 ]; then
  printf 'FAILED: %s check(s)\n' "$FAILURES"
  exit 1
fi
printf 'PASSED\n'
