/**
 * Micro-batching: concurrent small embedding calls are coalesced into one
 * shared call for up to `coalesceMs` or until it holds `maxItems` texts,
 * then split back, each caller with its own outcomes and its own abort.
 *
 * Eager mode (local models): a call that finds no shared call running goes
 * at once, so a lone call never waits for the window; calls that arrive
 * while one runs wait for it to finish (or for the window, or a full
 * group) and go together.
 */
import { AbortError } from '../errors.js';
import type { EmbedResult } from './scheduler.js';

interface Waiting {
  readonly texts: readonly unknown[];
  readonly signal: AbortSignal | undefined;
  readonly resolve: (result: EmbedResult) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
}

/** Runs one shared call. */
export type EmbedRunner = (texts: readonly unknown[], signal: AbortSignal) => Promise<EmbedResult>;

/** See the module comment. */
export class Coalescer {
  readonly #run: EmbedRunner;
  readonly #coalesceMs: number;
  readonly #maxItems: number;
  #pending: Waiting[] = [];
  #pendingItems = 0;
  readonly #eager: boolean;
  #timer: NodeJS.Timeout | undefined;
  #calls = 0;
  #running = 0;

  /**
   * @param run - embeds one shared call.
   * @param coalesceMs - how long the first call of a group waits for others.
   * @param maxItems - a group with this many texts goes at once.
   * @param eager - a call that finds no shared call running goes at once (see the module comment). @default false
   */
  constructor(run: EmbedRunner, coalesceMs: number, maxItems: number, eager = false) {
    this.#run = run;
    this.#coalesceMs = coalesceMs;
    this.#maxItems = maxItems;
    this.#eager = eager;
  }

  /** Shared calls run so far. */
  get sharedCalls(): number {
    return this.#calls;
  }

  /**
   * Embeds `texts` as part of a shared call.
   * @param texts - the caller's texts.
   * @param signal - cancels this caller only (the shared call is cancelled once every caller has).
   * @returns the caller's vectors and outcomes, in its input order.
   * @throws {AbortError} when this caller's signal aborts.
   */
  embed(texts: readonly unknown[], signal?: AbortSignal): Promise<EmbedResult> {
    if (signal?.aborted === true) return Promise.reject(new AbortError(signal.reason));
    return new Promise<EmbedResult>((resolve, reject) => {
      const waiting: Waiting = { texts, signal, resolve, reject, settled: false };
      signal?.addEventListener(
        'abort',
        () => {
          if (waiting.settled) return;
          waiting.settled = true;
          reject(new AbortError(signal.reason));
        },
        { once: true },
      );
      this.#pending.push(waiting);
      this.#pendingItems += texts.length;
      if (this.#pendingItems >= this.#maxItems || (this.#eager && this.#running === 0)) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#coalesceMs);
    });
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const group = this.#pending.filter((w) => !w.settled);
    this.#pending = [];
    this.#pendingItems = 0;
    if (group.length === 0) return;
    this.#calls++;
    this.#running++;
    const controller = new AbortController();
    // The shared call stops only when no caller is left waiting for it.
    const onAbort = (): void => {
      if (group.every((w) => w.settled)) controller.abort(new Error('every caller of the shared call aborted'));
    };
    for (const w of group) w.signal?.addEventListener('abort', onAbort, { once: true });
    const texts = group.flatMap((w) => w.texts);
    const finished = (): void => {
      this.#running--;
      // Eager: the calls that gathered while this one ran go now, without waiting out the window.
      if (this.#eager && this.#running === 0 && this.#pending.length > 0) this.#flush();
    };
    this.#run(texts, controller.signal).then(
      (result) => {
        finished();
        let at = 0;
        for (const w of group) {
          const n = w.texts.length;
          const from = at;
          at += n;
          w.signal?.removeEventListener('abort', onAbort);
          if (w.settled) continue;
          w.settled = true;
          w.resolve({ vectors: result.vectors.slice(from * result.dims, (from + n) * result.dims), dims: result.dims, items: result.items.slice(from, from + n) });
        }
      },
      (error: unknown) => {
        finished();
        for (const w of group) {
          w.signal?.removeEventListener('abort', onAbort);
          if (w.settled) continue;
          w.settled = true;
          w.reject(error);
        }
      },
    );
  }
}
