import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// Three projects: fast unit tests, in-process integration (SDK client over InMemoryTransport),
// and tests that spawn the built server (e2e with a fake bpftrace; real with the real one).
export default defineConfig({
  test: {
    // The suites mostly wait (servers starting, traces ending, timeouts running out): on 2 cores they
    // used 30% of the CPU with 2 workers; 4 halve the wall time. The real suite runs one file at a time.
    maxWorkers: Math.max(4, availableParallelism()),
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { test: { name: "integration", include: ["test/integration/**/*.test.ts"], testTimeout: 20_000 } },
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 30_000 } },
      {
        test: {
          name: "real",
          include: ["test/real/**/*.test.ts", "test/reliability/**/*.test.ts", "test/security/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
