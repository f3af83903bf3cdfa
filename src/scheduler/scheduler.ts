/**
 * The main-thread scheduler: validates texts, packs them into a
 * shared slab, cuts batches, runs them on the pool with retries, splits a
 * batch that keeps failing to isolate the bad item, and collects per-item
 * outcomes.
 */
import { setMaxListeners } from 'node:events';
import { Piscina } from 'piscina';
import { AbortError, VecforgeError, errorMessage, settleAll, throwIfAborted } from '../errors.js';
import { kItemNoKnownWords, kItemOk, kItemOkTruncated, type BatchCost } from '../models/embedder.js';
import { planWindow, type BatchRange } from './batcher.js';
import { EmbedPlan } from './embed-plan.js';
import { createCallBuffers, createSlab, type EmbedSlab } from './layout.js';
import { MetricsRecorder } from './metrics.js';
import { kItemOkOutcome, kItemTruncatedOutcome, kMalformed, validateText, type ItemFailed, type ItemOutcome } from './outcome.js';
import { embedRemoteCall, type RemoteCallHost, type RemoteEmbedder } from './remote-call.js';
import { checkedReply, type EmbedReply, type InsertSpec, type PoolTaskReply, type PoolTaskRequest, type WorkerInit, type WorkerReply, type WorkerRequest } from './protocol.js';

/** The result of embedding a list of texts. */
export interface EmbedResult {
  /** rows × dims, row i for input i; a failed item's row is all zero. */
  readonly vectors: Float32Array;
  /** Vector dims. */
  readonly dims: number;
  /** One outcome per input, in input order. */
  readonly items: readonly ItemOutcome[];
}

/**
 * Settings the scheduler runs with: already resolved and checked (the
 * engine's options, see ResolvedEngineOptions), so nothing here is optional.
 */
export interface SchedulerSettings {
  /** Pool threads. */
  readonly workers: number;
  /** Vector dims of the model. */
  readonly dims: number;
  /** Largest UTF-8 size of one text; a larger one fails as an item. */
  readonly maxTextBytes: number;
  /** Token budget of one batch. */
  readonly batchTokens: number;
  /** Items sorted by length and packed together; a longer call runs as a pulled plan. */
  readonly sortWindow: number;
  /** Retries of a failed batch or task before it is split or given up. */
  readonly maxRetries: number;
  /** The model's batch cost (real token counts, padded cost); undefined: UTF-16 estimates. */
  readonly batchCost?: BatchCost | undefined;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The error a task rejects with once the scheduler is closed.
 * @param cause - what the pool rejected with, if anything.
 * @returns an ERR_CLOSED error.
 */
function closedError(cause?: unknown): VecforgeError {
  return new VecforgeError('ERR_CLOSED', 'the engine is closed', cause === undefined ? undefined : { cause });
}

/** Items isolated as failed, with no batch succeeding, before a call gives up. */
const kBreakerThreshold = 8;

interface CallBreaker {
  succeeded: number;
  isolatedFailures: number;
}


/** Owns the Piscina pool and runs embedding calls on it. */
export class Scheduler {
  readonly #pool: Piscina<WorkerRequest, WorkerReply>;
  readonly #settings: SchedulerSettings;
  readonly #metrics = new MetricsRecorder();
  readonly #remote: RemoteCallHost | null;
  readonly #closing = new AbortController();
  #closed = false;

