import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExamples, type Example, type ExampleTrigger } from "../../src/examples/catalog.js";
import { describeReal, hostPathOf, realBpftrace } from "../helpers/real-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";
import { RAW_PAGE, pageLines, type OutputLine } from "../helpers/output-lines.js";
import { openTrigger } from "../helpers/triggers.js";

type ToolResult = Awaited<ReturnType<RunningServer["call"]>>;

const EXAMPLES = loadExamples();
// The server's default BPFTRACE_MCP_MAX_CONCURRENT: one server runs the whole file.
const MAX_PARALLEL = 4;
// How long each program traces once attached; triggers fire every FIRE_EVERY_MS meanwhile, so a
// busy machine (or a probe that attaches late) cannot push the event out of the window.
const TRACE_MS = 2_000;
const FIRE_EVERY_MS = 600;
// The run is ended with stop_execution after TRACE_MS; this deadline only catches a lost stop.
// (A 2 s deadline would count compile time too, which with four BTF programs compiling on two cores can exceed it.)
const BACKSTOP_TIMEOUT_SECONDS = 20;
const MAX_SKIPS_IN_CI = 3;
// Providers bpftrace 0.17 cannot enumerate (`-l` prints `software:*:` placeholders) but this kernel always has.
const ALWAYS_AVAILABLE = new Set(["BEGIN", "END", "profile", "interval", "software"]);
const BINARY_PROBES = new Set(["uprobe", "uretprobe", "usdt"]);

