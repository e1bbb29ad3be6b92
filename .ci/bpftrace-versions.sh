#!/usr/bin/env bash
# The bpftrace releases CI proves the server on besides the host's: each lives in a Debian chroot
# (trixie: 0.23, sid: 0.27) and traces this kernel through a wrapper, so no second machine is needed.
#   up    build the chroots once (cached), mount what bpftrace needs inside, write the wrappers
#         <cache>/bin/bpftrace-<suite> (usable as BPFTRACE_PATH) and print each version
#   down  unmount exactly what `up` mounted
#   wrappers  print the wrapper paths, one per line, oldest release first
# The cache is ${BPFTRACE_MCP_CHROOT_CACHE:-/var/cache/bpftrace-mcp-ci}; runs as root, no stdin.
set -euo pipefail

CACHE=${BPFTRACE_MCP_CHROOT_CACHE:-/var/cache/bpftrace-mcp-ci}
MIRROR=${BPFTRACE_MCP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITES=(trixie sid)
# Mount points `up` mounted, one per line, in mount order; `down` unmounts them in reverse.
MOUNTED="$CACHE/mounted"

die() {
  printf 'bpftrace-versions: %s\n' "$*" >&2
  exit 1
}

# Mount points at or below $1, deepest first (from this process's mount table).
mounts_below() {
  awk -v root="$1" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

need_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap </dev/null
}

# What each chroot holds: bpftrace, and the UAPI headers programs #include (linux/sched.h, …).
readonly PACKAGES=bpftrace,linux-libc-dev

# Builds $CACHE/<suite> unless its stamp says a previous debootstrap of these packages finished there.
build() {
  local suite=$1 root="$CACHE/$1" stamp="$CACHE/$1.stamp" log="$CACHE/$1.debootstrap.log"
  [ -f "$stamp" ] && grep -qx "packages=$PACKAGES" "$stamp" && [ -x "$root/usr/bin/bpftrace" ] && return 0
  need_debootstrap
  if [ -e "$root" ]; then
    # Half built (interrupted or failed): start over, but never delete through a mount.
    local point
    for point in $(mounts_below "$root"); do umount "$point"; done
    [ -z "$(mounts_below "$root")" ] || die "$root still has mounts below it; not deleting it"
    rm -rf --one-file-system "$root"
  fi
  rm -f "$stamp"
  printf 'building the %s chroot in %s (log: %s)\n' "$suite" "$root" "$log"
  local started=$SECONDS
  if ! debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$root" "$MIRROR" >"$log" 2>&1 </dev/null; then
    tail -n 20 "$log" >&2
    die "debootstrap $suite failed"
  fi
  printf '%s built in %ss\n' "$suite" "$((SECONDS - started))"
  printf 'built=%s\npackages=%s\n' "$(date -u +%FT%TZ)" "$PACKAGES" >"$stamp"
}

# mount_once POINT MOUNT-ARGS...: mounts unless something is mounted there already; records it.
mount_once() {
  local point=$1
  shift
  mountpoint -q "$point" && return 0
  mkdir -p "$point"
  mount "$@" "$point"
  printf '%s\n' "$point" >>"$MOUNTED"
}

# What bpftrace reads: /proc (kallsyms, pids), /sys (BTF, perf events), tracefs (tracepoints), /dev;
# and the host's /tmp, where tests make the files whose paths they hand bpftrace (cat, include, uprobe).
mount_all() {
  local root=$1
  mount_once "$root/proc" -t proc proc
  mount_once "$root/sys" -t sysfs sysfs
  mount_once "$root/sys/kernel/tracing" -t tracefs tracefs
  mount_once "$root/dev" --bind /dev
  mount_once "$root/tmp" --bind /tmp
  # minbase writes no /etc/hosts; resolving localhost is what the dns example's trigger does.
  [ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
}

write_wrapper() {
  local suite=$1 chroot_bin
  chroot_bin=$(command -v chroot) || die "chroot(8) not found"
  mkdir -p "$CACHE/bin"
  # Written to a temporary name and renamed, so a running test never sees half a script.
  # PWD is dropped: sh exports the one it sets, and the server gives bpftrace no PWD.
  printf '#!/bin/sh\nunset PWD\nexec %s %s /usr/bin/bpftrace "$@"\n' "$chroot_bin" "$CACHE/$suite" >"$CACHE/bin/.bpftrace-$suite"
  chmod 755 "$CACHE/bin/.bpftrace-$suite"
  mv -f "$CACHE/bin/.bpftrace-$suite" "$CACHE/bin/bpftrace-$suite"
}

up() {
  [ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mount, chroot)"
  case "$CACHE" in /*) ;; *) die "BPFTRACE_MCP_CHROOT_CACHE must be an absolute path" ;; esac
  case "$CACHE" in *[[:space:]]*) die "BPFTRACE_MCP_CHROOT_CACHE must not contain spaces" ;; esac
  mkdir -p "$CACHE"
  # One builder at a time: a second CI run waits instead of debootstrapping into the same folder.
  exec 9>"$CACHE/.lock"
  flock 9
  local suite
  for suite in "${SUITES[@]}"; do
    build "$suite"
    mount_all "$CACHE/$suite"
    write_wrapper "$suite"
    printf '%s: %s\n' "$CACHE/bin/bpftrace-$suite" "$("$CACHE/bin/bpftrace-$suite" --version)"
  done
  exec 9>&-
}

down() {
  [ -f "$MOUNTED" ] || return 0
  local point failed=0
  while IFS= read -r point; do
    [ -n "$point" ] || continue
    mountpoint -q "$point" || continue
    # A bpftrace still running inside keeps its mount busy: detach lazily rather than fail CI's exit.
    umount "$point" 2>/dev/null || umount -l "$point" || failed=1
  done < <(tac "$MOUNTED")
  rm -f "$MOUNTED"
  [ "$failed" -eq 0 ] || die "some mounts could not be unmounted"
}

wrappers() {
  local suite
  for suite in "${SUITES[@]}"; do printf '%s\n' "$CACHE/bin/bpftrace-$suite"; done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  wrappers) wrappers ;;
  *)
    printf 'usage: %s up|down|wrappers\n' "$0" >&2
    exit 2
    ;;
esac
