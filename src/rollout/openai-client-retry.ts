/**
 * When and how long to retry an HTTP request to an inference server.
 * Retried: 408, 429, every 5xx, network failures and our own per-request timeouts — the transient kinds.
 * Not retried: other 4xx (bad request, auth, unknown model): repeating them cannot help.
 * Delay: exponential back-off with "equal jitter" (half fixed, half random) so concurrent clients spread out,
 * unless the server says how long to wait (Retry-After), which wins up to a cap.
 */
import type { Rng } from '../util/rng.ts';

export interface RetryPolicy {
  /** further attempts after the first (0 = try once) */
  maxRetries: number;
  /** back-off before the first retry, doubled for each further one */
  initialDelayMs: number;
  /** ceiling for the exponential back-off */
  maxDelayMs: number;
  /** ceiling for a server's Retry-After, so a misbehaving server cannot park the run for hours */
  maxRetryAfterMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxRetries: 5,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

export function isRetriableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). Fractional seconds are accepted
 * because some servers send them. Returns milliseconds to wait, or null when absent or unreadable.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number = Date.now()): number | null {
  if (header === null || header === undefined) return null;
  const text = header.trim();
  if (text === '') return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(parseFloat(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** Back-off before retry number `retry` (0-based): base = min(max, initial·2^retry), delay ∈ [base/2, base). */
export function backoffDelayMs(retry: number, policy: RetryPolicy, rng: Rng): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** retry);
  return Math.round(base / 2 + (rng.next() * base) / 2);
}

/** The wait before the next attempt: the server's Retry-After when it gave one (capped), else the back-off. */
export function retryDelayMs(retry: number, policy: RetryPolicy, rng: Rng, retryAfterMs: number | null): number {
  if (retryAfterMs !== null) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  return backoffDelayMs(retry, policy, rng);
}
