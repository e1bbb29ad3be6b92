// The MCP side of an authenticated request to /mcp: which session serves it (one bound to this
// principal), a new session for an initialize request, or a server for this one request.
import { randomUUID } from "node:crypto";
import type { Request, Response } from "express";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { authenticatedPrincipal } from "../auth/bearer.js";
import type { Principal } from "../executions/principal.js";
import type { Logger } from "../logger.js";
import { createSessionServer, type Engine } from "../server.js";
import { replyError, SESSION_NOT_FOUND } from "./http-replies.js";
import type { HttpSession, SessionTable } from "./http-sessions.js";

/** The principal authentication attached to this request (a bug if there is none this far in). */
export function principalOfRequest(req: Request): Principal {
  const principal = authenticatedPrincipal(req.auth);
  if (!principal) throw new Error("request reached the MCP handlers unauthenticated");
  return principal;
}

/** The MCP side of a request: which session (or none) serves it. */
export class McpHandlers {
  constructor(
    private readonly engine: Engine,
    private readonly sessions: SessionTable,
    private readonly maxMessageBytes: number,
    private readonly logger: Logger,
  ) {}

  async post(req: Request, res: Response): Promise<void> {
    const principal = principalOfRequest(req);
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      await this.onSession(req, res);
      return;
    }
    if (isInitializeRequest(req.body)) await this.open(principal, req, res);
    else await this.stateless(req, res);
  }

  /** A request naming a session: served by it, if it is this principal's. */
  async onSession(req: Request, res: Response): Promise<void> {
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId !== "string") {
      replyError(res, 400, "Bad request: Mcp-Session-Id header is required");
      return;
    }
    const session = this.sessions.lookup(sessionId, principalOfRequest(req).id);
    if (!session) {
      replyError(res, 404, "Session not found", SESSION_NOT_FOUND);
      return;
    }
    await this.serve(session, req, res);
  }

  private async serve(session: HttpSession, req: Request, res: Response): Promise<void> {
    const done = this.sessions.begin(session);
    res.once("close", done);
    try {
      await session.transport.handleRequest(req, res, req.body);
    } finally {
      if (res.writableEnded) done();
    }
  }

  /** An initialize request without a session: a new session with its own McpServer, bound to this principal. */
  private async open(principal: Principal, req: Request, res: Response): Promise<void> {
    if (!(await this.sessions.reserve(principal.id))) {
      res.setHeader("Retry-After", "60");
      replyError(res, 503, "Too many sessions: close one (DELETE) or retry later");
      return;
    }
    let added: HttpSession | null = null;
    const server = createSessionServer(this.engine);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: this.maxMessageBytes,
      onsessioninitialized: (id) => {
        added = { id, principalId: principal.id, server, transport, lastActivityMs: Date.now(), inFlight: 0 };
        this.sessions.add(added);
        this.logger.info({ session: id.slice(0, 8), principal: principal.id, remote: principal.remoteAddress }, "HTTP session opened");
      },
    });
    transport.onclose = () => this.sessions.remove(transport.sessionId);
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } finally {
      this.sessions.release();
      // Initialization failed (a bad protocol version, a malformed request): nothing to keep.
      if (added === null) await server.close().catch(() => undefined);
    }
  }

  /** A request outside any session (the coming protocol drops sessions): a server for this one request. */
  private async stateless(req: Request, res: Response): Promise<void> {
    const server = createSessionServer(this.engine);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: this.maxMessageBytes });
    res.once("close", () => void server.close().catch(() => undefined));
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  }
}
