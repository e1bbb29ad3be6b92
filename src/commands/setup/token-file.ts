import { readFileSync, statSync } from "node:fs";

const MAX_TOKEN_FILE_BYTES = 4096;
// One line of visible ASCII: what an HTTP header value can carry without quoting.
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/** A token file that cannot be used; the message names the file and the fix, never the token. */
export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenFileError";
  }
}

/** Checks that a token file exists, is a regular file only its owner can read, and holds one token. Returns the token. */
export function readTokenFile(path: string): string {
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw new TokenFileError(`cannot read the token file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!stats.isFile()) throw new TokenFileError(`the token file ${path} is not a regular file`);
  if ((stats.mode & 0o077) !== 0) {
    throw new TokenFileError(`the token file ${path} has mode ${(stats.mode & 0o777).toString(8)}: other users could read the token; run chmod 600 '${path}'`);
  }
  if (stats.size > MAX_TOKEN_FILE_BYTES) throw new TokenFileError(`the token file ${path} is ${stats.size} bytes: a token file holds one token on one line`);
  const token = readFileSync(path, "utf8").trim();
  if (token === "") throw new TokenFileError(`the token file ${path} is empty`);
  if (!TOKEN_PATTERN.test(token)) throw new TokenFileError(`the token file ${path} must hold one token on one line (visible ASCII, no spaces)`);
  return token;
}

/** What a header helper prints: the bearer header as a JSON object. */
export function bearerHeaders(token: string): string {
  return JSON.stringify({ Authorization: `Bearer ${token}` });
}
