import { z } from "zod";
import { toolResult } from "../errors.js";
import { runTool, type ToolRegistrar } from "./context.js";

/** bpf_info: what this kernel and bpftrace support, so programs use only what exists. */
export const registerBpfInfoTool: ToolRegistrar = (server, context) => {
  server.registerTool(
    "bpf_info",
    {
      title: "Kernel and bpftrace capabilities",
      description: "bpftrace version, kernel, privilege mode, and which helpers, features, map types and probe types this system supports (bpftrace --info).",
      inputSchema: {},
      outputSchema: {
        bpftrace_version: z.string().nullable(),
        kernel: z.string().nullable(),
        arch: z.string().nullable(),
        privilege: z.enum(["root", "sudo-password", "sudo-nopasswd"]).describe("how bpftrace is run"),
        bpftrace_path: z.string(),
        helpers: z.record(z.string(), z.boolean()),
        features: z.record(z.string(), z.string()),
        map_types: z.record(z.string(), z.boolean()),
        probe_types: z.record(z.string(), z.boolean()),
        sections: z.array(z.object({ name: z.string(), entries: z.record(z.string(), z.string()) })),
        raw: z.string().describe("bpftrace --info as printed"),
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () =>
      runTool(context, "bpf_info", async () => {
        const host = await context.host.ensureReady();
        const { parsed, raw } = await context.systemInfo.read();
        const unsupportedProbes = Object.entries(parsed.probeTypes).filter(([, ok]) => !ok).map(([name]) => name);
        const text = [
          `bpftrace ${parsed.version ?? host.version?.text ?? "unknown"} on ${parsed.kernel ?? "unknown kernel"} (${parsed.arch ?? "?"}), run as ${host.mode}.`,
          unsupportedProbes.length > 0 ? `Probe types NOT supported here: ${unsupportedProbes.join(", ")}.` : "All listed probe types are supported.",
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
          sections: parsed.sections,
          raw,
        });
      }),
  );
};
