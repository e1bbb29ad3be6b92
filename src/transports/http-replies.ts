// The few answers the HTTP layer gives itself: a status and a JSON-RPC error, with fixed words.
// Nothing a client sent is echoed back.
import type { Response } from "express";

/** JSON-RPC error code the SDK's transport uses for transport-level faults. */
export const TRANSPORT_ERROR = -32000;
/** The SDK's code for an unknown session. */
export const SESSION_NOT_FOUND = -32001;

/** Answers `status` with a JSON-RPC error body (id null: the request may not have been read). */
export function replyError(res: Response, status: number, message: string, code = TRANSPORT_ERROR): void {
  if (res.headersSent) return;
  res.status(status).json({ jsonrpc: "2.0", error: { code, message }, id: null });
}
