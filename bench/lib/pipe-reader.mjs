// The throughput baseline: a minimal reader in its own node process, as the server is. It spawns
// bpftrace as the server does (same argv and cwd; its parent gives it the server's child
// environment, passed on unchanged), counts '\n' bytes on stdout, counts the flood programs'
// "line " prefixes, sums bpftrace's own "Lost N events" reports, ends the trace with SIGINT
// `durationMs` after bpftrace reports its probes attached (as the server's deadline does), and
// prints one JSON line. Usage: node pipe-reader.mjs <bpftrace> <durationMs> <program>
import { spawn } from "node:child_process";
import process from "node:process";

const [bpftraceFile, durationText, program] = process.argv.slice(2);
const NEWLINE = Buffer.from("\n");
const LOST = Buffer.from("Lost ");
const PRINTF = Buffer.from("line ");
// "Attaching N probes..." on stdout before 0.24, "Attached N probes" on stderr after.
const ATTACH = Buffer.from("Attach");

const counts = { chunks: 0, lines: 0, printfLines: 0, lostEvents: 0, lostReports: 0, stderrLines: 0 };
let tail = Buffer.alloc(0);
let deadline = null;

/** Occurrences of `needle` in `chunk`, by native search (a pattern split across two reads is missed, rarely). */
function countOf(chunk, needle) {
  let count = 0;
  for (let index = chunk.indexOf(needle); index !== -1; index = chunk.indexOf(needle, index + needle.length)) count += 1;
  return count;
}

// CPU used from here on: the reading, not node's own start.
const cpuAtSpawn = process.cpuUsage();
const child = spawn(bpftraceFile, ["-e", program], { cwd: "/", env: process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
const startDeadline = (chunk) => {
  if (deadline === null && chunk.indexOf(ATTACH) !== -1) deadline = setTimeout(() => child.kill("SIGINT"), Number(durationText));
};
child.stdout.on("data", (chunk) => {
  counts.chunks += 1;
  startDeadline(chunk);
  counts.lines += countOf(chunk, NEWLINE);
  counts.printfLines += countOf(chunk, PRINTF);
  for (let index = chunk.indexOf(LOST); index !== -1; index = chunk.indexOf(LOST, index + LOST.length)) {
    counts.lostReports += 1;
    counts.lostEvents += Number.parseInt(chunk.toString("latin1", index + LOST.length, Math.min(chunk.length, index + 25)), 10) || 0;
  }
  tail = chunk.length >= 512 ? chunk.subarray(chunk.length - 512) : Buffer.concat([tail, chunk]).subarray(-512);
});
child.stderr.on("data", (chunk) => {
  startDeadline(chunk);
  counts.stderrLines += countOf(chunk, NEWLINE);
});
// bpftrace runs in its own process group: pass an interrupt of the bench on, or it would outlive us.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill("SIGINT"));
child.on("close", (exitCode, signal) => {
  if (deadline !== null) clearTimeout(deadline);
  process.stdout.write(`${JSON.stringify({ cpu: process.cpuUsage(cpuAtSpawn), ...counts, exitCode, signal, tail: tail.toString("latin1") })}\n`);
});
