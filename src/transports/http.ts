// MCP over Streamable HTTP at /mcp: one engine, an McpServer per session (or per stateless
// request), every request authenticated. The order of the checks is the design: Host (rebinding)
// → Origin → bearer token → rate limit → body (size-capped, read only once authenticated) →
// scope → session → the SDK's transport.
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import { metadataHandler } from "@modelcontextprotocol/sdk/server/auth/handlers/metadata.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { getOAuthProtectedResourceMetadataUrl } from "@modelcontextprotocol/sdk/server/auth/router.js";
import { authenticatedPrincipal, BearerVerifier, makePrincipal } from "../auth/bearer.js";
import type { JwtVerifier } from "../auth/jwt-verifier.js";
import type { StaticTokens } from "../auth/token-file.js";
import type { Config } from "../config.js";
import { SCOPES } from "../executions/principal.js";
import type { Logger } from "../logger.js";
import type { Engine } from "../server.js";
import { hostGuard, LOOPBACK_HOSTNAMES, originGuard } from "./http-guards.js";
import { replyError } from "./http-replies.js";
import { McpHandlers, principalOfRequest } from "./http-mcp.js";
import { SessionTable } from "./http-sessions.js";
import { RateLimiter } from "./rate-limit.js";
import { missingScope } from "./scope-gate.js";

/** Path of the MCP endpoint. */
export const MCP_PATH = "/mcp";
const PRM_PATH = "/.well-known/oauth-protected-resource";

export interface HttpServeOptions {
  engine: Engine;
  config: Config;
  logger: Logger;
  tokens: StaticTokens;
  /** Makes the JWT verifier for the public URL (known once the port is bound); null: static tokens only. */
  jwt: ((publicUrl: string) => JwtVerifier) | null;
  /** Where to listen (from --http or BPFTRACE_MCP_HTTP). */
  listen: { host: string; port: number };
  tls: { cert: string; key: string } | null;
}

export interface RunningHttp {
  /** The URL the server listens at (the actual port when 0 was asked). */
  url: string;
  /** The resource identifier: BPFTRACE_MCP_PUBLIC_URL, or `url`. */
  publicUrl: string;
  sessions: SessionTable;
  /** Stops accepting connections (requests in progress go on). */
  stopAccepting: () => void;
  /** Closes every session, then every connection. */
  close: () => Promise<void>;
}

/** True for an address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The default public URL for a listen address: its own, with loopback for a wildcard bind. */
export function defaultPublicUrl(host: string, port: number, tls: boolean): string {
  const shown = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
  return `${tls ? "https" : "http"}://${shown}:${port}${MCP_PATH}`;
}

/** Host names accepted in the Host header: loopback, the public URL's host, and the operator's extras. */
export function allowedHostnames(publicUrl: string, extra: readonly string[]): string[] {
  return [...new Set([...LOOPBACK_HOSTNAMES, new URL(publicUrl).hostname.toLowerCase(), ...extra])];
}

/** Listens, then serves MCP; resolves once the port is bound. */
export async function startHttp(options: HttpServeOptions): Promise<RunningHttp> {
  const { config, logger, listen, tls } = options;
  const server: Server = tls ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }) : createHttpServer();
  // Slow-loris bounds: headers within 10 s, a whole request within 60 s (SSE streams are responses, not requests).
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = defaultPublicUrl(listen.host, port, tls !== null);
  const publicUrl = config.http.publicUrl ?? url;
  const sessions = new SessionTable({
    maxSessions: config.http.maxSessions,
    idleMs: config.http.sessionIdleMs,
    onClosed: (session, reason) => logger.info({ session: session.id.slice(0, 8), principal: session.principalId, reason }, "HTTP session closed"),
  });
  const app = buildApp({ ...options, jwt: options.jwt ? options.jwt(publicUrl) : null }, publicUrl, sessions);
  // A revoked static token loses its open sessions (and their GET streams) too, not only its next
  // request. OAuth principals ("oauth:…") are not in the file; their tokens expire by themselves.
  options.tokens.onReload((names) => void sessions.closeUnless((principalId) => principalId.startsWith("oauth:") || names.has(principalId), "token revoked"));
  server.on("request", app);
  const sweep = setInterval(
    () => {
      void sessions.reapIdle();
      // Notices a revocation even when no request comes in to trigger the re-read.
      options.tokens.refresh();
    },
    Math.min(60_000, Math.max(1_000, config.http.sessionIdleMs / 4)),
  );
  sweep.unref();
  return {
    url,
    publicUrl,
    sessions,
    stopAccepting: () => server.close(),
    close: async () => {
      clearInterval(sweep);
      server.close();
      await sessions.closeAll("shutdown");
      server.closeAllConnections();
    },
  };
}

