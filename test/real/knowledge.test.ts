import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bpftraceProcessesWith } from "../helpers/processes.js";
import { describeReal } from "../helpers/real-bpftrace.js";
import { installRecordingBpftrace, type RecordingBpftrace } from "../helpers/recording-bpftrace.js";
import { startServer, textOf, type RunningServer } from "../helpers/server-process.js";

type Validation = {
  valid: boolean;
  compiled: boolean | null;
  policy: { allowed: boolean; violations: { rule: string; construct: string; line: number; column: number; reason: string }[] };
  errors: { line: number | null; column: number | null; message: string }[];
  probes: string[];
  method: string | null;
};
type StructLayout = { name: string; fields: { type: string; name: string }[]; raw: string };

describeReal("validate_program and describe_struct against the real bpftrace", () => {
  let server: RunningServer;
  let bpftrace: RecordingBpftrace;
  const uniqueMarker = (label: string): string => `${label}-${randomBytes(6).toString("hex")}`;
  const invocationsWith = (marker: string): string[][] => bpftrace.invocations().filter((argv) => argv.some((arg) => arg.includes(marker)));

  beforeAll(async () => {
    bpftrace = installRecordingBpftrace();
    server = await startServer({ env: { BPFTRACE_PATH: bpftrace.path } });
    // With the tools listed, the SDK client checks every result against its advertised output schema.
    await server.client.listTools();
  });

  afterAll(async () => {
    await server?.close();
    bpftrace?.remove();
  });

  const validate = async (program: string): Promise<{ text: string; validation: Validation }> => {
    const result = await server.call("validate_program", { program });
    expect(result.isError, textOf(result)).toBeFalsy();
    return { text: textOf(result), validation: result.structuredContent as Validation };
  };

  it("compiles a valid program without running it and lists the probe it would attach", async () => {
    const marker = uniqueMarker("validate-ok");
    const { validation } = await validate(`// ${marker}\ntracepoint:syscalls:sys_enter_openat { @opens[comm] = count(); }\n`);
    expect(validation).toMatchObject({ valid: true, compiled: true, policy: { allowed: true, violations: [] }, errors: [] });
    expect(validation.probes).toEqual(["tracepoint:syscalls:sys_enter_openat"]);
    expect(validation.method).toMatch(/^(?:-d|--dry-run)$/);
    // It really compiled (bpftrace ran once, in dry-run mode, with the program) and nothing of it is left running.
    expect(invocationsWith(marker).map((argv) => argv[0])).toEqual([validation.method]);
    expect(bpftraceProcessesWith(marker)).toEqual([]);
  });

  it("starts no trace that outlives the call, even for a program that would run forever", async () => {
    const marker = uniqueMarker("validate-forever");
    const { validation } = await validate(`// ${marker}\ninterval:s:1 { printf("tick\\n"); }\n`);
    expect(validation.valid).toBe(true);
    expect(invocationsWith(marker)).toHaveLength(1);
    expect(bpftraceProcessesWith(marker)).toEqual([]);
    const listed = await server.call("list_executions");
    expect(JSON.stringify(listed.structuredContent)).not.toContain(marker);
  });

  it("reports an unknown tracepoint field at its line and column", async () => {
    const program = ["tracepoint:syscalls:sys_enter_openat", "{", "  @x[comm] = args->nope;", "}", ""].join("\n");
    const { text, validation } = await validate(program);
    expect(validation.valid).toBe(false);
    expect(validation.compiled).toBe(false);
    expect(validation.policy.allowed).toBe(true);
    const error = validation.errors.find((candidate) => candidate.message.includes("nope"));
    expect(error, JSON.stringify(validation.errors)).toBeDefined();
    // "  @x[comm] = args->nope;": args->nope starts at column 14 of line 3.
    expect(error).toMatchObject({ line: 3, column: 14 });
    expect(error?.message).toMatch(/does not contain a field named 'nope'/);
    expect(text).toContain("line 3, column 14");
  });

  it("refuses cat() by policy, naming it, without compiling or spawning anything", async () => {
    const marker = uniqueMarker("validate-refused");
    const before = bpftrace.invocations().length;
    const { text, validation } = await validate(`// ${marker}\nBEGIN { cat("/etc/passwd"); }\n`);
    expect(validation.valid).toBe(false);
    expect(validation.compiled).toBeNull();
    expect(validation.method).toBeNull();
    expect(validation.errors).toEqual([]);
    expect(validation.policy.allowed).toBe(false);
    expect(validation.policy.violations.length).toBeGreaterThan(0);
    expect(validation.policy.violations.some((violation) => violation.construct.includes("cat")), JSON.stringify(validation.policy.violations)).toBe(true);
    expect(validation.policy.violations[0]?.line).toBe(2);
    expect(text).toMatch(/Refused/);
    expect(text).toContain("cat");
    expect(invocationsWith(marker)).toEqual([]);
    expect(bpftrace.invocations().length).toBe(before);
    expect(bpftraceProcessesWith(marker)).toEqual([]);
  });

  it("describes task_struct from BTF with its pid and comm fields", async () => {
    const result = await server.call("describe_struct", { name: "task_struct" });
    expect(result.isError, textOf(result)).toBeFalsy();
    const layout = result.structuredContent as StructLayout;
    expect(layout.name).toBe("struct task_struct");
    const names = layout.fields.map((field) => field.name);
    expect(names).toContain("pid");
    expect(names.some((name) => /^comm\b/.test(name)), names.join(", ")).toBe(true);
    expect(layout.fields.find((field) => field.name === "pid")?.type).toBe("pid_t");
    expect(layout.fields.length).toBeGreaterThan(50);
    expect(textOf(result)).toContain("struct task_struct {");
  });

  it("accepts a 'struct NAME' spelling the same as the bare name", async () => {
    const bare = await server.call("describe_struct", { name: "sock" });
    const spelled = await server.call("describe_struct", { name: "struct sock" });
    expect(bare.isError, textOf(bare)).toBeFalsy();
    expect((spelled.structuredContent as StructLayout).fields).toEqual((bare.structuredContent as StructLayout).fields);
  });

  it("answers an unknown struct with INVALID_ARGUMENT", async () => {
    const result = await server.call("describe_struct", { name: "struct nosuchthing_xyz" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^INVALID_ARGUMENT: .*nosuchthing_xyz/);
  });

  it("rejects a name that is not a C type name before running bpftrace", async () => {
    const before = bpftrace.invocations().length;
    for (const name of ["struct a b; rm", "task_struct; reboot", "$(id)", "../../etc/passwd", ""]) {
      const result = await server.call("describe_struct", { name });
      expect(result.isError, name).toBe(true);
      expect(textOf(result), name).toMatch(/C type name/);
    }
    expect(bpftrace.invocations().length).toBe(before);
  });
});
