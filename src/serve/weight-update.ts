/**
 * Whether a checkpoint can replace the served weights in place (POST /update_weights_from_disk): every config
 * field the weight tensors and graphs are built from, and every tensor's shape, are checked before anything is
 * written, so a checkpoint that does not fit changes nothing.
 */
import { GrpoError } from '../errors.ts';
import type { LlamaConfig } from '../model/config.ts';
import type { LoadedModel } from '../model/io/index.ts';
import { VALUE_HEAD, type LlamaWeights } from '../model/llama-weights.ts';

/**
 * The config fields the served weight tensors and the graphs over them are built from. New weights are uploaded
 * into the existing tensors (POST /update_weights_from_disk), so a checkpoint must agree on every one of them.
 * The served context (maxSeqLen), BOS/EOS ids and the `arch` label stay the server's own, as SGLang keeps its
 * model config across weight updates.
 */
export const WEIGHT_UPDATE_CONFIG_FIELDS = [
  'vocabSize',
  'dim',
  'nLayers',
  'nHeads',
  'nKvHeads',
  'headDim',
  'ffnDim',
  'tieEmbeddings',
  'qkvBias',
  'qkNorm',
  'ropeTheta',
  'normEps',
] as const satisfies readonly (keyof LlamaConfig)[];

/** Throws a GrpoError 'weights_mismatch' naming what keeps `loaded` from replacing `served` (`source` names it). */
export function checkWeightUpdate(served: LlamaWeights, loaded: LoadedModel, source: string): void {
  const { config, tensors: misfits } = weightUpdateMismatches(served, loaded);
  if (config.length + misfits.length === 0) return;
  // a config that differs explains the tensors that differ: name it, and count those
  const problems =
    config.length > 0
      ? [...config, ...(misfits.length > 0 ? [`${misfits.length} tensors do not fit`] : [])]
      : [listSome(misfits, 8)];
  throw new GrpoError(
    'weights_mismatch',
    `${source} does not fit the served model: ${problems.join('; ')}; the served weights are unchanged`,
  );
}

/** Hugging Face shape ([out, in]) of a weight tensor, as LlamaWeights.save() writes it */
function hfShape(name: string, ne: readonly number[]): number[] {
  let k = 4;
  while (k > 1 && ne[k - 1] === 1) k--;
  return (name === VALUE_HEAD ? [ne[0], 1] : ne.slice(0, k)).reverse();
}

/**
 * What keeps `loaded` from being uploaded into `served` in place: differing config fields, and missing,
 * mis-shaped and unknown tensors (shapes are checked exactly as LlamaWeights.load() checks them, so a checkpoint
 * with no problems here uploads without error). Both empty when it fits.
 */
export function weightUpdateMismatches(
  served: LlamaWeights,
  loaded: LoadedModel,
): { config: string[]; tensors: string[] } {
  const config: string[] = [];
  const problems: string[] = [];
  for (const k of WEIGHT_UPDATE_CONFIG_FIELDS) {
    const a = loaded.config[k],
      b = served.config[k];
    // ggml takes rope theta and norm eps as float32: values that round to the same float32 compute the same
    const same = k === 'ropeTheta' || k === 'normEps' ? Math.fround(a as number) === Math.fround(b as number) : a === b;
    if (!same) config.push(`${k} is ${loaded.config[k]}, the served model's is ${served.config[k]}`);
  }
  for (const [name, t] of served.byName) {
    const w = loaded.weights.get(name);
    if (!w) {
      if (name !== VALUE_HEAD) problems.push(`tensor '${name}' is missing`);
      continue;
    }
    const want = [...t.ne].slice(0, w.shape.length).reverse();
    if (w.shape.length > 4 || w.shape.some((d, i) => d !== want[i]) || w.data.length !== t.numel) {
      problems.push(
        `tensor '${name}' is [${w.shape.join(', ')}], the served model's is [${hfShape(name, t.ne).join(', ')}]`,
      );
    }
  }
  for (const name of loaded.weights.keys()) {
    if (!served.byName.has(name) && name !== VALUE_HEAD) problems.push(`tensor '${name}' is not in the served model`);
  }
  return { config, tensors: problems };
}

function listSome(items: string[], n: number): string {
  return items.slice(0, n).join('; ') + (items.length > n ? `; and ${items.length - n} more` : '');
}
