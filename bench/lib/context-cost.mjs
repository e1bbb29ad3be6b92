// Figure 7: what answering a question costs an assistant's context. The bench starts a workload
// with a known culprit (its own command name and PID), then answers a user's question about it
// with the recommended workflow (list_examples with the question's words, exec_program the best
// example by name, get_result until="end") through a real MCP client, counting the calls and the
// characters each call adds to the context, and checks the answer names the culprit.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import process from "node:process";
import { z } from "zod";
import { startServer, structured } from "./mcp-server.mjs";
import { killSurvivors, own } from "./processes.mjs";

/** How long each trace runs: the instructions say 3-10 s. */
const TRACE_SECONDS = 3;
const PASSTHROUGH = z.object({}).passthrough();

/**
 * The workloads: a program named for the bench (a symlink, so the kernel's comm is that name), the
 * user's question, and what a right answer's top map entry holds.
 */
function workloads(dir) {
  const missing = join(dir, "no-such-file");
  return [
    {
      name: "missing-file",
      comm: "bench-opener",
      runs: "node",
      code: `const fs = require("fs"); setInterval(() => { for (let i = 0; i < 20; i++) { try { fs.openSync(${JSON.stringify(missing)}); } catch {} } }, 5);`,
      question: "Which process keeps failing to open a file that does not exist, and which file?",
      right: (entry, pid) => entry.key[0] === "bench-opener" && entry.key[1] === pid && entry.key.includes(missing),
    },
    {
      name: "fsync-loop",
      comm: "bench-fsyncer",
      runs: "node",
      code: `const fs = require("fs"); const fd = fs.openSync(${JSON.stringify(join(dir, "synced"))}, "w"); setInterval(() => { fs.writeSync(fd, "x"); fs.fsyncSync(fd); }, 2);`,
      question: "Which process keeps calling fsync?",
      right: (entry, pid) => entry.key[0] === "bench-fsyncer" && entry.key[1] === pid,
    },
    {
      name: "cpu-burner",
      comm: "bench-burner",
      runs: "node",
      code: "for (;;) { Math.sqrt(Math.random()); }",
      question: "Which process is using the most CPU time?",
      right: (entry, pid) => entry.key[0] === "bench-burner" && entry.key[1] === pid,
    },
    {
      name: "spawner",
      comm: "bench-spawner",
      runs: "bash",
      code: "while :; do /bin/true; sleep 0.01; done",
      question: "Who spawns short-lived processes?",
      right: (entry, pid) => entry.key[0] === "bench-spawner" && entry.key[1] === pid,
    },
    {
      name: "failing-syscall",
      comm: "bench-failer",
      runs: "node",
      code: `const fs = require("fs"); setInterval(() => { for (let i = 0; i < 50; i++) { try { fs.closeSync(987654); } catch {} } }, 2);`,
      question: "Which process has failing system calls, and which call fails?",
      right: (entry, pid) => entry.key[0] === "bench-failer" && entry.key[1] === pid && entry.key.includes("close") && entry.key.includes("EBADF"),
    },
    {
      name: "dns-loop",
      comm: "bench-resolver",
      runs: "node",
      code: `const dns = require("dns"); const again = () => dns.lookup("localhost", () => setTimeout(again, 5)); again();`,
      question: "Which process keeps looking up host names (DNS), and which names?",
      // The lookups run on libuv's thread pool: the thread's name may differ, the PID is the process's.
      right: (entry, pid) => entry.key[1] === pid && entry.key.includes("localhost"),
    },
  ];
}

/** Starts a workload under its bench name; resolves with its child once it has had a moment to get going. */
async function startWorkload(dir, workload) {
  const link = join(dir, workload.comm);
  symlinkSync(workload.runs === "node" ? process.execPath : "/bin/bash", link);
  const args = workload.runs === "node" ? ["-e", workload.code] : ["-c", workload.code];
  const child = spawn(link, args, { stdio: "ignore", cwd: dir });
  own(child);
  await sleep(300);
  if (child.exitCode !== null) throw new Error(`workload ${workload.name} exited early (${child.exitCode})`);
  return child;
}

/** Characters a call adds to an assistant's context: the arguments it wrote and the whole result (text and structured). */
function charsOf(args, result) {
  return JSON.stringify(args).length + JSON.stringify(result.content ?? []).length + JSON.stringify(result.structuredContent ?? {}).length;
}

/** Answers one question with the recommended workflow; returns the calls, their cost and whether the answer is right. */
async function answer(server, workload, pid) {
  const calls = [];
  const call = async (tool, args) => {
    const result = await server.call(tool, args);
    calls.push({ tool, chars: charsOf(args, result) });
    return structured(result);
  };
  const found = await call("list_examples", { query: workload.question });
  const example = found.examples[0]?.name;
  if (!example) return { calls, example: null, right: false, detail: "no example found" };
  const started = await call("exec_program", { example, timeout: TRACE_SECONDS });
  const result = await call("get_result", { execution_id: started.execution_id, until: "end" });
  // Right: the top entry of one of the maps is the culprit (with what the question asked about).
  const tops = result.maps.map((map) => ({ map: map.name, entry: map.entries[0] })).filter(({ entry }) => entry !== undefined);
  const hit = tops.find(({ entry }) => workload.right(entry, pid));
  const detail = hit ? `${hit.map}[${hit.entry.key.map((part) => (Array.isArray(part) ? "<stack>" : String(part))).join(", ")}]` : `top entries: ${tops.map(({ map, entry }) => `${map}[${entry.key.join(", ")}]`).join("; ") || "none"}`;
  return { calls, example, status: result.status, right: hit !== undefined, detail };
}

/** Figure 7: per-turn cost, and for each workload's question the calls, characters and whether the answer was right. */
export async function measureContextCost({ log }) {
  const dir = mkdtempSync(join(tmpdir(), "bench-context-"));
  const server = await startServer();
  const children = [];
  try {
    const listing = await server.client.request({ method: "tools/list", params: {} }, PASSTHROUGH);
    const perTurn = JSON.stringify(listing).length + JSON.stringify(server.client.getInstructions() ?? "").length;
    log(`context cost: tools/list + instructions ${perTurn} characters`);
    const questions = [];
    for (const workload of workloads(dir)) {
      const child = await startWorkload(dir, workload);
      children.push(child.pid);
      try {
        const outcome = await answer(server, workload, child.pid);
        const chars = outcome.calls.reduce((sum, call) => sum + call.chars, 0);
        log(`context cost: ${workload.name}: ${outcome.example ?? "-"}, ${outcome.calls.length} calls, ${chars} chars, ${outcome.right ? "right" : "WRONG"} (${outcome.detail})`);
        questions.push({ workload: workload.name, question: workload.question, ...outcome, chars });
      } finally {
        child.kill("SIGKILL");
        await killSurvivors([child.pid], 1_000);
      }
    }
    return { perTurn, traceSeconds: TRACE_SECONDS, questions };
  } finally {
    await server.close();
    await killSurvivors(children, 1_000);
    rmSync(dir, { recursive: true, force: true });
  }
}
