// Test-only helpers for `grpo serve`: a tiny random model with a tiny SentencePiece vocabulary, a server on
// 127.0.0.1 (any free port) around it, and small HTTP helpers. No ../shared needed.
import { LlamaModel } from '../../src/model/llama-model.ts';
import { SentencePieceBpeTokenizer } from '../../src/model/tokenizer/sentencepiece-bpe.ts';
import type { OpenedModel } from '../../src/model/open-model.ts';
import { startServer, type RunningServer, type ServeOptions } from '../../src/serve/server.ts';
import { randomWeights, tinyConfig } from '../model/io-fixtures.ts';
import { chatMlTemplate, tinySentencePieceVocab } from '../model/tokenizer-fixtures.ts';

/** context of the tiny model, in tokens */
export const CONTEXT = 64;

/** A tiny random Llama (context 64) and a llama2.c-style tokenizer (BOS 1, EOS 2); with or without a chat template. */
export function tinyModel(opts: { chatTemplate?: boolean; device?: string } = {}): OpenedModel {
  const { pieces, scores } = tinySentencePieceVocab();
  const tokenizer = new SentencePieceBpeTokenizer(
    { pieces, scores, bosId: 1, eosIds: [2], unkId: 0, chatTemplate: opts.chatTemplate ? chatMlTemplate : undefined },
    'llama2c',
  );
  const config = tinyConfig({ vocabSize: pieces.length, maxSeqLen: CONTEXT, bosTokenId: 1, eosTokenIds: [2] });
  const model = new LlamaModel(config, { weights: randomWeights(config, 7), threads: 1, device: opts.device });
  return { model, tokenizer };
}

export interface TestServer extends RunningServer {
  opened: OpenedModel;
  logs: string[];
}

/** Runs `fn` against a server on a tiny model, then closes the server and frees the model. */
export async function withServer<T>(
  fn: (s: TestServer) => Promise<T>,
  opts: Partial<ServeOptions> & { chatTemplate?: boolean; device?: string } = {},
): Promise<T> {
  const opened = tinyModel({ chatTemplate: opts.chatTemplate, device: opts.device });
  const logs: string[] = [];
  const running = await startServer({
    port: 0,
    seed: 1,
    modelName: 'tiny',
    log: (l) => logs.push(l),
    ...opts,
    model: opened,
  });
  try {
    return await fn({ ...running, opened, logs });
  } finally {
    await running.close();
    opened.model.free();
  }
}

/** A quiet server on 127.0.0.1 (a free port, one thread) for the model at `model`; `opts` adds to that. */
export function serveModel(model: string, opts: Partial<ServeOptions> = {}): Promise<RunningServer> {
  return startServer({ threads: 1, host: '127.0.0.1', port: 0, log: () => {}, ...opts, model });
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** POSTs a JSON body (or a raw string) and reads the whole answer. */
export async function post(s: RunningServer, path: string, body: unknown): Promise<HttpAnswer> {
  const res = await fetch(`${s.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return answer(res);
}

export async function get(s: RunningServer, path: string): Promise<HttpAnswer> {
  return answer(await fetch(`${s.url}${path}`));
}

async function answer(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // event streams and empty bodies are not JSON
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The JSON events of a server-sent event stream, checking it is well formed and ends with [DONE]. */
export function sseEvents(text: string): Record<string, unknown>[] {
  const events = text.split('\n\n').filter((e) => e !== '');
  if (events.some((e) => !e.startsWith('data: '))) throw new Error(`not an event stream: ${text.slice(0, 200)}`);
  if (events[events.length - 1] !== 'data: [DONE]') throw new Error('the stream does not end with data: [DONE]');
  return events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
}

export { writeLlama2cTokenizer } from '../model/tokenizer-fixtures.ts';
