import { z } from "zod";
import type { DoctorReport } from "../doctor/index.js";
import { BpftraceMcpError, toolResult } from "../errors.js";
import { runTool, type ToolRegistrar } from "./context.js";

// Newer releases list only what they had to probe for (0.27 prints a handful of helpers, no map types).
const UNLISTED_NOTE = "A helper, feature, map type or probe type absent from --info was not reported; that does not mean it is unsupported.";

/** The doctor's checks as the assistant sees them: what is wrong and how to fix it. */
function describeChecks(report: DoctorReport, only: (status: string) => boolean): string[] {
  return report.checks
    .filter((check) => only(check.status))
    .map((check) => `[${check.status}] ${check.title}: ${check.detail}${check.fix ? ` (fix: ${check.fix})` : ""}`);
}

/** bpf_info: what this kernel and bpftrace support, so programs use only what exists. */
export const registerBpfInfoTool: ToolRegistrar = (server, context) => {
  let doctorReport: Promise<DoctorReport> | undefined;
  server.registerTool(
    "bpf_info",
    {
      title: "Capabilities",
      description: "bpftrace version, kernel, privilege, supported probe types and helpers, machine checks.",
      inputSchema: {},
      outputSchema: z.looseObject({ bpftrace_version: z.string().nullable(), probe_types: z.record(z.string(), z.boolean()).nullable(), checks: z.array(z.unknown()) }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    },
    async (_args, extra) =>
      runTool(context, "bpf_info", extra, async () => {
        // Read once per server: the machine's setup does not change under a session.
        // The doctor's modules load on first use, not at start-up.
        doctorReport ??= import("../doctor/index.js").then(({ collectDoctorReport }) => collectDoctorReport(context.config, { host: context.host, logger: context.logger }));
        const host = await context.host.ensureReady().catch(async (error: unknown) => {
          if (!(error instanceof BpftraceMcpError)) throw error;
          // Cannot trace: say why, with everything the doctor knows about this machine.
          const report = await (doctorReport ?? Promise.reject(error));
          throw new BpftraceMcpError(error.code, [error.message, "Machine checks:", ...describeChecks(report, (status) => status === "warn" || status === "fail")].join("\n"), { hint: error.hint });
        });
        const { parsed, raw } = await context.systemInfo.read();
        const report = await doctorReport;
        const unsupportedProbes = Object.entries(parsed.probeTypes ?? {}).filter(([, ok]) => !ok).map(([name]) => name);
        const text = [
          `bpftrace ${parsed.version ?? host.version?.text ?? "unknown"} on ${parsed.kernel ?? "unknown kernel"} (${parsed.arch ?? "?"}), run as ${host.mode}.`,
          unsupportedProbes.length > 0 ? `Probe types NOT supported here: ${unsupportedProbes.join(", ")}.` : "All listed probe types are supported.",
          ...(parsed.notReported.length > 0 ? [`Not reported by this bpftrace (unknown, not unsupported): ${parsed.notReported.join(", ")}.`] : []),
          UNLISTED_NOTE,
          ...describeChecks(report, (status) => status === "warn" || status === "fail"),
          "",
          raw,
        ].join("\n");
        return toolResult(text, {
          bpftrace_version: parsed.version ?? host.version?.text ?? null,
          kernel: parsed.kernel,
          arch: parsed.arch,
          privilege: host.mode,
          bpftrace_path: host.bpftraceFile,
          helpers: parsed.helpers,
          features: parsed.features,
          map_types: parsed.mapTypes,
          probe_types: parsed.probeTypes,
          not_reported: parsed.notReported,
          sections: parsed.sections,
          raw,
          checks: report.checks,
        });
      }),
  );
};
