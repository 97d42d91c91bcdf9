/**
 * Packed batches: the sequences of a forward pass as one flat run of tokens, with every shared prefix computed once
 * and no padding between sequences (verl's remove-padding; the shared-prompt tree of a GRPO group).
 *
 * Sequences are inserted into a prefix tree; its nodes, in depth-first order, are the flat tokens. The G completions of
 * a group share their prompt's nodes, so the prompt is computed once, and identical sequences are computed once. Each
 * token keeps its position in its sequence (RoPE), and attends to its ancestors in the tree and itself — the prompt
 * and its own earlier tokens, never a sibling completion.
 *
 * Attention runs in blocks: up to `blockSize` consecutive tokens of one tree segment (a run of nodes without a
 * branch) as queries, and as keys the tokens of every ancestor segment plus their own segment up to the block's end.
 * In depth-first order every such key precedes the segment, so a key is visible to a query exactly when its flat
 * index is not after the query's (a causal mask over the key list). Blocks of similar key counts form one family,
 * computed as one batched product (pieces/packed-attention.ts); only attention pays for the padding within a family,
 * and its memory is bounded by the block size instead of growing with the square of a sequence's length.
 *
 * The log-probs a pass scores are items: a node's hidden state and the token after it (a branch node is scored once
 * per distinct child). Only positions from `logprobsFrom` on get log-probs, so a completion's log-probs never pay for its
 * prompt's share of the vocabulary-sized head.
 */
import { GrpoError } from '../errors.ts';

export interface PackOptions {
  /** per sequence, the first position t whose next token x[t+1] is scored (default 0: every position) */
  logprobsFrom?: ArrayLike<number>;
  /** share common prefixes between sequences (default true); false packs each sequence on its own */
  share?: boolean;
  /** queries per attention block (default 64) */
  blockSize?: number;
  /** token and item counts are padded up to a multiple of this and of 32 (ggml's fast matmul kernels contract over them) */
  padMultiple?: number;
  /**
   * 'scored' (default): a sequence's last token is only a target, never read, so it is left out of the tokens;
   * 'every': every token is computed (logits at every position)
   */
  tokens?: 'scored' | 'every';
}

/** One batched attention product: `rows` blocks of `queries` query slots over `keys` key slots. */
export interface AttentionFamily {
  rows: number;
  queries: number;
  keys: number;
}

export interface PackedBatch {
  /** flat tokens (padding: token 0 at position 0) and their positions in their sequences */
  tokens: Int32Array;
  positions: Int32Array;
  /** tokens before padding */
  realTokens: number;
  /** scored items: the flat token whose hidden state predicts, and the target token */
  itemNode: Int32Array;
  itemTarget: Int32Array;
  realItems: number;
  families: AttentionFamily[];
  /** per family, rows × queries flat token indices (padding slots: 0), all families one after another */
  queryIndex: Int32Array;
  /** per family, rows × keys flat token indices (padding slots: 0) */
  keyIndex: Int32Array;
  /** per flat token, its slot among all families' query slots */
  outIndex: Int32Array;
  /** per family, the additive mask [keys, queries, 1, rows]: 0 where a query sees a key, −inf elsewhere */
  masks: Float32Array[];
  /** per sequence, the item of each scored position from logprobsFrom on */
  itemsOf: Int32Array[];
  /** per sequence, the flat token of each position computed (all but the last with tokens 'scored') */
  nodesOf: Int32Array[];
}

