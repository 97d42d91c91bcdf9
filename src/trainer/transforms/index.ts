/** The batch transforms (registry.ts) and the built-in ones, registered in the order their hooks run. */
export * from './registry.ts';
import './soft-overlong.ts';
import './require-stop.ts';
import './dynamic-sampling.ts';
import './gfpo-filter.ts';
export { DEFAULT_STRATEGIC_GRAMS } from './hicra.ts';
