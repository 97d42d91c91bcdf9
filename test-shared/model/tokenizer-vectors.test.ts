import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path, { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ggufVocabMetadata, writeGguf } from '../../src/model/io/gguf-writer.ts';
import { GgufType, type GgufEntry } from '../../src/model/io/gguf-format.ts';
import { loadTokenizer } from '../../src/model/tokenizer/load-tokenizer.ts';
import type { Tokenizer } from '../../src/model/tokenizer/tokenizer.ts';
import { llamaCppVocabCases } from './llamacpp-vocab-cases.ts';
import { SHARED_DATA } from './shared-data.ts';

function checkVectors(t: Tokenizer, name: string): void {
  const cases = llamaCppVocabCases(name);
  assert.ok(cases.length >= 40, `${cases.length} cases`);
  const failures = cases.filter((c) => JSON.stringify(t.encode(c.text, { addBos: false })) !== JSON.stringify(c.ids));
  assert.deepEqual(
    failures.map((c) => c.text),
    [],
    `${failures.length} of ${cases.length} ${name} cases differ`,
  );
  // decoding gives the text back (these tokenizers are lossless on valid UTF-8)
  for (const c of cases) assert.equal(t.decode(c.ids), c.text);
}

test('llama.cpp gpt-2 tokenizer vectors all pass (GPT-2 encoder.json + vocab.bpe)', () => {
  checkVectors(loadTokenizer(path.join(SHARED_DATA, 'tokenizers', 'gpt2')), 'gpt-2');
});

test('llama.cpp qwen2 tokenizer vectors all pass (Qwen3 tokenizer.json)', () => {
  checkVectors(loadTokenizer(path.join(SHARED_DATA, 'tokenizers', 'qwen3')), 'qwen2');
});

test('the qwen2 vectors also pass through a GGUF gpt2-model vocabulary (tokens + merges + pre qwen2)', () => {
  const json = JSON.parse(readFileSync(path.join(SHARED_DATA, 'tokenizers', 'qwen3', 'tokenizer.json'), 'utf8'));
  const tokens: string[] = [];
  for (const [s, id] of Object.entries(json.model.vocab as Record<string, number>)) tokens[id] = s;
  const types: number[] = tokens.map(() => 1);
  for (const a of json.added_tokens as { id: number; content: string; special: boolean }[]) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? 3 : 4;
  }
  const merges = (json.model.merges as (string | string[])[]).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const meta = new Map<string, GgufEntry>([['general.architecture', { type: GgufType.STRING, value: 'qwen3' }]]);
  for (const [k, e] of ggufVocabMetadata({
    model: 'gpt2',
    pre: 'qwen2',
    tokens,
    tokenTypes: types,
    merges,
    eosId: 151645,
    padId: 151643,
    addBos: false,
  }))
    meta.set(k, e);
  const dir = mkdtempSync(join(tmpdir(), 'grpo-vocab-'));
  try {
    writeGguf(join(dir, 'vocab.gguf'), meta, []);
    const t = loadTokenizer(join(dir, 'vocab.gguf'));
    assert.equal(t.vocabSize, 151669);
    checkVectors(t, 'qwen2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
