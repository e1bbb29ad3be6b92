// Order statistics for benchmark samples: medians with their spread, never a lone mean.

/** Value at quantile `q` (0–1) of `values`, by linear interpolation between closest ranks. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower];
  const high = sorted[upper];
  return low + (high - low) * (position - lower);
}

/** Median with min–max and p10–p90 of a list of per-run figures. */
export function summarize(values) {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN, p10: Number.NaN, p90: Number.NaN };
  return {
    n: finite.length,
    median: quantile(finite, 0.5),
    min: Math.min(...finite),
    max: Math.max(...finite),
    p10: quantile(finite, 0.1),
    p90: quantile(finite, 0.9),
  };
}

/** Latency percentiles of one window of request timings (milliseconds). */
export function latencyPercentiles(samples) {
  return { n: samples.length, p50: quantile(samples, 0.5), p90: quantile(samples, 0.9), p99: quantile(samples, 0.99), max: samples.length ? Math.max(...samples) : Number.NaN };
}

/**
 * Runs `baseline` and `subject` alternately `runs` times (which one goes first flips each round),
 * so slow drift of the machine (thermal, page cache, other load) hits both sides alike.
 */
export async function alternate(runs, baseline, subject) {
  const baselineResults = [];
  const subjectResults = [];
  for (let round = 0; round < runs; round += 1) {
    if (round % 2 === 0) {
      baselineResults.push(await baseline(round));
      subjectResults.push(await subject(round));
    } else {
      subjectResults.push(await subject(round));
      baselineResults.push(await baseline(round));
    }
  }
  return { baseline: baselineResults, subject: subjectResults };
}

/** Per-round ratios subject/baseline (rounds paired, so drift between rounds cancels). */
export function pairedRatios(subject, baseline) {
  const ratios = [];
  for (let index = 0; index < Math.min(subject.length, baseline.length); index += 1) {
    if (baseline[index] > 0) ratios.push(subject[index] / baseline[index]);
  }
  return ratios;
}
