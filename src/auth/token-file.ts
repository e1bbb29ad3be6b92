// The static tokens file: one `name scopes sha256(token)` line per token, mode 0600. Only hashes
// are stored; a token is shown once, by `token add`, and never again.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, chownSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { isScope, type Scope } from "../executions/principal.js";

/** One line of the file. */
export interface TokenEntry {
  name: string;
  scopes: Scope[];
  /** sha256 of the token, lower-case hex. */
  sha256: string;
}

/** Token names: what the principal is called in the audit log; no ':' so none can pass for an OAuth principal. */
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Principal names the server itself uses. */
const RESERVED_NAMES = new Set(["local", "unidentified"]);
const SHA256_HEX = /^[0-9a-f]{64}$/;
const HEADER = "# bpftrace-mcp-server bearer tokens: name scopes sha256(token). Written by `bpftrace-mcp-server token add`; keep mode 0600.\n";
/** Longer presented tokens are refused without hashing. */
const MAX_TOKEN_CHARS = 4096;

/** A tokens file that cannot be used; the message says why and what to do. */
export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenFileError";
  }
}

/** sha256 of a token, hex. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new random token: a prefix that says what it is, then 256 random bits. */
export function newToken(): string {
  return `bmcp_${randomBytes(32).toString("base64url")}`;
}

/** Why a name cannot be a token's name, or null when it can. */
export function invalidTokenName(name: string): string | null {
  if (!TOKEN_NAME.test(name)) return `token name '${name}' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`;
  if (RESERVED_NAMES.has(name)) return `token name '${name}' is reserved`;
  return null;
}

/** Parses the file's text; a malformed line is an error naming it (a half-understood file is not used). */
export function parseTokens(text: string, path: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const names = new Set<string>();
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    const [name = "", scopeField = "", sha256 = ""] = fields;
    const where = `${path}:${index + 1}`;
    const scopes = scopeField.split(",");
    if (fields.length !== 3 || invalidTokenName(name) !== null || !SHA256_HEX.test(sha256) || !scopes.every(isScope)) {
      throw new TokenFileError(`${where}: expected 'name scope[,scope] sha256hex' (scopes: bpftrace:read, bpftrace:trace, bpftrace:admin)`);
    }
    if (names.has(name)) throw new TokenFileError(`${where}: the name '${name}' appears twice`);
    names.add(name);
    entries.push({ name, scopes: scopes as Scope[], sha256 });
  });
  return entries;
}

export function formatTokens(entries: readonly TokenEntry[]): string {
  return HEADER + entries.map((entry) => `${entry.name} ${entry.scopes.join(",")} ${entry.sha256}\n`).join("");
}

/** Refuses a file others could read or change: its lines decide who may trace as root. */
export function checkTokenFileMode(path: string, stats: Stats, uid = process.geteuid?.() ?? 0): void {
  if ((stats.mode & 0o077) !== 0) throw new TokenFileError(`${path} is accessible by group or others (mode ${(stats.mode & 0o777).toString(8)}): chmod 600 ${path}`);
  if (stats.uid !== uid && stats.uid !== 0) throw new TokenFileError(`${path} belongs to uid ${stats.uid}, not to the server's user or root: chown it`);
}

/** The entries of the file; [] when it does not exist. */
export function readTokenFile(path: string): TokenEntry[] {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  checkTokenFileMode(path, stats);
  return parseTokens(readFileSync(path, "utf8"), path);
}

/**
 * Replaces the file atomically (a 0600 file beside it, fsynced, renamed over it), keeping the
 * owner of the file it replaces: root editing the service user's file leaves it readable to that user.
 */
export function writeTokenFile(path: string, entries: readonly TokenEntry[]): void {
  const directory = dirname(path);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  let owner: { uid: number; gid: number } | null = null;
  try {
    const stats = statSync(path);
    owner = { uid: stats.uid, gid: stats.gid };
  } catch {
    // A new file: its owner is whoever runs the command.
  }
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(temporary, "wx", 0o600);
  try {
    writeSync(fd, formatTokens(entries));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temporary, 0o600);
  if (owner && process.geteuid?.() === 0) chownSync(temporary, owner.uid, owner.gid);
  renameSync(temporary, path);
}

/** A token that matched, with what it may do. */
export interface MatchedToken {
  name: string;
  scopes: Scope[];
}

/**
 * The tokens file as the server sees it: re-read whenever it changes (checked on every
 * verification), so `token revoke` takes effect on the next request. A file that becomes unusable
 * authenticates nobody until it is fixed (fail closed).
 */
export class StaticTokens {
  private entries: { entry: TokenEntry; digest: Buffer }[] = [];
  private signature = "";
  private problem: string | null = null;
  private readonly reloadListeners: ((names: ReadonlySet<string>) => void)[] = [];

  constructor(
    private readonly path: string,
    private readonly onProblem: (message: string) => void = () => undefined,
  ) {}

  /** Loads the file now; throws when it exists but cannot be used (start-up reports that). */
  load(): number {
    this.entries = readTokenFile(this.path).map((entry) => ({ entry, digest: Buffer.from(entry.sha256, "hex") }));
    try {
      this.signature = signatureOf(statSync(this.path));
    } catch {
      this.signature = "absent";
    }
    this.problem = null;
    return this.entries.length;
  }

  get count(): number {
    return this.entries.length;
  }

  /** Calls `listener` with the names still valid each time the file is re-read (none when it became unusable). */
  onReload(listener: (names: ReadonlySet<string>) => void): void {
    this.reloadListeners.push(listener);
  }

  private announce(): void {
    const names = new Set(this.entries.map(({ entry }) => entry.name));
    for (const listener of this.reloadListeners) listener(names);
  }

  /** Re-reads the file if it changed since the last look (every verification does this too). */
  refresh(): void {
    let signature: string;
    try {
      // Synchronous on purpose: a stat of a local file takes microseconds, where the promise API's
      // thread-pool round trip cost 8% of the server's CPU under load (profiled).
      signature = signatureOf(statSync(this.path));
    } catch {
      signature = "absent";
    }
    if (signature === this.signature) return;
    try {
      this.load();
    } catch (error) {
      this.entries = [];
      this.signature = signature;
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.problem) this.onProblem(message);
      this.problem = message;
    }
    this.announce();
  }

  /** The token's entry, compared against every stored hash in constant time; null when none matches. */
  async verify(token: string): Promise<MatchedToken | null> {
    this.refresh();
    if (token.length === 0 || token.length > MAX_TOKEN_CHARS) return null;
    const presented = createHash("sha256").update(token, "utf8").digest();
    let found: TokenEntry | null = null;
    // Every entry is compared, with no early exit: the time taken says nothing about which matched.
    for (const { entry, digest } of this.entries) {
      if (timingSafeEqual(presented, digest) && found === null) found = entry;
    }
    return found ? { name: found.name, scopes: [...found.scopes] } : null;
  }
}

function signatureOf(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}:${stats.mode}:${stats.uid}`;
}
