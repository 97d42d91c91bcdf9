/**
 * The HTTP plumbing of `grpo serve` on node:http: reading a JSON body with a size cap, answering JSON,
 * errors in OpenAI's shape, and server-sent events (`data: {json}\n\n` … `data: [DONE]\n\n`, as OpenAI streams).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServeError, badRequest, httpErrorOf } from './serve-error.ts';

export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** The request body parsed as JSON; 413 past the cap, 400 when it is not JSON. */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  // a declared length past the cap is refused before a byte of the body is read (the connection is then closed)
  const declared = Number(req.headers?.['content-length'] ?? 0);
  if (declared > maxBytes) throw tooLarge(declared, maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // keep reading to the end (so the connection stays usable) but stop storing
    if (size <= maxBytes) chunks.push(chunk);
  }
  if (size > maxBytes) throw tooLarge(size, maxBytes);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw badRequest(null, 'the request body is empty; send a JSON object');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(null, `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

function tooLarge(size: number, maxBytes: number): ServeError {
  return new ServeError(
    'payload_too_large',
    `the request body is ${size} bytes; at most ${maxBytes} are accepted: send fewer or shorter prompts per request`,
  );
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

/** Any thrown value as an OpenAI error answer; when a response had already begun, the connection is cut. */
export function sendError(res: ServerResponse, e: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, body } = httpErrorOf(e);
  sendJson(res, status, body, headers);
}

/** A whole event stream: each chunk as one `data:` event, then `data: [DONE]`. */
/**
 * A server-sent event stream written as it goes: the 200 head with the first event, one `data:` line per event,
 * `data: [DONE]` at the end. An error after the head is sent as a last `{"error": …}` event, as vLLM does.
 */
export class EventStream {
  started = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string> = {},
  ) {}

  send(events: readonly unknown[]): void {
    if (events.length === 0 || this.res.destroyed) return;
    if (!this.started) {
      this.res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        ...this.headers,
      });
      this.started = true;
    }
    this.res.write(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(''));
  }

  end(events: readonly unknown[] = []): void {
    this.send(events);
    if (!this.res.destroyed) this.res.end('data: [DONE]\n\n');
  }

  fail(e: unknown): void {
    this.send([httpErrorOf(e).body]);
    if (!this.res.destroyed) this.res.end('data: [DONE]\n\n');
  }
}
