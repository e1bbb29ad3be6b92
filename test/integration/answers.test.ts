// Whole answers through the SDK Client (which checks every result against its tool's output
// schema): map printings never split across two get_result answers, waits that return the final
// status with the final output, progress and log notifications, execution resources and their
// throttled updates, and who may see them. The fake bpftrace plays slow and flooding programs.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  LoggingMessageNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type CallToolResult,
  type LoggingMessageNotification,
  type Progress,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { Principal, Scope } from "../../src/executions/principal.js";
import { createLogger } from "../../src/logger.js";
import { createEngine, type Engine } from "../../src/server.js";
import { UPDATE_THROTTLE_MS } from "../../src/session/events.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { engineSessions } from "../helpers/in-memory-client.js";

let fakeBpftrace: string;
const opened = engineSessions();

beforeAll(() => {
  fakeBpftrace = installFakeBpftrace();
});

afterEach(() => opened.closeAll());

function newEngine(): Engine {
  const config = loadConfig({ BPFTRACE_PATH: fakeBpftrace, BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_KILL_GRACE_MS: "5000" });
  return opened.keep(createEngine({ config, logger: createLogger("silent"), audit: { write: () => null }, hostOptions: { geteuid: () => 0 } }));
}

async function session(engine: Engine, who?: Principal): Promise<Client> {
  const client = await opened.open(engine, who);
  // Listing the tools makes the client check every result against the advertised output schema.
  await client.listTools();
  return client;
}

interface Page {
  status: string;
  lines: string[];
  stderr: number[];
  next_offset: number;
  has_more: boolean;
  maps: { name: string; kind: string; origin: string; entries_total: number; entries: { key: unknown[]; value?: number }[] }[];
}

