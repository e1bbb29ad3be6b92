// A probe list far larger than this kernel's (~2.3k), shaped like a real one, for timing filters.

const SUBSYSTEMS = ["tcp", "udp", "vfs", "ext4", "sched", "mm", "irq", "sock", "net", "block", "xfs", "nfs", "bpf", "cgroup", "page", "task"];
const VERBS = ["read", "write", "open", "close", "alloc", "free", "send", "recv", "init", "exit", "lookup", "update", "flush", "wake", "map", "unmap"];

/** `count` distinct names: 20% tracepoints (a fifth of them syscalls), 40% kprobes, 20% kfuncs, 20% kretprobes. */
export function syntheticProbes(count = 100_000) {
  const probes = [];
  for (let index = 0; probes.length < count; index += 1) {
    const subsystem = SUBSYSTEMS[index % SUBSYSTEMS.length];
    const verb = VERBS[Math.floor(index / SUBSYSTEMS.length) % VERBS.length];
    const generation = Math.floor(index / (SUBSYSTEMS.length * VERBS.length)).toString(36);
    const name = `${subsystem}_${verb}_x${generation}_${index % 7}`;
    const kind = index % 10;
    if (kind === 0) probes.push(`tracepoint:syscalls:sys_${index % 20 === 0 ? "enter" : "exit"}_${verb}${generation}`);
    else if (kind === 1) probes.push(`tracepoint:${subsystem}:${name}`);
    else if (kind < 6) probes.push(`kprobe:${name}`);
    else if (kind < 8) probes.push(`kfunc:${name}`);
    else probes.push(`kretprobe:${name}`);
  }
  return probes;
}

/** Filters of each kind matchProbes handles: open-ended globs, a plain word, braces, a class, "?". */
export const SYNTHETIC_FILTERS = ["tracepoint:syscalls:*open*", "open", "kprobe:tcp_*", "*:*read*", "{kprobe,kretprobe}:vfs_[rw]*", "kfunc:*_x?_*"];
