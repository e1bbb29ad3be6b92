import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";

/**
 * Every setting of the server: its environment variable, default and bounds. README, `--help`
 * and `.env.example` are written from this table, so it is the one source of truth.
 */
export const SETTINGS = {
  BPFTRACE_PATH: { default: "bpftrace", help: "bpftrace executable (name looked up on PATH, or an absolute path)" },
  BPFTRACE_PASSWD: { default: "", help: "sudo password used when the server is not root (fed to sudo on stdin, never logged)" },
  LOG_LEVEL: { default: "info", help: "pino log level on stderr: fatal, error, warn, info, debug, trace, silent" },
  BPFTRACE_MCP_MAX_CONCURRENT: { default: "4", help: "executions that may run at once" },
  BPFTRACE_MCP_MAX_CONCURRENT_PER_PRINCIPAL: { default: "", help: "executions one principal (HTTP token or OAuth user; stdio is one) may run at once; empty: the same as BPFTRACE_MCP_MAX_CONCURRENT" },
  BPFTRACE_MCP_DEFAULT_TIMEOUT: { default: "10", help: "exec_program timeout in seconds when none is given" },
  BPFTRACE_MCP_MAX_TIMEOUT: { default: "60", help: "largest exec_program timeout in seconds (larger requests are refused)" },
  BPFTRACE_MCP_KILL_GRACE_MS: { default: "10000", help: "after SIGINT, how long bpftrace may print its maps before SIGKILL" },
  BPFTRACE_MCP_NICE: { default: "10", help: "nice value traces run at (0 to 19; 0 keeps bpftrace's normal priority), so a flooding trace cannot starve the server or the machine's own work" },
  BPFTRACE_MCP_ATTACH_WAIT_MS: { default: "20000", help: "how long exec_program waits for bpftrace to attach (then returns a running execution); not attached after this plus the timeout: stopped as failed" },
  BPFTRACE_MCP_RING_LINES: { default: "10000", help: "output lines kept per execution (older lines are dropped and counted)" },
  BPFTRACE_MCP_RING_BYTES: { default: "16777216", help: "output bytes kept per execution (older lines are dropped and counted)" },
  BPFTRACE_MCP_OUTPUT_BUDGET_BYTES: { default: "268435456", help: "output bytes kept by all executions together, running and finished; past it the oldest finished runs' output is dropped first" },
  BPFTRACE_MCP_MAX_LINE_CHARS: { default: "8192", help: "longer output lines are cut to this many bytes (on a character boundary)" },
  BPFTRACE_MCP_RETENTION_SECONDS: { default: "3600", help: "finished executions are forgotten after this many seconds" },
  BPFTRACE_MCP_CLEANUP_INTERVAL_SECONDS: { default: "60", help: "how often finished executions are swept" },
  BPFTRACE_MCP_MAX_PROGRAM_BYTES: { default: "65536", help: "largest program accepted" },
  BPFTRACE_MCP_MAX_PROGRAM_LINES: { default: "2000", help: "most lines a program may have" },
  BPFTRACE_MCP_ALLOW: { default: "", help: "operator-only loosening of the program policy, comma-separated: cat, include (see SECURITY.md)" },
  BPFTRACE_MCP_AUDIT_LOG: { default: "", help: "audit log path; empty for $XDG_STATE_HOME/bpftrace-mcp-server/audit.jsonl, 'off' to disable" },
  BPFTRACE_MCP_AUDIT_MAX_BYTES: { default: "10485760", help: "audit log size that triggers rotation to .1, .2, ... (older files shift up)" },
  BPFTRACE_MCP_AUDIT_RETENTION_HOURS: { default: "168", help: "rotated audit files are deleted only once all their records are older than this; until then more are kept" },
  BPFTRACE_MCP_AUDIT_MAX_TOTAL_BYTES: { default: "1073741824", help: "disk cap for the audit log and all its rotated files; when records younger than the retention fill it, new executions are refused (AUDIT_UNAVAILABLE)" },
  BPFTRACE_MCP_OWN_CGROUP: { default: "auto", help: "auto: the server moves into a cgroup v2 leaf of its own when it may (root, or a delegated subtree), so the filter hiding its processes from traces is one cgroup comparison; off: never (the filter walks task parents, which needs BTF)" },
  BPFTRACE_MCP_STATE_DIR: { default: "", help: "where executions and saved sessions are stored (SQLite, dir 0700, files 0600); empty for $XDG_STATE_HOME/bpftrace-mcp-server, 'off' to keep them in memory only" },
  BPFTRACE_MCP_STORE_RETENTION_DAYS: { default: "30", help: "stored executions are deleted this many days after they ended (those in a saved session are kept)" },
  BPFTRACE_MCP_STORE_MAX_BYTES: { default: "1073741824", help: "disk cap for stored executions; past it the oldest (not in a saved session) are deleted first" },
  BPFTRACE_MCP_MAX_MESSAGE_BYTES: { default: "4194304", help: "largest JSON-RPC message: a longer stdin line is skipped and answered with a -32600 error; a larger HTTP body is answered 413" },
  BPFTRACE_MCP_CHILD_ENV: { default: "", help: "BPFTRACE_* variables passed to bpftrace, e.g. BPFTRACE_STRLEN=200,BPFTRACE_MAP_KEYS_MAX=8192" },
  BPFTRACE_MCP_HTTP: { default: "", help: "serve MCP over Streamable HTTP at [HOST:]PORT (path /mcp; HOST defaults to 127.0.0.1) instead of stdio, as `serve --http` does" },
  BPFTRACE_MCP_PUBLIC_URL: { default: "", help: "this server's MCP URL as clients reach it, e.g. https://host.example:8443/mcp: the OAuth audience (RFC 8707) and an allowed Host/Origin; empty: http(s)://HOST:PORT/mcp" },
  BPFTRACE_MCP_TOKENS_FILE: { default: "", help: "static bearer tokens (name scopes sha256 per line, mode 0600; `token add` writes it); empty for ~/.config/bpftrace-mcp-server/tokens" },
  BPFTRACE_MCP_OAUTH_ISSUER: { default: "", help: "OAuth 2.1 authorization server whose JWT access tokens are accepted (its jwks_uri is discovered from its metadata); empty: static tokens only" },
  BPFTRACE_MCP_HTTP_ALLOWED_HOSTS: { default: "", help: "Host names accepted besides loopback names and the public URL's host, comma-separated (other Host headers get 403)" },
  BPFTRACE_MCP_HTTP_ALLOWED_ORIGINS: { default: "", help: "Origins accepted besides loopback ones and the public URL's, comma-separated (a request with another Origin gets 403)" },
  BPFTRACE_MCP_HTTP_TRUST_PROXY: { default: "", help: "addresses of a reverse proxy whose X-Forwarded-For/-Proto are believed (loopback, an IP or CIDR list); empty: none" },
  BPFTRACE_MCP_HTTP_RATE_LIMIT: { default: "20", help: "HTTP requests per second one principal may make (bursts of twice that); more get 429" },
  BPFTRACE_MCP_HTTP_MAX_SESSIONS: { default: "100", help: "MCP sessions open at once over HTTP; a new one beyond gets 503" },
  BPFTRACE_MCP_HTTP_SESSION_IDLE_SECONDS: { default: "1800", help: "an HTTP session without requests or open streams for this long is closed (its executions are kept)" },
  BPFTRACE_MCP_TLS_CERT: { default: "", help: "PEM certificate (chain) to serve HTTPS with, as --tls-cert does; needs BPFTRACE_MCP_TLS_KEY" },
  BPFTRACE_MCP_TLS_KEY: { default: "", help: "PEM private key for BPFTRACE_MCP_TLS_CERT, as --tls-key does" },
} as const;

