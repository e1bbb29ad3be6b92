import { describe, expect, it } from "vitest";
import { parseSetupArgs } from "../../src/commands/setup/args.js";
import { mergeEntry } from "../../src/commands/setup/clients.js";
import { headersHelperCommand, shellWord } from "../../src/commands/setup/entry.js";

describe("setup's arguments", () => {
  it("defaults to the client's first scope, the name bpftrace, npx, stdio", () => {
    expect(parseSetupArgs(["claude-code"])).toMatchObject({ action: "install", client: "claude-code", scope: "local", name: "bpftrace", mode: "npx", url: undefined, dryRun: false });
    expect(parseSetupArgs(["vscode"])).toMatchObject({ scope: "workspace" });
    expect(parseSetupArgs(["cursor"])).toMatchObject({ scope: "global" });
  });

  it("takes values after a space or an equals sign, and --uninstall, --dry-run, --yes", () => {
    expect(parseSetupArgs(["cursor", "--scope=project", "--env", "/e", "--name=t", "--uninstall", "--dry-run", "-y"])).toMatchObject({
      action: "uninstall",
      scope: "project",
      envFile: "/e",
      name: "t",
      dryRun: true,
    });
  });

  it.each([
    [["claude-code", "--scope", "workspace"], /--scope for claude-code is one of local, user, project/],
    [["vscode", "--scope", "global"], /one of workspace, user/],
    [["cursor", "--url", "https://h/mcp"], /--url needs --token-file/],
    [["cursor", "--token-file", "/t"], /--token-file goes with --url/],
    [["cursor", "--url", "https://h/mcp", "--token-file", "/t", "--env", "/e"], /with --url the server runs elsewhere/],
    [["cursor", "--bridge"], /--bridge goes with --url/],
    [["cursor", "--mode", "docker"], /--mode is npx or local/],
    [["cursor", "--name", "a b"], /--name may hold only/],
    [["cursor", "--scope"], /--scope needs a value/],
    [["cursor", "extra"], /unexpected argument 'extra'/],
    [["headers"], /needs --token-file/],
    [[], /name a client/],
  ])("refuses %j", (args, message) => {
    expect(() => parseSetupArgs(args)).toThrow(message);
  });

  it("parses setup headers and --help", () => {
    expect(parseSetupArgs(["headers", "--token-file", "/t"])).toEqual({ action: "headers", tokenFile: "/t" });
    expect(parseSetupArgs(["cursor", "--help"])).toEqual({ action: "help" });
  });
});

describe("setup's entries", () => {
  it("quote words for sh only where needed", () => {
    expect(shellWord("/usr/bin/node")).toBe("/usr/bin/node");
    expect(shellWord("/home/me/My Tokens/t")).toBe("'/home/me/My Tokens/t'");
    expect(shellWord("it's")).toBe("'it'\\''s'");
    expect(headersHelperCommand({ command: "npx", args: ["-y", "bpftrace-mcp-server"] }, "/a b/t")).toBe("npx -y bpftrace-mcp-server setup headers --token-file '/a b/t'");
  });

  it("keep the user's own keys and env, and drop the keys of the other form", () => {
    const ours = { command: "npx", args: ["-y", "x"] };
    expect(mergeEntry(undefined, ours)).toEqual(ours);
    expect(mergeEntry({ command: "old", env: { A: "1" }, disabled: true, timeout: 5 }, ours)).toEqual({ ...ours, env: { A: "1" }, disabled: true, timeout: 5 });
    expect(mergeEntry({ url: "https://h", headers: { A: "b" }, alwaysAllow: ["x"] }, ours)).toEqual({ ...ours, alwaysAllow: ["x"] });
    expect(mergeEntry({ command: "old", args: [], env: { A: "1" } }, { type: "http", url: "https://h" })).toEqual({ type: "http", url: "https://h" });
  });
});
