import { GrpoError } from '../../errors.ts';
import type { LlamaConfig } from '../config.ts';
import type { HostTensor, WeightMap } from '../host-tensor.ts';

/** Tensors a checkpoint may carry beyond the config's own: the PPO value head (VALUE_HEAD in llama-weights.ts). */
export const optionalExtraWeights: ReadonlySet<string> = new Set(['value_head.weight']);

/** Every tensor a config needs, in Hugging Face naming (see host-tensor.ts), in checkpoint order. */
export function expectedWeightShapes(c: LlamaConfig): Map<string, number[]> {
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [c.vocabSize, c.dim]);
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [c.dim]);
    m.set(`${p}self_attn.q_proj.weight`, [q, c.dim]);
    m.set(`${p}self_attn.k_proj.weight`, [kv, c.dim]);
    m.set(`${p}self_attn.v_proj.weight`, [kv, c.dim]);
    if (c.qkvBias) {
      m.set(`${p}self_attn.q_proj.bias`, [q]);
      m.set(`${p}self_attn.k_proj.bias`, [kv]);
      m.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    if (c.qkNorm) {
      m.set(`${p}self_attn.q_norm.weight`, [c.headDim]);
      m.set(`${p}self_attn.k_norm.weight`, [c.headDim]);
    }
    m.set(`${p}self_attn.o_proj.weight`, [c.dim, q]);
    m.set(`${p}post_attention_layernorm.weight`, [c.dim]);
    m.set(`${p}mlp.gate_proj.weight`, [c.ffnDim, c.dim]);
    m.set(`${p}mlp.up_proj.weight`, [c.ffnDim, c.dim]);
    m.set(`${p}mlp.down_proj.weight`, [c.dim, c.ffnDim]);
  }
  m.set('model.norm.weight', [c.dim]);
  if (!c.tieEmbeddings) m.set('lm_head.weight', [c.vocabSize, c.dim]);
  return m;
}

function listSome(names: string[]): string {
  return names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
}

/** Throw one error naming missing, unexpected and mis-shaped tensors, so a bad checkpoint fails before ggml. */
export function checkWeights(c: LlamaConfig, weights: WeightMap, source: string): void {
  const expected = expectedWeightShapes(c);
  const missing = [...expected.keys()].filter((k) => !weights.has(k));
  const unexpected = [...weights.keys()].filter((k) => !expected.has(k) && !optionalExtraWeights.has(k));
  const misshaped: string[] = [];
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (t && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      misshaped.push(`${name} is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${listSome(missing)}`);
  if (unexpected.length)
    problems.push(`unexpected ${listSome(unexpected)} (a feature this Llama/Qwen2/Qwen3 graph does not have)`);
  if (misshaped.length) problems.push(listSome(misshaped));
  if (problems.length) throw new GrpoError('io', `${source}: weights do not match the config: ${problems.join('; ')}`);
}

/** Weights in canonical order (expectedWeightShapes, then allowed extras), for writers. */
export function orderedWeights(c: LlamaConfig, weights: WeightMap): [string, HostTensor][] {
  const names = [...expectedWeightShapes(c).keys(), ...[...optionalExtraWeights].filter((k) => weights.has(k))];
  return names.map((k) => [k, weights.get(k)!]);
}
