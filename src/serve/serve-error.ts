/**
 * Errors of `grpo serve`, and how every error becomes an HTTP answer in OpenAI's error shape
 * (`{"error": {"message", "type", "param", "code"}}`, platform.openai.com/docs/guides/error-codes).
 * A ServeError is a GrpoError whose code picks the HTTP status; `param` names the request field at fault.
 */
import { GrpoError, type ServeErrorCode } from '../errors.ts';

export type { ServeErrorCode } from '../errors.ts';

const statusOf: Record<ServeErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  model_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  payload_too_large: 413,
  unavailable: 503,
};

export class ServeError extends GrpoError {
  declare readonly code: ServeErrorCode;
  constructor(
    code: ServeErrorCode,
    message: string,
    readonly param: string | null = null,
  ) {
    super(code, message);
    this.name = 'ServeError';
  }
}

/** A 400 naming the request field at fault. */
export function badRequest(param: string | null, message: string): ServeError {
  return new ServeError('bad_request', message, param);
}

export interface HttpErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/**
 * Status and body for any thrown value. GrpoErrors from the decoder with code 'config' (sampling options it
 * rejects) or 'template' (a chat template's raise_exception) are the client's fault: 400. Anything else is 500.
 */
export function httpErrorOf(e: unknown): { status: number; body: HttpErrorBody } {
  if (e instanceof ServeError) {
    const status = statusOf[e.code];
    const type =
      status === 503
        ? 'server_error'
        : status === 404 && e.code === 'not_found'
          ? 'not_found_error'
          : 'invalid_request_error';
    return { status, body: { error: { message: e.message, type, param: e.param, code: e.code } } };
  }
  if (e instanceof GrpoError && (e.code === 'config' || e.code === 'template')) {
    const param = e.code === 'template' ? 'messages' : null;
    return { status: 400, body: { error: { message: e.message, type: 'invalid_request_error', param, code: e.code } } };
  }
  const message = e instanceof Error ? e.message : String(e);
  return {
    status: 500,
    body: { error: { message: `internal error: ${message}`, type: 'server_error', param: null, code: null } },
  };
}