  /**
   * @param filename - the embed worker entry file.
   * @param init - workerData for every worker.
   * @param settings - batching and retry settings.
   * @param remote - a remote provider that embeds on the main thread
   *   instead of the pool (the pool still runs index tasks).
   */
  constructor(filename: string, init: WorkerInit, settings: SchedulerSettings, remote?: RemoteEmbedder) {
    this.#settings = settings;
    // Every remote call in flight listens on it.
    setMaxListeners(0, this.#closing.signal);
    this.#remote =
      remote === undefined
        ? null
        : { remote, maxTextBytes: settings.maxTextBytes, metrics: this.#metrics, closing: this.#closing.signal, run: (request, signal) => this.run(request, signal) };
    this.#pool = new Piscina<WorkerRequest, WorkerReply>({
      filename,
      minThreads: settings.workers,
      maxThreads: settings.workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      workerData: init,
    });
    // Piscina emits 'error' for a worker that dies outside a task; the task
    // path already retries, so an unhandled 'error' must not crash the host.
    this.#pool.on('error', () => {});
  }

  /** The metrics recorder. */
  get metrics(): MetricsRecorder {
    return this.#metrics;
  }

  /** Tasks waiting for a worker. */
  get queueDepth(): number {
    return this.#pool.queueSize;
  }


  /** Live worker threads. */
  get threadCount(): number {
    return this.#pool.threads.length;
  }

