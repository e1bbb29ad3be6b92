/** What kind of trouble the store met: each is handled differently (see sqlite-store.ts). */
export type FaultKind = "full" | "unwritable" | "busy" | "corrupt" | "unavailable" | "error";

export interface StoreFault {
  kind: FaultKind;
  message: string;
}

/** Sorts an error from better-sqlite3 or the file system into a fault kind. */
export function classify(error: unknown): StoreFault {
  const code = typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : "";
  const message = error instanceof Error ? error.message : String(error);
  const described = code && !message.includes(code) ? `${message} (${code})` : message;
  if (code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT") return { kind: "full", message: described };
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return { kind: "busy", message: described };
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") return { kind: "corrupt", message: described };
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_IOERR") || code === "SQLITE_PERM" || code === "SQLITE_AUTH" || code === "EROFS" || code === "EACCES" || code === "EPERM" || code === "ENOTDIR" || code === "EEXIST" || code === "ENOENT") {
    // An I/O error while the disk is full is the disk being full.
    if (/SQLITE_IOERR/.test(code) && /full|space/i.test(message)) return { kind: "full", message: described };
    return { kind: "unwritable", message: described };
  }
  return { kind: "error", message: described };
}

/** Thrown by the database layer with its kind already decided. */
export class StoreFaultError extends Error {
  constructor(readonly fault: StoreFault) {
    super(fault.message);
    this.name = "StoreFaultError";
  }
}
