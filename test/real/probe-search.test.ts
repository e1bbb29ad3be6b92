import { spawnSync } from "node:child_process";
import { beforeAll, expect, it } from "vitest";
import { childEnvironment } from "../../src/bpftrace/command.js";
import { parseProbeList } from "../../src/bpftrace/parse-probes.js";
import { listsTracepointsLikeThis, matchAvailableEvents, readAvailableEvents, tracepointSearch } from "../../src/bpftrace/tracefs-events.js";
import type { BpftraceVersion } from "../../src/bpftrace/version.js";
import { describeReal, realBpftrace } from "../helpers/real-bpftrace.js";
import { startServer } from "../helpers/server-process.js";

/** `bpftrace -l -- FILTER` run as the server runs it (argv, environment, working directory), read back as the server does. */
function bpftraceList(filter: string): string[] {
  const run = spawnSync(realBpftrace().path, ["-l", "--", filter], { cwd: "/", env: childEnvironment({ childEnv: {} }), encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  expect(run.status, `bpftrace -l ${filter}: ${run.stderr}`).toBe(0);
  return parseProbeList(run.stdout);
}

// The filters the tracefs shortcut answers: "*" in the category, the event, both, at either end or
// inside; exact names; misses; and ones where bpftrace's first-occurrence matching differs from a glob.
const FILTERS = [
  "tracepoint:syscalls:*open*",
  "tracepoint:syscalls:sys_enter_openat",
  "tracepoint:syscalls:sys_enter_open*at",
  "tracepoint:syscalls:*",
  "tracepoint:*:*",
  "tracepoint:**:*",
  "tracepoint:*:**",
  "tracepoint:s*:*open*",
  "tracepoint:*s*:*e*e*",
  "tracepoint:*_*:*",
  "tracepoint:*:*_exit",
  "tracepoint:*:*_*_*",
  "tracepoint:*:*t",
  "tracepoint:sched:*_*t",
  "tracepoint:sched:sched_*_*t",
  "tracepoint:sched:sched_switch",
  "tracepoint:sched:*",
  "tracepoint:irq:*",
  "tracepoint:nosuch:thing",
  "tracepoint:nosuch:*",
  "tracepoint:SYSCALLS:*",
  "tracepoint:syscalls:SYS_ENTER_OPENAT",
];

describeReal("first probe search from tracefs, against bpftrace -l", () => {
  let version: BpftraceVersion | null = null;
  let events: string | null = null;

  beforeAll(async () => {
    version = realBpftrace().version;
    events = await readAvailableEvents();
  });

  it("reads available_events here (root, tracefs mounted)", () => {
    expect(events).not.toBeNull();
    expect((events ?? "").split("\n").length).toBeGreaterThan(100);
  });

  it("lists every tracepoint `bpftrace -l` lists, and no other", () => {
    if (!listsTracepointsLikeThis(version)) return; // another release: the server asks bpftrace instead
    const listed = bpftraceList("tracepoint:*:*");
    expect(listed.length).toBeGreaterThan(100);
    expect(matchAvailableEvents(events ?? "", "*:*")).toEqual(listed);
    // And the full `bpftrace -l` holds exactly these tracepoints, in this order.
    const run = spawnSync(realBpftrace().path, ["-l"], { cwd: "/", env: childEnvironment({ childEnv: {} }), encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
    expect(parseProbeList(run.stdout).filter((probe) => probe.startsWith("tracepoint:"))).toEqual(listed);
  });

  it("answers each filter exactly as `bpftrace -l FILTER` does", () => {
    if (!listsTracepointsLikeThis(version)) return;
    for (const filter of FILTERS) {
      const search = tracepointSearch(filter);
      expect(search, filter).not.toBeNull();
      expect(matchAvailableEvents(events ?? "", search ?? ""), filter).toEqual(bpftraceList(filter));
    }
  });

  it("answers filters made from this kernel's own tracepoints exactly as bpftrace does", () => {
    if (!listsTracepointsLikeThis(version)) return;
    const names = matchAvailableEvents(events ?? "", "*:*").map((probe) => probe.slice("tracepoint:".length));
    let state = 12345;
    const random = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 4294967296;
    };
    for (let round = 0; round < 30; round += 1) {
      const name = names[Math.floor(random() * names.length)] ?? "sched:sched_switch";
      // Replace a few runs of characters (never the ":") with "*".
      let pattern = "";
      for (let index = 0; index < name.length; index += 1) {
        const char = name[index] ?? "";
        if (char !== ":" && random() < 0.15) {
          pattern += "*";
          while (index + 1 < name.length && name[index + 1] !== ":" && random() < 0.6) index += 1;
        } else pattern += char;
      }
      const filter = `tracepoint:${pattern.replace(/\*+/g, "*")}`;
      const search = tracepointSearch(filter);
      if (search === null) continue; // a category such as xhci-hcd is left to bpftrace
      expect(matchAvailableEvents(events ?? "", search), filter).toEqual(bpftraceList(filter));
    }
  });

  it("gives a fresh server's first list_probes the answer bpftrace gives, from tracefs", async () => {
    for (const filter of ["tracepoint:syscalls:*open*", "tracepoint:sched:*_*t"]) {
      const server = await startServer({ env: { LOG_LEVEL: "debug" } });
      try {
        const result = await server.call("list_probes", { filter, limit: 10_000 });
        expect(result.isError, filter).toBeFalsy();
        const answered = result.structuredContent as { probes: string[]; count: number };
        const expected = bpftraceList(filter);
        expect(answered.probes, filter).toEqual(expected);
        expect(answered.count, filter).toBe(expected.length);
        if (listsTracepointsLikeThis(version)) expect(server.stderr()).toMatch(/"source":"tracefs"[^\n]*"first probe search answered"/);
      } finally {
        await server.close();
      }
    }
  });
});
