export const TARGETS: Record<string, string>;
export const FAR_OFF: Record<string, string>;
// Results are plain JSON built by the measurement modules; tests pass partial shapes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Results = Record<string, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function isFlat(churn: any): boolean;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function serverLost(throughputEntry: any): number;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function floodP99(responsiveness: any): number;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function referenceFloodP99(responsiveness: any): number | null;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function typicalFloodP99(responsiveness: any): number;
export function judgeTargets(results: Results): Record<string, boolean>;
export function farOff(results: Results): string[];
