import { existsSync } from "node:fs";
import { join } from "node:path";

/** The places bpftrace looks for tracefs, newest first. */
export const TRACEFS_DIRS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] as const;

// Probe types that need a tracefs control file this kernel may have been built without.
const CONTROL_FILES: Readonly<Record<string, { file: string; option: string }>> = {
  kprobe: { file: "kprobe_events", option: "CONFIG_KPROBE_EVENTS" },
  kretprobe: { file: "kprobe_events", option: "CONFIG_KPROBE_EVENTS" },
  uprobe: { file: "uprobe_events", option: "CONFIG_UPROBE_EVENTS" },
  uretprobe: { file: "uprobe_events", option: "CONFIG_UPROBE_EVENTS" },
  usdt: { file: "uprobe_events", option: "CONFIG_UPROBE_EVENTS" },
};

/** A sentence per probe type in `providers` that this kernel cannot attach, read from tracefs (`root` for tests). */
export function unsupportedProbeTypes(providers: Iterable<string>, root = "/"): string[] {
  const tracefs = TRACEFS_DIRS.map((dir) => join(root, dir)).find((dir) => existsSync(join(dir, "events")));
  if (tracefs === undefined) return [];
  const warnings = new Set<string>();
  for (const provider of providers) {
    const needed = CONTROL_FILES[provider];
    if (needed && !existsSync(join(tracefs, needed.file))) {
      warnings.add(`this kernel has no ${provider} support (no ${needed.file} in tracefs; built without ${needed.option}): ${provider} probes will not attach`);
    }
  }
  return [...warnings];
}
