/**
 * A circuit breaker: after `failures` consecutive failed requests it opens
 * for `cooldownMs`, then lets exactly one probe through; the probe's result
 * closes it or opens it again.
 */
import { VecforgeError } from '../../errors.js';

/** The breaker's state. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** See the module comment. */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  #state: BreakerState = 'closed';
  #consecutive = 0;
  #openedAtMs = 0;
  #probing = false;
  #opened = 0;

  /**
   * @param threshold - consecutive failures that open it.
   * @param cooldownMs - how long it stays open.
   * @param now - the clock. @default performance.now
   */
  constructor(threshold: number, cooldownMs: number, now: () => number = () => performance.now()) {
    this.#threshold = threshold;
    this.#cooldownMs = cooldownMs;
    this.#now = now;
  }

  /** The state now (an open breaker past its cooldown reads as half-open). */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAtMs >= this.#cooldownMs) return 'half-open';
    return this.#state;
  }

  /** Times it has opened. */
  get openedCount(): number {
    return this.#opened;
  }

  /**
   * Asks to send a request.
   * @returns whether this request is the half-open probe (pass it back to success/failure).
   * @throws {VecforgeError} ERR_PROVIDER_UNAVAILABLE while open, or while another probe is out.
   */
  admit(): boolean {
    if (this.#state === 'closed') return false;
    if (this.#state === 'open') {
      const leftMs = this.#cooldownMs - (this.#now() - this.#openedAtMs);
      if (leftMs > 0) throw unavailable(`for another ${Math.ceil(leftMs)} ms`);
      this.#state = 'half-open';
    }
    if (this.#probing) throw unavailable('while one probe request is out');
    this.#probing = true;
    return true;
  }

  /** Records a request that got an answer from a healthy server. @param probe - what admit() returned. */
  success(probe: boolean): void {
    if (probe) this.#probing = false;
    this.#consecutive = 0;
    this.#state = 'closed';
  }

  /** Records a failed request (429, 5xx, timeout, dropped connection). @param probe - what admit() returned. */
  failure(probe: boolean): void {
    if (probe) this.#probing = false;
    this.#consecutive++;
    if (probe || (this.#state === 'closed' && this.#consecutive >= this.#threshold)) {
      this.#state = 'open';
      this.#openedAtMs = this.#now();
      this.#opened++;
    }
  }

  /** Forgets a probe that ended without a verdict (cancelled). @param probe - what admit() returned. */
  release(probe: boolean): void {
    if (probe) this.#probing = false;
  }
}

function unavailable(detail: string): VecforgeError {
  return new VecforgeError('ERR_PROVIDER_UNAVAILABLE', `the provider's circuit breaker is open after repeated failures: no request is sent ${detail}; rerun once the provider recovers`);
}
