import { BpftraceMcpError } from "../errors.js";
import type { Logger } from "../logger.js";
import { checkProbeFilter } from "../policy/index.js";
import type { BpftraceHost } from "./host.js";
import { firstLines } from "./host.js";
import { matchProbes, parseProbeDetails, parseProbeList, parseStructLayout, probeType, type ProbeDetail } from "./parse-probes.js";

// Providers a plain `bpftrace -l` cannot list in full: uprobes and USDT need a binary, and 0.17 lists
// software/hardware events only as placeholders. Their filters go to bpftrace itself.
const LISTED_BY_FILTER = new Set(["uprobe", "uretprobe", "usdt", "u", "ur", "U", "software", "hardware", "s", "h"]);
// A first filtered call for these may be answered by `bpftrace -l FILTER` while the full list loads
// (0.17 aborts or echoes the pattern for bare words and wildcard providers, so only literal providers).
const FILTERABLE_BY_BPFTRACE = new Set(["tracepoint", "t", "kprobe", "k", "kretprobe", "kr", "rawtracepoint", "rt", "iter", "it"]);
const LIST_TIMEOUT_MS = 60_000;
/** A `-lv` call for more probes than this is refused: the output would flood the assistant's context. */
export const MAX_VERBOSE_PROBES = 50;

export interface ProbeListing {
  probes: string[];
  /** Where the answer came from: the cached full list, or bpftrace run with this filter. */
  source: "cache" | "bpftrace";
}

/**
 * The probes of this machine. The full list is read once with `bpftrace -l` and filtered in
 * memory afterwards; arguments from `bpftrace -lv` are cached per probe.
 */
export class ProbeCatalog {
  private allProbes: string[] | null = null;
  private loading: Promise<string[]> | null = null;
  private readonly details = new Map<string, ProbeDetail>();

  constructor(
    private readonly host: BpftraceHost,
    private readonly logger: Logger,
  ) {}

  /** Probes matching `filter` (a bpftrace glob, or a plain substring). */
  async list(filter: string | undefined): Promise<ProbeListing> {
    if (filter !== undefined) assertValidFilter(filter);
    if (filter !== undefined && !this.servedFromFullList(filter)) {
      return { probes: await this.listDirect(filter), source: "bpftrace" };
    }
    if (this.allProbes) return { probes: matchProbes(this.allProbes, filter), source: "cache" };
    if (filter !== undefined && !this.loading && FILTERABLE_BY_BPFTRACE.has(probeType(filter))) {
      // First call: answer from a filtered bpftrace run (as fast as bpftrace itself), then warm the cache.
      const probes = await this.listDirect(filter);
      this.warm();
      return { probes, source: "bpftrace" };
    }
    return { probes: matchProbes(await this.loadAll(), filter), source: "cache" };
  }

  /** Arguments of each probe matching `filter`, from `bpftrace -lv`. */
  async describe(filter: string, expected: readonly string[]): Promise<ProbeDetail[]> {
    assertValidFilter(filter);
    const missing = expected.filter((probe) => !this.details.has(probe));
    if (missing.length > 0 || expected.length === 0) {
      const result = await this.host.run(["-lv", "--", filter], LIST_TIMEOUT_MS);
      // Before 0.22, uprobe and kfunc argument lines go to stderr: parse both, in write order.
      for (const detail of parseProbeDetails(result.all ?? result.stdout)) this.details.set(detail.probe, detail);
    }
    return expected.length > 0
      ? expected.map((probe) => this.details.get(probe) ?? { probe, args: [], raw: [] })
      : [...this.details.values()].filter((detail) => matchProbes([detail.probe], filter).length === 1);
  }

  /** The layout of a kernel struct from BTF (`bpftrace -lv 'struct NAME'`). */
  async describeStruct(name: string): Promise<{ name: string; fields: { type: string; name: string }[]; raw: string }> {
    const result = await this.host.run(["-lv", "--", name], LIST_TIMEOUT_MS);
    const layout = parseStructLayout(result.stdout);
    if (!layout) {
      throw new BpftraceMcpError("INVALID_ARGUMENT", `bpftrace knows no type '${name}'${result.stderr.trim() ? `: ${firstLines(result.stderr, 3)}` : "."}`, {
        hint: "Give the full name, e.g. 'struct task_struct' or 'struct sock'; it needs kernel BTF (/sys/kernel/btf/vmlinux).",
      });
    }
    return layout;
  }

  /** Starts loading the full list in the background, if it is not loaded yet. */
  warm(): void {
    this.loadAll().catch((error: unknown) => this.logger.warn({ err: String(error) }, "probe list could not be loaded"));
  }

  private servedFromFullList(filter: string): boolean {
    return !filter.includes(":") || !LISTED_BY_FILTER.has(probeType(filter));
  }

  private loadAll(): Promise<string[]> {
    if (this.allProbes) return Promise.resolve(this.allProbes);
    this.loading ??= this.host
      .run(["-l"], LIST_TIMEOUT_MS)
      .then((result) => {
        if (result.exitCode !== 0) throw listingError(result.stderr);
        this.allProbes = parseProbeList(result.stdout);
        this.logger.info({ probes: this.allProbes.length }, "probe list cached");
        return this.allProbes;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  private async listDirect(filter: string): Promise<string[]> {
    const result = await this.host.run(["-l", "--", filter], LIST_TIMEOUT_MS);
    if (result.exitCode !== 0) throw listingError(result.stderr);
    return parseProbeList(result.stdout);
  }
}

function assertValidFilter(filter: string): void {
  const verdict = checkProbeFilter(filter);
  if (!verdict.ok) throw new BpftraceMcpError("INVALID_ARGUMENT", `Invalid probe filter: ${verdict.reason}`, { hint: "Use a probe glob such as tracepoint:syscalls:*open*" });
}

function listingError(stderr: string): BpftraceMcpError {
  return new BpftraceMcpError("BPFTRACE_FAILED", `bpftrace could not list probes: ${firstLines(stderr) || "no message"}`, {
    hint: "For uprobes give an absolute binary path (uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:*); run `bpftrace-mcp-server doctor` if listing fails everywhere.",
  });
}
