/**
 * A slow, obviously-correct float64 Llama forward in plain TypeScript, written from the Hugging Face modeling
 * code (LlamaModel / Qwen2 / Qwen3): the independent reference that the ggml graph is checked against.
 */
import type { LlamaConfig } from '../../src/model/config.ts';
import type { WeightMap } from '../../src/model/host-tensor.ts';

type Vec = Float64Array;

function W(w: WeightMap, name: string) {
  const t = w.get(name);
  if (!t) throw new Error('missing ' + name);
  return t;
}

/** y = W x (+ b), W HF-shaped [out, in] */
function linear(w: WeightMap, name: string, x: Vec, bias?: string): Vec {
  const t = W(w, name);
  const [out, inp] = t.shape;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    for (let i = 0; i < inp; i++) s += t.data[o * inp + i] * x[i];
    y[o] = s;
  }
  if (bias && w.has(bias)) {
    const b = W(w, bias).data;
    for (let o = 0; o < out; o++) y[o] += b[o];
  }
  return y;
}

function rmsNorm(x: Vec, g: ArrayLike<number>, eps: number): Vec {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * g[i]);
}

/** HF rotate_half RoPE on one head */
function rope(x: Vec, pos: number, theta: number): Vec {
  const d = x.length,
    h = d / 2,
    y = new Float64Array(d);
  for (let i = 0; i < h; i++) {
    const a = pos * theta ** ((-2 * i) / d);
    y[i] = x[i] * Math.cos(a) - x[i + h] * Math.sin(a);
    y[i + h] = x[i + h] * Math.cos(a) + x[i] * Math.sin(a);
  }
  return y;
}

/** logits [len][vocab] for one sequence, float64 */
export function referenceLogits(c: LlamaConfig, w: WeightMap, tokens: number[]): Float64Array[] {
  const hd = c.headDim,
    H = c.nHeads,
    Hkv = c.nKvHeads,
    rep = H / Hkv;
  const emb = W(w, 'model.embed_tokens.weight').data;
  let xs: Vec[] = tokens.map((t) => Float64Array.from(emb.subarray(t * c.dim, (t + 1) * c.dim)));
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}.`;
    const hs = xs.map((x) => rmsNorm(x, W(w, p + 'input_layernorm.weight').data, c.normEps));
    const heads = (v: Vec, n: number) => Array.from({ length: n }, (_, h) => v.slice(h * hd, (h + 1) * hd));
    const qs = hs.map((h, pos) =>
      heads(linear(w, p + 'self_attn.q_proj.weight', h, p + 'self_attn.q_proj.bias'), H).map((q) =>
        rope(c.qkNorm ? rmsNorm(q, W(w, p + 'self_attn.q_norm.weight').data, c.normEps) : q, pos, c.ropeTheta),
      ),
    );
    const ks = hs.map((h, pos) =>
      heads(linear(w, p + 'self_attn.k_proj.weight', h, p + 'self_attn.k_proj.bias'), Hkv).map((k) =>
        rope(c.qkNorm ? rmsNorm(k, W(w, p + 'self_attn.k_norm.weight').data, c.normEps) : k, pos, c.ropeTheta),
      ),
    );
    const vs = hs.map((h) => heads(linear(w, p + 'self_attn.v_proj.weight', h, p + 'self_attn.v_proj.bias'), Hkv));
    xs = xs.map((x, qpos) => {
      const att = new Float64Array(H * hd);
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / rep);
        const scores = [];
        for (let k = 0; k <= qpos; k++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += qs[qpos][h][i] * ks[k][kvh][i];
          scores.push(s / Math.sqrt(hd));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let k = 0; k <= qpos; k++) for (let i = 0; i < hd; i++) att[h * hd + i] += (e[k] / z) * vs[k][kvh][i];
      }
      const o = linear(w, p + 'self_attn.o_proj.weight', att);
      const x1 = x.map((v, i) => v + o[i]);
      const h2 = rmsNorm(x1, W(w, p + 'post_attention_layernorm.weight').data, c.normEps);
      const gate = linear(w, p + 'mlp.gate_proj.weight', h2),
        up = linear(w, p + 'mlp.up_proj.weight', h2);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const d = linear(w, p + 'mlp.down_proj.weight', act);
      return x1.map((v, i) => v + d[i]);
    });
  }
  const head = c.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  return xs.map((x) => linear(w, head, rmsNorm(x, W(w, 'model.norm.weight').data, c.normEps)));
}

/** log-softmax of one row of logits */
export function logSoftmax(z: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < z.length; i++) m = Math.max(m, z[i]);
  let s = 0;
  for (let i = 0; i < z.length; i++) s += Math.exp(z[i] - m);
  const lse = m + Math.log(s);
  return Float64Array.from({ length: z.length }, (_, i) => z[i] - lse);
}
