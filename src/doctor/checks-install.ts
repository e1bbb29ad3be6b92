import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PACKAGE } from "../version.js";
import { check, type DoctorCheck } from "./report.js";

/** The bundle's manifest.json, when `packageRoot` is an unpacked MCP Bundle: a manifest of this server and no sources beside it. */
function bundleManifest(packageRoot: string): Record<string, unknown> | null {
  const manifestPath = join(packageRoot, "manifest.json");
  // A checkout has the manifest too, next to src/; the packed bundle carries only what runs.
  if (!existsSync(manifestPath) || existsSync(join(packageRoot, "src"))) return null;
  try {
    const parsed: unknown = JSON.parse(readFileSync(manifestPath, "utf8"));
    return typeof parsed === "object" && parsed !== null && (parsed as Record<string, unknown>).name === PACKAGE.name ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** How this server was installed: an MCP Bundle (Claude Desktop), an npm package (npx), or a checkout. */
export function checkInstall(where: string): DoctorCheck {
  const packageRoot = resolve(where);
  const manifest = bundleManifest(packageRoot);
  if (manifest !== null) {
    return check(
      "install",
      "installed as",
      "info",
      `an MCP Bundle (manifest ${String(manifest.manifest_version)}, version ${String(manifest.version)}) at ${packageRoot}.\n` +
        "Claude Desktop starts it with the extension's settings as environment variables (the sudo password from its credential store); " +
        "run from a shell, doctor sees only this shell's environment and .env file.",
    );
  }
  if (existsSync(join(packageRoot, "src"))) return check("install", "installed as", "info", `a checkout at ${packageRoot} (node ${join(packageRoot, "dist", "index.js")})`);
  const npx = packageRoot.includes("/_npx/") ? " in npx's cache" : "";
  return check("install", "installed as", "info", `the npm package ${PACKAGE.name} ${PACKAGE.version}${npx} at ${packageRoot}`);
}
