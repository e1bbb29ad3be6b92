// Packs the package, installs the tarball into an empty folder through `npx -y`, and drives it
// with the SDK client exactly as an MCP client configured with `npx` would. Exits non-zero on failure.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "bpftrace-mcp-pack-"));
const fail = (message) => {
  process.stderr.write(`pack-and-run: FAIL: ${message}\n`);
  process.exitCode = 1;
};

try {
  const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: repo, encoding: "utf8" }));
  const { filename, files } = packed[0];
  const paths = files.map((file) => file.path);
  for (const required of ["dist/index.js", "dist/THIRD-PARTY-NOTICES.md", "dist/server.js", "README.md", "SECURITY.md", ".env.example", "setup/setup_claude.sh", "setup/setup_claude_code.sh"]) {
    if (!paths.includes(required)) fail(`the tarball lacks ${required}`);
  }
  if (!paths.some((path) => path.startsWith("dist/examples/programs/") && path.endsWith(".bt"))) fail("the tarball lacks the example programs");
  const strays = paths.filter((path) => /^(test|src|bench|\.ci)\//.test(path) || path.endsWith(".map"));
  if (strays.length > 0) fail(`the tarball ships files that do not run: ${strays.slice(0, 5).join(", ")}`);
  process.stdout.write(`packed ${filename}: ${paths.length} files\n`);

  // As a user would: the tarball alone in an empty folder, run with `npx -y ./<tarball>`. Twice:
  // where better-sqlite3 installs (CI hands npm the local prebuild that GitHub would otherwise
  // serve) executions are stored; where it cannot (no prebuild reachable, no headers to compile
  // against) npm skips the optional dependency and the server keeps executions in memory, saying so.
  const emptyFolder = join(work, "empty");
  execFileSync("mkdir", ["-p", emptyFolder]);
  execFileSync("mv", [join(work, filename), join(emptyFolder, filename)]);
  const prebuilds = process.env.npm_config_better_sqlite3_local_prebuilds;
  const variants = [{ label: "without better-sqlite3", env: {}, stored: false }];
  if (prebuilds) variants.push({ label: "with better-sqlite3", env: { npm_config_better_sqlite3_local_prebuilds: prebuilds }, stored: true });
  else process.stdout.write("pack-and-run: npm_config_better_sqlite3_local_prebuilds is not set: only the run without the store\n");
  for (const variant of variants) {
    const home = join(work, `home-${variant.stored ? "store" : "memory"}`);
    const npmCache = join(home, "npm-cache");
    const transport = new StdioClientTransport({
      command: "npx",
      args: ["-y", `./${filename}`],
      cwd: emptyFolder,
      env: { PATH: process.env.PATH ?? "", HOME: home, npm_config_cache: npmCache, BPFTRACE_MCP_AUDIT_LOG: "off", LOG_LEVEL: "warn", ...variant.env },
      stderr: "inherit",
    });
    const client = new Client({ name: "pack-and-run", version: "1.0.0" });
    const started = Date.now();
    await client.connect(transport);
    const server = client.getServerVersion();
    if (server?.name !== "bpftrace-mcp-server") fail(`${variant.label}: initialize answered as ${JSON.stringify(server)}`);
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name).sort();
    for (const expected of ["bpf_info", "exec_program", "get_result", "list_probes"]) if (!names.includes(expected)) fail(`${variant.label}: tools/list lacks ${expected}`);
    const info = await client.callTool({ name: "bpf_info", arguments: {} });
    process.stdout.write(`npx -y ${filename} (${variant.label}): initialize + tools/list (${names.length} tools) in ${Date.now() - started} ms; bpf_info isError=${String(info.isError ?? false)}\n`);
    // A real trace (CI runs this as root): stored, or kept in memory with a warning that says so.
    const run = await client.callTool({ name: "exec_program", arguments: { program: 'BEGIN { printf("packed\\n"); exit(); }', timeout: 10 } });
    const warnings = run.structuredContent?.warnings ?? [];
    const memoryOnly = warnings.some((warning) => /kept in memory only/.test(warning));
    if (run.isError) fail(`${variant.label}: exec_program failed: ${JSON.stringify(run.content)}`);
    else if (memoryOnly === variant.stored) fail(`${variant.label}: expected ${variant.stored ? "no" : "a"} memory-only warning, got ${JSON.stringify(warnings)}`);
    const ended = await client.callTool({ name: "get_result", arguments: { execution_id: run.structuredContent?.execution_id, until: "end", wait_seconds: 15 } });
    if (!JSON.stringify(ended.structuredContent?.lines ?? []).includes("packed")) fail(`${variant.label}: the trace's output is missing: ${JSON.stringify(ended.structuredContent)}`);
    await client.close();
    const database = join(home, ".local", "state", "bpftrace-mcp-server", "executions.db");
    if (existsSync(database) !== variant.stored) fail(`${variant.label}: ${database} ${variant.stored ? "is missing" : "exists"}`);
    process.stdout.write(`  exec_program + get_result: ${variant.stored ? "stored in executions.db" : "kept in memory, with the warning"}\n`);

    // Only runtime dependencies are installed by npx: no dev tooling in the package's tree.
    const installed = execFileSync("find", [npmCache, "-maxdepth", "4", "-type", "d", "-name", "node_modules"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
    for (const folder of installed) {
      const modules = readdirSync(folder);
      for (const devOnly of ["vitest", "typescript", "eslint"]) if (modules.includes(devOnly)) fail(`npx installed the dev dependency ${devOnly} (${folder})`);
      if (modules.includes("better-sqlite3") !== variant.stored && modules.includes("dotenv")) fail(`${variant.label}: better-sqlite3 ${variant.stored ? "was not" : "was"} installed (${folder})`);
    }
  }
} catch (error) {
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (!process.exitCode) process.stdout.write("pack-and-run: ok\n");
