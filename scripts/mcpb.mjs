// `npm run bundle` (after the build): the MCP Bundle (.mcpb) that Claude Desktop installs with one
// click, packed by @anthropic-ai/mcpb's own `mcpb pack` from a folder holding only what runs:
// manifest.json, package.json (for "type": "module" and the version), the bundled entry
// dist/index.js with its dist/index-*.js chunks (they carry the production dependencies), tsc's
// module tree that the worker threads load (the policy gate's, the SQLite store's), the one native
// package those need (better-sqlite3, built for the Node that packs it; where the host's Node cannot
// load it the server keeps executions in memory and says so), the example programs and the licences.
//
//   node scripts/mcpb.mjs [--out FILE]     default: ./bpftrace-mcp-server-<version>.mcpb
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DIST = join(ROOT, "dist");
const MCPB = join(ROOT, "node_modules", ".bin", "mcpb");

function fail(message) {
  process.stderr.write(`mcpb: ${message}\n`);
  process.exit(1);
}

// Worker threads are started from files of tsc's tree (new Worker(new URL(...))), outside the bundle.
const WORKERS = ["executions/gate-worker.js", "storage/sqlite-worker.js"];
// Native packages the workers may import; anything else left outside a bundle is refused.
const NATIVE = new Set(["better-sqlite3"]);
// Dependencies used only while installing (fetching a prebuilt binary), never at run time.
const INSTALL_ONLY = new Set(["prebuild-install"]);

/** Packages `entries` still import at run time (left outside the esbuild bundle). */
async function runtimePackages(entries) {
  const result = await build({
    entryPoints: entries.map((entry) => join(DIST, entry)),
    bundle: true,
    write: false,
    splitting: true,
    format: "esm",
    platform: "node",
    packages: "external",
    metafile: true,
    outdir: join(tmpdir(), "mcpb-analysis"),
    logLevel: "silent",
  });
  const builtins = new Set(builtinModules);
  const imported = Object.values(result.metafile.outputs).flatMap((output) => output.imports.filter((item) => item.external).map((item) => item.path));
  return [...new Set(imported)].filter((path) => !path.startsWith("node:") && !builtins.has(path.split("/")[0] ?? path)).sort();
}

/** package.json as the bundle needs it: what `node` and the server read (type, name, version), nothing to install. */
function runtimePackageJson(pkg) {
  const { name, version, description, type, license, bin, engines } = pkg;
  return `${JSON.stringify({ name, version, description, type, license, bin, engines }, null, 2)}\n`;
}

const { values } = parseArgs({ options: { out: { type: "string" } } });
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const manifest = JSON.parse(readFileSync(join(ROOT, "manifest.json"), "utf8"));
if (manifest.version !== pkg.version) fail(`manifest.json says version ${manifest.version}, package.json ${pkg.version}: give both the same`);
if (!existsSync(join(DIST, "index.js"))) fail("dist/index.js is missing: npm run build first (npm run bundle does)");
const external = await runtimePackages(["index.js"]);
if (external.length > 0) fail(`dist/index.js imports ${external.join(", ")} at run time; the bundle ships only the native packages in node_modules, so bundle them (scripts/bundle.mjs)`);
const workerPackages = await runtimePackages(WORKERS);
const unexpected = workerPackages.filter((name) => !NATIVE.has(name));
if (unexpected.length > 0) fail(`the worker threads import ${unexpected.join(", ")} at run time: add them to NATIVE in scripts/mcpb.mjs if they must ship as files`);

/** The package and the packages it depends on, by folder in node_modules (dependency closure). */
function packageClosure(name, seen = new Set()) {
  if (seen.has(name) || INSTALL_ONLY.has(name)) return seen;
  seen.add(name);
  const manifestOf = JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8"));
  for (const dependency of Object.keys(manifestOf.dependencies ?? {})) packageClosure(dependency, seen);
  return seen;
}

// What a package needs at run time: no sources it was compiled from, no build leftovers but the addon.
const runtimeFile = (path) => !/(^|\/)(deps|src|test|tests|docs|benchmark)(\/|$)/.test(path) && (!/(^|\/)build\//.test(path) || /build\/Release\/[^/]+\.node$/.test(path) || /\/build$/.test(path) || /\/build\/Release$/.test(path));

const output = resolve(values.out ?? join(ROOT, `${pkg.name}-${pkg.version}.mcpb`));
const stage = mkdtempSync(join(tmpdir(), "bpftrace-mcpb-"));
try {
  copyFileSync(join(ROOT, "manifest.json"), join(stage, "manifest.json"));
  writeFileSync(join(stage, "package.json"), runtimePackageJson(pkg));
  for (const doc of ["README.md", "SECURITY.md"]) copyFileSync(join(ROOT, doc), join(stage, doc));
  mkdirSync(join(stage, "dist", "examples"), { recursive: true });
  // The bundle, its chunks and tsc's module tree (what the workers load), without source maps.
  cpSync(DIST, join(stage, "dist"), { recursive: true, filter: (path) => !path.endsWith(".map") });
  for (const name of [...new Set(workerPackages.flatMap((root) => [...packageClosure(root)]))]) {
    const from = join(ROOT, "node_modules", name);
    cpSync(from, join(stage, "node_modules", name), { recursive: true, filter: (path) => path === from || runtimeFile(path.slice(from.length)) });
  }
  execFileSync(MCPB, ["pack", stage, output], { stdio: ["ignore", "inherit", "inherit"] });
} finally {
  rmSync(stage, { recursive: true, force: true });
}
process.stdout.write(`mcpb: ${output} (${(statSync(output).size / 1024).toFixed(0)} KiB)\n`);