/** The shape a graph is built for: batches with the same key can use the same graph. */
export function packedShapeKey(p: PackedBatch): string {
  return `${p.tokens.length}/${p.itemNode.length}/${p.families.map((f) => `${f.rows}x${f.queries}x${f.keys}`).join(',')}`;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** attention families per pass at most (see the merge in packSequences) */
const MAX_FAMILIES = 6;

interface TrieNode {
  token: number;
  position: number;
  parent: number;
  children: Map<number, number> | null;
  /** flat index (depth-first order) */
  flat: number;
}

interface Segment {
  start: number;
  end: number;
  /** the parent segment's index, −1 for a root */
  parent: number;
}

/** ≤ blockSize queries of one segment [q0, q1); keys: the ancestor segments, then the segment up to q1. */
interface Block {
  q0: number;
  q1: number;
  keys: [number, number][];
  keyCount: number;
}

export function packSequences(sequences: ArrayLike<number>[], opts: PackOptions = {}): PackedBatch {
  const blockSize = opts.blockSize ?? 64;
  const pad = lcm(opts.padMultiple ?? 32, 32);
  if (!(Number.isInteger(blockSize) && blockSize >= 1))
    throw new GrpoError('config', `attention block size must be a positive integer, got ${blockSize}`);
  if (sequences.length === 0) throw new GrpoError('shape', 'packing needs at least one sequence');
  const { nodes, roots, nodesOfSeq } = prefixTree(sequences, opts.share ?? true, opts.tokens ?? 'scored');
  const { order, segments } = depthFirst(nodes, roots);
  const N = roundUp(order.length, pad);
  const familyBlocks = attentionFamilies(attentionBlocks(segments, blockSize), blockSize);
  const tokens = new Int32Array(N),
    positions = new Int32Array(N);
  order.forEach((v, n) => {
    tokens[n] = nodes[v].token;
    positions[n] = nodes[v].position;
  });
  return {
    tokens,
    positions,
    realTokens: order.length,
    ...attentionLayout(familyBlocks, N),
    ...logprobItems(sequences, nodes, nodesOfSeq, opts.logprobsFrom, pad),
    nodesOf: nodesOfSeq.map((path) => Int32Array.from(path, (v) => nodes[v].flat)),
  };
}

/** The prefix tree (a forest: one root per distinct first token; without sharing, one chain per sequence), and each sequence's path. */
function prefixTree(sequences: ArrayLike<number>[], share: boolean, which: 'scored' | 'every') {
  const computed = (s: ArrayLike<number>) => (which === 'every' ? s.length : s.length - 1);
  const nodes: TrieNode[] = [];
  const roots: number[] = [];
  const rootOf = new Map<number, number>();
  const nodesOfSeq: number[][] = sequences.map((s, i) => {
    if (computed(s) < 1)
      throw new GrpoError(
        'shape',
        `sequence ${i} has ${s.length} tokens: too few to ${which === 'every' ? 'compute' : 'score (a context and a target)'}`,
      );
    const path: number[] = [];
    let at = -1;
    for (let t = 0; t < computed(s); t++) {
      const tok = s[t];
      let next = !share ? undefined : at < 0 ? rootOf.get(tok) : nodes[at].children?.get(tok);
      if (next === undefined) {
        next = nodes.push({ token: tok, position: t, parent: at, children: null, flat: -1 }) - 1;
        if (at < 0) {
          roots.push(next);
          if (share) rootOf.set(tok, next);
        } else (nodes[at].children ??= new Map()).set(tok, next);
      }
      path.push(next);
      at = next;
    }
    return path;
  });
  return { nodes, roots, nodesOfSeq };
}

/** Depth-first order (each node's `flat`), cut into segments: a segment starts at a root or at a child of a branching node. */
function depthFirst(nodes: TrieNode[], roots: number[]): { order: number[]; segments: Segment[] } {
  const order: number[] = [];
  const segments: Segment[] = [];
  const stack: [number, number][] = roots.map((r) => [r, -1] as [number, number]).reverse();
  while (stack.length) {
    const [first, parentSeg] = stack.pop()!;
    const seg = segments.push({ start: order.length, end: 0, parent: parentSeg }) - 1;
    let v = first;
    for (;;) {
      nodes[v].flat = order.push(v) - 1;
      const kids = nodes[v].children;
      if (!kids || kids.size === 0) break;
      if (kids.size === 1) {
        v = kids.values().next().value as number;
        continue;
      }
      for (const k of [...kids.values()].reverse()) stack.push([k, seg]);
      break;
    }
    segments[seg].end = order.length;
  }
  return { order, segments };
}

/** Attention blocks: ≤ blockSize queries of one segment; keys: the ancestor segments, then the segment up to the block's end. */
function attentionBlocks(segments: Segment[], blockSize: number): Block[] {
  const blocks: Block[] = [];
  segments.forEach((s) => {
    const ancestors: [number, number][] = [];
    for (let p = s.parent; p >= 0; p = segments[p].parent) ancestors.unshift([segments[p].start, segments[p].end]);
    const before = ancestors.reduce((n, [a, b]) => n + b - a, 0);
    for (let q0 = s.start; q0 < s.end; q0 += blockSize) {
      const q1 = Math.min(s.end, q0 + blockSize);
      blocks.push({ q0, q1, keys: [...ancestors, [s.start, q1]], keyCount: before + q1 - s.start });
    }
  });
  return blocks;
}

/**
 * Families: blocks of one query-count class (a power of two, or the block size) and similar key counts are batched
 * together; a block pads to at most 1/0.85 of its keys, and a segment's short last block only to its class. At most
 * MAX_FAMILIES: each family's temporaries sit between the activations a training graph keeps, and ggml's allocator
 * (the GPU scheduler's; CPU graphs use engine/graph-memory.ts) holds at most 256 free holes — the neighbours whose
 * merge pads the fewest score slots are merged.
 */
function attentionFamilies(blocks: Block[], blockSize: number): Block[][] {
  const queryClass = (b: Block) => Math.min(blockSize, 2 ** Math.ceil(Math.log2(b.q1 - b.q0)));
  blocks.sort((a, b) => queryClass(b) - queryClass(a) || b.keyCount - a.keyCount || a.q0 - b.q0);
  const families: Block[][] = [];
  for (const b of blocks) {
    const last = families[families.length - 1];
    if (last && queryClass(b) === queryClass(last[0]) && b.keyCount >= 0.85 * last[0].keyCount) last.push(b);
    else families.push([b]);
  }
  const slots = (bs: Block[]) =>
    bs.length * Math.max(...bs.map((b) => b.q1 - b.q0)) * Math.max(...bs.map((b) => b.keyCount));
  while (families.length > MAX_FAMILIES) {
    let best = 0,
      cost = Infinity;
    for (let i = 0; i + 1 < families.length; i++) {
      const c = slots([...families[i], ...families[i + 1]]) - slots(families[i]) - slots(families[i + 1]);
      if (c < cost) {
        cost = c;
        best = i;
      }
    }
    families.splice(
      best,
      2,
      [...families[best], ...families[best + 1]].sort((a, b) => b.keyCount - a.keyCount || a.q0 - b.q0),
    );
  }
  return families;
}

/** Each family's shape, the gather indices of its queries and keys, where each token's output lands, and its mask. */
function attentionLayout(
  familyBlocks: Block[][],
  N: number,
): Pick<PackedBatch, 'families' | 'queryIndex' | 'keyIndex' | 'outIndex' | 'masks'> {
  const families: AttentionFamily[] = familyBlocks.map((bs) => ({
    rows: bs.length,
    queries: Math.max(...bs.map((b) => b.q1 - b.q0)),
    keys: roundUp(Math.max(...bs.map((b) => b.keyCount)), 8),
  }));
  const queryIndex = new Int32Array(families.reduce((n, f) => n + f.rows * f.queries, 0));
  const keyIndex = new Int32Array(families.reduce((n, f) => n + f.rows * f.keys, 0));
  const outIndex = new Int32Array(N);
  const masks: Float32Array[] = [];
  let qs = 0,
    ks = 0;
  familyBlocks.forEach((bs, fi) => {
    const { queries: Q, keys: K } = families[fi];
    const mask = new Float32Array(K * Q * bs.length).fill(-Infinity);
    bs.forEach((b, r) => {
      const keyFlat: number[] = [];
      for (const [a, e] of b.keys) for (let j = a; j < e; j++) keyFlat.push(j);
      keyFlat.forEach((j, k) => {
        keyIndex[ks + r * K + k] = j;
      });
      for (let c = 0; c < Q; c++) {
        const row = (r * Q + c) * K;
        const q = b.q0 + c;
        if (q >= b.q1) {
          mask[row] = 0;
          continue;
        } // a padding query sees one key, so its softmax stays finite
        queryIndex[qs + r * Q + c] = q;
        outIndex[q] = qs + r * Q + c;
        // keys are ancestors (all before q) and the segment up to the block's end: visible when not after q
        for (let k = 0; k < keyFlat.length && keyFlat[k] <= q; k++) mask[row + k] = 0;
      }
    });
    masks.push(mask);
    qs += bs.length * Q;
    ks += bs.length * K;
  });
  return { families, queryIndex, keyIndex, outIndex, masks };
}

/** Items: one per (node, next token), shared by every sequence through that edge; per sequence, its items from logprobsFrom on. */
function logprobItems(
  sequences: ArrayLike<number>[],
  nodes: TrieNode[],
  nodesOfSeq: number[][],
  logprobsFrom: ArrayLike<number> | undefined,
  pad: number,
) {
  const itemOf = new Map<number, number>();
  const itemNodeList: number[] = [],
    itemTargetList: number[] = [];
  const itemsOf = sequences.map((s, i) => {
    const from = logprobsFrom ? logprobsFrom[i] : 0;
    if (!(Number.isInteger(from) && from >= 0 && from <= s.length - 1))
      throw new GrpoError('shape', `sequence ${i}: scoring from position ${from} of a sequence of ${s.length} tokens`);
    const path = nodesOfSeq[i];
    const out = new Int32Array(s.length - 1 - from);
    for (let t = from; t < s.length - 1; t++) {
      const key = path[t] * 2 ** 24 + s[t + 1];
      let item = itemOf.get(key);
      if (item === undefined) {
        item = itemNodeList.push(nodes[path[t]].flat) - 1;
        itemTargetList.push(s[t + 1]);
        itemOf.set(key, item);
      }
      out[t - from] = item;
    }
    return out;
  });
  const realItems = itemNodeList.length;
  const M = Math.max(pad, roundUp(realItems, pad));
  const itemNode = new Int32Array(M),
    itemTarget = new Int32Array(M);
  itemNode.set(itemNodeList);
  itemTarget.set(itemTargetList);
  return { itemNode, itemTarget, realItems, itemsOf };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
