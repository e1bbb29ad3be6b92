import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const FAKE_SCRIPT = fileURLToPath(new URL("../fixtures/bin/fake-bpftrace.mjs", import.meta.url));

/**
 * Writes an executable `bpftrace` that runs the fake with this Node (the server gives bpftrace a
 * minimal PATH, so the wrapper names node by absolute path). Returns its absolute path.
 */
export function installFakeBpftrace(): string {
  const directory = mkdtempSync(join(tmpdir(), "fake-bpftrace-"));
  const file = join(directory, "bpftrace");
  writeFileSync(file, `#!/bin/sh\nexec "${process.execPath}" "${FAKE_SCRIPT}" "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}
