import { describe, expect, it } from "vitest";
import { attachFailure } from "../../src/bpftrace/attach-errors.js";

describe("attachFailure: bpftrace's words for a probe it cannot attach, per version", () => {
  it.each([
    ["0.17", "ERROR: Error attaching probe: 'kprobe:vfs_read'", "kprobe:vfs_read"],
    ["0.23", "ERROR: Could not resolve symbol: /bin/bash:nosuchsym, cannot attach probe.", "/bin/bash:nosuchsym"],
    ["0.27 kprobe", "stdin:1:1-40: ERROR: No matches for kprobe no_such_function.", "no_such_function"],
    ["0.27 uprobe", "stdin:1:1-60: ERROR: No matches for uprobe /bin/bash:nosuchsym.", "/bin/bash:nosuchsym"],
  ])("reads %s", (_version, line, probe) => {
    expect(attachFailure(`WARNING: something first\n${line}\n`)).toEqual({ message: line.replace(/^ERROR:\s*/, ""), probe });
  });

  it("leaves compile errors, missing tracepoints included, to COMPILE_ERROR", () => {
    expect(attachFailure("stdin:1:9-14: ERROR: syntax error, unexpected identifier")).toBeNull();
    expect(attachFailure("stdin:1:1-21: ERROR: No matches for tracepoint nope:nope.")).toBeNull();
    expect(attachFailure("stdin:1:1-21: ERROR: tracepoint not found: nope:nope")).toBeNull();
  });
});
