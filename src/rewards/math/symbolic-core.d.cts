export type SymbolicVerdict = 'equal' | 'different' | 'unknown';
export type ComparisonMode = 'equal' | 'proportional' | 'positive' | 'rounded';
export function compareExpressions(a: string, b: string, mode: ComparisonMode, tolerance: number): SymbolicVerdict;
