import { describe, expect, it } from "vitest";
import { valueRanges } from "../../src/initial-environ.js";

describe("the initial environment block", () => {
  it("locates the value of each named variable, only at the start of an entry", () => {
    const block = Buffer.from("PATH=/bin\0XBPFTRACE_PASSWD=no\0BPFTRACE_PASSWD=s3cret\0EMPTY=\0BPFTRACE_PASSWD_OLD=x\0");
    const ranges = valueRanges(block, ["BPFTRACE_PASSWD", "EMPTY"]);
    expect(ranges).toHaveLength(1);
    const [range] = ranges;
    expect(block.subarray(range?.start, range?.end).toString()).toBe("s3cret");
  });

  it("finds a value in the last entry even without a closing NUL", () => {
    const block = Buffer.from("A=1\0BPFTRACE_PASSWD=tail");
    const [range] = valueRanges(block, ["BPFTRACE_PASSWD"]);
    expect(block.subarray(range?.start, range?.end).toString()).toBe("tail");
  });
});
