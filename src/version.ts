import { readFileSync } from "node:fs";

/** This package's name and version, read from package.json (one level above src/ and dist/). */
export const PACKAGE = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { name: string; version: string };
