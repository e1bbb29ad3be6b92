// First build step: an empty dist/, so no file of a module since deleted (or an old bundle chunk) is shipped.
import { rmSync } from "node:fs";

rmSync(new URL("../dist/", import.meta.url), { recursive: true, force: true });
