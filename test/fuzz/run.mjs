// Bigger differential runs than the test does: node test/fuzz/run.mjs [--count N] [--seed S]
//   [--bpftrace CMD]... (default: BPFTRACE_PATH or bpftrace, plus the CI chroot wrappers that exist)
//   [--policy-dir DIR] (a copy of src/policy to test instead, e.g. an older one) [--save]
// Node 20 cannot load TypeScript, so the fuzzer is bundled by esbuild (a dev dependency) first.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1000" },
    seed: { type: "string", default: "1" },
    bpftrace: { type: "string", multiple: true },
    "policy-dir": { type: "string" },
    save: { type: "boolean", default: false },
  },
});

const wrappers = ["trixie", "sid"].map((name) => `/var/cache/bpftrace-mcp-ci/bin/bpftrace-${name}`).filter((file) => existsSync(file));
const commands = (values.bpftrace ?? [process.env.BPFTRACE_PATH ?? "bpftrace", ...wrappers]).map((command) => command.split(" "));

const policyDir = values["policy-dir"] ? resolve(values["policy-dir"]) : null;
const entry = join(here, "entry.generated.ts");
writeFileSync(
  entry,
  `export * from "./policy-differential.js";\nexport { checkProgram } from ${JSON.stringify(policyDir ? join(policyDir, "index.ts") : "../../src/policy/index.js")};\n`,
);
const out = mkdtempSync(join(tmpdir(), "policy-fuzz-"));
try {
  await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: join(out, "fuzz.mjs"), logLevel: "error" });
  const fuzz = await import(pathToFileURL(join(out, "fuzz.mjs")).href);
  const found = [];
  for (const command of commands) {
    const started = Date.now();
    const figures = await fuzz.runDifferential({ command, checkProgram: fuzz.checkProgram, seed: Number(values.seed), count: Number(values.count) });
    for (const { program, differences } of figures.disagreements) {
      process.stdout.write(`--- disagreement (${figures.version}): ${differences.join("; ")}\n${program}\n`);
    }
    process.stdout.write(`${fuzz.summary(figures)} (${command.join(" ")}, ${Date.now() - started} ms)\n`);
    found.push(...figures.disagreements);
  }
  if (values.save && found.length > 0) {
    const file = join(here, "disagreements.json");
    const kept = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : [];
    const known = new Set(kept.map((entry) => entry.program));
    for (const disagreement of found) {
      if (known.has(disagreement.program)) continue;
      kept.push(disagreement);
      known.add(disagreement.program);
    }
    writeFileSync(file, `${JSON.stringify(kept, null, 2)}\n`);
    process.stdout.write(`kept ${kept.length} disagreements in ${file}\n`);
  }
  process.exitCode = found.length > 0 ? 1 : 0;
} finally {
  rmSync(out, { recursive: true, force: true });
  rmSync(entry, { force: true });
}
