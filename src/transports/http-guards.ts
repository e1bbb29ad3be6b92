// Against DNS rebinding: a browser tricked into calling us sends the attacker's name as Host and
// its page's Origin. Requests naming anything else than the allowed hosts and origins get 403.
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { replyError } from "./http-replies.js";

/** Host names every server accepts: loopback. */
export const LOOPBACK_HOSTNAMES = ["localhost", "127.0.0.1", "[::1]"];
// A Host header is a name or address and an optional port; nothing else (no userinfo, path or spaces).
const HOST_HEADER = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/** The host name of a Host header value, lower-cased, IPv6 bracketed; null when it is not one. */
export function hostnameOf(hostHeader: string | undefined): string | null {
  if (!hostHeader) return null;
  const match = HOST_HEADER.exec(hostHeader);
  return match?.[1] ? match[1].toLowerCase().replace(/\.$/, "") : null;
}

/** 403 unless the Host header names one of `allowed` (host names, port-agnostic). */
export function hostGuard(allowed: readonly string[]): RequestHandler {
  const names = new Set(allowed.map((name) => name.toLowerCase()));
  return (req: Request, res: Response, next: NextFunction) => {
    const hostname = hostnameOf(req.headers.host);
    if (hostname === null || !names.has(hostname)) {
      replyError(res, 403, "Forbidden: Host not allowed");
      return;
    }
    next();
  };
}

/** True when `origin` may call: a listed origin, or any port of a loopback host name. */
export function originAllowed(origin: string, allowed: ReadonlySet<string>): boolean {
  if (allowed.has(origin)) return true;
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && LOOPBACK_HOSTNAMES.includes(url.hostname) && url.origin === origin;
  } catch {
    return false;
  }
}

const CORS_REQUEST_HEADERS = "authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id";
const CORS_EXPOSED_HEADERS = "mcp-session-id, mcp-protocol-version, www-authenticate";

/**
 * 403 for a request whose Origin is not allowed; a request without Origin (not from a browser)
 * passes. Allowed browser origins get CORS headers, and their preflight is answered here, before
 * authentication (a preflight carries no credentials).
 */
export function originGuard(allowedOrigins: readonly string[]): RequestHandler {
  const allowed = new Set(allowedOrigins);
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin === undefined) {
      next();
      return;
    }
    if (!originAllowed(origin, allowed)) {
      replyError(res, 403, "Forbidden: Origin not allowed");
      return;
    }
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Vary", "Origin");
    res.setHeader("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS);
    if (req.method === "OPTIONS") {
      res.setHeader("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      res.setHeader("Access-Control-Allow-Headers", CORS_REQUEST_HEADERS);
      res.setHeader("Access-Control-Max-Age", "600");
      res.status(204).end();
      return;
    }
    next();
  };
}
