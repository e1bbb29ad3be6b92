// What the figures were measured on, printed first: they mean little without it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import process from "node:process";
import { busyShare, cpuTimes } from "./processes.mjs";

function cpuModel() {
  const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return match?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown CPU";
}

function bpftraceVersion(bpftraceFile) {
  try {
    return execFileSync(bpftraceFile, ["--version"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    return "bpftrace: version unknown";
  }
}

/** CPU, cores, RAM, kernel, bpftrace and node versions, and how busy the machine was before we started. */
export async function describeMachine(bpftraceFile) {
  const before = cpuTimes();
  await sleep(1_000);
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    ramGb: totalmem() / 1024 ** 3,
    kernel: release(),
    bpftrace: bpftraceVersion(bpftraceFile),
    node: process.version,
    backgroundBusy: busyShare(before, cpuTimes()),
    loadAverage: loadavg()[0],
  };
}

/** One line, as printed above the table. */
export function machineLine(machine) {
  return (
    `${machine.cpu}, ${machine.cores} cores, ${machine.ramGb.toFixed(0)} GB RAM, Linux ${machine.kernel}, ${machine.bpftrace}, node ${machine.node}` +
    ` (before start: ${(machine.backgroundBusy * 100).toFixed(0)}% CPU busy, load ${machine.loadAverage.toFixed(2)})`
  );
}
