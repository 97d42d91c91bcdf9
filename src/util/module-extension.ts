/**
 * Whether grpo-ts runs from its compiled package (dist/*.js) or from its sources through a TypeScript loader
 * (src/*.ts, as its tests and a checkout do): the files it opens beside its own modules at run time (a child
 * process's entry, the dashboard's client code for esbuild) have the extension its modules have.
 */
export const runsFromSources = import.meta.url.endsWith('.ts');

/** '.ts' from the sources, '.js' from the compiled package. */
export const moduleExtension = runsFromSources ? '.ts' : '.js';
