import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { disabledAudit, FileAuditLog, type AuditSink } from "./audit/audit-log.js";
import { BpftraceHost, type HostOptions } from "./bpftrace/host.js";
import { ProbeCatalog } from "./bpftrace/probe-catalog.js";
import { loadSyscallNames } from "./bpftrace/syscall-names.js";
import { SystemInfo } from "./bpftrace/system-info.js";
import type { Config } from "./config.js";
import { loadExamples, type Example } from "./examples/catalog.js";
import { registerExampleResources } from "./examples/resources.js";
import { ExecutionRegistry } from "./executions/registry.js";
import type { ExecutionStore } from "./executions/store.js";
import type { Logger } from "./logger.js";
import { registerPrompts } from "./prompts/index.js";
import { registerExecutionResources } from "./resources/executions.js";
import { createSessionEvents } from "./session/events.js";
import type { ToolContext } from "./tools/context.js";
import { registerTools } from "./tools/index.js";
import { PACKAGE } from "./version.js";

/** What the assistant reads once per session: the workflow, in a few lines. */
export const SERVER_INSTRUCTIONS = [
  "Trace this Linux system with bpftrace (as root, behind a security policy).",
  "1) list_examples with the question's words; run the best: exec_program example=NAME timeout=5 (pid/comm/threshold if listed).",
  '2) get_result until="end": final status, output and parsed maps in one answer.',
  "3) Else: list_probes (verbose for arguments), a program counting in maps (@[comm, pid] = count()), validate_program, exec_program. Prefer tracepoints.",
  "4) After a fix: rerun the program, then compare_executions before/after (sessions saves a set to rerun later).",
].join("\n");

export interface ServerDeps {
  config: Config;
  logger: Logger;
  now?: () => number;
  /** Replaces the audit log (tests). */
  audit?: AuditSink;
  /** Replaces the curated example library (tests). */
  examples?: Example[];
  hostOptions?: HostOptions;
  /** The cgroup the server process moved itself into (index.ts does, when it can); null: none. */
  serverCgroupId?: bigint | null;
  /** Where executions and saved sessions outlive the process (the SQLite store); default: memory only. */
  store?: ExecutionStore;
}

/** The parts every MCP session shares: one registry, probe cache and audit log per process. */
export interface Engine {
  context: ToolContext;
  /** Stops every running trace and waits for them to end. */
  cleanup: (timeoutMs?: number) => Promise<void>;
}

export interface CreatedServer extends Engine {
  server: McpServer;
}

/** Builds everything behind the tools; starts no process until a tool needs one. */
export function createEngine(deps: ServerDeps): Engine {
  const { config, logger } = deps;
  const now = deps.now ?? Date.now;
  const auditLimits = { maxBytes: config.auditMaxBytes, maxTotalBytes: config.auditMaxTotalBytes, retentionMs: config.auditRetentionMs };
  const audit = deps.audit ?? (config.auditLogPath ? new FileAuditLog(config.auditLogPath, auditLimits, logger, now) : disabledAudit);
  const host = new BpftraceHost(config, logger, deps.hostOptions);
  const serverCgroupId = deps.serverCgroupId ?? null;
  const registry = new ExecutionRegistry({ config, host, audit, logger, now, serverCgroupId, ...(deps.store ? { store: deps.store } : {}) });
  let syscallNames: Map<number, string> | undefined;
  const context: ToolContext = {
    config,
    host,
    registry,
    probes: new ProbeCatalog(host, logger),
    systemInfo: new SystemInfo(host),
    examples: deps.examples ?? loadExamples(),
    audit,
    logger,
    now,
    serverCgroupId,
    syscallNames: () => (syscallNames ??= loadSyscallNames()),
  };
  return {
    context,
    cleanup: async (timeoutMs = 2_000) => {
      await registry.shutdown(timeoutMs);
      host.close();
    },
  };
}

/**
 * One MCP server over a shared engine: stdio has one, HTTP one per session. Its session listens to
 * the engine (lifecycle log messages, resource updates) until the server closes: a transport that
 * sets `server.server.onclose` should call the one it finds there.
 */
export function createSessionServer(engine: Engine): McpServer {
  const server = new McpServer(
    { name: PACKAGE.name, version: PACKAGE.version, title: "bpftrace" },
    { instructions: SERVER_INSTRUCTIONS, capabilities: { tools: {}, resources: { subscribe: true, listChanged: true }, prompts: {}, logging: {} } },
  );
  const events = createSessionEvents(server, engine.context.registry, engine.context.logger);
  const context: ToolContext = { ...engine.context, session: events };
  registerTools(server, context);
  registerExampleResources(server, engine.context.examples);
  registerExecutionResources(server, context, events);
  registerPrompts(server);
  const previous = server.server.onclose;
  server.server.onclose = () => {
    events.close();
    previous?.();
  };
  return server;
}

/** An engine and its one MCP server: what stdio serves, and what tests build in one line. */
export function createServer(deps: ServerDeps): CreatedServer {
  const engine = createEngine(deps);
  return { ...engine, server: createSessionServer(engine) };
}