async function call(client: Client, name: string, args: Record<string, unknown>, options: { onprogress?: (progress: Progress) => void } = {}): Promise<CallToolResult> {
  const result = (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult;
  if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
  return result;
}

async function start(client: Client, program: string, timeout: number): Promise<string> {
  return ((await call(client, "exec_program", { program, timeout })).structuredContent as { execution_id: string }).execution_id;
}

const principal = (id: string, ...scopes: Scope[]): Principal => ({ id, scopes: new Set(scopes), remoteAddress: "192.0.2.9" });
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("get_result answers whole", () => {
  for (const until of ["output", "quiet"] as const) {
    it(`never splits a slowly printed END map across two answers (until ${until}), and gives it with the final status`, async () => {
      const client = await session(newEngine());
      // 60 entries, one every 15 ms: printing the map takes about a second after the deadline.
      const executionId = await start(client, "BEGIN { } // fake: slow-map=60 map-line-ms=15 tick-ms=50", 1);
      const answers: Page[] = [];
      let offset = 0;
      for (let calls = 0; calls < 40; calls += 1) {
        const page = (await call(client, "get_result", { execution_id: executionId, offset, until, wait_seconds: 2, max_chars: 400 })).structuredContent as unknown as Page;
        answers.push(page);
        offset = page.next_offset;
        if (page.status !== "running" && !page.has_more) break;
      }
      const withMap = answers.filter((page) => page.maps.some((map) => map.name === "@slow"));
      expect(withMap).toHaveLength(1);
      const [answer] = withMap;
      expect(answer?.status).toBe("timed_out");
      expect(answer?.maps.find((map) => map.name === "@slow")?.entries_total).toBe(60);
      expect(answer?.maps.find((map) => map.name === "@slow")?.entries[0]).toEqual({ key: [59], value: 60 });
      // No answer holds a stray line of the map.
      expect(answers.flatMap((page) => page.lines).filter((line) => line.startsWith("@slow"))).toEqual([]);
    });
  }

  it("with raw_maps, still ends a page before a map printing it cannot hold whole", async () => {
    const client = await session(newEngine());
    const executionId = await start(client, "BEGIN { } // fake: slow-map=30 map-line-ms=10 lines=40", 1);
    await call(client, "get_result", { execution_id: executionId, until: "end" });
    const pages: string[][] = [];
    for (let offset = 0, more = true; more; ) {
      const page = (await call(client, "get_result", { execution_id: executionId, offset, raw_maps: true, max_chars: 600 })).structuredContent as unknown as Page;
      pages.push(page.lines);
      offset = page.next_offset;
      more = page.has_more;
    }
    const holding = pages.filter((lines) => lines.some((line) => line.startsWith("@slow")));
    expect(holding).toHaveLength(1);
    expect(holding[0]?.filter((line) => line.startsWith("@slow"))).toHaveLength(30);
  });

  it("takes a map printed while tracing (print()) whole, never part of it", async () => {
    const client = await session(newEngine());
    const executionId = await start(client, "BEGIN { } // fake: print-map-ms=400", 4);
    const seen: Page[] = [];
    let offset = 0;
    for (let calls = 0; calls < 60; calls += 1) {
      const page = (await call(client, "get_result", { execution_id: executionId, offset, until: "output", wait_seconds: 1 })).structuredContent as unknown as Page;
      seen.push(page);
      offset = page.next_offset;
      if (page.status !== "running") break;
    }
    const printed = seen.flatMap((page) => page.maps.filter((map) => map.name === "@printed"));
    expect(printed.length).toBeGreaterThan(3);
    for (const map of printed) expect(map.entries_total).toBe(6);
    expect(seen.flatMap((page) => page.lines).filter((line) => line.startsWith("@printed"))).toEqual([]);
  });

  it("waits until the end with until=end: one answer with the final status, all output and the maps", async () => {
    const client = await session(newEngine());
    const executionId = await start(client, "BEGIN { } // fake: lines=3 tick-ms=200", 1);
    const page = (await call(client, "get_result", { execution_id: executionId, until: "end" })).structuredContent as unknown as Page;
    expect(page.status).toBe("timed_out");
    expect(page.lines.slice(0, 3)).toEqual(["line 0", "line 1", "line 2"]);
    expect(page.maps).toMatchObject([{ name: "@calls", origin: "end", entries: [{ key: [], value: 42 }] }]);
    expect(page.has_more).toBe(false);
  });

  it("bounds a page by max_chars, returns the last lines with tail, and tells bpftrace's messages apart", async () => {
    const client = await session(newEngine());
    const executionId = await start(client, "BEGIN { } // fake: lines=2000 stderr-flood=3", 1);
    await call(client, "get_result", { execution_id: executionId, until: "end" });
    const page = (await call(client, "get_result", { execution_id: executionId })).structuredContent as unknown as Page;
    expect(page.lines.join("\n").length).toBeLessThanOrEqual(8_000);
    expect(page.has_more).toBe(true);
    const tail = (await call(client, "get_result", { execution_id: executionId, tail: 2, stream: "stdout" })).structuredContent as unknown as Page;
    expect(tail.lines).toEqual(["line 1999", "[maps: @calls 1 entry; parsed in maps]"]);
    const stderr = (await call(client, "get_result", { execution_id: executionId, stream: "stderr", max_chars: 100_000 })).structuredContent as unknown as Page;
    expect(stderr.lines).toHaveLength(3);
    expect(stderr.stderr).toEqual([0, 1, 2]);
  });

  it("says plainly that a page is empty, and why", async () => {
    const client = await session(newEngine());
    const executionId = await start(client, "BEGIN { } // fake: exit-after-attach=0", 5);
    await call(client, "get_result", { execution_id: executionId, until: "end" });
    const result = await call(client, "get_result", { execution_id: executionId });
    const text = result.content[0]?.type === "text" ? result.content[0].text : "";
    expect(text).toContain("No output: the program printed nothing");
    expect((result.structuredContent as unknown as Page).lines).toEqual([]);
  });
});

describe("exec_program with a library example by name", () => {
  const errorOf = async (client: Client, args: Record<string, unknown>): Promise<string> => {
    const result = (await client.callTool({ name: "exec_program", arguments: args })) as CallToolResult;
    expect(result.isError, JSON.stringify(args)).toBe(true);
    return result.content[0]?.type === "text" ? result.content[0].text : "";
  };

  it("says what is wrong with the arguments: neither or both of program and example, parameters the example does not take", async () => {
    const client = await session(newEngine());
    expect(await errorOf(client, {})).toMatch(/^INVALID_ARGUMENT: Pass program \(bpftrace source\) or example/);
    expect(await errorOf(client, { program: "BEGIN { }", example: "open-errors" })).toMatch(/^INVALID_ARGUMENT: Pass either program or example/);
    expect(await errorOf(client, { program: "BEGIN { }", pid: 1 })).toMatch(/^INVALID_ARGUMENT: pid, comm and threshold apply to a library example only/);
    expect(await errorOf(client, { example: "no-such-example" })).toMatch(/^UNKNOWN_EXAMPLE/);
    expect(await errorOf(client, { example: "open-errors", threshold: 5 })).toMatch(/^INVALID_ARGUMENT: Example open-errors takes no threshold: it takes pid, comm\./);
    expect(await errorOf(client, { example: "runqueue-latency", pid: 12 })).toMatch(/takes no pid: it takes no parameters/);
    expect(await errorOf(client, { example: "open-errors", comm: 'x" || 1' })).toMatch(/comm is a command name/);
  });

  it("runs an example with its parameters and tells how to read its output", async () => {
    const client = await session(newEngine());
    const result = await call(client, "exec_program", { example: "direct-reclaim", pid: 4242, threshold: 250, timeout: 1 });
    const text = result.content[0]?.type === "text" ? result.content[0].text : "";
    expect(text).toContain("How to read it: One line per stall longer than the threshold");
    expect(result.structuredContent).toMatchObject({ status: "running", output_guide: expect.stringContaining("@reclaim_stall_us[command, PID]") });
  });
});

describe("output schemas", () => {
  it("every tool's result validates against the schema it advertises (the SDK client checks it)", async () => {
    const client = await session(newEngine());
    const executionId = await start(client, "BEGIN { } // fake: lines=3", 1);
    const calls: [string, Record<string, unknown>][] = [
      ["list_probes", { filter: "tracepoint:syscalls:*" }],
      ["get_result", { execution_id: executionId, until: "end" }],
      ["stop_execution", { execution_id: executionId }],
      ["list_executions", {}],
      ["validate_program", { program: 'BEGIN { system("id"); }' }],
      ["list_examples", { query: "who opens files" }],
      ["list_examples", { tag: "no-such-tag" }],
      ["get_example", { name: "file-opens" }],
    ];
    for (const [tool, args] of calls) {
      // callTool rejects a result that does not match the tool's output schema.
      const result = (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
      expect(result.isError, `${tool}: ${JSON.stringify(result.content).slice(0, 300)}`).toBeFalsy();
      expect(result.structuredContent, tool).toBeDefined();
    }
    // bpf_info, describe_struct and a compiling validate_program need the real bpftrace: the real
    // tests list the tools first too, so the client checks their results the same way.
  });
});

describe("flood diagnosis", () => {
  it("says when most lines were dropped and bpftrace lost events, as fields and a sentence with the fix", async () => {
    const config = loadConfig({ BPFTRACE_PATH: fakeBpftrace, BPFTRACE_MCP_AUDIT_LOG: "off", BPFTRACE_MCP_RING_LINES: "100" });
    const engine = createEngine({ config, logger: createLogger("silent"), audit: { write: () => null }, hostOptions: { geteuid: () => 0 } });
    opened.keep(engine);
    const client = await session(engine);
    const executionId = await start(client, "BEGIN { } // fake: lines=500 lost=1234", 1);
    const result = await call(client, "get_result", { execution_id: executionId, until: "end" });
    const page = result.structuredContent as { lost_events: number; diagnosis: string | null; lines: string[]; stderr: number[] };
    expect(page.lost_events).toBe(1234);
    expect(page.diagnosis).toMatch(/of \d+ lines were dropped .*count in a map .*bpftrace lost 1234 events/);
    // bpftrace's report is filed with its own messages.
    expect(page.stderr.map((index) => page.lines[index])).toContain("Lost 1234 events");
    const text = result.content[0]?.type === "text" ? result.content[0].text : "";
    expect(text).toContain("Note: ");
  });
});

describe("notifications", () => {
  it("sends progress while exec_program waits for bpftrace to attach", async () => {
    const client = await session(newEngine());
    const progress: Progress[] = [];
    await call(client, "exec_program", { program: "BEGIN { } // fake: attach-delay-ms=2500", timeout: 1 }, { onprogress: (update) => progress.push(update) });
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]?.message).toBe("compiling and attaching");
  });

  it("sends progress while get_result waits, when the request carries a progress token", async () => {
    const client = await session(newEngine());
    const executionId = await start(client, "BEGIN { } // fake: tick-ms=100", 3);
    const progress: Progress[] = [];
    await call(client, "get_result", { execution_id: executionId, until: "end" }, { onprogress: (update) => progress.push(update) });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const values = progress.map((update) => update.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
    expect(progress[0]).toMatchObject({ total: 30, message: expect.stringMatching(/^\d+ lines so far; \d+ s of 3 s traced$/) });
  });

  it("sends lifecycle events as log messages at the level the client set", async () => {
    const engine = newEngine();
    const client = await session(engine);
    const messages: LoggingMessageNotification["params"][] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      messages.push(notification.params);
    });
    await client.setLoggingLevel("info");
    const executionId = await start(client, "BEGIN { } // fake: lines=1", 1);
    await call(client, "get_result", { execution_id: executionId, until: "end" });
    await delay(50);
    expect(messages.map((message) => (message.data as { message: string }).message)).toEqual(["started", "attached 1 probe(s)", "ended: timed_out"]);
    expect(messages.every((message) => message.logger === "bpftrace" && (message.data as { execution_id: string }).execution_id === executionId)).toBe(true);
    // Above the events' level: nothing.
    messages.length = 0;
    await client.setLoggingLevel("error");
    const quiet = await start(client, "BEGIN { } // fake: lines=1", 1);
    await call(client, "get_result", { execution_id: quiet, until: "end" });
    await delay(50);
    expect(messages).toEqual([]);
  });
});

