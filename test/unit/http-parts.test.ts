import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makePrincipal } from "../../src/auth/bearer.js";
import { metadataUrls, scopesOf } from "../../src/auth/jwt-verifier.js";
import { hashToken, newToken, parseTokens, StaticTokens, TokenFileError, writeTokenFile } from "../../src/auth/token-file.js";
import { parseArgs } from "../../src/cli.js";
import { parseScopes } from "../../src/commands/token.js";
import { ConfigError, loadConfig, parseListenAddress } from "../../src/config.js";
import { hostnameOf, originAllowed } from "../../src/transports/http-guards.js";
import { allowedHostnames, defaultPublicUrl, isLoopbackHost } from "../../src/transports/http.js";
import { SessionTable, type HttpSession } from "../../src/transports/http-sessions.js";
import { RateLimiter } from "../../src/transports/rate-limit.js";
import { missingScope, scopeOfMessage } from "../../src/transports/scope-gate.js";

describe("the HTTP address and settings", () => {
  it("reads [HOST:]PORT with 127.0.0.1 as the default host, bracketed IPv6, and refuses anything else", () => {
    expect(parseListenAddress("8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseListenAddress("0.0.0.0:443")).toEqual({ host: "0.0.0.0", port: 443 });
    expect(parseListenAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListenAddress("localhost:9")).toEqual({ host: "localhost", port: 9 });
    for (const bad of ["", "http://x:1", "x:", "1:2:3", "70000", "host:port", "a b:1"]) expect(() => parseListenAddress(bad), bad).toThrow(ConfigError);
  });

  it("refuses a public URL with credentials, an http issuer off loopback, and a TLS certificate without its key", () => {
    expect(() => loadConfig({ BPFTRACE_MCP_PUBLIC_URL: "https://u:p@host/mcp" })).toThrow(ConfigError);
    expect(() => loadConfig({ BPFTRACE_MCP_OAUTH_ISSUER: "http://issuer.example" })).toThrow(/https/);
    expect(loadConfig({ BPFTRACE_MCP_OAUTH_ISSUER: "http://127.0.0.1:9000" }).http.oauthIssuer).toBe("http://127.0.0.1:9000");
    expect(() => loadConfig({ BPFTRACE_MCP_TLS_CERT: "/c.pem" })).toThrow(/together/);
    for (const anyone of ["true", "1", "*"]) expect(() => loadConfig({ BPFTRACE_MCP_HTTP_TRUST_PROXY: anyone }), anyone).toThrow(/name the proxy/);
    expect(loadConfig({ BPFTRACE_MCP_HTTP_TRUST_PROXY: "loopback, 10.0.0.0/8" }).http.trustProxy).toBe("loopback, 10.0.0.0/8");
    expect(loadConfig({ HOME: "/home/op" }).http.tokensFile).toBe("/home/op/.config/bpftrace-mcp-server/tokens");
  });

  it("defaults the public URL to the listen address and allows its host beside the loopback names", () => {
    expect(defaultPublicUrl("127.0.0.1", 8080, false)).toBe("http://127.0.0.1:8080/mcp");
    expect(defaultPublicUrl("::1", 8080, true)).toBe("https://[::1]:8080/mcp");
    expect(defaultPublicUrl("0.0.0.0", 1, false)).toBe("http://localhost:1/mcp");
    expect(allowedHostnames("https://Trace.Example:8443/mcp", ["alias.example"])).toEqual(["localhost", "127.0.0.1", "[::1]", "trace.example", "alias.example"]);
    expect(isLoopbackHost("127.0.0.5")).toBe(true);
    expect(isLoopbackHost("0.0.0.0")).toBe(false);
  });
});

describe("the command line", () => {
  it("parses serve --http with TLS, token actions and connect, and refuses flags in the wrong place", () => {
    expect(parseArgs([])).toMatchObject({ command: "serve" });
    expect(parseArgs(["serve", "--http", "8080", "--tls-cert", "c", "--tls-key=k"])).toMatchObject({ command: "serve", http: "8080", tlsCert: "c", tlsKey: "k" });
    expect(parseArgs(["token", "add", "laptop", "--scopes", "bpftrace:trace"]).token).toEqual({ action: "add", name: "laptop", scopes: "bpftrace:trace" });
    expect(parseArgs(["token", "list"]).token?.action).toBe("list");
    expect(parseArgs(["connect", "https://h/mcp", "--token-file", "/t"]).connect).toEqual({ url: "https://h/mcp", tokenFile: "/t" });
    expect(parseArgs(["doctor", "--json"])).toMatchObject({ command: "doctor", json: true });
    expect(parseArgs(["--env", "/e", "serve"])).toMatchObject({ command: "serve", envFile: "/e" });
    expect(() => parseArgs(["token", "add"])).toThrow(/NAME/);
    expect(() => parseArgs(["token", "steal"])).toThrow(/action/);
    expect(() => parseArgs(["doctor", "--http", "1"])).toThrow(/go with serve/);
    expect(() => parseArgs(["serve", "--token-file", "x"])).toThrow(/connect/);
    expect(() => parseArgs(["serve", "--http"])).toThrow(/needs a value/);
    expect(() => parseArgs(["connect"])).toThrow(/URL/);
  });
});

describe("static tokens", () => {
  it("parses name scopes sha256 lines and refuses a malformed or duplicated one", () => {
    const sha = "a".repeat(64);
    expect(parseTokens(`# comment\nlaptop bpftrace:read,bpftrace:trace ${sha}\n\n`, "f")).toEqual([{ name: "laptop", scopes: ["bpftrace:read", "bpftrace:trace"], sha256: sha }]);
    for (const bad of [`laptop bpftrace:root ${sha}`, `laptop bpftrace:read`, `a:b bpftrace:read ${sha}`, `local bpftrace:read ${sha}`, `x bpftrace:read ${"g".repeat(64)}`, `x bpftrace:read ${sha}\nx bpftrace:read ${sha}`]) {
      expect(() => parseTokens(bad, "f"), bad).toThrow(TokenFileError);
    }
  });

  it("accepts the token whose hash is stored, refuses others, and picks up a rewrite of the file", async () => {
    const directory = mkdtempSync(join(tmpdir(), "tokens-unit-"));
    const file = join(directory, "tokens");
    const token = newToken();
    writeTokenFile(file, [{ name: "laptop", scopes: ["bpftrace:trace"], sha256: hashToken(token) }]);
    const problems: string[] = [];
    const tokens = new StaticTokens(file, (message) => problems.push(message));
    expect(tokens.load()).toBe(1);
    expect(await tokens.verify(token)).toEqual({ name: "laptop", scopes: ["bpftrace:trace"] });
    expect(await tokens.verify(`${token}x`)).toBeNull();
    expect(await tokens.verify("")).toBeNull();
    expect(await tokens.verify("x".repeat(5000))).toBeNull();
    writeTokenFile(file, []);
    expect(await tokens.verify(token)).toBeNull();
    writeFileSync(file, "garbage line\n", { mode: 0o600 });
    chmodSync(file, 0o600);
    expect(await tokens.verify(token)).toBeNull();
    expect(problems.join("\n")).toContain("expected 'name scope");
  });

  it("writes the file 0600 and never the token itself", () => {
    const directory = mkdtempSync(join(tmpdir(), "tokens-unit-"));
    const file = join(directory, "sub", "tokens");
    const token = newToken();
    writeTokenFile(file, [{ name: "a", scopes: ["bpftrace:read"], sha256: hashToken(token) }]);
    expect(readFileSync(file, "utf8")).not.toContain(token);
    expect(token).toMatch(/^bmcp_[A-Za-z0-9_-]{43}$/);
  });

  it("reads --scopes in long or short form and refuses unknown scopes", () => {
    expect(parseScopes("read,trace")).toEqual(["bpftrace:read", "bpftrace:trace"]);
    expect(parseScopes("bpftrace:admin")).toEqual(["bpftrace:admin"]);
    expect(() => parseScopes("root")).toThrow(TokenFileError);
    expect(() => parseScopes("")).toThrow(TokenFileError);
  });
});

describe("JWT claims", () => {
  it("reads scopes from scope or scp and ignores the ones it does not know", () => {
    expect(scopesOf({ scope: "openid bpftrace:trace email" })).toEqual(["bpftrace:trace"]);
    expect(scopesOf({ scp: ["bpftrace:read", "x"] })).toEqual(["bpftrace:read"]);
    expect(scopesOf({})).toEqual([]);
  });

  it("looks for the issuer's metadata where RFC 8414 and OpenID Connect put it", () => {
    expect(metadataUrls("https://as.example")).toEqual(["https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"]);
    expect(metadataUrls("https://as.example/tenant/")).toEqual(["https://as.example/.well-known/oauth-authorization-server/tenant", "https://as.example/tenant/.well-known/openid-configuration"]);
  });
});

describe("the scope gate", () => {
  const reader = makePrincipal("r", ["bpftrace:read"]);
  const tracer = makePrincipal("t", ["bpftrace:trace"]);
  const nobody = makePrincipal("n", []);
  const call = (name: unknown) => ({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name } });

  it("needs the tool's scope for a tool call, admin for an unknown tool, and read for anything else", () => {
    expect(scopeOfMessage(call("exec_program"))).toBe("bpftrace:trace");
    expect(scopeOfMessage(call("list_probes"))).toBe("bpftrace:read");
    expect(scopeOfMessage(call("no_such_tool"))).toBe("bpftrace:admin");
    expect(scopeOfMessage({ jsonrpc: "2.0", id: 1, method: "tools/list" })).toBe("bpftrace:read");
    expect(scopeOfMessage(null)).toBe("bpftrace:read");
  });

  it("names the first scope a single message or a batch lacks", () => {
    expect(missingScope(reader, call("exec_program"))).toBe("bpftrace:trace");
    expect(missingScope(tracer, call("exec_program"))).toBeNull();
    expect(missingScope(tracer, [call("list_probes"), call("stop_execution")])).toBeNull();
    expect(missingScope(reader, [call("list_probes"), call("stop_execution")])).toBe("bpftrace:trace");
    expect(missingScope(nobody, { jsonrpc: "2.0", id: 1, method: "ping" })).toBe("bpftrace:read");
  });
});

describe("Host and Origin checks", () => {
  it("reads only a plain host name or address (and port) from Host", () => {
    expect(hostnameOf("LocalHost:8080")).toBe("localhost");
    expect(hostnameOf("[::1]:80")).toBe("[::1]");
    expect(hostnameOf("evil@localhost")).toBeNull();
    expect(hostnameOf("localhost/x")).toBeNull();
    expect(hostnameOf(undefined)).toBeNull();
  });

  it("allows listed origins and loopback origins on any port, nothing else", () => {
    const listed = new Set(["https://app.example"]);
    expect(originAllowed("https://app.example", listed)).toBe(true);
    expect(originAllowed("http://localhost:6274", listed)).toBe(true);
    expect(originAllowed("http://[::1]:1", listed)).toBe(true);
    expect(originAllowed("https://app.example.evil", listed)).toBe(false);
    expect(originAllowed("null", listed)).toBe(false);
    expect(originAllowed("file://localhost", listed)).toBe(false);
  });
});

describe("the rate limiter", () => {
  it("lets a burst of two seconds through, then refills at the rate, per key", () => {
    let now = 0;
    const limiter = new RateLimiter(2, () => now);
    expect([1, 2, 3, 4, 5].map(() => limiter.take("a"))).toEqual([0, 0, 0, 0, 1]);
    expect(limiter.take("b")).toBe(0);
    now += 500;
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBeGreaterThan(0);
    now += 10_000;
    limiter.prune();
    expect(limiter.size).toBe(0);
  });
});

describe("the systemd unit", () => {
  const unit = readFileSync(new URL("../../setup/bpftrace-mcp-server.service", import.meta.url), "utf8");

  it("runs serve over HTTP on loopback as the dedicated user, hardened, with SIGTERM as its stop signal", () => {
    expect(unit).toMatch(/^User=bpftrace-mcp$/m);
    expect(unit).toMatch(/^ExecStart=.*bpftrace-mcp-server serve$/m);
    expect(unit).toMatch(/^Environment=BPFTRACE_MCP_HTTP=127\.0\.0\.1:\d+$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    for (const setting of ["ProtectSystem=strict", "ProtectHome=true", "PrivateTmp=true", "ProtectKernelModules=true", "RestrictNamespaces=true", "UMask=0077"]) expect(unit).toContain(`\n${setting}\n`);
  });

  it("passes systemd-analyze verify where systemd is installed", () => {
    const verify = spawnSync("systemd-analyze", ["verify", fileURLToPath(new URL("../../setup/bpftrace-mcp-server.service", import.meta.url))], { encoding: "utf8" });
    if (verify.error) return;
    expect(verify.stderr.split("\n").filter((line) => line.includes("bpftrace-mcp-server.service") && !/user|group/i.test(line))).toEqual([]);
  });
});

describe("the session table", () => {
  const fakeSession = (id: string, closed: string[], principalId = "p", lastActivityMs = 0): HttpSession =>
    ({ id, principalId, server: { close: async () => void closed.push(id) }, transport: {}, lastActivityMs, inFlight: 0 }) as unknown as HttpSession;

  it("caps sessions including those being set up, and closes the idle ones but not those serving a request", async () => {
    let now = 0;
    const closed: string[] = [];
    const table = new SessionTable({ maxSessions: 2, idleMs: 1000, now: () => now });
    expect(await table.reserve("p")).toBe(true);
    expect(await table.reserve("p")).toBe(true);
    expect(await table.reserve("p")).toBe(false);
    table.release();
    table.release();
    const idle = fakeSession("idle", closed);
    const busy = fakeSession("busy", closed);
    table.add(idle);
    table.add(busy);
    const done = table.begin(busy);
    now = 5000;
    expect(await table.reapIdle()).toBe(1);
    expect(closed).toEqual(["idle"]);
    expect(table.lookup("busy", "p")).toBe(busy);
    expect(table.lookup("busy", "someone else")).toBeNull();
    done();
    now = 7000;
    expect(await table.reapIdle()).toBe(1);
    expect(table.size).toBe(0);
  });

  it("at the cap, replaces the asking principal's own least recently active idle session, never another's", async () => {
    const closed: string[] = [];
    const table = new SessionTable({ maxSessions: 3, idleMs: 60_000 });
    table.add(fakeSession("a-old", closed, "alice", 10));
    table.add(fakeSession("a-new", closed, "alice", 20));
    table.add(fakeSession("b", closed, "bob", 5));
    expect(await table.reserve("carol")).toBe(false);
    expect(closed).toEqual([]);
    expect(await table.reserve("alice")).toBe(true);
    expect(closed).toEqual(["a-old"]);
    table.release();
    const busy = table.lookup("b", "bob");
    if (busy) table.begin(busy);
    table.add(fakeSession("a-3", closed, "alice", 30));
    expect(await table.reserve("bob")).toBe(false);
  });
});