/** At most `limit` bodies at once; the rest wait in order. */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(body: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await body();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

interface ExampleRun {
  executionId: string;
  attachedProbes: number | null;
  status: string;
  error: string | null;
  lines: OutputLine[];
  skippedLines: number;
  fires: number;
  /** How long exec_program took to return (compile and attach) and stop_execution to end the run. */
  startMs: number;
  stopMs: number;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const structured = (result: ToolResult): Record<string, unknown> => (result.structuredContent ?? {}) as Record<string, unknown>;
const stdoutText = (run: ExampleRun): string =>
  run.lines
    .filter((line) => line.stream === "stdout")
    .map((line) => line.text)
    .join("\n");

describeReal("every curated example runs through the server against the real bpftrace", () => {
  let server: RunningServer;
  const slots = new Slots(MAX_PARALLEL);
  const unavailable = new Map<string, string>();
  const ran: { name: string; startMs: number; stopMs: number }[] = [];
  const markerResults: { name: string; trigger: string; matched: boolean; fires: number }[] = [];
  const startedAt = Date.now();

  /** Why `probe` cannot attach here, or null when `list_probes` (or the provider) says it can. */
  async function whyMissing(probe: string): Promise<string | null> {
    const type = probe.includes(":") ? probe.slice(0, probe.indexOf(":")) : probe;
    if (ALWAYS_AVAILABLE.has(type)) return null;
    if (BINARY_PROBES.has(type)) {
      const binary = probe.slice(type.length + 1, probe.lastIndexOf(":"));
      // The path as bpftrace sees it, which in a chroot is not the host's file.
      if (!existsSync(hostPathOf(binary))) return `${binary} does not exist for this bpftrace (needed by ${probe})`;
    }
    const listed = await server.call("list_probes", { filter: probe, limit: 1 });
    if (listed.isError) throw new Error(`list_probes ${probe} failed: ${textOf(listed)}`);
    return (structured(listed).count as number) > 0 ? null : `list_probes finds no ${probe} on this kernel`;
  }

  /** exec_program, waiting for a free slot if the server's limit is still held by a run that is just ending. */
  async function start(program: string): Promise<ToolResult> {
    for (let attempt = 0; ; attempt += 1) {
      const started = await server.call("exec_program", { program, timeout: BACKSTOP_TIMEOUT_SECONDS });
      if (!started.isError || !textOf(started).includes("TOO_MANY_EXECUTIONS") || attempt >= 20) return started;
      await delay(250);
    }
  }

  /** Every line of a finished execution, page by page. */
  async function readAll(executionId: string): Promise<{ status: string; error: string | null; lines: OutputLine[]; skipped: number }> {
    const lines: OutputLine[] = [];
    let skipped = 0;
    let offset = 0;
    for (;;) {
      // Every line as printed (maps as text): the markers are written against bpftrace's text.
      const page = await server.call("get_result", { execution_id: executionId, offset, limit: 1000, wait_seconds: 1, ...RAW_PAGE });
      if (page.isError) throw new Error(`get_result ${executionId} failed: ${textOf(page)}`);
      const body = structured(page);
      lines.push(...pageLines(body));
      skipped += body.skipped as number;
      offset = body.next_offset as number;
      if (!(body.has_more as boolean) && body.status !== "running") return { status: body.status as string, error: body.error as string | null, lines, skipped };
    }
  }

  async function runExample(example: Example): Promise<ExampleRun> {
    const trigger = await openTrigger(example.trigger as ExampleTrigger, { root: realBpftrace().root });
    try {
      const startCalledAt = Date.now();
      const started = await start(example.program);
      if (started.isError) throw new Error(`exec_program refused or failed ${example.name}:\n${textOf(started)}`);
      const executionId = structured(started).execution_id as string;
      const attachedAt = Date.now();
      try {
        while (Date.now() - attachedAt < TRACE_MS) {
          if (example.trigger !== "none") await trigger.fire();
          await delay(Math.max(0, Math.min(FIRE_EVERY_MS, TRACE_MS - (Date.now() - attachedAt))));
        }
      } catch (error) {
        // A trigger that failed must not leave its trace holding one of the server's slots.
        await server.call("stop_execution", { execution_id: executionId });
        throw error;
      }
      const stopCalledAt = Date.now();
      const stopped = await server.call("stop_execution", { execution_id: executionId });
      const stopMs = Date.now() - stopCalledAt;
      if (stopped.isError) throw new Error(`stop_execution ${executionId} failed: ${textOf(stopped)}`);
      const output = await readAll(executionId);
      return {
        executionId,
        attachedProbes: structured(started).attached_probes as number | null,
        status: output.status,
        error: output.error,
        lines: output.lines,
        skippedLines: output.skipped,
        fires: trigger.fired,
        startMs: attachedAt - startCalledAt,
        stopMs,
      };
    } finally {
      await trigger.close();
    }
  }

  beforeAll(async () => {
    server = await startServer();
    // With the tools listed, the SDK client checks every result against its advertised output schema.
    await server.client.listTools();
    for (const example of EXAMPLES) {
      for (const probe of example.probes) {
        const reason = await whyMissing(probe);
        if (reason !== null) {
          unavailable.set(example.name, reason);
          break;
        }
      }
    }
  });

  afterAll(async () => {
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    const matched = markerResults.filter((result) => result.matched).length;
    const slowest = (key: "startMs" | "stopMs"): string => {
      const worst = [...ran].sort((a, b) => b[key] - a[key])[0];
      return worst ? `${worst.name} ${worst[key]} ms` : "-";
    };
    const report = [
      `examples: ${ran.length} ran, ${unavailable.size} skipped, ${markerResults.length} marker-checked (${matched} matched) of ${EXAMPLES.length} in ${seconds} s`,
      `  slowest exec_program: ${slowest("startMs")}; slowest stop_execution: ${slowest("stopMs")}`,
      ...[...unavailable].map(([name, reason]) => `  skipped ${name}: ${reason}`),
      ...markerResults.map((result) => `  ${result.trigger.padEnd(11)} ${result.name.padEnd(22)} ${result.matched ? "marker matched" : "MARKER MISSING"} after ${result.fires} fire(s)`),
    ];
    process.stdout.write(`${report.join("\n")}\n`);
    await server?.close();
  });

  describe.concurrent("each example", () => {
    for (const example of EXAMPLES) {
      const checksMarker = example.trigger !== "none" && example.marker !== null;
      const title = checksMarker
        ? `${example.name} attaches, ends cleanly and its output matches /${example.marker ?? ""}/ after the ${example.trigger} trigger`
        : `${example.name} attaches and ends cleanly`;
      it(title, async (context) => {
        const reason = unavailable.get(example.name);
        if (reason !== undefined) context.skip(`probe unavailable: ${reason}`);
        const run = await slots.run(() => runExample(example));
        ran.push({ name: example.name, startMs: run.startMs, stopMs: run.stopMs });
        const stderr = run.lines.filter((line) => line.stream === "stderr").map((line) => line.text);
        const context_ = `${run.executionId} (${run.status}); stderr:\n${stderr.join("\n")}`;
        context.expect(run.attachedProbes ?? 0, context_).toBeGreaterThan(0);
        context.expect(["stopped", "timed_out"], context_).toContain(run.status);
        context.expect(run.error, context_).toBeNull();
        context.expect(stderr.filter((line) => /^ERROR/.test(line)), context_).toEqual([]);
        if (!checksMarker) return;
        const matched = new RegExp(example.marker ?? "").test(stdoutText(run));
        markerResults.push({ name: example.name, trigger: example.trigger, matched, fires: run.fires });
        context.expect(run.fires, "the trigger fired").toBeGreaterThan(0);
        context.expect(run.skippedLines, "output lines dropped before they were read").toBe(0);
        context.expect(matched, `marker /${example.marker ?? ""}/ in the output of ${context_}\nstdout:\n${stdoutText(run).slice(-3000)}`).toBe(true);
      });
    }
  });

  it.skipIf(!process.env.CI)(`skips at most ${MAX_SKIPS_IN_CI} examples for missing probes on the CI kernel`, () => {
    const reasons = [...unavailable].map(([name, reason]) => `${name}: ${reason}`).join("; ");
    expect(unavailable.size, reasons).toBeLessThanOrEqual(MAX_SKIPS_IN_CI);
  });
});
