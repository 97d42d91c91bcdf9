import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregations,
  hicraAdvantages,
  klEstimators,
  planningTokenMask,
  planningTokenMasks,
} from '../../src/algorithms/index.ts';
import { GrpoError } from '../../src/errors.ts';
import { assertRaggedClose } from './helpers.ts';

test('aggregation and KL estimators are looked up by name', () => {
  assert.deepEqual(Object.keys(aggregations).sort(), [
    'seq-mean-token-mean',
    'seq-mean-token-sum',
    'seq-mean-token-sum-norm',
    'token-mean',
  ]);
  assert.deepEqual(Object.keys(klEstimators).sort(), ['abs', 'k1', 'k2', 'k3', 'k3+']);
});

test('HICRA: A + α·|A|·mask amplifies positive and softens negative advantages on planning tokens', () => {
  assertRaggedClose(hicraAdvantages([[1, -1, 2]], [[1, 1, 0]], 0.2), [[1.2, -0.8, 2]]);
  assertRaggedClose(hicraAdvantages([0.5, -2], [[1, 0], [1]]), [[0.6, 0.5], [-1.6]]); // per-sequence A broadcast, α 0.2
  assert.throws(() => hicraAdvantages([1, 2], [[1]]), GrpoError);
});

test('planning tokens from strategic n-grams over byte-level BPE pieces', () => {
  const tokens = ['Let', "'s", 'Ġtry', 'Ġa', 'Ġdifferent', 'Ġappro', 'ach', '.', 'ĠSo', 'Ġwe', 'Ġretry'];
  assert.deepEqual(planningTokenMask(tokens, ["let's try a different approach"]), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  // word boundaries: "try" does not match inside "retry"
  assert.deepEqual(planningTokenMask(tokens, ['try']), [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  // case and whitespace are normalised; several grams and repeated occurrences
  const text = ['Wait', ',', ' LET', "'S", '  check', '.', ' wait', ','];
  assert.deepEqual(planningTokenMask(text, ['wait', "let's check"]), [1, 0, 1, 1, 1, 0, 1, 0]);
  assert.deepEqual(planningTokenMask(text, ['wait'], { caseSensitive: true }), [0, 0, 0, 0, 0, 0, 1, 0]);
  // SentencePiece markers
  assert.deepEqual(planningTokenMask(['▁but', '▁wait', '!'], ['but wait']), [1, 1, 0]);
  assert.deepEqual(planningTokenMasks([['▁no'], ['▁wait']], ['wait']), [[0], [1]]);
  assert.throws(() => planningTokenMask(tokens, ['  ']), GrpoError);
});
