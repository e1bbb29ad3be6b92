export function syntheticProbes(count?: number): string[];
export const SYNTHETIC_FILTERS: readonly string[];