export type SettingName = keyof typeof SETTINGS;

export const ALLOW_FLAGS = ["cat", "include"] as const;
export type AllowFlag = (typeof ALLOW_FLAGS)[number];

const int = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);

const CHILD_ENV_ENTRY = /^BPFTRACE_[A-Z0-9_]+=[^,\0]*$/;

const httpSchema = z.object({
  /** Where to listen; null: serve stdio. */
  listen: z.object({ host: z.string(), port: z.number() }).nullable(),
  publicUrl: z.string().nullable(),
  tokensFile: z.string(),
  oauthIssuer: z.string().nullable(),
  allowedHosts: z.array(z.string()),
  allowedOrigins: z.array(z.string()),
  trustProxy: z.string().nullable(),
  rateLimitPerSecond: int("BPFTRACE_MCP_HTTP_RATE_LIMIT", 1, 100_000),
  maxSessions: int("BPFTRACE_MCP_HTTP_MAX_SESSIONS", 1, 100_000),
  sessionIdleMs: int("BPFTRACE_MCP_HTTP_SESSION_IDLE_SECONDS", 10, 7 * 86_400).transform((s) => s * 1000),
  tlsCert: z.string().nullable(),
  tlsKey: z.string().nullable(),
});

export type HttpConfig = z.infer<typeof httpSchema>;

