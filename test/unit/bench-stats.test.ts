import { describe, expect, it } from "vitest";
import { alternate, latencyPercentiles, pairedRatios, quantile, summarize } from "../../bench/lib/stats.mjs";

describe("bench statistics", () => {
  it("interpolates quantiles between closest ranks, whatever the input order", () => {
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20], 0.99)).toBeCloseTo(19.9);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it("summarizes runs as a median with min–max and p10–p90, ignoring non-finite values", () => {
    expect(summarize([5, 1, 3, Number.NaN])).toEqual({ n: 3, median: 3, min: 1, max: 5, p10: 1.4, p90: 4.6 });
    expect(summarize([]).n).toBe(0);
  });

  it("reports p50, p90, p99 and max of a latency window", () => {
    const samples = Array.from({ length: 100 }, (_, index) => index + 1);
    const percentiles = latencyPercentiles(samples);
    expect(percentiles.p50).toBeCloseTo(50.5);
    expect(percentiles.p99).toBeCloseTo(99.01);
    expect(percentiles.max).toBe(100);
  });

  it("alternates baseline and subject, flipping which goes first each round", async () => {
    const order: string[] = [];
    const result = await alternate(
      3,
      async (round) => {
        order.push(`b${round}`);
        return round;
      },
      async (round) => {
        order.push(`s${round}`);
        return round * 10;
      },
    );
    expect(order).toEqual(["b0", "s0", "s1", "b1", "b2", "s2"]);
    expect(result).toEqual({ baseline: [0, 1, 2], subject: [0, 10, 20] });
  });

  it("pairs ratios by round and skips rounds whose baseline is zero", () => {
    expect(pairedRatios([2, 3, 4], [1, 0, 2])).toEqual([2, 2]);
  });
});
