/**
 * POST /update_weights_from_disk: SGLang's weight-sync API (sglang/srt/entrypoints/http_server.py,
 * `UpdateWeightFromDiskReqInput` / `UpdateWeightFromDiskReqOutput`), so an RL trainer pushes its weights to SGLang
 * and to grpo serve the same way:
 *
 *   {"model_path": "<HF folder>", "load_format"?: "auto" | "safetensors" | "gguf" | null}
 *   → 200 {"success": true,  "message": "...", "num_paused_requests": 0}
 *   → 400 {"success": false, "message": "...", "num_paused_requests": 0}
 *
 * A failure is a 400 naming the field at fault, as SGLang answers (413 for a body over the cap, 503 while shutting
 * down, 500 for an internal error: the same body shape). SGLang's other request fields are ignored.
 *
 * The checkpoint must have the served model's architecture (same config, same tensor shapes); it is checked whole
 * before anything is written, so a refused one leaves the served weights as they were. Reading and uploading run
 * as one job of the request queue: never during a generation, after every request queued before it and before
 * every request queued after it. The path is at the root, not under /v1, as in SGLang. Off (403) unless the server was
 * started with --allow-runtime-updates (runtime-updates.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GrpoError } from '../errors.ts';
import { loadModelWeights, modelFormatOf, type LoadedModel, type ModelFormat } from '../model/io/index.ts';
import type { HandlerContext } from './completion-handler.ts';
import { readJsonBody, sendJson } from './http-io.ts';
import { parseUpdateWeightsRequest } from './request-schema.ts';
import { ServeError, badRequest, httpErrorOf } from './serve-error.ts';
import { checkRuntimeUpdates } from './runtime-updates.ts';

/** SGLang load_format values this server reads (null: any format the path has) */
const LOAD_FORMATS: Record<string, ModelFormat | null> = { auto: null, safetensors: 'hf', gguf: 'gguf' };

const FORMAT_NAMES: Record<ModelFormat, string> = {
  hf: 'Hugging Face folder',
  gguf: '.gguf file',
  llama2c: 'llama2.c .bin file',
};

/** SGLang's UpdateWeightFromDiskReqOutput; no request is ever paused here (they wait in the queue) */
function sendResult(
  res: ServerResponse,
  status: number,
  success: boolean,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { success, message, num_paused_requests: 0 }, headers);
}

/** A GrpoError of reading or fitting the checkpoint is the request's fault: a 400 naming model_path. */
function asBadPath<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof GrpoError && !(e instanceof ServeError))
      throw badRequest('model_path', `'model_path': cannot load weights from ${path}: ${e.message}`);
    throw e;
  }
}

/** Reads the checkpoint at `path` and uploads it into the served model; runs as a queue job. */
function reload(ctx: HandlerContext, path: string, loadFormat: string | null): { tensors: number; bytes: number } {
  const wanted = LOAD_FORMATS[loadFormat ?? 'auto'];
  const format = asBadPath(path, () => modelFormatOf(path));
  if (wanted && format !== wanted) {
    throw badRequest(
      'load_format',
      `'load_format': '${loadFormat}' does not fit ${path}, a ${FORMAT_NAMES[format]}; send 'auto' or leave it out`,
    );
  }
  const loaded: LoadedModel = asBadPath(path, () => loadModelWeights(path));
  try {
    return ctx.served.updateWeights(loaded, path);
  } catch (e) {
    // a refused checkpoint: nothing was written. Any other failure happened while uploading: a 500.
    if (e instanceof GrpoError && e.code === 'weights_mismatch')
      throw badRequest('model_path', `'model_path': ${e.message}`);
    ctx.log(
      `uploading the weights of ${path} failed part way: the served weights may be partly replaced; update them again`,
    );
    throw e;
  }
}

export async function handleUpdateWeightsFromDisk(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let path: string | null = null;
  try {
    checkRuntimeUpdates(ctx.allowRuntimeUpdates, 'POST /update_weights_from_disk');
    const r = parseUpdateWeightsRequest(await readJsonBody(req));
    if (r.loadFormat !== null && !Object.hasOwn(LOAD_FORMATS, r.loadFormat)) {
      throw badRequest(
        'load_format',
        `'load_format': '${r.loadFormat}' is not supported; send ${Object.keys(LOAD_FORMATS)
          .map((f) => `'${f}'`)
          .join(', ')} or leave it out`,
      );
    }
    path = r.modelPath;
    ctx.batcher.barrier();
    const { tensors, bytes, seconds } = await ctx.queue.run(() => {
      if (ctx.closing()) throw new ServeError('unavailable', 'the server is shutting down');
      const started = performance.now();
      return { ...reload(ctx, r.modelPath, r.loadFormat), seconds: (performance.now() - started) / 1000 };
    });
    const what = `${tensors} tensors, ${bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`}`;
    ctx.log(`updated weights from ${path} (${what}) in ${seconds.toFixed(2)} s`);
    sendResult(res, 200, true, `Succeeded to update model weights from ${path} (${what}).`);
  } catch (e) {
    const { status, body } = httpErrorOf(e);
    if (status >= 500 && !(e instanceof ServeError)) {
      ctx.log(`weight update from ${path} failed with an internal error: ${(e as Error)?.stack ?? String(e)}`);
    } else if (path !== null) {
      ctx.log(`weight update from ${path} refused: ${body.error.message}`);
    }
    // an unread body must not be taken for the next request on a kept-alive connection
    sendResult(res, status, false, body.error.message, req.complete ? {} : { connection: 'close' });
  }
}
