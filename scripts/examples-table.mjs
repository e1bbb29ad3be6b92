// Prints the Markdown table of curated examples (built from their headers), or with --write FILE
// replaces the text between <!-- examples:start --> and <!-- examples:end --> in FILE. Needs `npm run build`.
import { readFileSync, writeFileSync } from "node:fs";

const START = "<!-- examples:start -->";
const END = "<!-- examples:end -->";

const { loadExamples, examplesMarkdownTable } = await import("../dist/examples/catalog.js");
const table = examplesMarkdownTable(loadExamples());

const args = process.argv.slice(2);
const writeAt = args.indexOf("--write");
if (writeAt === -1) {
  process.stdout.write(table);
} else {
  const file = args[writeAt + 1];
  if (!file) {
    console.error("usage: node scripts/examples-table.mjs [--write README.md]");
    process.exit(2);
  }
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end === -1 || end < start) {
    console.error(`${file}: add the markers ${START} and ${END} (in that order) where the table belongs`);
    process.exit(1);
  }
  const updated = `${text.slice(0, start + START.length)}\n${table}${text.slice(end)}`;
  if (updated === text) {
    console.log(`${file}: example table already current`);
  } else {
    writeFileSync(file, updated);
    console.log(`${file}: example table updated`);
  }
}
