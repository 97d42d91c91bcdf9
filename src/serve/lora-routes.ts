/**
 * vLLM's runtime LoRA API (vllm/entrypoints/openai/api_server.py, with VLLM_ALLOW_RUNTIME_LORA_UPDATING), so an RL
 * trainer syncs its adapter to vLLM and to grpo serve the same way:
 *   POST /v1/load_lora_adapter   {"lora_name", "lora_path", "load_inplace"?} → 200 "Success: LoRA adapter '…' added successfully."
 *   POST /v1/unload_lora_adapter {"lora_name"}                              → 200 "Success: LoRA adapter '…' removed successfully."
 * Requests then name the adapter as their `model`. Failures are 400 (404 for an unknown name) in OpenAI's error
 * shape. Both run as jobs of the request queue: never during a generation. Both are off (403) unless the server was
 * started with --allow-runtime-updates (runtime-updates.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { HandlerContext } from './completion-handler.ts';
import { readJsonBody } from './http-io.ts';
import { ServeError, badRequest } from './serve-error.ts';
import { GrpoError } from '../errors.ts';
import { checkRuntimeUpdates } from './runtime-updates.ts';

const loadSchema = z.object({
  lora_name: z.string().min(1),
  lora_path: z.string().min(1),
  load_inplace: z.boolean().optional(),
});
const unloadSchema = z.object({ lora_name: z.string().min(1) });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    if (issue.path.length === 0)
      throw badRequest(null, 'the request body must be a JSON object with lora_name (and lora_path to load)');
    throw badRequest(String(issue.path[0]), `'${issue.path.join('.')}': ${issue.message}`);
  }
  return r.data;
}

function sendText(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A GrpoError of reading or fitting the adapter is the request's fault. */
function asRequestError(e: unknown): never {
  if (e instanceof GrpoError && !(e instanceof ServeError)) {
    if (e.code === 'adapter_not_found') throw new ServeError('not_found', e.message, 'lora_name');
    throw badRequest(e.code === 'adapter' ? 'lora_name' : 'lora_path', e.message);
  }
  throw e;
}

export async function handleLoadLoraAdapter(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  checkRuntimeUpdates(ctx.allowRuntimeUpdates, 'POST /v1/load_lora_adapter');
  const r = parse(loadSchema, await readJsonBody(req));
  ctx.batcher.barrier();
  await ctx.queue.run(() => {
    try {
      if (r.load_inplace && ctx.served.adapterNames.includes(r.lora_name)) ctx.served.unloadAdapter(r.lora_name);
      ctx.served.loadAdapter(r.lora_name, r.lora_path);
    } catch (e) {
      asRequestError(e);
    }
  });
  ctx.log(`loaded LoRA adapter '${r.lora_name}' from ${r.lora_path}`);
  sendText(res, `Success: LoRA adapter '${r.lora_name}' added successfully.`);
}

export async function handleUnloadLoraAdapter(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  checkRuntimeUpdates(ctx.allowRuntimeUpdates, 'POST /v1/unload_lora_adapter');
  const r = parse(unloadSchema, await readJsonBody(req));
  ctx.batcher.barrier();
  await ctx.queue.run(() => {
    try {
      ctx.served.unloadAdapter(r.lora_name);
    } catch (e) {
      asRequestError(e);
    }
  });
  sendText(res, `Success: LoRA adapter '${r.lora_name}' removed successfully.`);
}
