#!/usr/bin/env node
import { helpText, parseArgs, type CliOptions } from "./cli.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { loadEnvFile } from "./env-file.js";
import { eraseFromInitialEnviron } from "./initial-environ.js";
import { createLogger, type Logger } from "./logger.js";
import { enterServerCgroup } from "./bpftrace/own-cgroup.js";
import { createServer } from "./server.js";
import { SqliteStore } from "./storage/sqlite-store.js";
import { StdioTransport } from "./transports/stdio.js";
import { PACKAGE } from "./version.js";

// Shutdown must finish well inside the 3 s a client waits: traces get SIGINT, then are forced.
const SHUTDOWN_GRACE_MS = 2_000;
const SHUTDOWN_HARD_LIMIT_MS = 2_800;
const WARM_UP_FALLBACK_MS = 2_000;

function fail(message: string): never {
  process.stderr.write(`${PACKAGE.name}: ${message}\n`);
  process.exit(2);
}

async function prepare(options: CliOptions): Promise<{ config: Config; logger: Logger }> {
  let envFile;
  try {
    envFile = await loadEnvFile(options.envFile, process.env, process.cwd());
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid setting: ${error.message}`);
    throw error;
  }
  // The password lives only in the config object from here on, never in any environment a child could
  // inherit, nor in the block /proc/PID/environ shows (where a client's "env", e.g. the MCP Bundle's, put it).
  const scrub = eraseFromInitialEnviron(["BPFTRACE_PASSWD"]);
  delete process.env.BPFTRACE_PASSWD;
  const logger = createLogger(config.logLevel);
  if (scrub.failure !== null) logger.warn({ reason: scrub.failure }, "BPFTRACE_PASSWD could not be erased from /proc/self/environ (readable by this user and root)");
  if (envFile.path) logger.info({ envFile: envFile.path }, "settings file loaded");
  if (envFile.tooOpen) logger.warn({ envFile: envFile.path }, "the .env file holding BPFTRACE_PASSWD is readable by others: chmod 600 it");
  return { config, logger };
}

async function serve(config: Config, logger: Logger): Promise<void> {
  const cgroup = enterServerCgroup(config.ownCgroup, logger);
  // Opens on its own thread: the client's initialize is not kept waiting for the file.
  const store = config.stateDir === null ? undefined : SqliteStore.open(config, logger);
  const { server, context, cleanup } = createServer({ config, logger, serverCgroupId: cgroup?.id ?? null, ...(store ? { store } : {}) });
  // Not the SDK's StdioServerTransport: one line over its 10 MiB buffer closed the session for good.
  const transport = new StdioTransport({
    maxMessageBytes: config.maxMessageBytes,
    onOversized: (bytes, id) => logger.warn({ bytes, id, limit: config.maxMessageBytes }, "message over BPFTRACE_MCP_MAX_MESSAGE_BYTES skipped and answered with an error"),
  });
  let stopping = false;
  const shutdown = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "shutting down: stopping every running trace");
    setTimeout(() => {
      logger.error("shutdown took too long: exiting");
      process.exit(0);
    }, SHUTDOWN_HARD_LIMIT_MS).unref();
    cleanup(SHUTDOWN_GRACE_MS)
      .catch((error: unknown) => logger.error({ err: String(error) }, "cleanup failed"))
      .then(() => server.close())
      .catch(() => undefined)
      .finally(() => {
        cgroup?.release();
        process.exit(0);
      });
  };
  // The stdio transport does not notice the client going away: stdin ending means it is gone.
  process.stdin.once("end", () => shutdown("stdin closed"));
  process.stdin.once("close", () => shutdown("stdin closed"));
  process.stdout.on("error", () => shutdown("stdout closed"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGHUP", () => shutdown("SIGHUP"));
  // The SDK drops a line it cannot parse (or a batch, or a non-2.0 message) without a reply: say so in the log.
  server.server.onerror = (error) => logger.warn({ err: error.message.replace(/\s+/g, " ").slice(0, 500) }, "protocol error: message ignored");
  // A closed transport leaves a server nobody can reach: it must end its traces and exit instead of running on deaf.
  server.server.onclose = () => shutdown("MCP transport closed");
  process.on("uncaughtException", (error) => logger.error({ err: { message: error.message, stack: error.stack } }, "uncaught exception"));
  process.on("unhandledRejection", (reason) => logger.error({ err: String(reason) }, "unhandled rejection"));
  await server.connect(transport);
  logger.info({ version: PACKAGE.version, maxConcurrent: config.maxConcurrent, audit: config.auditLogPath ?? "off", store: store?.file ?? "off" }, "serving MCP on stdio");
  // Check bpftrace and privileges once the client has finished the handshake: off the first tool
  // call's path, but not in the way of the `initialize` answer (at most one sudo attempt, as on first
  // use; a failure is reported again, with its fix, by every tool that needs bpftrace).
  let warmed = false;
  const warm = (): void => {
    if (warmed) return;
    warmed = true;
    context.host.ensureReady().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, "bpftrace is not usable yet"));
  };
  server.server.oninitialized = warm;
  // A client that never sends `notifications/initialized` still gets the check.
  setTimeout(warm, WARM_UP_FALLBACK_MS).unref();
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (options.command === "help") {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  if (options.command === "version") {
    process.stdout.write(`${PACKAGE.version}\n`);
    return;
  }
  if (options.command === "setup" && options.setup) {
    const { runSetup } = await import("./commands/setup.js");
    process.exitCode = await runSetup(options.setup);
    return;
  }
  const { config, logger } = await prepare(options);
  if (options.command === "token") {
    const { runTokenCommand } = await import("./commands/token.js");
    process.exitCode = runTokenCommand(config, options.token, { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) });
    return;
  }
  if (options.command === "connect") {
    const { runConnect, ConnectError } = await import("./commands/connect.js");
    try {
      await runConnect(options.connect, logger);
    } catch (error) {
      if (error instanceof ConnectError) fail(error.message);
      throw error;
    }
    return;
  }
  if (options.command === "serve" && (options.http !== undefined || config.http.listen !== null)) {
    const { serveHttp, ServeHttpError } = await import("./commands/serve-http.js");
    try {
      await serveHttp(config, logger, { http: options.http, tlsCert: options.tlsCert, tlsKey: options.tlsKey });
    } catch (error) {
      if (error instanceof ServeHttpError || error instanceof ConfigError) fail(error.message);
      throw error;
    }
    return;
  }
  if (options.command === "doctor") {
    const { runDoctor } = await import("./doctor/index.js");
    process.exitCode = await runDoctor(config, { json: options.json, write: (text) => process.stdout.write(text) });
    return;
  }
  await serve(config, logger);
}

main().catch((error: unknown) => {
  process.stderr.write(`${PACKAGE.name}: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
