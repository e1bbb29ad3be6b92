// `npm run bundle` (after the build): the MCP Bundle (.mcpb) that Claude Desktop installs with one
// click, packed by @anthropic-ai/mcpb's own `mcpb pack` from a folder holding only what runs:
// manifest.json, package.json (for "type": "module" and the version), the bundled entry
// dist/index.js with its dist/index-*.js chunks (they carry the production dependencies, so the
// bundle has no node_modules), the example programs and the licences.
//
//   node scripts/mcpb.mjs [--out FILE]     default: ./bpftrace-mcp-server-<version>.mcpb
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

/** Packages the built entry still imports at run time (left outside the esbuild bundle): each would need node_modules in the .mcpb. */
async function runtimePackages() {
  const result = await build({
    entryPoints: [join(DIST, "index.js")],
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
const external = await runtimePackages();
if (external.length > 0) fail(`dist/index.js imports ${external.join(", ")} at run time; the bundle carries no node_modules, so bundle them (scripts/bundle.mjs) or add them to the .mcpb`);

const output = resolve(values.out ?? join(ROOT, `${pkg.name}-${pkg.version}.mcpb`));
const stage = mkdtempSync(join(tmpdir(), "bpftrace-mcpb-"));
try {
  copyFileSync(join(ROOT, "manifest.json"), join(stage, "manifest.json"));
  writeFileSync(join(stage, "package.json"), runtimePackageJson(pkg));
  for (const doc of ["README.md", "SECURITY.md"]) copyFileSync(join(ROOT, doc), join(stage, doc));
  mkdirSync(join(stage, "dist", "examples"), { recursive: true });
  for (const name of readdirSync(DIST)) {
    if (name === "index.js" || name === "THIRD-PARTY-NOTICES.md" || (name.startsWith("index-") && name.endsWith(".js"))) copyFileSync(join(DIST, name), join(stage, "dist", name));
  }
  cpSync(join(DIST, "examples", "programs"), join(stage, "dist", "examples", "programs"), { recursive: true });
  execFileSync(MCPB, ["pack", stage, output], { stdio: ["ignore", "inherit", "inherit"] });
} finally {
  rmSync(stage, { recursive: true, force: true });
}
process.stdout.write(`mcpb: ${output} (${(statSync(output).size / 1024).toFixed(0)} KiB)\n`);
