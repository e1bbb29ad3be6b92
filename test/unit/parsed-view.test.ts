import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { dumpArgs, parseAstDump, parseExpression, sameNode, type ParsedView } from "../../src/bpftrace/parsed-view.js";
import { parseVersion, versionTraits } from "../../src/bpftrace/version.js";

const VERSIONS = ["0.17.0", "0.23.2", "0.27.1"] as const;

function fixture(version: string, name: string): ParsedView {
  const view = parseAstDump(readFileSync(new URL(`../fixtures/bpftrace-output/${version}/${name}.txt`, import.meta.url), "utf8"));
  if (!view) throw new Error(`no view in ${version}/${name}`);
  return view;
}

describe.each(VERSIONS)("bpftrace %s AST dump", (version) => {
  test("lists each probe's attach points and the calls made in it", () => {
    const view = fixture(version, "ast-probes");
    expect(view.probes.map((probe) => probe.specifiers)).toEqual([
      ["BEGIN"],
      ["tracepoint:syscalls:sys_enter_read", "tracepoint:syscalls:sys_enter_write"],
      ["interval:s:1"],
      ["END"],
    ]);
    expect(view.probes[1]?.calls).toEqual(["sum", "hist", "str", "print"]);
    expect(view.calls).toEqual(["printf", "sum", "hist", "str", "print", "time", "clear"]);
    expect(view.mapNames).toEqual(["@bytes", "@sizes", "@other"]);
  });

  test("reads the predicate as a tree whose root is the top-level operator", () => {
    const predicate = fixture(version, "ast-probes").probes[1]?.predicate;
    expect(predicate?.kind).toBe("binop");
    expect(predicate?.label).toBe("&&");
    const left = predicate?.children[0];
    expect(left && sameNode(left, parseExpression("pid != 1234"))).toBe(true);
  });

  test("strings, comments and quoted attach points do not hide or invent calls", () => {
    const view = fixture(version, "ast-comments");
    expect(view.calls).toEqual(["count", "printf"]);
    expect(view.mapNames).toEqual(["@"]);
    expect(view.probes[0]?.specifiers.map((specifier) => specifier.replaceAll('"', ""))).toEqual(["tracepoint:syscalls:sys_enter_openat", "profile:hz:49"]);
  });
});

test("the dumps before 0.25 show macros expanded; from 0.25 the C-macro stage is the one read", () => {
  expect(fixture("0.17.0", "ast-probes").stage).toBe("parser");
  expect(fixture("0.23.2", "ast-probes").stage).toBe("parser");
  expect(fixture("0.27.1", "ast-probes").stage).toBe("CMacroExpansion");
  // 0.17 and 0.23 print the macro's value where it was used.
  const right = fixture("0.23.2", "ast-probes").probes[1]?.predicate?.children[1];
  expect(JSON.stringify(right)).toContain('"label":"5"');
});

test("config keys are read from the config block (0.23+)", () => {
  expect(fixture("0.23.2", "ast-comments").configKeys).toEqual(["max_map_keys", "max_strlen"]);
  expect(fixture("0.27.1", "ast-comments").configKeys).toEqual(["max_map_keys", "max_strlen"]);
});

test("a dump that stops before macro expansion gives no view", () => {
  const text = readFileSync(new URL("../fixtures/bpftrace-output/0.27.1/ast-probes.txt", import.meta.url), "utf8");
  expect(parseAstDump(text.slice(0, text.indexOf("AST after: CMacroExpansion")))).toBeNull();
  expect(parseAstDump("stdin:1:1-4: ERROR: syntax error\n")).toBeNull();
});

test("a stage header forged inside printed C definitions does not replace the real tree", () => {
  const dump = [
    "AST after: parser",
    "-------------------",
    "struct X { /*",
    "AST after: parser",
    "Program",
    " BEGIN",
    "  call: printf",
    "*/ int a; };",
    "",
    "Program",
    " BEGIN",
    "  call: system",
    "",
  ].join("\n");
  expect(parseAstDump(dump)?.calls).toEqual(["system"]);
});

test("in 0.25+ source, a block comment or attach point holding slashes does not swallow code", () => {
  const stage = (body: string): string => `AST after: MacroExpansion\n---\n${body}\n\nAST after: CMacroExpansion\n---\n${body}\n`;
  const view = parseAstDump(stage('uprobe:/usr/lib/*.so:f,\nkprobe:a // c\n/* x */{\n  system("id");\n  printf("*/");\n}'));
  expect(view?.probes[0]?.specifiers).toEqual(["uprobe:/usr/lib/*.so:f", "kprobe:a"]);
  expect(view?.calls).toEqual(["system", "printf"]);
  const deref = parseAstDump(stage("kprobe:a\n/*(uint64 *)arg0 > 1/\n{\n  cat(\"x\");\n}"));
  expect(deref?.probes[0]?.predicate?.label).toBe(">");
  expect(deref?.calls).toEqual(["cat"]);
});

test("dump arguments: -d before 0.22, -d ast --dry-run from 0.22 (plain -d ast would run BEGIN)", () => {
  expect(dumpArgs(versionTraits(parseVersion("bpftrace v0.17.0")))).toEqual(["-d"]);
  expect(dumpArgs(versionTraits(parseVersion("bpftrace v0.23.2")))).toEqual(["-d", "ast", "--dry-run"]);
  expect(dumpArgs(versionTraits(parseVersion("bpftrace v0.27.1")))).toEqual(["-d", "ast", "--dry-run"]);
});
