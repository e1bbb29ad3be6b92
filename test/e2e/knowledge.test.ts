import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allTags, loadExamples } from "../../src/examples/catalog.js";
import { PROMPT_NAMES } from "../../src/prompts/index.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";

const EXAMPLES = loadExamples();
const EXAMPLE_NAMES = EXAMPLES.map((example) => example.name);
const TAGS = allTags(EXAMPLES);
const TEMPLATE = "bpftrace://examples/{name}";
const programFile = (name: string): string => readFileSync(new URL(`../../src/examples/programs/${name}.bt`, import.meta.url), "utf8");
// Tool names are snake_case verbs; any such word in a prompt must be a real tool.
const TOOL_LIKE = /\b(?:list|get|exec|stop|validate|describe|bpf)_[a-z_]+\b/g;
const PROMPT_ARGUMENTS: Record<string, Record<string, string>> = {
  why_is_process_slow: { pid: "4242" },
  who_is_using_the_disk: { seconds: "7" },
  trace_file_access: { comm: "nginx" },
  find_failing_syscalls: { comm: "postgres" },
};

type ExampleSummary = { name: string; tags: string[]; params: string[] };

describe("the example library and prompts over stdio (fake bpftrace)", () => {
  let server: RunningServer;
  let toolNames: Set<string>;

  beforeAll(async () => {
    server = await startServer({ env: { BPFTRACE_PATH: installFakeBpftrace() } });
    toolNames = new Set((await server.client.listTools()).tools.map((tool) => tool.name));
  });

  afterAll(async () => {
    await server?.close();
  });

  const listExamples = async (args: Record<string, unknown>): Promise<ExampleSummary[]> => {
    const result = await server.call("list_examples", args);
    expect(result.isError, textOf(result)).toBeFalsy();
    return (result.structuredContent as { examples: ExampleSummary[] }).examples;
  };

  /** What a text points the assistant at that does not exist: unknown tools, examples and tags. */
  const danglingReferences = (text: string): string[] => {
    const dangling: string[] = [];
    for (const [word] of text.matchAll(TOOL_LIKE)) if (!toolNames.has(word)) dangling.push(`tool ${word}`);
    for (const [, name = ""] of text.matchAll(/(?:get_example |example=)([a-z0-9-]+)/g)) if (!EXAMPLE_NAMES.includes(name)) dangling.push(`example ${name}`);
    for (const [, tag = ""] of text.matchAll(/tag '([^']+)'/g)) if (!TAGS.includes(tag)) dangling.push(`tag ${tag}`);
    return dangling;
  };

  it("lists every example as a bpftrace://examples/<name> resource with its title and question", async () => {
    const { resources } = await server.client.listResources();
    const exampleResources = resources.filter((resource) => resource.uri.startsWith("bpftrace://examples/"));
    expect(exampleResources.map((resource) => resource.uri).sort()).toEqual(EXAMPLE_NAMES.map((name) => `bpftrace://examples/${name}`).sort());
    const fileOpens = exampleResources.find((resource) => resource.name === "file-opens");
    expect(fileOpens).toMatchObject({ uri: "bpftrace://examples/file-opens", title: "Files opened, by process", mimeType: "text/plain" });
    expect(fileOpens?.description).toBe(EXAMPLES.find((example) => example.name === "file-opens")?.question);
  });

  it("lists the bpftrace://examples/{name} resource template", async () => {
    const { resourceTemplates } = await server.client.listResourceTemplates();
    const template = resourceTemplates.find((candidate) => candidate.uriTemplate === TEMPLATE);
    expect(template, JSON.stringify(resourceTemplates)).toBeDefined();
    expect(template?.mimeType).toBe("text/plain");
  });

  it("reads an example resource as exactly the text of its .bt file", async () => {
    for (const name of ["file-opens", "dns-lookups", "tcp-state-changes"]) {
      const { contents } = await server.client.readResource({ uri: `bpftrace://examples/${name}` });
      expect(contents).toHaveLength(1);
      expect(contents[0]).toMatchObject({ uri: `bpftrace://examples/${name}`, mimeType: "text/plain" });
      expect((contents[0] as { text: string }).text).toBe(programFile(name));
    }
  });

  it("answers a read of an unknown example with an error naming it", async () => {
    await expect(server.client.readResource({ uri: "bpftrace://examples/no-such-example" })).rejects.toThrow(/no-such-example/);
    await expect(server.client.readResource({ uri: "bpftrace://nothing-here/file-opens" })).rejects.toThrow();
  });

  it("lists the investigation prompts with described arguments", async () => {
    const { prompts } = await server.client.listPrompts();
    expect(prompts.map((prompt) => prompt.name).sort()).toEqual([...PROMPT_NAMES].sort());
    expect(PROMPT_NAMES.length).toBeGreaterThanOrEqual(4);
    for (const prompt of prompts) {
      expect(prompt.title, prompt.name).toBeTruthy();
      expect(prompt.description, prompt.name).toBeTruthy();
      expect(prompt.arguments?.length, prompt.name).toBeGreaterThan(0);
      for (const argument of prompt.arguments ?? []) {
        expect(argument.description, `${prompt.name}.${argument.name}`).toBeTruthy();
        expect(argument.required ?? false, `${prompt.name}.${argument.name}`).toBe(false);
      }
    }
    const slow = prompts.find((prompt) => prompt.name === "why_is_process_slow");
    expect(slow?.arguments?.map((argument) => argument.name).sort()).toEqual(["comm", "pid"]);
  });

  it("gets each prompt as messages that name only existing tools, examples and tags", async () => {
    const { prompts } = await server.client.listPrompts();
    for (const prompt of prompts) {
      const { messages } = await server.client.getPrompt({ name: prompt.name, arguments: PROMPT_ARGUMENTS[prompt.name] ?? {} });
      expect(messages.length, prompt.name).toBeGreaterThan(0);
      const text = messages.map((message) => (message.content.type === "text" ? message.content.text : "")).join("\n");
      expect(text.match(TOOL_LIKE)?.length ?? 0, `${prompt.name} names no tool`).toBeGreaterThan(0);
      expect(danglingReferences(text), prompt.name).toEqual([]);
    }
  });

  it("fills the prompts' arguments into their steps", async () => {
    const texts = async (name: string, args: Record<string, string>): Promise<string> => {
      const { messages } = await server.client.getPrompt({ name, arguments: args });
      return messages.map((message) => (message.content.type === "text" ? message.content.text : "")).join("\n");
    };
    // Run by name, filtered on the process (exec_program's pid and comm for examples).
    expect(await texts("why_is_process_slow", { pid: "4242" })).toContain("example=syscall-latency, pid=4242");
    expect(await texts("trace_file_access", { comm: "nginx" })).toContain('example=file-opens, comm="nginx"');
    expect(await texts("who_is_using_the_disk", { seconds: "7" })).toContain("7 seconds");
    expect(await texts("who_is_using_the_disk", {})).toContain("10 seconds");
  });

  it("gives server instructions that name only existing tools", () => {
    // Only tool names: the instructions say "list_examples/get_example offer ...", not "get_example NAME".
    const words = [...(server.client.getInstructions() ?? "").matchAll(TOOL_LIKE)].map(([word]) => word);
    expect(words.length).toBeGreaterThan(3);
    expect(words.filter((word) => !toolNames.has(word))).toEqual([]);
  });

  it("finds dns-lookups first when list_examples searches for 'dns'", async () => {
    const examples = await listExamples({ query: "dns" });
    expect(examples[0]?.name).toBe("dns-lookups");
    // What exec_program's example option takes for it.
    expect(examples[0]?.params).toEqual(["pid", "comm"]);
  });

  it("filters list_examples by tag, alone and with words", async () => {
    const tcp = await listExamples({ tag: "tcp" });
    expect(tcp.map((example) => example.name)).toEqual(expect.arrayContaining(["tcp-connects", "tcp-state-changes", "tcp-accepts"]));
    expect(tcp.every((example) => example.tags.includes("tcp"))).toBe(true);
    expect(tcp).toHaveLength(EXAMPLES.filter((example) => example.tags.includes("tcp")).length);
    const diskLatency = await listExamples({ query: "latency", tag: "disk" });
    expect(diskLatency.map((example) => example.name)).toContain("block-io-latency");
    expect(diskLatency.every((example) => example.tags.includes("disk"))).toBe(true);
    expect(diskLatency.map((example) => example.name)).not.toContain("syscall-latency");
  });

  it("returns no example and the tag list for an unknown tag", async () => {
    const result = await server.call("list_examples", { tag: "no-such-tag" });
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent as { count: number }).count).toBe(0);
    expect((result.structuredContent as { tags: string[] }).tags).toEqual(TAGS);
    expect(textOf(result)).toContain("network");
  });

  it("returns an example's program and facts from get_example", async () => {
    const result = await server.call("get_example", { name: "file-opens" });
    expect(result.isError, textOf(result)).toBeFalsy();
    const example = result.structuredContent as { name: string; program: string; probes: string[]; uri: string; output: string };
    expect(example.program).toBe(programFile("file-opens"));
    expect(example.probes).toEqual(["tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat"]);
    expect(example.uri).toBe("bpftrace://examples/file-opens");
    expect(example.output.length).toBeGreaterThan(20);
    expect(textOf(result)).toContain("tracepoint:syscalls:sys_exit_openat");
  });

  it("answers get_example of an unknown name with UNKNOWN_EXAMPLE and a way forward", async () => {
    const result = await server.call("get_example", { name: "no-such-example" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^UNKNOWN_EXAMPLE: .*no-such-example/);
    expect(textOf(result)).toContain("list_examples");
  });

  it("completes the template's name argument with the matching example names", async () => {
    const complete = async (value: string): Promise<string[]> =>
      (await server.client.complete({ ref: { type: "ref/resource", uri: TEMPLATE }, argument: { name: "name", value } })).completion.values;
    expect(await complete("tcp-")).toEqual(EXAMPLE_NAMES.filter((name) => name.startsWith("tcp-")));
    expect((await complete("tcp-")).length).toBeGreaterThanOrEqual(5);
    expect(await complete("dns")).toEqual(["dns-lookups"]);
    expect(await complete("zzz")).toEqual([]);
  });
});
