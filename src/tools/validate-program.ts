import { createHash } from "node:crypto";
import { z } from "zod";
import { toolResult } from "../errors.js";
import { dryRun } from "../bpftrace/dry-run.js";
import { unsupportedProbeTypes } from "../bpftrace/kernel-support.js";
import { withFinalNewline } from "../executions/registry.js";
import { formatRefusal, inUserTerms, instrumentProgram } from "../policy/index.js";
import { runTool, type ToolRegistrar } from "./context.js";

/** validate_program: the security policy's verdict and a compile check, without running anything. */
export const registerValidateProgramTool: ToolRegistrar = (server, context) => {
  const { config } = context;
  server.registerTool(
    "validate_program",
    {
      title: "Check a program",
      description: "Policy verdict and a compile without attaching: errors at line:column.",
      inputSchema: {
        program: z.string().min(1, "program is empty: pass bpftrace source").describe("bpftrace source"),
      },
      outputSchema: z.looseObject({ valid: z.boolean(), errors: z.array(z.unknown()) }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    },
    async ({ program }, extra) =>
      runTool(context, "validate_program", extra, async (principal) => {
        const source = withFinalNewline(program);
        const decision = await context.registry.gate.check(source);
        const sha = createHash("sha256").update(program).digest("hex");
        const policy = { allowed: decision.allowed, violations: decision.violations };
        if (!decision.allowed) {
          context.audit.write({ event: "refused", tool: "validate_program", execution_id: null, program_sha256: sha, program, decision: "refused", reason: formatRefusal(decision), principal: principal.id, remote: principal.remoteAddress });
          const structured = { valid: false, policy, compiled: null, errors: [], probes: decision.probes, method: null, warnings: [] };
          return toolResult(`Refused by the security policy (nothing was compiled):\n${formatRefusal(decision)}`, structured);
        }
        context.audit.write({ event: "validate", tool: "validate_program", execution_id: null, program_sha256: sha, program, decision: "allowed", principal: principal.id, remote: principal.remoteAddress });
        // The program is compiled as it would run: with the server's filter, marker and guard added.
        const ready = await context.host.ensureReady();
        const instrumented = instrumentProgram(source, decision, { serverPid: process.pid, cgroupId: context.serverCgroupId, deadlineMs: config.maxTimeoutSeconds * 1000, snapshotProbe: ready.traits.snapshotProbe });
        const dry = await dryRun(context.host, instrumented.source);
        const compiled = { ...dry, messages: inUserTerms(dry.messages, instrumented.source, source) };
        const warnings = unsupportedProbeTypes(decision.specifiers.map((specifier) => specifier.provider));
        const structured = { valid: compiled.valid, policy, compiled: compiled.valid, errors: compiled.diagnostics, probes: decision.probes, method: compiled.method, warnings };
        const text = compiled.valid
          ? `Valid: allowed by the policy and compiled (${compiled.method}). Would attach: ${decision.probes.join(", ") || "(none found)"}.`
          : ["Does not compile:", ...compiled.diagnostics.map((error) => `${error.line === null ? "" : `line ${error.line}, column ${String(error.column)}: `}${error.message}`), "", compiled.messages].join("\n");
        return toolResult([text, ...warnings.map((warning) => `Warning: ${warning}.`)].join("\n"), structured);
      }),
  );
};
