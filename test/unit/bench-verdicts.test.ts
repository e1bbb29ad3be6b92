import { describe, expect, it } from "vitest";
import { signedSpread, spread } from "../../bench/lib/report.mjs";
import { farOff, isFlat, judgeTargets, referenceFloodP99 } from "../../bench/lib/verdicts.mjs";

const summary = (median: number) => ({ n: 3, median, min: median, max: median, p10: median, p90: median });
const latency = (p99: number) => ({ pooled: { n: 100, p50: 1, p90: 2, p99, max: p99 }, p99: summary(p99) });

function results(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    startLatency: { subjectMs: summary(70), baselineMs: summary(60), ratio: summary(70 / 60), overheadMs: summary(10) },
    throughput: [{ name: "200k", ratio: summary(1), serverDropped: 0, missingEnds: 0 }],
    responsiveness: { flood: { getResult: latency(12), toolsList: latency(14) } },
    probeSearch: { coldRatio: summary(1.05), synthetic: { worstMedianMs: 3 } },
    memory: {
      idle: { rssMb: 80 },
      withFullRings: { rssMb: 110 },
      churn: { after50: { rssMb: 95 }, afterAll: { rssMb: 97 }, rssGrowthMb: 2, heapGrowthMb: 0.1, rssAboveFirstHalfPeakMb: 0.5, outsideHeapAboveFirstHalfPeakMb: 0.5 },
    },
    coldStart: { subjectMs: summary(300), baselineMs: summary(320), ratio: summary(300 / 320) },
    ...overrides,
  };
}

