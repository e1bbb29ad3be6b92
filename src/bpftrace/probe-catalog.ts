import { BpftraceMcpError } from "../errors.js";
import type { Logger } from "../logger.js";
import { checkProbeFilter } from "../policy/index.js";
import type { BpftraceHost } from "./host.js";
import { firstLines } from "./host.js";
import { indexProbes, matchProbesInSlices } from "./probe-match.js";
import { matchProbes, parseProbeDetails, parseProbeList, parseStructLayout, probeType, type ProbeDetail } from "./parse-probes.js";
import { listsTracepointsLikeThis, matchAvailableEvents, readAvailableEvents, tracepointSearch } from "./tracefs-events.js";

// Providers a plain `bpftrace -l` cannot list in full: uprobes and USDT need a binary, and 0.17 lists
// software/hardware events only as placeholders. Their filters go to bpftrace itself.
const LISTED_BY_FILTER = new Set(["uprobe", "uretprobe", "usdt", "u", "ur", "U", "software", "hardware", "s", "h"]);
// A first filtered call for these may be answered by `bpftrace -l FILTER` while the full list loads
// (0.17 aborts or echoes the pattern for bare words and wildcard providers, so only literal providers).
const FILTERABLE_BY_BPFTRACE = new Set(["tracepoint", "t", "kprobe", "k", "kretprobe", "kr", "rawtracepoint", "rt", "iter", "it"]);
const LIST_TIMEOUT_MS = 60_000;
/**
 * The full `bpftrace -l` starts this long after a first filtered answer rather than while it is
 * being written and delivered: on a 2-core machine it would compete with that for the CPU.
 */
const WARM_DELAY_MS = 250;
/** A `-lv` call for more probes than this is refused: the output would flood the assistant's context. */
export const MAX_VERBOSE_PROBES = 50;

export interface ProbeListing {
  probes: string[];
  /**
   * Where the answer came from: the cached full list, bpftrace run with this filter, or the tracefs
   * file bpftrace itself would read for it (a first tracepoint search).
   */
  source: "cache" | "bpftrace" | "tracefs";
}

/**
 * The probes of this machine. The full list is read once with `bpftrace -l` and filtered in
 * memory afterwards; arguments from `bpftrace -lv` are cached per probe.
 */
export class ProbeCatalog {
  private allProbes: readonly string[] | null = null;
  private loading: Promise<readonly string[]> | null = null;
  private warmTimer: NodeJS.Timeout | null = null;
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
    // Searched in slices: a costly glob over the whole list must not stop the server answering others.
    if (this.allProbes) return { probes: await matchProbesInSlices(this.allProbes, filter), source: "cache" };
    if (filter !== undefined && !this.loading && FILTERABLE_BY_BPFTRACE.has(probeType(filter))) {
      // First call: answer what `bpftrace -l FILTER` would (from the file it reads, or by running
      // it), then warm the cache once the answer is out.
      const fromTracefs = await this.listFromTracefs(filter);
      const listing: ProbeListing = fromTracefs ? { probes: fromTracefs, source: "tracefs" } : { probes: await this.listDirect(filter), source: "bpftrace" };
      this.logger.debug({ filter, probes: listing.probes.length, source: listing.source }, "first probe search answered");
      this.warmSoon();
      return listing;
    }
    return { probes: await matchProbesInSlices(await this.loadAll(), filter), source: "cache" };
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

  /** Warms the cache shortly, off the path of the answer being sent. */
  private warmSoon(): void {
    if (this.warmTimer || this.allProbes) return;
    this.warmTimer = setTimeout(() => {
      this.warmTimer = null;
      this.warm();
    }, WARM_DELAY_MS);
    this.warmTimer.unref();
  }

  /**
   * `bpftrace -l 'tracepoint:CATEGORY:EVENT'` answered from tracefs `available_events`, as the
   * bpftrace releases checked against it do; null when it cannot be (another filter or release,
   * or the file is not readable by this process, as under sudo), and bpftrace must run.
   * Readiness is still awaited, so a bpftrace that cannot run is reported exactly as before.
   */
  private async listFromTracefs(filter: string): Promise<string[] | null> {
    const search = tracepointSearch(filter);
    if (search === null) return null;
    const [host, events] = await Promise.all([this.host.ensureReady(), readAvailableEvents()]);
    if (events === null || !listsTracepointsLikeThis(host.version)) return null;
    return matchAvailableEvents(events, search);
  }

  private servedFromFullList(filter: string): boolean {
    return !filter.includes(":") || !LISTED_BY_FILTER.has(probeType(filter));
  }

  private loadAll(): Promise<readonly string[]> {
    if (this.allProbes) return Promise.resolve(this.allProbes);
    this.loading ??= this.host
      .run(["-l"], LIST_TIMEOUT_MS)
      .then((result) => {
        if (result.exitCode !== 0) throw listingError(result.stderr);
        // Frozen: never changed, so the search index built for it never needs checking again.
        const probes = Object.freeze(parseProbeList(result.stdout));
        this.allProbes = probes;
        this.logger.info({ probes: probes.length }, "probe list cached");
        // Index it now, between requests, rather than on the second search.
        setImmediate(() => indexProbes(probes));
        return probes;
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
