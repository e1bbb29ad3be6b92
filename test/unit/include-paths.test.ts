import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { includeDirectories, isHeaderReadable } from "../../src/bpftrace/include-paths.js";

// The built module (npm test builds first): the child runs plain Node, which cannot load TypeScript on 20.
const MODULE = fileURLToPath(new URL("../../dist/bpftrace/include-paths.js", import.meta.url));

/** isHeaderReadable as an unprivileged user would get it: as `nobody` through setpriv when this test is root. */
function readableAsUser(header: string, directories: string[]): boolean {
  if (process.geteuid?.() !== 0) return isHeaderReadable(header, directories);
  const script = `import { isHeaderReadable } from ${JSON.stringify(MODULE)}; process.stdout.write(String(isHeaderReadable(${JSON.stringify(header)}, ${JSON.stringify(directories)})));`;
  const run = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout === "true";
}

describe("where an #include <name.h> is read from", () => {
  it("searches the system directories, then the running kernel's headers", () => {
    const directories = includeDirectories("6.1.0-9-amd64", "x64");
    expect(directories.slice(0, 3)).toEqual(["/usr/local/include", "/usr/include", "/usr/include/x86_64-linux-gnu"]);
    expect(directories).toContain("/lib/modules/6.1.0-9-amd64/build/arch/x86/include/generated");
  });

  it("takes the first directory that has the header, and a header found nowhere as bpftrace's problem", () => {
    const root = mkdtempSync(join(tmpdir(), "include-paths-"));
    for (const directory of ["a", "b/linux"]) mkdirSync(join(root, directory), { recursive: true });
    writeFileSync(join(root, "b/linux/sched.h"), "int x;\n");
    expect(isHeaderReadable("linux/sched.h", [join(root, "a"), join(root, "b")])).toBe(true);
    expect(isHeaderReadable("missing.h", [join(root, "a"), join(root, "b")])).toBe(true);
  });

  it.runIf(process.geteuid?.() !== 0 || spawnSync("setpriv", ["--version"]).status === 0)("refuses a header the user cannot read, or whose directory it cannot search", () => {
    const root = mkdtempSync(join(tmpdir(), "include-paths-"));
    chmodSync(root, 0o755);
    mkdirSync(join(root, "open"), { mode: 0o755 });
    writeFileSync(join(root, "open/secret.h"), "int x;\n", { mode: 0o600 });
    mkdirSync(join(root, "closed"), { mode: 0o700 });
    writeFileSync(join(root, "closed/hidden.h"), "int y;\n", { mode: 0o644 });
    chmodSync(join(root, "open/secret.h"), 0o600);
    expect(readableAsUser("secret.h", [join(root, "open")])).toBe(false);
    expect(readableAsUser("hidden.h", [join(root, "closed")])).toBe(false);
  });
});
