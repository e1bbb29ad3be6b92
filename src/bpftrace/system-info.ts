import type { BpftraceHost } from "./host.js";
import { firstLines } from "./host.js";
import { BpftraceMcpError } from "../errors.js";
import { parseInfo, type ParsedInfo } from "./parse-info.js";

/** `bpftrace --info`, read once: it does not change while the server runs. */
export class SystemInfo {
  private cached: { parsed: ParsedInfo; raw: string } | null = null;

  constructor(private readonly host: BpftraceHost) {}

  async read(): Promise<{ parsed: ParsedInfo; raw: string }> {
    if (this.cached) return this.cached;
    const result = await this.host.run(["--info"], 30_000);
    // Versions before 0.23 print --info on stderr, later ones on stdout: read both.
    const raw = [result.stdout, result.stderr].filter((text) => text.trim().length > 0).join("\n");
    const parsed = parseInfo(raw);
    if (result.exitCode !== 0 || parsed.sections.length === 0) {
      throw new BpftraceMcpError("BPFTRACE_FAILED", `bpftrace --info failed: ${firstLines(raw) || `exit ${String(result.exitCode)}`}`, {
        hint: "Run `bpftrace-mcp-server doctor` to check this machine's setup.",
      });
    }
    this.cached = { parsed, raw: raw.split("\n").filter((line) => !/RLIMIT_MEMLOCK/.test(line)).join("\n") };
    return this.cached;
  }
}