describe("executions as resources", () => {
  it("lists an execution, reads its summary, maps and output tail, and says when executions come", async () => {
    const client = await session(newEngine());
    let listChanged = 0;
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
      listChanged += 1;
    });
    // Seen once, so events for this caller's executions reach this session.
    await client.listResources();
    const executionId = await start(client, "BEGIN { } // fake: lines=3", 1);
    await call(client, "get_result", { execution_id: executionId, until: "end" });
    const uri = `bpftrace://executions/${executionId}`;
    const { resources } = await client.listResources();
    expect(resources.find((resource) => resource.uri === uri)).toMatchObject({ name: executionId, mimeType: "application/json" });
    const { contents } = await client.readResource({ uri });
    const document = JSON.parse((contents[0] as { text: string }).text) as { status: string; maps: Page["maps"]; tail: { lines: string[] } };
    expect(document.status).toBe("timed_out");
    expect(document.maps).toMatchObject([{ name: "@calls", entries: [{ value: 42 }] }]);
    expect(document.tail.lines).toEqual(["line 0", "line 1", "line 2", "[maps: @calls 1 entry; parsed in maps]"]);
    expect(listChanged).toBeGreaterThanOrEqual(1);
  });

  it("sends resources/updated while output arrives, throttled, and once more at the end", async () => {
    const client = await session(newEngine());
    const updates: number[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, () => {
      updates.push(Date.now());
    });
    // A flood: a line every millisecond, for 3 s.
    const executionId = await start(client, "BEGIN { } // fake: tick-ms=1", 3);
    const subscribedAt = Date.now();
    await client.subscribeResource({ uri: `bpftrace://executions/${executionId}` });
    await call(client, "get_result", { execution_id: executionId, until: "end" });
    await delay(50);
    const seconds = (Date.now() - subscribedAt) / 1000;
    expect(updates.length).toBeGreaterThanOrEqual(2);
    // One per throttle period at most, plus the one at the end.
    expect(updates.length).toBeLessThanOrEqual(Math.ceil((seconds * 1000) / UPDATE_THROTTLE_MS) + 2);
    for (let index = 2; index < updates.length; index += 1) expect((updates[index] ?? 0) - (updates[index - 2] ?? 0)).toBeGreaterThanOrEqual(UPDATE_THROTTLE_MS - 50);
  });

  it("shows an execution to its owner and an admin only, in lists, reads and subscriptions", async () => {
    const engine = newEngine();
    const alice = await session(engine, principal("alice", "bpftrace:trace"));
    const bob = await session(engine, principal("bob", "bpftrace:trace"));
    const admin = await session(engine, principal("root-operator", "bpftrace:admin"));
    const executionId = await start(alice, "BEGIN { } // fake: tick-ms=100", 30);
    const uri = `bpftrace://executions/${executionId}`;
    expect((await alice.listResources()).resources.map((resource) => resource.uri)).toContain(uri);
    expect((await bob.listResources()).resources.map((resource) => resource.uri)).not.toContain(uri);
    expect((await admin.listResources()).resources.map((resource) => resource.uri)).toContain(uri);
    await expect(bob.readResource({ uri })).rejects.toThrow(/not found/);
    await expect(bob.subscribeResource({ uri })).rejects.toThrow(/not found/);
    expect((await admin.readResource({ uri })).contents).toHaveLength(1);
    await call(alice, "stop_execution", { execution_id: executionId });
  });
});
