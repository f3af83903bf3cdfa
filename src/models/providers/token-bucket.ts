/**
 * Client-side rate limits: a token bucket per limit (requests per minute,
 * estimated tokens per minute), so a long job stays under a quota instead
 * of living on 429s.
 */
import { sleep } from './backoff.js';

/** A bucket of `perMinute` tokens, refilled continuously, holding at most one minute's worth. */
export class TokenBucket {
  readonly #perMs: number;
  readonly #capacity: number;
  #tokens: number;
  #lastMs: number;
  #tail: Promise<void> = Promise.resolve();

  /** @param perMinute - the rate; 0 means unlimited. */
  constructor(perMinute: number) {
    this.#perMs = perMinute / 60_000;
    this.#capacity = perMinute;
    this.#tokens = perMinute;
    this.#lastMs = performance.now();
  }

  /**
   * Takes `amount` tokens, waiting for them; callers are served in order. A
   * request larger than the bucket waits for a full bucket and takes it all.
   * @param amount - tokens to take.
   * @param signal - cancels the wait.
   * @returns once taken.
   * @throws {AbortError} when cancelled.
   */
  take(amount: number, signal?: AbortSignal): Promise<void> {
    if (this.#capacity === 0) return Promise.resolve();
    const need = Math.min(amount, this.#capacity);
    const turn = this.#tail.then(async () => {
      this.#refill();
      while (this.#tokens < need) {
        await sleep(Math.max(1, Math.ceil((need - this.#tokens) / this.#perMs)), signal);
        this.#refill();
      }
      this.#tokens -= need;
    });
    // The next caller waits for this one whether it took its tokens or was cancelled.
    this.#tail = turn.catch(() => {});
    return turn;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#lastMs) * this.#perMs);
    this.#lastMs = now;
  }
}
