import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SETTINGS } from "../../src/config.js";
import { helpText } from "../../src/cli.js";

const envExample = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("documented settings", () => {
  for (const [name, setting] of Object.entries(SETTINGS)) {
    it(`.env.example, README and --help give ${name} with its default`, () => {
      const shown = name === "BPFTRACE_PASSWD" ? "" : setting.default;
      expect(envExample).toMatch(new RegExp(`^#? ?${name}=${shown.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
      expect(readme).toContain(`\`${name}\``);
      expect(helpText()).toContain(name);
    });
  }
});
