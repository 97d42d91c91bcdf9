/**
 * What the server answers on a socket whose request never became one (node:http's 'clientError'): a request not
 * received whole within --request-timeout is a 408 whose OpenAI-shaped body names the flag and its value, so a client
 * (or a test on a slow device) knows which limit it hit; malformed HTTP is a 400 (431 for oversized headers), as Node
 * answers by default. An answer is written only while no response has begun on the socket, as Node does.
 */
import type { Socket } from 'node:net';
import { httpErrorOf, ServeError } from './serve-error.ts';

/** Node's status line for each status this handler answers */
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** The error to answer a client error with: the time-out names the flag and its value. */
function answerTo(e: NodeJS.ErrnoException, timeoutSeconds: number): { status: number; body: unknown } {
  if (e.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return httpErrorOf(
      new ServeError(
        'request_timeout',
        `the request was not received whole within --request-timeout ${timeoutSeconds} s (the server's limit on receiving a request, counted while it computes too); start grpo serve with a larger --request-timeout (0: none) on a slow device`,
      ),
    );
  }
  const status = e.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  return {
    status,
    body: { error: { message: `malformed HTTP request: ${e.message}`, type: 'invalid_request_error' } },
  };
}

export function clientErrorHandler(timeoutSeconds: number): (e: NodeJS.ErrnoException, socket: Socket) => void {
  return (e, socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const { status, body } = answerTo(e, timeoutSeconds);
      const payload = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
      );
    }
    socket.destroySoon();
  };
}
