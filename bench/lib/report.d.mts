import type { Summary } from "./stats.mjs";
export function signedSpread(summary: Summary | undefined, digits?: number): string;
export function spread(summary: Summary | undefined, digits?: number, scale?: number): string;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function renderTable(results: Record<string, any>): string;
export function farOffLegend(): string;
