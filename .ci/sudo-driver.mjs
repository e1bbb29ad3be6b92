// Driven by .ci/sudo-e2e.sh as the unprivileged CI user: starts the built server through the MCP SDK
// client, exactly as an MCP client would, and checks what it does when bpftrace needs sudo.
// It never sees a password: each server reads its own from a 0600 .env file given with --env.
// With --bundle, --app is an unpacked MCP Bundle and the driver plays Claude Desktop: it reads the
// settings a user would type in (BPFTRACE_PASSWD, the audit log) from that same 0600 file, and starts
// the manifest's entry point with them substituted by mcpb's getMcpConfigForManifest, so the password
// reaches the server in its environment, as Claude Desktop passes it.
//
//   node sudo-driver.mjs <password|wrong-password|nopasswd|nopasswd-removed> --app DIR --env FILE --out DIR --sync DIR --run-id ID --user NAME [--bundle]
//
// Prints one line per check ("ok - …" / "FAIL - …") and "info - …" lines with timings; exits 1 on any failure.
import { randomBytes } from "node:crypto";
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import dotenv from "dotenv";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const { positionals, values: options } = parseArgs({
  allowPositionals: true,
  options: {
    app: { type: "string" },
    env: { type: "string" },
    out: { type: "string" },
    sync: { type: "string" },
    "run-id": { type: "string" },
    user: { type: "string" },
    bundle: { type: "boolean" },
  },
});
const mode = positionals[0];
for (const name of ["app", "env", "out", "sync", "run-id", "user"]) {
  if (!options[name]) throw new Error(`--${name} is required`);
}
const SERVER_ENTRY = join(options.app, "dist", "index.js");
const REJECTED = `sudo rejected BPFTRACE_PASSWD for user ${options.user}`;
const PASSWORD_REQUIRED = `sudo needs a password for user ${options.user} and BPFTRACE_PASSWD is not set`;

let failures = 0;
const say = (line) => process.stdout.write(`${line}\n`);
const check = (name, passed, detail = "") => {
  if (!passed) failures += 1;
  say(`${passed ? "ok" : "FAIL"} - ${name}${!passed && detail ? `: ${detail}` : ""}`);
  return passed;
};
const info = (line) => say(`info - ${line}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const textOf = (result) => (result.content?.[0]?.type === "text" ? result.content[0].text : "");
const newMarker = (label) => `${options["run-id"]}-${label}-${randomBytes(4).toString("hex")}`;

async function waitFor(condition, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(intervalMs);
  }
  return condition();
}

/** Live processes (any user) whose command line contains `marker`: sudo and the root bpftrace included. */
function processesWith(marker) {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker)) continue;
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${entry}/status`, "utf8"))) continue;
      found.push(`${entry}:${readFileSync(`/proc/${entry}/comm`, "utf8").trim()}`);
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}

/** Spawns `node dist/index.js --env FILE` as an MCP client does; its stderr (JSON logs) goes to a file. */
/** The server's command line and environment: ours with --env, or the bundle's as Claude Desktop builds them. */
async function launchOf() {
  const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/" };
  if (!options.bundle) return { command: process.execPath, args: [SERVER_ENTRY, "--env", options.env], env: base };
  const manifest = JSON.parse(readFileSync(join(options.app, "manifest.json"), "utf8"));
  const typedIn = dotenv.parse(readFileSync(options.env));
  const userConfig = { sudo_password: typedIn.BPFTRACE_PASSWD ?? "", audit_log: typedIn.BPFTRACE_MCP_AUDIT_LOG ?? "" };
  const launch = await getMcpConfigForManifest({ manifest, extensionPath: options.app, systemDirs: { HOME: base.HOME }, userConfig, pathSeparator: "/" });
  return { command: launch.command, args: launch.args, env: { ...base, LOG_LEVEL: typedIn.LOG_LEVEL ?? "info", ...launch.env } };
}

