// `serve --http`: the engine behind Streamable HTTP, with its authentication, warnings and shutdown.
import { JwtVerifier } from "../auth/jwt-verifier.js";
import { enterServerCgroup } from "../bpftrace/own-cgroup.js";
import { StaticTokens } from "../auth/token-file.js";
import { parseListenAddress, type Config } from "../config.js";
import type { Logger } from "../logger.js";
import { createEngine } from "../server.js";
import { SqliteStore } from "../storage/sqlite-store.js";
import { isLoopbackHost, startHttp } from "../transports/http.js";
import { PACKAGE } from "../version.js";

// As on stdio: traces get SIGINT, then are forced; the whole shutdown stays within 3 s.
const SHUTDOWN_GRACE_MS = 2_000;
const SHUTDOWN_HARD_LIMIT_MS = 2_800;

export interface ServeHttpArguments {
  /** --http, else BPFTRACE_MCP_HTTP. */
  http: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
}

/** A reason the server cannot start; index.ts prints it and exits 2. */
export class ServeHttpError extends Error {}

/** Starts the HTTP server and installs its shutdown; resolves once it listens. */
export async function serveHttp(config: Config, logger: Logger, args: ServeHttpArguments): Promise<void> {
  const listen = args.http !== undefined ? parseListenAddress(args.http) : config.http.listen;
  if (!listen) throw new ServeHttpError("no HTTP address: --http [HOST:]PORT or BPFTRACE_MCP_HTTP");
  const cert = args.tlsCert ?? config.http.tlsCert;
  const key = args.tlsKey ?? config.http.tlsKey;
  if ((cert === null || cert === undefined) !== (key === null || key === undefined)) throw new ServeHttpError("--tls-cert and --tls-key go together");
  const tls = cert && key ? { cert, key } : null;

  const tokens = new StaticTokens(config.http.tokensFile, (message) => logger.error({ tokensFile: config.http.tokensFile }, `tokens file unusable, no static token is accepted until it is fixed: ${message}`));
  let tokenCount: number;
  try {
    tokenCount = tokens.load();
  } catch (error) {
    throw new ServeHttpError(error instanceof Error ? error.message : String(error));
  }
  const issuer = config.http.oauthIssuer;
  if (tokenCount === 0 && issuer === null) {
    throw new ServeHttpError(
      `no way to authenticate HTTP clients: ${config.http.tokensFile} has no token and BPFTRACE_MCP_OAUTH_ISSUER is not set. ` +
        `Add one with \`${PACKAGE.name} token add NAME --scopes bpftrace:trace\` (HTTP is never served without authentication, not even on loopback).`,
    );
  }
  if (issuer !== null && config.http.publicUrl === null && (listen.host === "0.0.0.0" || listen.host === "::")) {
    throw new ServeHttpError("BPFTRACE_MCP_PUBLIC_URL is needed with OAuth on a wildcard address: it is the audience tokens must name");
  }
  if (!isLoopbackHost(listen.host) && tls === null && config.http.trustProxy === null) {
    logger.warn(
      { host: listen.host },
      "serving HTTP on a non-loopback address without TLS: bearer tokens cross the network in clear. Use --tls-cert/--tls-key, or a TLS reverse proxy (and BPFTRACE_MCP_HTTP_TRUST_PROXY)",
    );
  }
  if ((listen.host === "0.0.0.0" || listen.host === "::") && config.http.publicUrl === null && config.http.allowedHosts.length === 0) {
    logger.warn("bound to every address but only loopback Host names are allowed: set BPFTRACE_MCP_PUBLIC_URL (or BPFTRACE_MCP_HTTP_ALLOWED_HOSTS) for remote clients");
  }

  // Before anything is spawned: the filter hiding this process tree from traces is then one cgroup comparison.
  const cgroup = enterServerCgroup(config.ownCgroup, logger);
  // Executions outlive the process too: the same store stdio uses, opened on its own thread.
  const store = config.stateDir === null ? undefined : SqliteStore.open(config, logger);
  const engine = createEngine({ config, logger, serverCgroupId: cgroup?.id ?? null, ...(store ? { store } : {}) });
  let jwt: JwtVerifier | null = null;
  let running;
  try {
    running = await startHttp({
      engine,
      config,
      logger,
      tokens,
      jwt: issuer === null ? null : (publicUrl) => (jwt = new JwtVerifier({ issuer, audience: publicUrl })),
      listen,
      tls,
    });
  } catch (error) {
    await engine.cleanup(0);
    cgroup?.release();
    throw new ServeHttpError(`cannot serve HTTP on ${listen.host}:${listen.port}: ${error instanceof Error ? error.message : String(error)}`);
  }
  logger.info({ version: PACKAGE.version, url: running.url, publicUrl: running.publicUrl, tokens: tokenCount, oauthIssuer: issuer ?? "off", maxConcurrent: config.maxConcurrent }, "serving MCP over HTTP");
  if (jwt !== null) {
    const verifier: JwtVerifier = jwt;
    verifier.discover().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, "OAuth issuer metadata not reachable yet: retried when a token arrives"));
  }

  let stopping = false;
  const http = running;
  const shutdown = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "shutting down: no new connections, stopping every running trace, closing sessions");
    setTimeout(() => {
      logger.error("shutdown took too long: exiting");
      process.exit(0);
    }, SHUTDOWN_HARD_LIMIT_MS).unref();
    http.stopAccepting();
    engine
      .cleanup(SHUTDOWN_GRACE_MS)
      .catch((error: unknown) => logger.error({ err: String(error) }, "cleanup failed"))
      .then(() => http.close())
      .catch(() => undefined)
      .finally(() => {
        cgroup?.release();
        process.exit(0);
      });
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGHUP", () => shutdown("SIGHUP"));
  process.on("uncaughtException", (error) => logger.error({ err: { message: error.message, stack: error.stack } }, "uncaught exception"));
  process.on("unhandledRejection", (reason) => logger.error({ err: String(reason) }, "unhandled rejection"));
  engine.context.host.ensureReady().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, "bpftrace is not usable yet"));
}
