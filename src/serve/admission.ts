/**
 * Backpressure: the texts (and query vectors) admitted to the engine at
 * once are bounded. A request that would pass the bound is refused at
 * once (429 with Retry-After), never queued without bound.
 */

/** A request refused because the queue is full: answered 429. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  /** Seconds the client should wait before retrying. */
  readonly retryAfterSeconds: number;

  /**
   * @param message - names the bound.
   * @param retryAfterSeconds - the Retry-After value.
   */
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A request larger than the whole queue: it could never be admitted, answered 413. */
export class TooManyItemsError extends Error {
  override readonly name = 'TooManyItemsError';
}

/** Counts admitted work against a bound. */
export class Admission {
  readonly #limit: number;
  #depth = 0;
  #admitted = 0;
  #refused = 0;
  /** Recent completions, for a Retry-After estimate. */
  #doneItems = 0;
  #since = performance.now();

  /** @param limit - items admitted at once. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Items admitted and not yet done. */
  get depth(): number {
    return this.#depth;
  }

  /** The bound. */
  get limit(): number {
    return this.#limit;
  }

  /** Requests admitted and refused so far. */
  get counts(): { readonly admitted: number; readonly refused: number } {
    return { admitted: this.#admitted, refused: this.#refused };
  }

  /**
   * Runs `work` once `items` fit under the bound, and releases them when it settles.
   * @param items - texts and query vectors the work holds.
   * @param what - the request part named in messages (`input`, `queries`).
   * @param work - the work.
   * @returns what `work` returns.
   * @throws {TooManyItemsError} when `items` alone exceed the bound.
   * @throws {QueueFullError} when the queue has no room now.
   */
  async run<T>(items: number, what: string, work: () => Promise<T>): Promise<T> {
    if (items > this.#limit) throw new TooManyItemsError(`${what} holds ${items} items, more than the server admits at once (--max-queue ${this.#limit})`);
    if (this.#depth + items > this.#limit) {
      this.#refused++;
      throw new QueueFullError(`the server is busy: ${this.#depth} of ${this.#limit} queued items (--max-queue); retry later`, this.#retryAfter());
    }
    this.#depth += items;
    this.#admitted++;
    try {
      return await work();
    } finally {
      this.#depth -= items;
      this.#doneItems += items;
    }
  }

  /** Seconds until the queue has likely drained, from the recent completion rate (1 to 30). */
  #retryAfter(): number {
    const now = performance.now();
    const seconds = (now - this.#since) / 1000;
    const rate = seconds > 0 ? this.#doneItems / seconds : 0;
    if (seconds > 10) {
      this.#since = now;
      this.#doneItems = 0;
    }
    if (rate <= 0) return 1;
    return Math.min(30, Math.max(1, Math.ceil(this.#depth / rate)));
  }
}
