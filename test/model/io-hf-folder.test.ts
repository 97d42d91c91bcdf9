import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GrpoError } from '../../src/errors.ts';
import { hostTensor } from '../../src/model/host-tensor.ts';
import { readHfModel, writeHfModel } from '../../src/model/io/hf-folder.ts';
import { llamaConfigFromHf } from '../../src/model/io/hf-config.ts';
import { loadModelWeights } from '../../src/model/io/load-model.ts';
import { writeSafetensors } from '../../src/model/io/safetensors.ts';
import { assertSameWeights, randomWeights, tinyConfig, withTempDir } from './io-fixtures.ts';

const variants = {
  llama: tinyConfig(),
  'llama tied': tinyConfig({ tieEmbeddings: true }),
  qwen2: (({ bosTokenId: _, ...c }) => c)(
    tinyConfig({
      arch: 'qwen2',
      qkvBias: true,
      tieEmbeddings: true,
      ropeTheta: 1000000,
      normEps: 1e-6,
      eosTokenIds: [5, 6],
    }),
  ),
  qwen3: tinyConfig({ arch: 'qwen3', qkNorm: true, headDim: 8, ropeTheta: 1000000, normEps: 1e-6 }),
};

for (const [label, config] of Object.entries(variants)) {
  test(`HF folder save -> load round trip is exact (${label})`, () =>
    withTempDir((dir) => {
      const weights = randomWeights(config, 7);
      const out = join(dir, 'ckpt');
      writeHfModel(out, { config, weights });
      const back = readHfModel(out);
      assert.deepEqual(back.config, config);
      assert.deepEqual(assertSameWeights(back.weights, weights), []);
      assert.deepEqual(readdirSync(dir), ['ckpt'], 'no staging folders left behind');
    }));
}

test('config.json is what transformers expects for each architecture', () =>
  withTempDir((dir) => {
    writeHfModel(join(dir, 'q3'), { config: variants.qwen3, weights: randomWeights(variants.qwen3) });
    const q3 = JSON.parse(readFileSync(join(dir, 'q3', 'config.json'), 'utf8'));
    assert.deepEqual(q3.architectures, ['Qwen3ForCausalLM']);
    assert.equal(q3.model_type, 'qwen3');
    assert.equal(q3.head_dim, 8);
    assert.equal(q3.attention_bias, false);
    assert.equal(q3.torch_dtype, 'float32');
    writeHfModel(
      join(dir, 'q2'),
      { config: variants.qwen2, weights: randomWeights(variants.qwen2) },
      { dtype: 'BF16' },
    );
    const q2 = JSON.parse(readFileSync(join(dir, 'q2', 'config.json'), 'utf8'));
    assert.deepEqual(
      [q2.architectures[0], q2.model_type, q2.tie_word_embeddings, q2.use_sliding_window, q2.torch_dtype],
      ['Qwen2ForCausalLM', 'qwen2', true, false, 'bfloat16'],
    );
    assert.deepEqual(q2.eos_token_id, [5, 6]);
    const gen = JSON.parse(readFileSync(join(dir, 'q2', 'generation_config.json'), 'utf8'));
    assert.deepEqual(gen, { eos_token_id: [5, 6] });
    writeHfModel(join(dir, 'll'), { config: variants.llama, weights: randomWeights(variants.llama) });
    const ll = JSON.parse(readFileSync(join(dir, 'll', 'config.json'), 'utf8'));
    assert.deepEqual(
      [
        ll.architectures[0],
        ll.model_type,
        ll.bos_token_id,
        ll.eos_token_id,
        ll.num_key_value_heads,
        ll.rms_norm_eps,
        ll.mlp_bias,
      ],
      ['LlamaForCausalLM', 'llama', 1, 2, 2, 1e-5, false],
    );
  }));

test('BF16 save halves the file and reads back rounded', () =>
  withTempDir((dir) => {
    const config = variants.llama;
    const weights = randomWeights(config);
    writeHfModel(join(dir, 'f32'), { config, weights });
    writeHfModel(join(dir, 'bf16'), { config, weights }, { dtype: 'BF16' });
    const size = (d: string) => readFileSync(join(dir, d, 'model.safetensors')).length;
    assert.ok(size('bf16') < 0.6 * size('f32'));
    const back = readHfModel(join(dir, 'bf16')).weights.get('model.norm.weight')!;
    const orig = weights.get('model.norm.weight')!;
    back.data.forEach((x, i) => assert.ok(Math.abs(x - orig.data[i]) <= Math.abs(orig.data[i]) * 2 ** -8));
  }));

