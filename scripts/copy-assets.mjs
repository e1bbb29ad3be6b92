// tsc only emits .js: copy the curated .bt programs next to the compiled example index.
import { cpSync, existsSync } from "node:fs";

const from = new URL("../src/examples/programs/", import.meta.url);
const to = new URL("../dist/examples/programs/", import.meta.url);
if (existsSync(from)) cpSync(from, to, { recursive: true });
