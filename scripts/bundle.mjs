// Second build step: replaces tsc's dist/index.js with one bundle of the server and its
// dependencies. Node 20's ES module loader costs about a millisecond per module here, and the
// unbundled server loads ~240 of them (zod alone is 116) before it can answer `initialize`.
// The rest of dist/ stays tsc's module tree: the library entry (dist/server.js), the bench and the
// scripts import from it.
//
// The input is tsc's output, so the bundle runs exactly the JavaScript tsc emitted. Lazy imports
// (execa, dotenv, the doctor) stay lazy as chunks beside the entry, named index-*.js.
import { build } from "esbuild";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DIST = join(ROOT, "dist");
const ENTRY = join(DIST, "index.js");
const CHUNK_PREFIX = "index-";
const NOTICES = "THIRD-PARTY-NOTICES.md";

// A bundled module must still find its files (package.json, example programs, setup/) where tsc
// put it. Every output file sits directly in dist/, so each of our modules' `import.meta.url` is
// rewritten to the URL its own tsc-emitted file has, relative to the bundle file.
const keepModuleUrls = {
  name: "keep-module-urls",
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(DIST + sep)) return undefined;
      const source = readFileSync(args.path, "utf8");
      if (!source.includes("import.meta.url")) return undefined;
      const own = `./${relative(DIST, args.path).split(sep).join("/")}`;
      return { contents: source.replaceAll("import.meta.url", `new URL(${JSON.stringify(own)}, import.meta.url).href`), loader: "js" };
    });
  },
};

// Chunks of an earlier build would otherwise pile up (their names carry a content hash).
for (const name of readdirSync(DIST)) if (name.startsWith(CHUNK_PREFIX) && name.endsWith(".js")) rmSync(join(DIST, name));

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: [ENTRY],
  outdir: DIST,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  // jsonc-parser's "main" is a UMD build whose require() calls esbuild cannot follow; its ESM build bundles cleanly.
  alias: { "jsonc-parser": "jsonc-parser/lib/esm/main.js" },
  target: "node20",
  chunkNames: `${CHUNK_PREFIX}[name]-[hash]`,
  // Bundled CommonJS packages (pino, ajv) call require() for Node's built-ins.
  banner: { js: 'import { createRequire as __bundleCreateRequire } from "node:module";\nconst require = __bundleCreateRequire(import.meta.url);' },
  legalComments: "none",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
  // A native addon: loaded from node_modules by the store's thread (dist/storage/sqlite-worker.js), never bundled.
  external: ["better-sqlite3"],
  plugins: [keepModuleUrls],
});

writeFileSync(join(DIST, NOTICES), thirdPartyNotices(result.metafile));

/** The licence of every package whose code is inside the bundle: MIT and ISC ask that it travel with the code. */
function thirdPartyNotices(metafile) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packages.set(match[1], join(ROOT, input.slice(0, match.index + match[0].length)));
  }
  const sections = [...packages].sort(([a], [b]) => a.localeCompare(b)).map(([name, directory]) => {
    const manifest = JSON.parse(readFileSync(join(directory, "package.json"), "utf8"));
    const licenceFile = readdirSync(directory).find((file) => /^(licen[cs]e|copying)(\.|$)/i.test(file));
    const text = licenceFile ? readFileSync(join(directory, licenceFile), "utf8").trim() : `(no licence file; package.json says ${manifest.license ?? "nothing"})`;
    return `## ${name} ${manifest.version} (${manifest.license ?? "unknown"})\n\n\`\`\`\n${text}\n\`\`\``;
  });
  return `# Third-party notices\n\n\`dist/index.js\` and its \`${CHUNK_PREFIX}*.js\` chunks include code from these packages.\n\n${sections.join("\n\n")}\n`;
}