const configSchema = z.object({
  bpftracePath: z.string().min(1),
  sudoPassword: z.string(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
    error: "LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent",
  }),
  maxConcurrent: int("BPFTRACE_MCP_MAX_CONCURRENT", 1, 64),
  maxConcurrentPerPrincipal: int("BPFTRACE_MCP_MAX_CONCURRENT_PER_PRINCIPAL", 1, 64).nullable(),
  defaultTimeoutSeconds: int("BPFTRACE_MCP_DEFAULT_TIMEOUT", 1, 3600),
  maxTimeoutSeconds: int("BPFTRACE_MCP_MAX_TIMEOUT", 1, 3600),
  killGraceMs: int("BPFTRACE_MCP_KILL_GRACE_MS", 100, 600_000),
  attachWaitMs: int("BPFTRACE_MCP_ATTACH_WAIT_MS", 100, 600_000),
  traceNice: int("BPFTRACE_MCP_NICE", 0, 19),
  ringCapacityLines: int("BPFTRACE_MCP_RING_LINES", 10, 10_000_000),
  ringCapacityBytes: int("BPFTRACE_MCP_RING_BYTES", 1024, 2 ** 31),
  outputBudgetBytes: int("BPFTRACE_MCP_OUTPUT_BUDGET_BYTES", 65_536, 2 ** 40),
  maxLineBytes: int("BPFTRACE_MCP_MAX_LINE_CHARS", 80, 1_048_576),
  retentionMs: int("BPFTRACE_MCP_RETENTION_SECONDS", 1, 30 * 86_400).transform((s) => s * 1000),
  cleanupIntervalMs: int("BPFTRACE_MCP_CLEANUP_INTERVAL_SECONDS", 1, 86_400).transform((s) => s * 1000),
  maxProgramBytes: int("BPFTRACE_MCP_MAX_PROGRAM_BYTES", 64, 1_048_576),
  maxProgramLines: int("BPFTRACE_MCP_MAX_PROGRAM_LINES", 1, 100_000),
  allow: z.array(z.enum(ALLOW_FLAGS, { error: `BPFTRACE_MCP_ALLOW accepts only: ${ALLOW_FLAGS.join(", ")}` })),
  auditLogPath: z.string().nullable(),
  auditMaxBytes: int("BPFTRACE_MCP_AUDIT_MAX_BYTES", 4096, 2 ** 40),
  auditRetentionMs: int("BPFTRACE_MCP_AUDIT_RETENTION_HOURS", 1, 24 * 3650).transform((hours) => hours * 3_600_000),
  auditMaxTotalBytes: int("BPFTRACE_MCP_AUDIT_MAX_TOTAL_BYTES", 8192, 2 ** 50),
  stateDir: z.string().nullable(),
  storeRetentionMs: int("BPFTRACE_MCP_STORE_RETENTION_DAYS", 1, 3650).transform((days) => days * 86_400_000),
  storeMaxBytes: int("BPFTRACE_MCP_STORE_MAX_BYTES", 1_048_576, 2 ** 50),
  maxMessageBytes: int("BPFTRACE_MCP_MAX_MESSAGE_BYTES", 65_536, 2 ** 30),
  childEnv: z.record(z.string(), z.string()),
  ownCgroup: z.enum(["auto", "off"], { error: "BPFTRACE_MCP_OWN_CGROUP must be auto or off" }),
  http: httpSchema,
});

export type Config = z.infer<typeof configSchema>;

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const stateHome = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith("/") ? env.XDG_STATE_HOME : join(env.HOME || homedir(), ".local", "state");
  return join(stateHome, "bpftrace-mcp-server");
}

function defaultAuditPath(env: NodeJS.ProcessEnv): string {
  return join(defaultStateDir(env), "audit.jsonl");
}