async function startServer(label) {
  const launch = await launchOf();
  const transport = new StdioClientTransport({ ...launch, cwd: options.app, stderr: "pipe" });
  const log = createWriteStream(join(options.out, `server-${label}.log`));
  transport.stderr?.pipe(log);
  const client = new Client({ name: "bpftrace-mcp-sudo-e2e", version: "1.0.0" });
  await client.connect(transport);
  const pid = transport.pid;
  const call = async (name, args = {}) => {
    const started = Date.now();
    const result = await client.callTool({ name, arguments: args });
    return { result, text: textOf(result), structured: result.structuredContent ?? {}, ms: Date.now() - started };
  };
  const close = async () => {
    await client.close();
    const gone = await waitFor(() => !existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8")), 5_000);
    check(`${label}: the server exits when its client disconnects`, gone);
  };
  return { call, close, pid };
}

// get_result pages carry lines as strings, the indexes of bpftrace's own (stderr) lines apart; every
// page here asks for map printings as text and no character bound short of 10,000 lines.
const RAW = { raw_maps: true, max_chars: 2_000_000 };

/** A page's lines as { stream, text }. */
function pageLines(structured) {
  const stderr = new Set(structured.stderr ?? []);
  return (structured.lines ?? []).map((text, index) => ({ stream: stderr.has(index) ? "stderr" : "stdout", text }));
}

/** Follows an execution until it ends; returns its final summary and every line's text. */
async function followToEnd(server, executionId) {
  const texts = [];
  let offset = 0;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { structured } = await server.call("get_result", { execution_id: executionId, offset, wait_seconds: 5, limit: 10_000, ...RAW });
    texts.push(...pageLines(structured).map((line) => line.text));
    offset = structured.next_offset;
    if (structured.status !== "running") return { ...structured, texts };
  }
  return { status: "still running after 60 s", texts };
}

async function linesOf(server, executionId, waitSeconds = 0) {
  const { structured } = await server.call("get_result", { execution_id: executionId, wait_seconds: waitSeconds, limit: 10_000, ...RAW });
  return pageLines(structured);
}

/** Hands control to the root side (the shell script) and waits until it has scanned /proc. */
async function askRootToScan(marker) {
  const request = join(options.sync, "scan-request");
  writeFileSync(`${request}.tmp`, marker);
  renameSync(`${request}.tmp`, request);
  const scanned = await waitFor(() => existsSync(join(options.sync, "scan-done")), 30_000);
  check("the root side scanned /proc while the trace ran", scanned);
}

