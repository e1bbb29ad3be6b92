// `connect URL --token-file PATH`: a stdio MCP server that forwards every message to a remote
// server over Streamable HTTP, for clients that only start local commands (Claude Desktop). The
// token is read from the file once and goes nowhere but the Authorization header: not argv, not
// the environment, not a log line.
import { readFileSync, statSync } from "node:fs";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { isInitializeRequest, isJSONRPCRequest, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../logger.js";
import { StdioTransport } from "../transports/stdio.js";

/** Largest message accepted from the local client: the server's own default. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** How long the bridge waits for the remote session's DELETE when the client goes away. */
const CLOSE_TIMEOUT_MS = 2_000;

export class ConnectError extends Error {}

/** The token in the file: its one non-empty line. */
export function readTokenFromFile(path: string): { token: string; tooOpen: boolean } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConnectError(`cannot read the token file ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  if (lines.length !== 1 || /\s/.test(lines[0] ?? "")) throw new ConnectError(`the token file ${path} must hold exactly one token, on one line`);
  return { token: lines[0] ?? "", tooOpen: (statSync(path).mode & 0o077) !== 0 };
}

/** The remote URL, refused when it carries credentials (they would show in process lists and logs). */
export function remoteUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConnectError(`'${value}' is not a URL (expected e.g. https://host.example:8443/mcp)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConnectError("connect needs an http(s) URL");
  if (url.username || url.password) throw new ConnectError("put the token in --token-file, not in the URL");
  return url;
}

/** Forwards between stdin/stdout and the remote server until either side ends. */
export async function runConnect(args: { url: string; tokenFile: string | undefined } | undefined, logger: Logger): Promise<void> {
  if (!args) throw new ConnectError("connect needs a URL");
  if (!args.tokenFile) throw new ConnectError("connect needs --token-file PATH: the token is never taken from the command line or the environment");
  const url = remoteUrl(args.url);
  const { token, tooOpen } = readTokenFromFile(args.tokenFile);
  if (tooOpen) logger.warn({ tokenFile: args.tokenFile }, "the token file is readable by others: chmod 600 it");
  if (url.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) logger.warn({ url: url.origin }, "the token travels unencrypted: use https");

  const remote = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  const local = new StdioTransport({ maxMessageBytes: MAX_MESSAGE_BYTES });
  let initializeId: string | number | null = null;
  let ending = false;

  const end = (reason: string): void => {
    if (ending) return;
    ending = true;
    logger.info({ reason }, "bridge closing");
    setTimeout(() => process.exit(0), CLOSE_TIMEOUT_MS).unref();
    remote
      .terminateSession()
      .catch(() => undefined)
      .then(() => remote.close())
      .catch(() => undefined)
      .finally(() => process.exit(0));
  };

  local.onmessage = (message: JSONRPCMessage) => {
    if (isInitializeRequest(message) && isJSONRPCRequest(message)) initializeId = message.id;
    remote.send(message).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn({ err: reason }, "the remote server refused a message");
      // The client is waiting for an answer: give it the reason instead of silence.
      if (isJSONRPCRequest(message)) void local.send({ jsonrpc: "2.0", id: message.id, error: { code: -32000, message: `bpftrace-mcp-server connect: ${url.origin} answered: ${reason}` } });
    });
  };
  remote.onmessage = (message: JSONRPCMessage) => {
    // The HTTP transport sends the negotiated version with every later request (the SDK's Client does this itself).
    if (initializeId !== null && "id" in message && message.id === initializeId && "result" in message) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === "string") remote.setProtocolVersion(version);
      initializeId = null;
    }
    void local.send(message);
  };
  remote.onerror = (error: Error) => logger.warn({ err: error.message }, "remote stream error");
  remote.onclose = () => end("remote closed");
  local.onerror = (error: Error) => logger.warn({ err: error.message }, "unreadable message from the client skipped");
  process.stdin.once("end", () => end("stdin closed"));
  process.stdin.once("close", () => end("stdin closed"));
  process.once("SIGINT", () => end("SIGINT"));
  process.once("SIGTERM", () => end("SIGTERM"));
  await remote.start();
  await local.start();
  logger.info({ url: url.origin + url.pathname }, "bridging stdio to the remote MCP server");
}