function parseChildEnv(value: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const item of splitList(value)) {
    if (!CHILD_ENV_ENTRY.test(item)) {
      throw new ConfigError(`BPFTRACE_MCP_CHILD_ENV entry '${item}' must look like BPFTRACE_NAME=value`);
    }
    const eq = item.indexOf("=");
    entries[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return entries;
}

/**
 * `[HOST:]PORT` → where to listen. HOST defaults to 127.0.0.1; an IPv6 address is bracketed
 * (`[::1]:8080`); port 0 picks a free one.
 */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) throw new ConfigError(`HTTP address '${value}' must be [HOST:]PORT, e.g. 8080, 127.0.0.1:8080 or [::1]:8080`);
  const host = match[1] ?? "127.0.0.1";
  return { host: host.startsWith("[") ? host.slice(1, -1) : host, port };
}

function parsePublicUrl(value: string): string | null {
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`BPFTRACE_MCP_PUBLIC_URL '${value}' is not a URL`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password || url.search || url.hash) {
    throw new ConfigError("BPFTRACE_MCP_PUBLIC_URL must be an http(s) URL without credentials, query or fragment");
  }
  return url.href;
}

function parseIssuer(value: string): string | null {
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`BPFTRACE_MCP_OAUTH_ISSUER '${value}' is not a URL`);
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw new ConfigError("BPFTRACE_MCP_OAUTH_ISSUER must be an https URL (http only on loopback)");
  if (url.username || url.password || url.search || url.hash) throw new ConfigError("BPFTRACE_MCP_OAUTH_ISSUER must have no credentials, query or fragment");
  // As the issuer writes it in its tokens: no trailing slash added by URL parsing.
  return value;
}

// Express would read "true" (or a hop count) as "believe X-Forwarded-For from anyone": any client
// could then write the address the audit log records. Only named addresses are accepted.
function parseTrustProxy(value: string): string | null {
  if (!value) return null;
  if (/^(true|false|\d+)$/i.test(value) || value.includes("*")) throw new ConfigError("BPFTRACE_MCP_HTTP_TRUST_PROXY must name the proxy's addresses (loopback, an IP, a CIDR), not a count or true");
  return value;
}

function parseOrigin(value: string): string {
  try {
    const url = new URL(value);
    if (url.origin === "null") throw new Error("opaque");
    return url.origin;
  } catch {
    throw new ConfigError(`BPFTRACE_MCP_HTTP_ALLOWED_ORIGINS entry '${value}' is not an origin like https://app.example`);
  }
}