/** sudo with BPFTRACE_PASSWD: trace, snapshot, stop, deadline, and nothing left behind. */
async function passwordMode() {
  const server = await startServer("password");
  const bpfInfo = await server.call("bpf_info");
  check("bpf_info reports privilege sudo-password", bpfInfo.structured.privilege === "sudo-password", bpfInfo.text.slice(0, 300));
  info(`bpf_info (first sudo: --version then --info) took ${bpfInfo.ms} ms`);

  const marker = newMarker("openat");
  // Short: bpftrace 0.17 compares only the first 63 bytes of str().
  const markerFile = join(options.out, `m-${randomBytes(4).toString("hex")}`);
  writeFileSync(markerFile, "x");
  const program = [
    `// ${marker}`,
    `tracepoint:syscalls:sys_enter_openat /str(args->filename) == "${markerFile}"/ { @opens = count(); printf("OPEN %s %s\\n", comm, str(args->filename)); }`,
    'END { printf("END-RAN\\n"); }',
  ].join("\n");
  const started = await server.call("exec_program", { program, timeout: 30 });
  if (!check("exec_program starts an openat trace through sudo", !started.result.isError, started.text)) return server.close();
  const executionId = started.structured.execution_id;
  info(`exec_program returned after ${started.ms} ms (sudo -S, compile, attach)`);
  // bpftrace counts END as a probe: openat + END (the server subtracts its own deadline guard).
  check("the 'Attaching N probes' line was recognised: 2 probes counted", started.structured.attached_probes === 2, JSON.stringify(started.structured));

  // "Attaching" is printed just before the attach completes: open until the probe sees it.
  const opened = await waitFor(async () => {
    closeSync(openSync(markerFile, "r"));
    return (await linesOf(server, executionId, 0.3)).some((line) => line.text.startsWith("OPEN ") && line.text.endsWith(` ${markerFile}`));
  }, 10_000, 50);
  const firstLines = await linesOf(server, executionId);
  check("the driver's open of the marker file shows up on stdout", opened && firstLines.some((line) => line.stream === "stdout" && line.text.includes(markerFile)), JSON.stringify(firstLines.slice(0, 5)));
  check("no sudo or bpftrace noise is mixed into the output", firstLines.every((line) => !/^(?:Attaching|sudo:|\[sudo\]|Password)/.test(line.text)), JSON.stringify(firstLines.slice(0, 5)));

  await askRootToScan(marker);

  const snapshotStarted = Date.now();
  const snapshot = await server.call("get_result", { execution_id: executionId, snapshot_maps: true, limit: 10_000, ...RAW });
  const snapshotMap = pageLines(snapshot.structured).some((line) => /^@opens: \d+$/.test(line.text));
  check("snapshot_maps: SIGUSR1 relayed by sudo makes bpftrace print its maps while running", snapshot.structured.snapshot === "requested" && snapshotMap && snapshot.structured.status === "running", JSON.stringify(snapshot.structured).slice(0, 400));
  info(`snapshot_maps (SIGUSR1 through sudo) answered in ${Date.now() - snapshotStarted} ms`);

  const stopped = await server.call("stop_execution", { execution_id: executionId });
  check("stop_execution: SIGINT relayed by sudo ends the trace cleanly", stopped.structured.status === "stopped" && stopped.structured.exit_code === 0, JSON.stringify(stopped.structured));
  info(`stop_execution took ${stopped.ms} ms; exit code ${stopped.structured.exit_code}, signal ${stopped.structured.exit_signal}`);
  const afterStop = (await linesOf(server, executionId)).map((line) => line.text);
  check("END ran and the maps printed after the stop", afterStop.includes("END-RAN") && afterStop.filter((text) => /^@opens: \d+$/.test(text)).length >= 2, JSON.stringify(afterStop.slice(-6)));
  const leftover = await waitFor(() => processesWith(marker).length === 0, 5_000);
  check("no sudo or bpftrace is left after the stop", leftover, processesWith(marker).join(", "));

  const deadlineMarker = newMarker("deadline");
  const deadlineRun = await server.call("exec_program", { program: `// ${deadlineMarker}\ninterval:ms:500 { printf("tick\\n"); }`, timeout: 2 });
  const deadlineEnd = deadlineRun.result.isError ? { status: deadlineRun.text } : await followToEnd(server, deadlineRun.structured.execution_id);
  check("a 2 s timeout ends the trace through sudo as timed_out, exit 0", deadlineEnd.status === "timed_out" && deadlineEnd.exit_code === 0, JSON.stringify({ ...deadlineEnd, lines: undefined, texts: deadlineEnd.texts.slice(-3) }));
  info(`the 2 s trace lasted ${deadlineEnd.duration_ms} ms`);
  check("no process is left after the deadline", await waitFor(() => processesWith(deadlineMarker).length === 0, 5_000), processesWith(deadlineMarker).join(", "));

  const listed = await server.call("list_executions");
  check("list_executions shows nothing running", listed.structured.running === 0, listed.text);
  await server.close();
}

