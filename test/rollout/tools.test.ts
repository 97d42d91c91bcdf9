// Tools, their call formats and the tool environment: calls parsed from the model's text, failures answered as
// text (never thrown), and responses rendered as the model's chat template or the plain format writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calculate, calculatorTool } from '../../src/rollout/tools/calculator.ts';
import { callTool, functionTool, toolbox, type Tool } from '../../src/rollout/tools/tool.ts';
import { hermesFormat, parseHermesCalls, plainFormat } from '../../src/rollout/tools/tool-format.ts';
import { toolEnvironment } from '../../src/rollout/tools/environment.ts';
import { HfTokenizer } from '../../src/model/tokenizer/hf-tokenizer.ts';
import { byteLevelBpeTokenizerJson } from '../../src/model/tokenizer/byte-level-bpe-json.ts';
import { chatMlTemplate, tinyByteLevelVocab } from '../model/tokenizer-fixtures.ts';

test('the calculator evaluates arithmetic and refuses everything else', () => {
  assert.equal(calculate('347*86'), '29842');
  assert.equal(calculate('(2+3)^2 - 10/4'), '22.5');
  assert.equal(calculate('-7 % 3 + sqrt(16)'), '6', 'mathjs mod takes the sign of the divisor: -7 mod 3 = 2');
  assert.equal(calculate('2*pi'), String(Number((2 * Math.PI).toPrecision(12))));
  for (const [expr, why] of [
    ['x = 3', /assignment/],
    ['ones(1000, 1000)', /function 'ones' is not available/],
    ['import({})', /not available/],
    ['f(x) = x', /functionassignment/],
    ['[1, 2]', /array/],
    ['"a"', /only numbers/],
    ['5 inch', /unknown name 'inch'/],
    ['2 > 1', /operator '>'/],
    ['10^400', /no finite value/],
    ['1+'.repeat(150) + '1', /longer than 200/],
  ] as const) {
    assert.throws(() => calculate(expr), why, expr);
  }
});

test('a tool call that throws, times out, names no tool or misses an argument is answered with an error, not thrown', async () => {
  const slow: Tool = functionTool({
    name: 'slow',
    description: 'never answers in time',
    parameters: { type: 'object', properties: {} },
    run: () => new Promise(() => {}),
  });
  const boom: Tool = functionTool({
    name: 'boom',
    description: '',
    parameters: { type: 'object', properties: {} },
    run: () => {
      throw new Error('kaput');
    },
  });
  const tools = toolbox([calculatorTool(), slow, boom]);
  assert.deepEqual(await callTool(tools, { name: 'calculator', arguments: { expression: '6*7' } }, 1000), {
    name: 'calculator',
    content: '42',
    ok: true,
  });
  assert.deepEqual(await callTool(tools, { name: 'calculator', arguments: { expression: 'x' } }, 1000), {
    name: 'calculator',
    content: "error: unknown name 'x'",
    ok: false,
  });
  assert.equal(
    (await callTool(tools, { name: 'slow', arguments: {} }, 50)).content,
    "error: tool 'slow' timed out after 50 ms",
  );
  assert.equal((await callTool(tools, { name: 'boom', arguments: {} }, 1000)).content, 'error: kaput');
  assert.match(
    (await callTool(tools, { name: 'search', arguments: {} }, 1000)).content,
    /^error: unknown tool 'search'; the tools are calculator, slow, boom$/,
  );
  assert.equal(
    (await callTool(tools, { name: 'calculator', arguments: {} }, 1000)).content,
    "error: tool 'calculator' needs the argument expression",
  );
  assert.equal(
    (await callTool(tools, { name: '', arguments: {}, error: 'bad JSON' }, 1000)).content,
    'error: bad JSON',
  );
  assert.throws(() => toolbox([calculatorTool(), calculatorTool()]), /two tools are named 'calculator'/);
  assert.throws(() => functionTool({ ...calculatorTool(), name: 'my tool' }), /tool name "my tool"/);
});

test('Hermes tool calls: JSON objects in <tool_call> tags, arguments as an object or a JSON string; bad ones carry their error', () => {
  const text =
    'Let me compute.\n<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+2"}}\n</tool_call>\n' +
    '<tool_call>{"name": "python", "arguments": "{\\"code\\": \\"print(1)\\"}"}</tool_call><tool_call>{name: x}</tool_call><tool_call>{"arguments": {}}</tool_call>';
  const calls = parseHermesCalls(text);
  assert.deepEqual(calls.slice(0, 2), [
    { name: 'calculator', arguments: { expression: '2+2' } },
    { name: 'python', arguments: { code: 'print(1)' } },
  ]);
  assert.match(calls[2].error!, /not valid JSON/);
  assert.equal(calls[3].error, 'the tool call needs a "name"');
  assert.deepEqual(parseHermesCalls('no call here'), []);
});

test("Hermes responses are the chat template's tool messages after the assistant turn, then the next assistant header", () => {
  const v = tinyByteLevelVocab();
  const tokenizerJson = byteLevelBpeTokenizerJson(v.vocab, v.merges, {
    pre: 'qwen2',
    addedTokens: Object.entries(v.special).map(([content, id]) => ({ id, content, special: content !== '<think>' })),
  });
  const tokenizer = new HfTokenizer({
    tokenizerJson,
    tokenizerConfig: { eos_token: '<|im_end|>', chat_template: chatMlTemplate },
  });
  const format = hermesFormat(tokenizer);
  assert.deepEqual(format.stop, [], 'a Hermes turn ends at its end-of-turn token');
  // the model sampled "…</tool_call><|im_end|>"; the template writes "\n" after it, then the tool message and the header
  assert.equal(
    format.render(['4', 'ok']),
    '\n<|im_start|>tool\n4<|im_end|>\n<|im_start|>tool\nok<|im_end|>\n<|im_start|>assistant\n',
  );
});

test('plain format: <name>body</name> calls stop decoding at the closing tag and are answered in <tool_response> tags', () => {
  const format = plainFormat([
    calculatorTool(),
    functionTool({
      name: 'search',
      description: '',
      parameters: { type: 'object', properties: { query: { type: 'string' } } },
      run: (a) => `found ${a.query}`,
    }),
  ]);
  assert.deepEqual(format.stop, ['</calculator>', '</search>']);
  assert.deepEqual(format.parse('x<calculator>3*4</calculator>y<search>cats</search><other>1</other>'), [
    { name: 'calculator', arguments: { expression: '3*4' } },
    { name: 'search', arguments: { query: 'cats' } },
  ]);
  assert.equal(
    format.render(['12', 'found cats']),
    '<tool_response>12</tool_response><tool_response>found cats</tool_response>',
  );
});

test("the tool environment answers a turn's calls, ends the episode at a turn without one, and cuts long responses", async () => {
  const echo = functionTool({
    name: 'echo',
    description: '',
    parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    run: (a) => String(a.text),
  });
  const format = plainFormat([calculatorTool(), echo]);
  const env = toolEnvironment([calculatorTool(), echo], format, { maxResponseChars: 5 });
  assert.deepEqual(await env.step('<answer>12</answer>'), { done: true });
  assert.deepEqual(await env.step('<calculator>3*4</calculator>'), { responses: ['12'], toolCalls: 1, toolErrors: 0 });
  assert.deepEqual(await env.step('<echo>abcdefgh</echo><calculator>y</calculator>'), {
    responses: ['abcde…(truncated)', 'error…(truncated)'],
    toolCalls: 2,
    toolErrors: 1,
  });
});
