import { startServer, structured, waitForEnd } from "./lib/mcp-server.mjs";
import { setTimeout as sleep } from "node:timers/promises";
const s = await startServer({ probe: "gc", env: { BPFTRACE_MCP_RETENTION_SECONDS: "1", BPFTRACE_MCP_CLEANUP_INTERVAL_SECONDS: "1" } });
const P = 'BEGIN { printf("x\\n"); exit(); }\n';
async function read(label) { await sleep(2500); const r = await s.readProbe(); const m = (b) => (b / 1048576).toFixed(2); console.log(label, "rss", (s.rssKb() / 1024).toFixed(1), "heapUsed", m(r.memory.heapUsed)); }
for (let n = 0; n < 3000; n += 4) {
  const st = await Promise.all([0, 1, 2, 3].map(() => s.call("exec_program", { program: P, timeout: 10 })));
  await Promise.all(st.map((r) => waitForEnd(s, structured(r).execution_id)));
  if ((n + 4) % 250 === 0) await read(`after ${n + 4}`);
}
await s.close();