/** A setting that cannot be used; the message names the variable and the accepted values. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Reads and validates every setting from an environment (after `.env` has been merged into it). */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const get = (name: SettingName): string => {
    const value = env[name];
    return value === undefined || value === "" ? SETTINGS[name].default : value;
  };
  const auditSetting = get("BPFTRACE_MCP_AUDIT_LOG").trim();
  const stateSetting = get("BPFTRACE_MCP_STATE_DIR").trim();
  const parsed = configSchema.safeParse({
    bpftracePath: get("BPFTRACE_PATH"),
    sudoPassword: env.BPFTRACE_PASSWD ?? "",
    logLevel: get("LOG_LEVEL").toLowerCase(),
    maxConcurrent: get("BPFTRACE_MCP_MAX_CONCURRENT"),
    maxConcurrentPerPrincipal: get("BPFTRACE_MCP_MAX_CONCURRENT_PER_PRINCIPAL") || null,
    defaultTimeoutSeconds: get("BPFTRACE_MCP_DEFAULT_TIMEOUT"),
    maxTimeoutSeconds: get("BPFTRACE_MCP_MAX_TIMEOUT"),
    killGraceMs: get("BPFTRACE_MCP_KILL_GRACE_MS"),
    attachWaitMs: get("BPFTRACE_MCP_ATTACH_WAIT_MS"),
    traceNice: get("BPFTRACE_MCP_NICE"),
    ringCapacityLines: get("BPFTRACE_MCP_RING_LINES"),
    ringCapacityBytes: get("BPFTRACE_MCP_RING_BYTES"),
    outputBudgetBytes: get("BPFTRACE_MCP_OUTPUT_BUDGET_BYTES"),
    maxLineBytes: get("BPFTRACE_MCP_MAX_LINE_CHARS"),
    retentionMs: get("BPFTRACE_MCP_RETENTION_SECONDS"),
    cleanupIntervalMs: get("BPFTRACE_MCP_CLEANUP_INTERVAL_SECONDS"),
    maxProgramBytes: get("BPFTRACE_MCP_MAX_PROGRAM_BYTES"),
    maxProgramLines: get("BPFTRACE_MCP_MAX_PROGRAM_LINES"),
    allow: splitList(get("BPFTRACE_MCP_ALLOW").toLowerCase()),
    auditLogPath: auditSetting.toLowerCase() === "off" ? null : auditSetting || defaultAuditPath(env),
    auditMaxBytes: get("BPFTRACE_MCP_AUDIT_MAX_BYTES"),
    auditRetentionMs: get("BPFTRACE_MCP_AUDIT_RETENTION_HOURS"),
    auditMaxTotalBytes: get("BPFTRACE_MCP_AUDIT_MAX_TOTAL_BYTES"),
    stateDir: stateSetting.toLowerCase() === "off" ? null : stateSetting || defaultStateDir(env),
    storeRetentionMs: get("BPFTRACE_MCP_STORE_RETENTION_DAYS"),
    storeMaxBytes: get("BPFTRACE_MCP_STORE_MAX_BYTES"),
    maxMessageBytes: get("BPFTRACE_MCP_MAX_MESSAGE_BYTES"),
    childEnv: parseChildEnv(get("BPFTRACE_MCP_CHILD_ENV")),
    ownCgroup: get("BPFTRACE_MCP_OWN_CGROUP").trim().toLowerCase(),
    http: {
      listen: get("BPFTRACE_MCP_HTTP").trim() ? parseListenAddress(get("BPFTRACE_MCP_HTTP").trim()) : null,
      publicUrl: parsePublicUrl(get("BPFTRACE_MCP_PUBLIC_URL").trim()),
      tokensFile: get("BPFTRACE_MCP_TOKENS_FILE").trim() || join(env.HOME || homedir(), ".config", "bpftrace-mcp-server", "tokens"),
      oauthIssuer: parseIssuer(get("BPFTRACE_MCP_OAUTH_ISSUER").trim()),
      allowedHosts: splitList(get("BPFTRACE_MCP_HTTP_ALLOWED_HOSTS").toLowerCase()),
      allowedOrigins: splitList(get("BPFTRACE_MCP_HTTP_ALLOWED_ORIGINS")).map((origin) => parseOrigin(origin)),
      trustProxy: parseTrustProxy(get("BPFTRACE_MCP_HTTP_TRUST_PROXY").trim()),
      rateLimitPerSecond: get("BPFTRACE_MCP_HTTP_RATE_LIMIT"),
      maxSessions: get("BPFTRACE_MCP_HTTP_MAX_SESSIONS"),
      sessionIdleMs: get("BPFTRACE_MCP_HTTP_SESSION_IDLE_SECONDS"),
      tlsCert: get("BPFTRACE_MCP_TLS_CERT").trim() || null,
      tlsKey: get("BPFTRACE_MCP_TLS_KEY").trim() || null,
    },
  });
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => issue.message).join("; "));
  }
  const config = parsed.data;
  if (config.maxConcurrentPerPrincipal !== null && config.maxConcurrentPerPrincipal > config.maxConcurrent) {
    throw new ConfigError("BPFTRACE_MCP_MAX_CONCURRENT_PER_PRINCIPAL must not exceed BPFTRACE_MCP_MAX_CONCURRENT");
  }
  if (config.defaultTimeoutSeconds > config.maxTimeoutSeconds) {
    throw new ConfigError("BPFTRACE_MCP_DEFAULT_TIMEOUT must not exceed BPFTRACE_MCP_MAX_TIMEOUT");
  }
  if ((config.http.tlsCert === null) !== (config.http.tlsKey === null)) {
    throw new ConfigError("BPFTRACE_MCP_TLS_CERT and BPFTRACE_MCP_TLS_KEY go together: set both or neither");
  }
  if (config.stateDir !== null && !config.stateDir.startsWith("/")) {
    throw new ConfigError("BPFTRACE_MCP_STATE_DIR must be an absolute path, or 'off'");
  }
  if (config.auditMaxTotalBytes < 2 * config.auditMaxBytes) {
    throw new ConfigError("BPFTRACE_MCP_AUDIT_MAX_TOTAL_BYTES must be at least twice BPFTRACE_MCP_AUDIT_MAX_BYTES (the log and one rotated file)");
  }
  return config;
}