  /**
   * Starts every worker and waits until each has its kernel ready.
   * @returns one pong per started worker.
   */
  async warmUp(): Promise<Array<Extract<WorkerReply, { kind: 'pong' }>>> {
    const replies = await settleAll(
      Array.from({ length: this.#settings.workers }, () => this.#pool.run({ kind: 'ping' }).then(checkedReply)),
      'workers',
    );
    return replies.filter((r): r is Extract<WorkerReply, { kind: 'pong' }> => r.kind === 'pong');
  }

  /**
   * Embeds texts on the pool. Windows of `sortWindow` items are validated,
   * packed and dispatched one after another, so workers start on the first
   * window while the main thread prepares the next.
   * @param texts - the inputs; anything not a valid string fails per item.
   * @param signal - cancels queued and running batches.
   * @returns vectors in input order and per-item outcomes.
   */
  async embed(texts: readonly unknown[], signal?: AbortSignal, insert: InsertSpec | null = null): Promise<EmbedResult> {
    if (this.#closed) throw closedError();
    throwIfAborted(signal);
    if (this.#remote !== null) return embedRemoteCall(this.#remote, texts, signal, insert);
    const { dims, maxTextBytes, sortWindow, batchTokens, workers } = this.#settings;
    const n = texts.length;
    // Every item starts out ok; invalid items and failed rows are fixed up
    // one by one, so a clean call allocates no per-item outcome.
    const outcomes = new Array<ItemOutcome>(n).fill(kItemOkOutcome);
    const include = new Uint8Array(n);
    const lengths = new Uint32Array(n);
    const batchCost = this.#settings.batchCost;
    // Model tokens for a model that costs batches by them (the slab still needs UTF-16 lengths).
    const tokens = batchCost !== undefined ? new Uint32Array(n) : lengths;
    const costFn = batchCost !== undefined ? (rows: number, longest: number): number => batchCost.cost(rows, longest) : undefined;
    const call = createCallBuffers(n, dims);
    const order = new Uint32Array(call.order);
    const failed = new Map<number, ItemFailed>();
    const controller = new AbortController();
    // Every queued task listens on this signal.
    setMaxListeners(0, controller.signal);
    const breaker: CallBreaker = { succeeded: 0, isolatedFailures: 0 };
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const running: Array<Promise<void>> = [];
    // A call of more than one window runs as a plan that every worker pulls
    // batches from (see EmbedRunRequest); a smaller one posts its batches.
    const plan = n > sortWindow ? new EmbedPlan(this.#pool, this.#metrics, n, workers, this.#settings.maxRetries, insert, controller.signal) : null;
    let invalid = 0;
    try {
      let placed = 0;
      for (let base = 0; base < n; base += sortWindow) {
        // Cancelled: stop packing (posted batches fail with AbortError; a plan's finish() throws it).
        if (controller.signal.aborted) break;
        const end = Math.min(n, base + sortWindow);
        const windowItems = new Uint32Array(end - base);
        let count = 0;
        for (let i = base; i < end; i++) {
          const text = texts[i];
          // Fast accept: a string that starts with a visible character and
          // is short enough that its UTF-8 size cannot pass the cap; whether
          // it is well-formed is settled when the window is encoded.
          const quick = typeof text === 'string' && text.length > 0 && text.length * 3 <= maxTextBytes && text.charCodeAt(0) > 32;
          if (!quick) {
            const failure = validateText(text, maxTextBytes);
            if (failure !== undefined) {
              outcomes[i] = failure;
              invalid++;
              continue;
            }
          }
          include[i] = 1;
          lengths[i] = (text as string).length;
          windowItems[count++] = i;
        }
        if (count === 0) continue;
        const slab = createSlab(call, texts, base, end, include, lengths);
        // Items the encoder found malformed (lone surrogates) are not embedded.
        let kept = 0;
        for (let k = 0; k < count; k++) {
          const i = windowItems[k] ?? 0;
          if (include[i] === 1) windowItems[kept++] = i;
          else {
            outcomes[i] = kMalformed;
            invalid++;
          }
        }
        if (batchCost !== undefined) {
          for (let k = 0; k < kept; k++) {
            const i = windowItems[k] as number;
            tokens[i] = batchCost.tokens(texts[i] as string);
          }
        }
        const batches = planWindow(windowItems.subarray(0, kept), tokens, order, placed, batchTokens, workers, costFn);
        if (plan !== null) plan.publish(slab, batches);
        else for (const batch of batches) {
          const p = this.#runIsolating(slab, batch, failed, controller.signal, breaker, insert);
          // Failures are collected by Promise.all below; this keeps a batch
          // that fails while later windows are still being packed from
          // counting as unhandled.
          p.catch(() => {});
          running.push(p);
        }
        placed += kept;
        // Let the event loop hand finished workers their next batch before
        // packing the next window: the pool only posts a task to a worker
        // from a reply's callback, so a long synchronous packing loop leaves
        // the workers idle.
        if (end < n) await yieldToEventLoop();
      }
      if (plan !== null) {
        // Batches a run claimed but never finished (its worker died) go
        // through the per-batch path: retries, then splitting.
        for (const { slab, batch } of await plan.finish()) {
          this.#metrics.addRetry();
          const p = this.#runIsolating(slab, batch, failed, controller.signal, breaker, insert);
          p.catch(() => {});
          running.push(p);
        }
      }
      await Promise.all(running);
    } catch (error) {
      controller.abort(error);
      plan?.cancel();
      await Promise.allSettled([...running, plan?.settled() ?? Promise.resolve()]);
      if (signal?.aborted === true) throw new AbortError(signal.reason);
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }

    const status = new Uint8Array(call.status);
    const vectors = new Float32Array(call.out, 0, n * dims);
    let notOk = invalid;
    for (const [i, failure] of failed) {
      outcomes[i] = failure;
      // A failed attempt may have written part of the row before dying.
      vectors.fill(0, i * dims, (i + 1) * dims);
      notOk++;
    }
    for (let i = 0; i < n; i++) {
      const st = status[i] as number;
      if (st === kItemOk || include[i] === 0 || failed.has(i)) continue;
      if (st === kItemOkTruncated) {
        outcomes[i] = kItemTruncatedOutcome;
        continue;
      }
      notOk++;
      outcomes[i] =
        st === kItemNoKnownWords
          ? { state: 'failed', code: 'NO_KNOWN_WORDS', reason: 'no word of the text is in the model vocabulary' }
          : { state: 'failed', code: 'WORKER_FAILED', reason: `worker left the item unembedded (status ${st})` };
    }
    this.#metrics.addItems(n - notOk);
    this.#metrics.addFailures(notOk);
    return { vectors, dims, items: outcomes };
  }

  /** Runs a batch; when it keeps failing, splits it until the bad item is alone. */
  async #runIsolating(slab: EmbedSlab, batch: BatchRange, failed: Map<number, ItemFailed>, signal: AbortSignal, breaker: CallBreaker, insert: InsertSpec | null): Promise<void> {
    const error = await this.#runWithRetries(slab, batch, signal, insert);
    if (error === undefined) {
      breaker.succeeded++;
      return;
    }
    const size = batch.end - batch.start;
    if (size === 1) {
      const item = new Uint32Array(slab.order)[batch.start] ?? 0;
      failed.set(item, { state: 'failed', code: 'WORKER_FAILED', reason: `embedding failed in the worker: ${errorMessage(error)}` });
      breaker.isolatedFailures++;
      // Splitting isolates a bad item in log2(n) rounds; when nothing at all
      // succeeds, the fault is the model or backend, not an item, and
      // splitting every batch down to single items would take n·log n runs.
      if (breaker.succeeded === 0 && breaker.isolatedFailures >= kBreakerThreshold) {
        throw new VecforgeError('ERR_WORKER', `every batch failed, giving up: ${errorMessage(error)}`, { cause: error });
      }
      return;
    }
    const mid = batch.start + (size >> 1);
    await Promise.all([
      this.#runIsolating(slab, { start: batch.start, end: mid }, failed, signal, breaker, insert),
      this.#runIsolating(slab, { start: mid, end: batch.end }, failed, signal, breaker, insert),
    ]);
  }

  /** @returns undefined on success, else the last error. */
  async #runWithRetries(slab: EmbedSlab, batch: BatchRange, signal: AbortSignal, insert: InsertSpec | null): Promise<unknown> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.#settings.maxRetries; attempt++) {
      if (signal.aborted) throw new AbortError(signal.reason);
      if (this.#closed) throw closedError();
      if (attempt > 0) this.#metrics.addRetry();
      try {
        const reply = checkedReply(await this.#pool.run({ kind: 'embed', slab, start: batch.start, end: batch.end, insert }, { signal })) as EmbedReply;
        this.#metrics.addBatch(reply.durationMs);
        return undefined;
      } catch (error) {
        if (signal.aborted) throw new AbortError(signal.reason);
        // close() terminated the pool under this task.
        if (this.#closed) throw closedError(error);
        lastError = error;
      }
    }
    return lastError;
  }

  /**
   * Runs one insert, search, graph-file or PCA-fit task on the pool, retried
   * on another worker when one fails (these tasks are idempotent).
   * @param request - the task.
   * @param signal - cancels it.
   * @returns the reply.
   * @throws {AbortError} when cancelled.
   * @throws {VecforgeError} ERR_CLOSED once the scheduler is closed; after the
   * retries, the worker's last error with its code (ERR_WORKER for one with
   * none, or a worker that died); a TypeError or RangeError as such, untried again.
   */
  async run<R extends PoolTaskRequest>(request: R, signal?: AbortSignal): Promise<PoolTaskReply<R>> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.#settings.maxRetries; attempt++) {
      throwIfAborted(signal);
      if (this.#closed) throw closedError();
      if (attempt > 0) this.#metrics.addRetry();
      try {
        return checkedReply(await this.#pool.run(request, signal !== undefined ? { signal } : {})) as PoolTaskReply<R>;
      } catch (error) {
        if (signal?.aborted === true) throw new AbortError(signal.reason);
        if (this.#closed) throw closedError(error);
        lastError = error;
        // Argument errors are the caller's and would fail the same way again.
        if (error instanceof TypeError || error instanceof RangeError) break;
      }
    }
    // A worker that died rejects with Piscina's own error, which has no code.
    if (lastError instanceof VecforgeError || lastError instanceof TypeError || lastError instanceof RangeError) throw lastError;
    throw new VecforgeError('ERR_WORKER', errorMessage(lastError), { cause: lastError });
  }

  /** Stops the pool; queued and running work rejects with ERR_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(closedError());
    await this.#pool.close({ force: true });
  }
}