describe("bench verdicts", () => {
  it("passes the context cost when every question is answered right within 4 calls and 10,000 characters, and the turn costs at most 8,000", () => {
    const question = (overrides: Record<string, unknown> = {}) => ({ workload: "missing-file", right: true, calls: [{}, {}, {}], chars: 4_500, ...overrides });
    const context = (perTurn: number, questions: unknown[]) => ({ contextCost: { perTurn, traceSeconds: 3, questions } });
    expect(judgeTargets(results(context(5_958, [question()])))).toMatchObject({ contextPerTurn: true, "context missing-file": true });
    expect(judgeTargets(results(context(8_001, [question()]))).contextPerTurn).toBe(false);
    expect(judgeTargets(results(context(5_958, [question({ right: false })])))["context missing-file"]).toBe(false);
    expect(judgeTargets(results(context(5_958, [question({ chars: 10_001 })])))["context missing-file"]).toBe(false);
    expect(judgeTargets(results(context(5_958, [question({ calls: [{}, {}, {}, {}, {}] })])))["context missing-file"]).toBe(false);
    // Far off (fails --short) only well past the budget.
    expect(farOff(results(context(5_958, [question({ chars: 15_000, right: false })])))).toEqual([]);
    expect(farOff(results(context(9_000, [question({ chars: 25_000 })])))).toHaveLength(2);
  });

  it("passes every figure that meets its target", () => {
    expect(Object.values(judgeTargets(results())).every(Boolean)).toBe(true);
  });

  it("accepts a start latency over 1.10× when the added time is at most 20 ms", () => {
    const start = { subjectMs: summary(40), baselineMs: summary(25), ratio: summary(1.6), overheadMs: summary(15) };
    expect(judgeTargets(results({ startLatency: start })).startLatency).toBe(true);
    expect(judgeTargets(results({ startLatency: { ...start, overheadMs: summary(25) } })).startLatency).toBe(false);
  });

  it("fails throughput when the server lost a line, whatever the rate", () => {
    const throughput = [{ name: "200k", ratio: summary(1.2), serverDropped: 0, missingEnds: 1 }];
    expect(judgeTargets(results({ throughput }))["throughput 200k"]).toBe(false);
    expect(farOff(results({ throughput }))).toEqual(["throughput 200k: the server lost 1 line(s)"]);
  });

  it("judges responsiveness on the worse p99 of get_result and tools/list", () => {
    const responsiveness = { flood: { getResult: latency(12), toolsList: latency(30) } };
    expect(judgeTargets(results({ responsiveness })).responsiveness).toBe(false);
  });

  it("fails --short only for figures far off, naming each", () => {
    expect(farOff(results())).toEqual([]);
    const far = results({
      startLatency: { subjectMs: summary(200), baselineMs: summary(60), ratio: summary(3.3), overheadMs: summary(140) },
      throughput: [{ name: "1M", ratio: summary(0.7), serverDropped: 0, missingEnds: 0 }],
      responsiveness: { flood: { getResult: latency(150), toolsList: latency(10) } },
      memory: { idle: { rssMb: 80 }, withFullRings: { rssMb: 210 }, churn: { after50: { rssMb: 95 }, afterAll: { rssMb: 97 }, rssGrowthMb: 2, heapGrowthMb: 0, rssAboveFirstHalfPeakMb: 0, outsideHeapAboveFirstHalfPeakMb: 0 } },
      coldStart: { subjectMs: summary(700), baselineMs: summary(300), ratio: summary(2.3) },
    });
    expect(farOff(far)).toHaveLength(5);
  });

  it("calls memory flat when the used heap stopped growing after the 50th run and the RSS outside it ended near the first half's peak", () => {
    expect(isFlat({ afterAll: { rssMb: 100 }, rssGrowthMb: 12, heapGrowthMb: 0.5, rssAboveFirstHalfPeakMb: 1, outsideHeapAboveFirstHalfPeakMb: 1 })).toBe(true);
    // V8 committing its young generation late in the run: RSS rises with the heap's size, not outside it.
    expect(isFlat({ afterAll: { rssMb: 106 }, rssGrowthMb: 37, heapGrowthMb: 0.8, rssAboveFirstHalfPeakMb: 17, outsideHeapAboveFirstHalfPeakMb: 0 })).toBe(true);
    expect(isFlat({ afterAll: { rssMb: 100 }, rssGrowthMb: 5, heapGrowthMb: 3, rssAboveFirstHalfPeakMb: 1, outsideHeapAboveFirstHalfPeakMb: 1 })).toBe(false);
    expect(isFlat({ afterAll: { rssMb: 100 }, rssGrowthMb: 15, heapGrowthMb: 0, rssAboveFirstHalfPeakMb: 8, outsideHeapAboveFirstHalfPeakMb: 8 })).toBe(false);
  });

  it("judges memory as the server's own footprint (store off, < 120 MB) plus at most 25 MB for the store's thread, measured in the same run", () => {
    const churn = { after50: { rssMb: 98 }, afterAll: { rssMb: 128 }, rssGrowthMb: 30, heapGrowthMb: 1, rssAboveFirstHalfPeakMb: 5.8, outsideHeapAboveFirstHalfPeakMb: 5 };
    const memory = (onMb: number, offMb: number) => ({ idle: { rssMb: 81 }, withFullRings: { rssMb: onMb }, storeOff: { idle: { rssMb: 67 }, withFullRings: { rssMb: offMb } }, storeCostMb: onMb - offMb, churn });
    expect(judgeTargets(results({ memory: memory(120, 101) })).memory).toBe(true);
    // The store's thread costing more than 25 MB fails, and so does the server's own footprint over 120 MB.
    expect(judgeTargets(results({ memory: memory(130, 101) })).memory).toBe(false);
    expect(judgeTargets(results({ memory: memory(140, 121) })).memory).toBe(false);
    // Without the baseline (an older result), the 120 MB applies to the figure as measured.
    const { storeOff: _, ...older } = memory(119, 101);
    expect(judgeTargets(results({ memory: older })).memory).toBe(true);
    expect(judgeTargets(results({ memory: { ...older, withFullRings: { rssMb: 121 } } })).memory).toBe(false);
  });

  it("fails --short throughput only when every round was below 0.80×", () => {
    const dipped = [{ name: "1M", ratio: { n: 3, median: 0.78, min: 0.71, max: 1.25, p10: 0.72, p90: 1.2 }, serverDropped: 0, missingEnds: 0 }];
    expect(farOff(results({ throughput: dipped }))).toEqual([]);
    const slow = [{ name: "1M", ratio: { n: 3, median: 0.7, min: 0.6, max: 0.79, p10: 0.6, p90: 0.78 }, serverDropped: 0, missingEnds: 0 }];
    expect(farOff(results({ throughput: slow }))).toEqual(["throughput 1M: 0.79× the minimal reader at best (every round < 0.80×)"]);
  });

  it("reports the reference server's worse p99 from the same windows without letting it change the verdict", () => {
    const measured = (ours: number, reference?: { call: number; list: number }) => ({
      flood: { getResult: latency(ours), toolsList: latency(10), ...(reference ? { reference: { call: latency(reference.call), toolsList: latency(reference.list) } } : {}) },
    });
    expect(referenceFloodP99(measured(12, { call: 9, list: 40 }))).toBe(40);
    expect(referenceFloodP99(measured(12, { call: 33, list: 20 }))).toBe(33);
    expect(referenceFloodP99(measured(12))).toBeNull();
    // A slower reference does not excuse us, nor a faster one fail us.
    expect(judgeTargets(results({ responsiveness: measured(30, { call: 60, list: 60 }) })).responsiveness).toBe(false);
    expect(judgeTargets(results({ responsiveness: measured(12, { call: 5, list: 5 }) })).responsiveness).toBe(true);
  });

  it("fails --short responsiveness on the median window's p99, not on one disturbed window", () => {
    const oneBadWindow = { flood: { getResult: { pooled: { n: 500, p50: 6, p90: 17, p99: 125, max: 514 }, p99: summary(49) }, toolsList: latency(45) } };
    expect(judgeTargets(results({ responsiveness: oneBadWindow })).responsiveness).toBe(false);
    expect(farOff(results({ responsiveness: oneBadWindow }))).toEqual([]);
  });

  it("fails --short responsiveness only beyond what the machine imposes on a bystander process", () => {
    const slow = (bystander: number) => ({ flood: { getResult: latency(150), toolsList: { ...latency(160), p99: summary(160) }, bystanderP99Ms: summary(bystander) } });
    expect(farOff(results({ responsiveness: slow(10) }))).toEqual([
      "responsiveness: p99 160 ms under flood in the median window (> 100 ms, and > 5 × the 10 ms a bystander process waited)",
    ]);
    expect(farOff(results({ responsiveness: slow(40) }))).toEqual([]);
  });

  it("skips figures that were not measured", () => {
    expect(judgeTargets({ coldStart: results().coldStart })).toEqual({ coldStart: true });
  });

  it("prints a median with its min–max spread, or n/a", () => {
    expect(spread({ n: 3, median: 12.34, min: 10, max: 15, p10: 10, p90: 15 }, 1)).toBe("12.3 (10.0–15.0)");
    expect(spread({ n: 1, median: 2, min: 2, max: 2, p10: 2, p90: 2 })).toBe("2");
    expect(spread(undefined)).toBe("n/a");
  });
});

describe("bench table cells", () => {
  it("signs deltas explicitly, negative ones with a minus sign", () => {
    expect(signedSpread({ n: 3, median: -12, min: -15, max: 4, p10: -15, p90: 4 })).toBe("−12 (−15…+4)");
  });
});