test('saving copies tokenizer files and replaces an existing checkpoint atomically', () =>
  withTempDir((dir) => {
    const tokDir = join(dir, 'tok');
    mkdirSync(tokDir);
    writeFileSync(join(tokDir, 'tokenizer.json'), '{"model":{}}');
    writeFileSync(join(tokDir, 'tokenizer_config.json'), '{}');
    writeFileSync(join(tokDir, 'unrelated.txt'), 'x');
    const config = variants.llama;
    const out = join(dir, 'ckpt');
    writeHfModel(out, { config, weights: randomWeights(config, 1) }, { tokenizer: tokDir });
    assert.deepEqual(readdirSync(out).sort(), [
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    writeHfModel(out, { config, weights: randomWeights(config, 2) });
    assert.deepEqual(assertSameWeights(readHfModel(out).weights, randomWeights(config, 2)), []);
    assert.ok(!existsSync(join(out, 'tokenizer.json')), 'the old folder was replaced, not merged');
    assert.deepEqual(readdirSync(dir).sort(), ['ckpt', 'tok']);
    assert.throws(() => writeHfModel(out, { config, weights: randomWeights(config) }, { overwrite: false }), GrpoError);
    const bad = randomWeights(config);
    bad.delete('model.norm.weight');
    assert.throws(() => writeHfModel(join(dir, 'bad'), { config, weights: bad }), /missing model\.norm\.weight/);
    assert.ok(!existsSync(join(dir, 'bad')));
  }));

test('sharded checkpoints (model.safetensors.index.json) load, ignoring rotary buffers and tied lm_head copies', () =>
  withTempDir((dir) => {
    const config = tinyConfig({ tieEmbeddings: true });
    const weights = randomWeights(config, 4);
    const names = [...weights.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((list, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const extra: [string, ReturnType<typeof hostTensor>][] =
        i === 0
          ? [
              ['model.layers.0.self_attn.rotary_emb.inv_freq', hostTensor([2])],
              ['lm_head.weight', weights.get('model.embed_tokens.weight')!],
            ]
          : [];
      writeSafetensors(
        join(dir, file),
        [...list.map((n) => [n, weights.get(n)!] as [string, ReturnType<typeof hostTensor>]), ...extra],
        { dtype: 'F32' },
      );
      for (const n of list) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        architectures: ['LlamaForCausalLM'],
        vocab_size: 37,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        rms_norm_eps: 1e-5,
        rope_theta: 10000,
        max_position_embeddings: 64,
        tie_word_embeddings: true,
        bos_token_id: 1,
        eos_token_id: 2,
        torch_dtype: 'bfloat16',
      }),
    );
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 9] }));
    const m = loadModelWeights(dir);
    assert.equal(m.format, 'hf');
    assert.deepEqual(m.config, { ...config, eosTokenIds: [2, 9] });
    assert.deepEqual(assertSameWeights(m.weights, weights), []);
  }));

test('config.json mapping: defaults, and clear errors for what the graph cannot run', () => {
  const base = {
    architectures: ['Qwen3ForCausalLM'],
    vocab_size: 10,
    hidden_size: 8,
    intermediate_size: 12,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  };
  const c = llamaConfigFromHf(base, 'x');
  assert.deepEqual(
    [c.arch, c.nKvHeads, c.headDim, c.qkNorm, c.qkvBias, c.ropeTheta, c.normEps, c.maxSeqLen, c.tieEmbeddings],
    ['qwen3', 2, 128, true, false, 10000, 1e-6, 32768, false],
  );
  assert.equal(llamaConfigFromHf({ ...base, architectures: ['LlamaForCausalLM'] }, 'x').headDim, 4);
  assert.equal(
    llamaConfigFromHf({ ...base, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } }, 'x').ropeTheta,
    5e5,
  );
  const rejects = (hf: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => llamaConfigFromHf({ ...base, ...hf }, 'cfg'),
      (e: unknown) => e instanceof GrpoError && pattern.test(e.message),
    );
  rejects(
    { architectures: ['MistralForCausalLM'] },
    /unsupported architecture MistralForCausalLM; supported: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM/,
  );
  rejects({ rope_scaling: { rope_type: 'llama3', factor: 8 } }, /RoPE scaling 'llama3'/);
  rejects({ quantization_config: { quant_method: 'gptq' } }, /quantized/);
  rejects({ attention_bias: true }, /attention_bias/);
  rejects({ hidden_act: 'gelu' }, /gelu/);
  rejects({ hidden_size: undefined }, /no 'hidden_size'/);
});

test('reading a folder without weights or with the wrong tensors explains what is wrong', () =>
  withTempDir((dir) => {
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        architectures: ['LlamaForCausalLM'],
        vocab_size: 37,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
      }),
    );
    writeFileSync(join(dir, 'pytorch_model.bin'), '');
    assert.throws(() => readHfModel(dir), /safe_serialization/);
    const w = randomWeights(tinyConfig({ nKvHeads: 4 }));
    w.set('model.layers.0.self_attn.o_proj.bias', hostTensor([16]));
    w.set('model.norm.weight', hostTensor([15]));
    writeSafetensors(join(dir, 'model.safetensors'), w);
    assert.throws(
      () => readHfModel(dir),
      (e: unknown) =>
        e instanceof GrpoError &&
        /unexpected model\.layers\.0\.self_attn\.o_proj\.bias/.test(e.message) &&
        /model\.norm\.weight is \[15\], expected \[16\]/.test(e.message),
    );
    assert.throws(() => readHfModel(join(dir, 'nope')), /config\.json is missing/);
  }));
