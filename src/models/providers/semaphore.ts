/**
 * A counting semaphore whose waiters can be cancelled: bounds the requests
 * in flight across every call of an engine.
 */
import { AbortError } from '../../errors.js';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/** At most `permits` holders at once; waiters are served first come, first served. */
export class Semaphore {
  readonly #permits: number;
  #held = 0;
  readonly #waiters: Waiter[] = [];

  /** @param permits - how many may hold it at once. */
  constructor(permits: number) {
    this.#permits = permits;
  }

  /** Holders now. */
  get held(): number {
    return this.#held;
  }

  /** Waiters now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes a permit, waiting for one.
   * @param signal - cancels the wait.
   * @returns when the permit is held; call {@link Semaphore.release} once after.
   * @throws {AbortError} when cancelled while waiting.
   */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(new AbortError(signal.reason));
    if (this.#held < this.#permits) {
      this.#held++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) this.#waiters.splice(at, 1);
          reject(new AbortError(signal?.reason));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Gives a permit back, handing it straight to the first waiter. */
  release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) {
      this.#held--;
      return;
    }
    next.signal?.removeEventListener('abort', next.onAbort);
    next.resolve();
  }
}