/** A wrong BPFTRACE_PASSWD: one clear error, then the same error without asking sudo again. */
async function wrongPasswordMode() {
  const server = await startServer("wrong-password");
  const program = 'BEGIN { printf("never\\n"); exit(); }';
  const first = await server.call("exec_program", { program });
  check("exec_program fails with SUDO_REJECTED naming the user", first.result.isError === true && first.text.startsWith("SUDO_REJECTED: ") && first.text.includes(REJECTED), first.text);
  info(`first exec_program (one sudo attempt) took ${first.ms} ms`);
  const second = await server.call("exec_program", { program });
  check("a second exec_program gives the same error", second.result.isError === true && second.text === first.text, second.text);
  check("... without calling sudo again (answers in under 500 ms)", second.ms < 500, `${second.ms} ms`);
  info(`second exec_program took ${second.ms} ms`);
  for (const [tool, args] of [["bpf_info", {}], ["list_probes", { filter: "tracepoint:syscalls:sys_enter_openat" }], ["validate_program", { program }]]) {
    const result = await server.call(tool, args);
    check(`${tool} gives the same error without sudo (${result.ms} ms)`, result.result.isError === true && result.text.includes(REJECTED) && result.ms < 500, result.text);
  }
  await server.close();
}

/** A NOPASSWD rule and no BPFTRACE_PASSWD: sudo -n works. */
async function nopasswdMode() {
  const server = await startServer("nopasswd");
  const bpfInfo = await server.call("bpf_info");
  check("bpf_info reports privilege sudo-nopasswd", bpfInfo.structured.privilege === "sudo-nopasswd", bpfInfo.text.slice(0, 300));
  const marker = newMarker("nopasswd");
  const started = await server.call("exec_program", { program: `// ${marker}\ninterval:ms:100 { printf("tick\\n"); @ticks = count(); }`, timeout: 20 });
  if (!check("exec_program starts a trace through sudo -n", !started.result.isError, started.text)) return server.close();
  info(`exec_program (sudo -n) returned after ${started.ms} ms`);
  const ticked = await waitFor(async () => (await linesOf(server, started.structured.execution_id, 1)).some((line) => line.text === "tick"), 5_000);
  check("its output arrives", ticked);
  const stopped = await server.call("stop_execution", { execution_id: started.structured.execution_id });
  const texts = (await linesOf(server, started.structured.execution_id)).map((line) => line.text);
  check("stop_execution ends it cleanly with its maps", stopped.structured.status === "stopped" && stopped.structured.exit_code === 0 && texts.some((text) => /^@ticks: \d+$/.test(text)), JSON.stringify(stopped.structured));
  check("no sudo or bpftrace is left", await waitFor(() => processesWith(marker).length === 0, 5_000), processesWith(marker).join(", "));
  await server.close();
}

/** The NOPASSWD rule removed: a clear SUDO_PASSWORD_REQUIRED. */
async function nopasswdRemovedMode() {
  const server = await startServer("nopasswd-removed");
  const result = await server.call("exec_program", { program: 'BEGIN { exit(); }' });
  check("exec_program fails with SUDO_PASSWORD_REQUIRED naming the user", result.result.isError === true && result.text.startsWith("SUDO_PASSWORD_REQUIRED: ") && result.text.includes(PASSWORD_REQUIRED), result.text);
  check("... and says how to fix it", /BPFTRACE_PASSWD/.test(result.text) && /NOPASSWD/.test(result.text), result.text);
  info(`SUDO_PASSWORD_REQUIRED came back in ${result.ms} ms`);
  await server.close();
}

const MODES = { password: passwordMode, "wrong-password": wrongPasswordMode, nopasswd: nopasswdMode, "nopasswd-removed": nopasswdRemovedMode };
if (!MODES[mode]) throw new Error(`unknown mode '${mode}' (${Object.keys(MODES).join(", ")})`);
mkdirSync(options.out, { recursive: true });
const startedAt = Date.now();
await MODES[mode]();
info(`${failures === 0 ? "all checks passed" : `${failures} check(s) failed`} in ${Date.now() - startedAt} ms`);
process.exitCode = failures === 0 ? 0 : 1;
