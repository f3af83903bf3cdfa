/**
 * The exchange suite's two halves. The worker "computes" a batch by writing
 * its values (the same loop in every mode) either straight into the shared
 * output arena (`sab`) or into a fresh array that it then transfers
 * (`transfer`) or posts to be structured-cloned (`clone`); the main thread
 * copies a received array into the arena, as the engine would need. The
 * worker reports how long the compute took, so the exchange overhead of a
 * round trip is its time minus the compute.
 */
import { Worker } from 'node:worker_threads';
import { benchWorkerFile } from './paths.js';

/** How vectors cross the thread boundary. */
export type ExchangeMode = 'sab' | 'transfer' | 'clone';

/** A request to the exchange worker. */
export interface ExchangeRequest {
  readonly mode: ExchangeMode;
  readonly rows: number;
  readonly dims: number;
  /** The output arena (mode `sab`). */
  readonly arena: SharedArrayBuffer | null;
}

/** The worker's reply. */
export interface ExchangeReply {
  readonly computeMs: number;
  /** When the compute ended, on the shared clock (performance.timeOrigin + now()). */
  readonly finishedAt: number;
  readonly vectors?: Float32Array;
}

function compute(out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = (i % 97) * 0.01;
}

/**
 * Worker side: computes the batch and produces the reply.
 * @param r - the request.
 * @returns the message and its transfer list.
 */
export function exchangeReply(r: ExchangeRequest): { message: ExchangeReply; transfer: ArrayBuffer[] } {
  const n = r.rows * r.dims;
  const started = performance.now();
  if (r.mode === 'sab') {
    compute(new Float32Array(r.arena ?? new SharedArrayBuffer(0), 0, n));
    const ended = performance.now();
    return { message: { computeMs: ended - started, finishedAt: performance.timeOrigin + ended }, transfer: [] };
  }
  const vectors = new Float32Array(n);
  compute(vectors);
  const ended = performance.now();
  return { message: { computeMs: ended - started, finishedAt: performance.timeOrigin + ended, vectors }, transfer: r.mode === 'transfer' ? [vectors.buffer] : [] };
}

/** A worker that answers exchange requests, for timing round trips. */
export class ExchangeProbe {
  readonly #worker = new Worker(benchWorkerFile('exchange-worker'));
  readonly #shared: SharedArrayBuffer;
  readonly #arena: Float32Array;

  /** @param maxValues - the largest rows × dims to be exchanged. */
  constructor(maxValues: number) {
    this.#shared = new SharedArrayBuffer(maxValues * 4);
    this.#arena = new Float32Array(this.#shared);
  }

  /** Exchange overhead of every round trip so far, by mode. */
  readonly overheadMs = new Map<ExchangeMode, number[]>();

  /**
   * Median exchange overhead of a mode's round trips, then forgets them.
   * @param mode - the exchange mode.
   * @returns milliseconds.
   */
  takeMedianOverheadMs(mode: ExchangeMode): number {
    const list = (this.overheadMs.get(mode) ?? []).sort((a, b) => a - b);
    this.overheadMs.delete(mode);
    return list.length === 0 ? Number.NaN : (list[list.length >> 1] ?? Number.NaN);
  }

  /** Compute time of every round trip so far, by mode. */
  readonly computeMs = new Map<ExchangeMode, number[]>();

  /**
   * One round trip: the batch ends up in the main thread's arena.
   * @param mode - the exchange mode.
   * @param rows - batch rows.
   * @param dims - batch dims.
   */
  async roundTrip(mode: ExchangeMode, rows: number, dims: number): Promise<void> {
    const reply = await new Promise<ExchangeReply>((resolve) => {
      this.#worker.once('message', resolve);
      this.#worker.postMessage({ mode, rows, dims, arena: mode === 'sab' ? this.#shared : null } satisfies ExchangeRequest);
    });
    if (reply.vectors !== undefined) this.#arena.set(reply.vectors);
    // Exchange overhead: from the end of the worker's compute to the rows
    // being in the main thread's arena, on the clock both threads share.
    const overhead = performance.timeOrigin + performance.now() - reply.finishedAt;
    const list = this.computeMs.get(mode) ?? [];
    list.push(reply.computeMs);
    this.computeMs.set(mode, list);
    const over = this.overheadMs.get(mode) ?? [];
    over.push(overhead);
    this.overheadMs.set(mode, over);
  }

  /**
   * Mean compute time of a mode's round trips, then forgets them.
   * @param mode - the exchange mode.
   * @returns milliseconds.
   */
  takeMeanComputeMs(mode: ExchangeMode): number {
    const list = this.computeMs.get(mode) ?? [];
    this.computeMs.delete(mode);
    return list.length === 0 ? 0 : list.reduce((a, b) => a + b, 0) / list.length;
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
