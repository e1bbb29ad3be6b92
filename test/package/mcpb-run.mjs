// The MCP Bundle as Claude Desktop runs it (CI, after `npm run bundle`; root and the real bpftrace
// for the trace). `mcpb validate` on manifest.json; the .mcpb unpacked by `mcpb unpack` into an
// empty folder with no node_modules in it or above it; its declared entry point started with the
// user_config values substituted by mcpb's getMcpConfigForManifest (the code Claude Desktop uses);
// then, through the SDK client: initialize, tools/list, a real trace, an example program; doctor
// from the bundle; and the sensitive setting searched for in every process's argv and environment,
// the server's logs, the tool results and the audit log. Exits non-zero on any failure.
//
//   node test/package/mcpb-run.mjs FILE.mcpb
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const mcpbCli = join(repo, "node_modules", ".bin", "mcpb");
const bundle = resolve(process.argv[2] ?? "");
const SECRET = `pw-Bundle-${process.pid}-${Date.now().toString(36)}`;
const isRoot = process.getuid?.() === 0;
let failures = 0;
const say = (line) => process.stdout.write(`${line}\n`);
const check = (name, passed, detail = "") => {
  if (!passed) failures += 1;
  say(`${passed ? "ok" : "FAIL"} - ${name}${!passed && detail ? `: ${detail}` : ""}`);
  return passed;
};
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const textOf = (result) => (result.content?.[0]?.type === "text" ? result.content[0].text : "");

/** Every process's argv and environment that holds `needle` (readable ones: all of them, as root). */
function processesHolding(needle) {
  const found = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    for (const part of ["cmdline", "environ"]) {
      try {
        if (readFileSync(`/proc/${pid}/${part}`, "latin1").includes(needle)) found.push(`${pid}/${part}`);
      } catch {
        // Gone, or not ours to read.
      }
    }
  }
  return found;
}

