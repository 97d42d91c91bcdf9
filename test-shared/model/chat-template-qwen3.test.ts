import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTokenizer } from '../../src/model/tokenizer/load-tokenizer.ts';
import path from 'node:path';
import { SHARED_DATA } from './shared-data.ts';

// Expected strings are written out by hand from the Jinja template in tokenizers/qwen3/tokenizer_config.json:
// historical assistant turns (before the last user query) lose their <think> block; the last assistant turn
// keeps it; tools add a system preamble; tool results are wrapped in a user turn.
const tok = loadTokenizer(path.join(SHARED_DATA, 'tokenizers', 'qwen3'));

const conversation = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: '<think>\nTwo plus two.\n</think>\n\n4' },
  { role: 'user', content: 'And 3+3?' },
];

test('Qwen3 template: multi-turn conversation with a generation prompt', () => {
  assert.equal(
    tok.applyChatTemplate(conversation, { addGenerationPrompt: true }),
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n' +
      '<|im_start|>assistant\n4<|im_end|>\n' +
      '<|im_start|>user\nAnd 3+3?<|im_end|>\n' +
      '<|im_start|>assistant\n',
  );
});

test('Qwen3 template: the final assistant turn keeps its reasoning', () => {
  const full = [...conversation, { role: 'assistant', content: '<think>\nThree plus three.\n</think>\n\n6' }];
  assert.equal(
    tok.applyChatTemplate(full),
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n' +
      '<|im_start|>assistant\n4<|im_end|>\n' +
      '<|im_start|>user\nAnd 3+3?<|im_end|>\n' +
      '<|im_start|>assistant\n<think>\nThree plus three.\n</think>\n\n6<|im_end|>\n',
  );
});

test('Qwen3 template: enable_thinking false pre-fills an empty think block', () => {
  assert.equal(
    tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], {
      addGenerationPrompt: true,
      extra: { enable_thinking: false },
    }),
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  );
});

test('Qwen3 template: tools, a tool call and its response', () => {
  const tools = [{ type: 'function', function: { name: 'get_weather' } }];
  const messages = [
    { role: 'user', content: 'Weather in Paris?' },
    {
      role: 'assistant',
      content: '',
      tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
    },
    { role: 'tool', content: '18C' },
  ];
  assert.equal(
    tok.applyChatTemplate(messages, { addGenerationPrompt: true, tools }),
    '<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
      'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
      '{"type": "function", "function": {"name": "get_weather"}}\n</tools>\n\n' +
      'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
      '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
      '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\n<tool_response>\n18C\n</tool_response><|im_end|>\n' +
      '<|im_start|>assistant\n',
  );
});

test('Qwen3 rendered prompt encodes with its special tokens and no BOS', () => {
  const ids = tok.encode(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }));
  assert.deepEqual(ids, [151644, 872, 198, 13048, 151645, 198, 151644, 77091, 198]);
  assert.equal(tok.bosId, undefined);
  assert.deepEqual(tok.eosIds, [151645]);
});
