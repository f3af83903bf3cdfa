/**
 * Retry timing: exponential backoff with full jitter, `Retry-After` (seconds
 * or an HTTP date) and `x-ratelimit-reset-*` (`1s`, `6m0s`, `20ms`).
 */
import { AbortError } from '../../errors.js';

/** Longest wait a server may ask for before a retry, in ms. */
export const kMaxServerDelayMs = 10 * 60_000;

/**
 * The full-jitter backoff delay of a retry.
 * @param attempt - 0 for the first retry.
 * @param baseMs - the first step.
 * @param maxMs - the cap.
 * @param random - a source in [0, 1). @default Math.random
 * @returns a delay in [0, min(maxMs, baseMs × 2^attempt)).
 */
export function jitteredBackoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30)));
}

/**
 * Reads a `Retry-After` value: delay-seconds or an HTTP date.
 * @param value - the header, if any.
 * @param nowMs - the current time (Date.now()).
 * @returns the delay in ms (clamped to [0, kMaxServerDelayMs]), or undefined when absent or unreadable.
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return clamp(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : clamp(date - nowMs);
}

/**
 * Reads an OpenAI-style reset duration (`x-ratelimit-reset-requests: 1s`,
 * `6m0s`, `20ms`, or a bare number of seconds).
 * @param value - the header, if any.
 * @returns the delay in ms, or undefined when absent or unreadable.
 */
export function parseResetDurationMs(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return clamp(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    matched = re.lastIndex;
  }
  return matched === text.length && matched > 0 ? clamp(total) : undefined;
}

/**
 * The wait a response asks for: `Retry-After`, else the larger
 * `x-ratelimit-reset-*`.
 * @param headers - the response headers.
 * @param nowMs - the current time.
 * @returns the delay in ms, or undefined when the server named none.
 */
export function serverDelayMs(headers: Headers, nowMs: number): number | undefined {
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), nowMs);
  if (retryAfter !== undefined) return retryAfter;
  const a = parseResetDurationMs(headers.get('x-ratelimit-reset-requests'));
  const b = parseResetDurationMs(headers.get('x-ratelimit-reset-tokens'));
  if (a === undefined && b === undefined) return undefined;
  return Math.max(a ?? 0, b ?? 0);
}

function clamp(ms: number): number {
  return Math.max(0, Math.min(kMaxServerDelayMs, Math.ceil(ms)));
}

/**
 * Waits, cancellably.
 * @param ms - how long.
 * @param signal - cancels the wait.
 * @returns after `ms`.
 * @throws {AbortError} when cancelled.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(new AbortError(signal.reason));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