/** The Express application: guards, metadata, the MCP endpoint, and answers for everything else. */
export function buildApp(options: Omit<HttpServeOptions, "jwt"> & { jwt: JwtVerifier | null }, publicUrl: string, sessions: SessionTable): express.Express {
  const { config, logger, engine } = options;
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("trust proxy", config.http.trustProxy ?? false);
  app.use(hostGuard(allowedHostnames(publicUrl, config.http.allowedHosts)));

  const resourceMetadataUrl = options.jwt ? getOAuthProtectedResourceMetadataUrl(new URL(publicUrl)) : undefined;
  if (options.jwt && config.http.oauthIssuer) {
    // RFC 9728: what this resource is, which authorization server issues its tokens, which scopes a
    // client should ask for. Clients request what is listed here, so admin is left out (least
    // privilege): it is still honoured in a token whose grant includes it.
    const metadata = { resource: publicUrl, authorization_servers: [config.http.oauthIssuer], scopes_supported: SCOPES.filter((scope) => scope !== "bpftrace:admin"), bearer_methods_supported: ["header"], resource_name: "bpftrace-mcp-server" };
    const suffixed = `${PRM_PATH}${new URL(publicUrl).pathname.replace(/\/$/, "")}`;
    for (const path of new Set([PRM_PATH, suffixed, `${PRM_PATH}${MCP_PATH}`])) app.use(path, metadataHandler(metadata));
  }

  const verifier = new BearerVerifier({ tokens: options.tokens, jwt: options.jwt });
  const loggedVerifier = {
    verifyAccessToken: async (token: string) => {
      try {
        return await verifier.verifyAccessToken(token);
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) logger.error({ err: error instanceof Error ? error.message : String(error) }, "token verification failed (answered 500)");
        throw error;
      }
    },
  };
  const limiter = new RateLimiter(config.http.rateLimitPerSecond);
  const pruning = setInterval(() => limiter.prune(), 60_000);
  pruning.unref();

  const mcp = express.Router();
  mcp.use(originGuard(config.http.allowedOrigins.concat(new URL(publicUrl).origin)));
  mcp.use(requireBearerAuth({ verifier: loggedVerifier, ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}) }));
  mcp.use((req: Request, res: Response, next: NextFunction) => {
    const authenticated = authenticatedPrincipal(req.auth);
    if (!authenticated || !req.auth) {
      replyError(res, 401, "Unauthorized");
      return;
    }
    // The principal of this request: who authenticated, from where.
    const principal = makePrincipal(authenticated.id, [...authenticated.scopes], req.ip ?? null);
    req.auth = { ...req.auth, extra: { ...req.auth.extra, principal } };
    const waitSeconds = limiter.take(principal.id);
    if (waitSeconds > 0) {
      res.setHeader("Retry-After", String(waitSeconds));
      replyError(res, 429, "Too many requests: slow down");
      return;
    }
    next();
  });
  // Read only now, after authentication, whatever its Content-Type claims (the transport refuses a
  // non-JSON type; the scope gate must see every body the transport could act on).
  mcp.post("/", express.raw({ type: () => true, limit: config.maxMessageBytes, inflate: false }), (req: Request, res: Response, next: NextFunction) => {
    const raw = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
    try {
      req.body = JSON.parse(raw) as unknown;
    } catch {
      replyError(res, 400, "Parse error: the body is not JSON", -32700);
      return;
    }
    const principal = principalOfRequest(req);
    const missing = missingScope(principal, req.body);
    if (missing) {
      insufficientScope(res, missing, resourceMetadataUrl);
      return;
    }
    next();
  });
  mcp.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== "POST" && missingScope(principalOfRequest(req), null)) {
      insufficientScope(res, "bpftrace:read", resourceMetadataUrl);
      return;
    }
    next();
  });
  const handlers = new McpHandlers(engine, sessions, config.maxMessageBytes, logger);
  mcp.post("/", (req, res, next) => handlers.post(req, res).catch(next));
  mcp.get("/", (req, res, next) => handlers.onSession(req, res).catch(next));
  mcp.delete("/", (req, res, next) => handlers.onSession(req, res).catch(next));
  mcp.all("/", (_req, res) => {
    res.setHeader("Allow", "GET, POST, DELETE");
    replyError(res, 405, "Method not allowed");
  });
  app.use(MCP_PATH, mcp);
  app.use((_req: Request, res: Response) => replyError(res, 404, "Not found"));
  // Faults of the request itself get their status and a fixed sentence; ours are logged and answered 500.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const type = (error as { type?: unknown }).type;
    if (type === "entity.too.large") replyError(res, 413, `Request body too large (limit ${config.maxMessageBytes} bytes, BPFTRACE_MCP_MAX_MESSAGE_BYTES)`);
    else if (type === "encoding.unsupported") replyError(res, 415, "Unsupported Content-Encoding");
    else if (type === "request.aborted" || type === "request.size.invalid") replyError(res, 400, "Bad request");
    else if (clientFault(error)) replyError(res, 400, "Bad request");
    else {
      logger.error({ err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, "HTTP request failed");
      replyError(res, 500, "Internal error");
    }
  });
  return app;
}


/** An error Express or a parser marked as the request's fault (a 4xx status), e.g. a malformed %-escape in the path. */
function clientFault(error: unknown): boolean {
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  return typeof status === "number" && status >= 400 && status < 500;
}

/** 403 naming the scope, in the header form clients read to ask for it (RFC 6750 §3). */
function insufficientScope(res: Response, scope: string, resourceMetadataUrl: string | undefined): void {
  const metadata = resourceMetadataUrl ? `, resource_metadata="${resourceMetadataUrl}"` : "";
  res.setHeader("WWW-Authenticate", `Bearer error="insufficient_scope", scope="${scope}", error_description="this request needs the scope ${scope}"${metadata}`);
  res.status(403).json({ error: "insufficient_scope", error_description: `this request needs the scope ${scope}`, scope });
}
