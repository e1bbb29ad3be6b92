// The throughput baseline: a minimal reader in its own node process, as the server is. It spawns
// bpftrace like the server does (same argv, env and cwd), counts '\n' bytes on its stdout, sums
// bpftrace's own "Lost N events" reports, ends the trace with SIGINT after the given time, and
// prints one JSON line. The "line " count is only right for the bench's flood programs. Usage: node pipe-reader.mjs <bpftrace> <durationMs> <program>
import { spawn } from "node:child_process";
import process from "node:process";

const [bpftraceFile, durationText, program] = process.argv.slice(2);
const NEWLINE = 10;
const LOST = Buffer.from("Lost ");
// The bench's flood programs start every printf line with this; counted with the same native search.
const PRINTF = Buffer.from("line ");

let lines = 0;
let printfLines = 0;
let chunks = 0;
let lostEvents = 0;
let lostReports = 0;
let tail = Buffer.alloc(0);
let stderrLines = 0;
// CPU used from here on: the reading, not node's own start.
const cpuAtSpawn = process.cpuUsage();
const child = spawn(bpftraceFile, ["-e", program], {
  cwd: "/",
  env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C", LC_ALL: "C" },
  stdio: ["ignore", "pipe", "pipe"],
  detached: true,
});
child.stdout.on("data", (chunk) => {
  chunks += 1;
  startDeadline(chunk);
  for (let index = chunk.indexOf(NEWLINE); index !== -1; index = chunk.indexOf(NEWLINE, index + 1)) lines += 1;
  for (let index = chunk.indexOf(PRINTF); index !== -1; index = chunk.indexOf(PRINTF, index + 5)) printfLines += 1;
  // "Lost N events" lines are rare next to the output itself; a native search finds them cheaply.
  for (let index = chunk.indexOf(LOST); index !== -1; index = chunk.indexOf(LOST, index + 5)) {
    lostReports += 1;
    lostEvents += Number.parseInt(chunk.toString("latin1", index + 5, Math.min(chunk.length, index + 25)), 10) || 0;
  }
  tail = chunk.length >= 512 ? chunk.subarray(chunk.length - 512) : Buffer.concat([tail, chunk]).subarray(-512);
});
child.stderr.on("data", (chunk) => {
  startDeadline(chunk);
  for (let index = chunk.indexOf(NEWLINE); index !== -1; index = chunk.indexOf(NEWLINE, index + 1)) stderrLines += 1;
});
// The server's deadline runs from the moment bpftrace reports its probes attached: do the same.
const ATTACH = Buffer.from("Attach");
let timer = null;
const startDeadline = (chunk) => {
  if (timer === null && chunk.indexOf(ATTACH) !== -1) timer = setTimeout(() => child.kill("SIGINT"), Number(durationText));
};
// bpftrace runs in its own process group: pass an interrupt of the bench on, or it would outlive us.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill("SIGINT"));
child.on("close", (exitCode, signal) => {
  if (timer !== null) clearTimeout(timer);
  process.stdout.write(`${JSON.stringify({ cpu: process.cpuUsage(cpuAtSpawn), chunks, lines, printfLines, lostEvents, lostReports, stderrLines, exitCode, signal, tail: tail.toString("latin1") })}\n`);
});
