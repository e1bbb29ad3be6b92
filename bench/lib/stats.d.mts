export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p10: number;
  p90: number;
}
export interface LatencyPercentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
export function quantile(values: readonly number[], q: number): number;
export function summarize(values: readonly number[]): Summary;
export function latencyPercentiles(samples: readonly number[]): LatencyPercentiles;
export function alternate<B, S>(runs: number, baseline: (round: number) => Promise<B>, subject: (round: number) => Promise<S>): Promise<{ baseline: B[]; subject: S[] }>;
export function pairedRatios(subject: readonly number[], baseline: readonly number[]): number[];
