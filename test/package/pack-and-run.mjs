// Packs the package, installs the tarball into an empty folder through `npx -y`, and drives it
// with the SDK client exactly as an MCP client configured with `npx` would. Exits non-zero on failure.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
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

  // As a user would: the tarball alone in an empty folder, run with `npx -y ./<tarball>`.
  const emptyFolder = join(work, "empty");
  execFileSync("mkdir", ["-p", emptyFolder]);
  execFileSync("mv", [join(work, filename), join(emptyFolder, filename)]);
  const npmCache = join(work, "npm-cache");
  const transport = new StdioClientTransport({
    command: "npx",
    args: ["-y", `./${filename}`],
    cwd: emptyFolder,
    env: { PATH: process.env.PATH ?? "", HOME: work, npm_config_cache: npmCache, BPFTRACE_MCP_AUDIT_LOG: "off", LOG_LEVEL: "warn" },
    stderr: "inherit",
  });
  const client = new Client({ name: "pack-and-run", version: "1.0.0" });
  const started = Date.now();
  await client.connect(transport);
  const server = client.getServerVersion();
  if (server?.name !== "bpftrace-mcp-server") fail(`initialize answered as ${JSON.stringify(server)}`);
  const { tools } = await client.listTools();
  const names = tools.map((tool) => tool.name).sort();
  for (const expected of ["bpf_info", "exec_program", "get_result", "list_probes"]) if (!names.includes(expected)) fail(`tools/list lacks ${expected}`);
  const info = await client.callTool({ name: "bpf_info", arguments: {} });
  process.stdout.write(`npx -y ${filename}: initialize + tools/list (${names.length} tools) in ${Date.now() - started} ms; bpf_info isError=${String(info.isError ?? false)}\n`);
  await client.close();

  // Only runtime dependencies are installed by npx: no dev tooling in the package's tree.
  const installed = execFileSync("find", [npmCache, "-maxdepth", "4", "-type", "d", "-name", "node_modules"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  for (const folder of installed) {
    const names = readdirSync(folder);
    for (const devOnly of ["vitest", "typescript", "eslint"]) if (names.includes(devOnly)) fail(`npx installed the dev dependency ${devOnly} (${folder})`);
  }
} catch (error) {
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (!process.exitCode) process.stdout.write("pack-and-run: ok\n");