if (!existsSync(bundle) || !bundle.endsWith(".mcpb")) {
  process.stderr.write("usage: node test/package/mcpb-run.mjs FILE.mcpb (npm run bundle makes it)\n");
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), "bpftrace-mcpb-run-"));
try {
  execFileSync(mcpbCli, ["validate", join(repo, "manifest.json")], { stdio: "inherit" });
  check("mcpb validate accepts manifest.json", true);

  const extension = join(work, "Claude Extensions", "local.mcpb.bpftrace-mcp-server");
  mkdirSync(extension, { recursive: true });
  execFileSync(mcpbCli, ["unpack", bundle, extension], { stdio: ["ignore", "ignore", "inherit"] });
  const ancestors = [];
  for (let folder = extension; dirname(folder) !== folder; folder = dirname(folder)) ancestors.push(folder);
  // Only the native store module and its two runtime helpers ship as packages (the rest is bundled
  // into dist); nothing above the extension may supply a module the bundle forgot.
  const strayModules = ancestors.slice(1).concat("/").map((folder) => join(folder, "node_modules")).filter((folder) => existsSync(folder));
  const inside = execFileSync("find", [extension, "-name", "node_modules"], { encoding: "utf8" }).trim();
  const shipped = existsSync(join(extension, "node_modules")) ? readdirSync(join(extension, "node_modules")).sort().join(",") : "";
  check(
    "the unpacked bundle ships only better-sqlite3 (with bindings, file-uri-to-path) in node_modules, and none is above it",
    strayModules.length === 0 && inside === join(extension, "node_modules") && shipped === "better-sqlite3,bindings,file-uri-to-path",
    [...strayModules, inside, shipped].join(" "),
  );

  const manifest = JSON.parse(readFileSync(join(extension, "manifest.json"), "utf8"));
  const home = join(work, "home");
  mkdirSync(home);
  const auditLog = join(work, "audit", "audit.jsonl");
  const userConfig = { sudo_password: SECRET, bpftrace_path: process.env.BPFTRACE_PATH || "bpftrace", default_timeout: 5, max_timeout: 20, audit_log: auditLog };
  const launch = await getMcpConfigForManifest({ manifest, extensionPath: extension, systemDirs: { HOME: home }, userConfig, pathSeparator: "/" });
  check("Claude Desktop's substitution yields node on the bundle's own entry point", launch?.command === "node" && launch.args?.[0] === join(extension, manifest.server.entry_point), JSON.stringify(launch?.args));
  check("no ${...} placeholder is left for the server", !JSON.stringify(launch).includes("${"), JSON.stringify(launch));

  const transport = new StdioClientTransport({
    command: launch.command,
    args: launch.args,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, LOG_LEVEL: "debug", ...launch.env },
    cwd: "/",
    stderr: "pipe",
  });
  let serverLog = "";
  transport.stderr?.on("data", (chunk) => (serverLog += chunk.toString("utf8")));
  const client = new Client({ name: "mcpb-run", version: "1.0.0" });
  const started = Date.now();
  await client.connect(transport);
  check("initialize: the server answers as bpftrace-mcp-server", client.getServerVersion()?.name === "bpftrace-mcp-server", JSON.stringify(client.getServerVersion()));
  const { tools } = await client.listTools();
  const names = tools.map((tool) => tool.name).sort();
  check("tools/list: the manifest's tools", JSON.stringify(names) === JSON.stringify(manifest.tools.map((tool) => tool.name).sort()), names.join(","));
  say(`info - spawn to tools/list: ${Date.now() - started} ms`);
  const results = [];
  const call = async (name, args = {}) => {
    const result = await client.callTool({ name, arguments: args });
    results.push(JSON.stringify(result));
    return result;
  };
  const example = await call("get_example", { name: "file-opens" });
  check("get_example reads an example program shipped in the bundle", !example.isError && textOf(example).includes("sys_enter_openat"), textOf(example).slice(0, 200));

  if (!isRoot) {
    if (process.env.CI) check("a real trace needs root (CI runs this as root)", false);
    else say("skip - a real trace: not root (CI runs it as root with the real bpftrace)");
  } else {
    const marker = join(work, `m-${process.pid}`);
    writeFileSync(marker, "x");
    const program = `tracepoint:syscalls:sys_enter_openat /str(args->filename) == "${marker}"/ { printf("OPEN %s\\n", str(args->filename)); }`;
    const run = await call("exec_program", { program, timeout: 3 });
    if (check("exec_program starts a real trace from the bundle", !run.isError, textOf(run))) {
      const executionId = run.structuredContent.execution_id;
      await sleep(200);
      for (let attempt = 0; attempt < 10; attempt += 1) closeSync(openSync(marker, "r"));
      const holders = processesHolding(SECRET).map((where) => `${where} (${readFileSync(`/proc/${where.split("/")[0]}/cmdline`, "latin1").replaceAll("\0", " ").slice(0, 120)})`);
      check("while it runs, no process's argv or environment holds the sudo password", holders.length === 0, holders.join("; "));
      // get_result's long poll returns with new output; follow the run to its end.
      const lines = [];
      let done;
      for (let offset = 0, attempt = 0; attempt < 20; attempt += 1) {
        done = await call("get_result", { execution_id: executionId, offset, wait_seconds: 5, limit: 1000 });
        lines.push(...(done.structuredContent?.lines ?? []));
        offset = done.structuredContent?.next_offset ?? offset;
        if (done.structuredContent?.status !== "running") break;
      }
      check("the trace saw the marker file opened and ended at its timeout", done?.structuredContent?.status === "timed_out" && lines.includes(`OPEN ${marker}`), JSON.stringify({ ...done?.structuredContent, lines: lines.slice(0, 5) }).slice(0, 400));
    }
  }
  // The store's thread loads better-sqlite3 from the bundle's own node_modules.
  const database = join(home, ".local", "state", "bpftrace-mcp-server", "executions.db");
  check("executions are stored from the bundle (better-sqlite3 shipped in it)", existsSync(database), database);
  const info = await call("bpf_info");
  say(`info - bpf_info: privilege ${info.structuredContent?.privilege ?? "?"}; ${textOf(info).split("\n")[0]}`);
  await client.close();

  const doctor = JSON.parse(execFileSync("node", [join(extension, "dist", "index.js"), "doctor", "--json"], { encoding: "utf8", env: { PATH: process.env.PATH, HOME: home }, stdio: ["ignore", "pipe", "ignore"] }).toString() || "{}");
  const install = doctor.checks?.find((item) => item.id === "install");
  check("doctor, run from the bundle, says it is an MCP Bundle", /^an MCP Bundle \(manifest 0\.4, version /.test(install?.detail ?? ""), install?.detail);

  const audit = existsSync(auditLog) ? readFileSync(auditLog, "utf8") : "";
  check("the audit log went where the setting said", !isRoot || audit.includes('"event":"start"'), auditLog);
  const leaks = [["the server's log (debug)", serverLog], ["the tool results", results.join("\n")], ["the audit log", audit]].filter(([, text]) => text.includes(SECRET)).map(([where]) => where);
  check("the sudo password is in no log, result or audit record", leaks.length === 0, leaks.join(", "));
} catch (error) {
  check("the bundle run", false, error instanceof Error ? (error.stack ?? error.message) : String(error));
} finally {
  rmSync(work, { recursive: true, force: true });
}
say(failures === 0 ? "mcpb-run: ok" : `mcpb-run: ${failures} check(s) failed`);
process.exitCode = failures === 0 ? 0 : 1;
