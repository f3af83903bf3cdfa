/**
 * Engine: owns the resolved config, the prepared model and the worker pool.
 */
import { AbortError, VecforgeError, throwIfAborted } from './errors.js';
import { readConfigFile, resolveEngineOptions } from './config/resolve.js';
import { ensureUsableDir } from './io/usable-dir.js';
import type { EngineOptions, ResolvedEngineOptions } from './config/engine-options.js';
import { getModel } from './models/registry.js';
import type { PreparedModel } from './models/embedder.js';
import type { ProviderOptions } from './models/providers/options.js';
import { createProviderModel, isProviderModel, type ProviderModel } from './models/providers/provider-model.js';
import type { ProviderMetrics } from './models/providers/provider-metrics.js';
import { isGpuBackend, resolveBackend, type BackendName } from './tensor/backend.js';
import type { EngineMetrics } from './scheduler/metrics.js';
import type { FaultSpec, WorkerInit } from './scheduler/protocol.js';
import { Scheduler, type EmbedResult } from './scheduler/scheduler.js';
import { Coalescer } from './scheduler/coalescer.js';
import { embedWorkerEntry } from './scheduler/worker-url.js';
import type { IndexHost, IndexOptions, OpenIndexOptions } from './index/types.js';
import type { VectorIndex } from './index/vector-index.js';
import { VectorIndexImpl } from './index/vector-index-impl.js';
import { isShardedIndex } from './index/sharded/layout.js';
import { ShardedIndex } from './index/sharded/sharded-index.js';

/** Where `Engine.create` reads configuration besides `options`. */
export interface EngineCreateContext {
  /** The environment for `VECFORGE_*` variables. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** A JSON config file with an `engine` section. */
  readonly configFile?: string;
  /** Cancels start-up (model conversion, worker start). */
  readonly signal?: AbortSignal;
  /**
   * Test only: a fault the workers inject, `exit|throw:<times>:<marker>`
   * (a worker exits, or throws, on a batch holding `<marker>`, `<times>`
   * times; the marker `@search` hits search tasks). Reachable only through
   * this option, never from the environment, so no deployment can set it
   * by accident.
   * @default no fault
   */
  readonly testFault?: string;
}

/** {@link EngineOptions} plus the options of a remote provider model. */
export interface EngineCreateOptions extends EngineOptions {
  /**
   * Options of a remote provider, for a model named `openai:NAME` (see
   * {@link ProviderOptions}); not allowed with a local model.
   */
  provider?: ProviderOptions;
  /**
   * Micro-batching: concurrent `embed` calls of at most 64 texts (and every
   * `embedOne`) wait up to this long for others and run as one shared call;
   * 0 turns it off. For a local model a call that finds no shared call
   * running goes at once (a lone call never waits), and the calls that
   * arrive meanwhile go together when it ends; for a provider model every
   * group waits out the window, so that requests stay few. An integer in
   * [0, 1000].
   * @default 2
   */
  coalesceMs?: number;
}

/** The default of {@link EngineCreateOptions.coalesceMs}, for every model kind. */
const kDefaultCoalesceMs = 2;
/** Calls of at most this many texts are coalesced. */
const kCoalesceCallItems = 64;
/** A shared call goes at once when it holds this many texts. */
const kCoalesceMaxItems = 2048;

/** {@link EngineMetrics}, plus the provider's counters for a remote model. */
export type EngineMetricsWithProvider = EngineMetrics & { readonly provider?: ProviderMetrics };

/** Options of one embedding call. */
export interface EmbedOptions {
  /** Cancels queued and running batches of this call. */
  readonly signal?: AbortSignal;
}

/** Options of {@link Engine.embedStream}. */
export interface EmbedStreamOptions extends EmbedOptions {
  /** Items per window, an integer in [1, 1000000]; each window is one {@link Engine.embed} call. @default the engine's sortWindow */
  readonly windowSize?: number;
  /** Windows embedded ahead of the consumer, an integer in [1, 64]. @default 2 */
  readonly prefetch?: number;
}

/** Defaults of {@link EmbedStreamOptions} (`windowSize` defaults to the engine's `sortWindow`). */
export const kDefaultEmbedStreamOptions = Object.freeze({ prefetch: 2 });

/** {@link EmbedStreamOptions} with every default applied and checked. */
interface ResolvedEmbedStreamOptions {
  readonly windowSize: number;
  readonly prefetch: number;
  readonly signal: AbortSignal | undefined;
}

/**
 * Applies the defaults of {@link EmbedStreamOptions} and checks them.
 * @param options - as the caller gave them.
 * @param sortWindow - the engine's sort window, the default window size.
 * @returns the resolved options.
 * @throws {RangeError} when windowSize or prefetch is out of range.
 */
function resolveEmbedStreamOptions(options: EmbedStreamOptions, sortWindow: number): ResolvedEmbedStreamOptions {
  const windowSize = options.windowSize ?? sortWindow;
  const prefetch = options.prefetch ?? kDefaultEmbedStreamOptions.prefetch;
  if (!Number.isInteger(windowSize) || windowSize < 1 || windowSize > 1_000_000) {
    throw new RangeError(`options.windowSize must be an integer in [1, 1000000], got ${String(windowSize)}`);
  }
  if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 64) {
    throw new RangeError(`options.prefetch must be an integer in [1, 64], got ${String(prefetch)}`);
  }
  return { windowSize, prefetch, signal: options.signal };
}

/** One window of {@link Engine.embedStream}, in input order. */
export interface EmbedStreamBatch extends EmbedResult {
  /** Index of this window's first item in the whole stream. */
  readonly offset: number;
}

/** What `engine.info()` reports. */
export interface EngineInfo {
  readonly backend: BackendName;
  readonly model: string;
  readonly modelId: string;
  readonly dims: number;
  readonly workers: number;
  readonly cacheDir: string;
  readonly modelFiles: Readonly<Record<string, string | number>>;
  readonly options: ResolvedEngineOptions;
}

function parseFault(raw: unknown): FaultSpec | null {
  if (raw === undefined || raw === '') return null;
  if (typeof raw !== 'string') throw new TypeError(`context.testFault must be a string, got ${typeof raw}`);
  const match = /^(exit|throw):(\d+):(.+)$/s.exec(raw);
  if (match === null) throw new RangeError(`context.testFault must look like "exit|throw:<times>:<marker>", got ${JSON.stringify(raw)}`);
  const counter = new SharedArrayBuffer(4);
  return { mode: match[1] as 'exit' | 'throw', times: Number(match[2]), marker: match[3] ?? '', counter };
}

/**
 * The pool size for a backend: tfjs-node-gpu fails when several threads
 * share the GPU, so on CUDA exactly one worker owns it.
 * @param backend - the resolved backend.
 * @param requested - the configured pool size.
 * @returns the pool size to start.
 */
export function effectiveWorkers(backend: BackendName, requested: number): number {
  return isGpuBackend(backend) ? 1 : requested;
}

/** What runs when an engine closes, before its pool stops (see {@link onEngineClose}). */
const closeHooks = new WeakMap<Engine, Set<() => Promise<void>>>();

/**
 * Runs `hook` when `engine` closes, before its pool stops; for module state
 * tied to an engine, such as the index a job keeps open for the next one.
 * Internal: not exported from the package.
 * @param engine - the engine.
 * @param hook - what to run; its errors are ignored.
 * @returns a function that removes the hook.
 */
export function onEngineClose(engine: Engine, hook: () => Promise<void>): () => void {
  let hooks = closeHooks.get(engine);
  if (hooks === undefined) {
    hooks = new Set();
    closeHooks.set(engine, hooks);
  }
  hooks.add(hook);
  return () => {
    closeHooks.get(engine)?.delete(hook);
  };
}

/** Set by {@link Engine}'s static block: it reaches the engine's private provider. */
let countCacheHits: (engine: Engine, hits: number) => void = () => {};

/**
 * Counts vectors the embedding cache served for `engine`, so a remote
 * provider's metrics say how many texts were never sent. Internal: the job
 * layer calls it; not exported from the package.
 * @param engine - the engine.
 * @param hits - vectors found in the cache.
 */
export function recordCacheHits(engine: Engine, hits: number): void {
  if (hits > 0) countCacheHits(engine, hits);
}

/** The vecforge engine. Create with {@link Engine.create}. */
export class Engine {
  static {
    countCacheHits = (engine, hits) => engine.#remote?.provider.addCacheHits(hits);
  }

  readonly #options: ResolvedEngineOptions;
  readonly #backend: BackendName;
  readonly #model: PreparedModel;
  readonly #scheduler: Scheduler;
  readonly #remote: ProviderModel | null;
  #coalescer: Coalescer | null = null;
  #closed = false;

  private constructor(options: ResolvedEngineOptions, backend: BackendName, model: PreparedModel, scheduler: Scheduler, remote: ProviderModel | null = null) {
    this.#remote = remote;
    this.#options = options;
    this.#backend = backend;
    this.#model = model;
    this.#scheduler = scheduler;
  }

  /**
   * Resolves configuration (options > env > config file > defaults),
   * prepares the model (converting its cache on first use) and starts the
   * worker pool.
   * @param options - engine options; see {@link EngineOptions}.
   * @param context - env, config file, signal (and the test-only fault hook).
   * @returns a ready engine.
   * @throws {TypeError | RangeError} for invalid options, naming the option.
   * @throws {VecforgeError} ERR_BACKEND, ERR_MODEL or ERR_CACHE when start-up fails (ERR_CACHE also for a cache directory that cannot hold files).
   */
  static async create(options: EngineCreateOptions = {}, context: EngineCreateContext = {}): Promise<Engine> {
    throwIfAborted(context.signal);
    const fault = parseFault(context.testFault);
    const env = context.env ?? process.env;
    const file = context.configFile !== undefined ? readConfigFile(context.configFile) : undefined;
    // Anything but a plain object goes to the resolver as is, which names the problem.
    const isObject = options !== null && typeof options === 'object' && !Array.isArray(options);
    const { provider: providerOptions, coalesceMs, ...engineOptions } = isObject ? options : ({} as EngineCreateOptions);
    if (coalesceMs !== undefined && (typeof coalesceMs !== 'number' || !Number.isInteger(coalesceMs) || coalesceMs < 0 || coalesceMs > 1000)) {
      const message = `options.coalesceMs must be an integer in [0, 1000], got ${String(coalesceMs)}`;
      throw typeof coalesceMs === 'number' ? new RangeError(message) : new TypeError(message);
    }
    const resolved = resolveEngineOptions({ options: (isObject ? engineOptions : options) as Record<string, unknown>, env, ...(file !== undefined ? { file } : {}) });
    const remote = isProviderModel(resolved.model) ? createProviderModel(resolved.model, providerOptions, env) : null;
    if (remote === null && providerOptions !== undefined) throw new RangeError(`options.provider is only for a provider model ("openai:NAME"), but options.model is ${JSON.stringify(resolved.model)}`);
    const model = remote?.definition ?? getModel(resolved.model);
    // Before the model is converted (seconds of work): a cache directory on /proc or /sys, or one that
    // cannot be created, fails now. An existing read-only cache is fine: prepare() only reads it.
    ensureUsableDir(resolved.cacheDir, { what: 'cache directory', code: 'ERR_CACHE', allowReadOnly: true });
    const backend = resolveBackend(resolved.backend);
    const workers = effectiveWorkers(backend, resolved.workers);
    const prepared = await model.prepare({ cacheDir: resolved.cacheDir, signal: context.signal, backend, math: resolved.math });
    throwIfAborted(context.signal);
    const init: WorkerInit = { backend, kernel: prepared.kernel, shared: prepared.shared, needsTf: prepared.needsTf, fault };
    const scheduler = new Scheduler(embedWorkerEntry(), init, {
      workers,
      dims: prepared.dims,
      maxTextBytes: resolved.maxTextBytes,
      batchTokens: resolved.batchTokens,
      sortWindow: resolved.sortWindow,
      maxRetries: resolved.maxRetries,
      batchCost: prepared.batchCost,
    }, remote?.provider);
    try {
      await scheduler.warmUp();
    } catch (error) {
      await scheduler.close();
      throw new VecforgeError('ERR_WORKER', `workers failed to start: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const engine = new Engine(Object.freeze({ ...resolved, workers }), backend, prepared, scheduler, remote);
    // Local models coalesce eagerly: a lone call goes at once (measured by the provider bench suite).
    const windowMs = coalesceMs ?? kDefaultCoalesceMs;
    if (windowMs > 0) engine.#coalescer = new Coalescer((texts, signal) => scheduler.embed(texts, signal), windowMs, kCoalesceMaxItems, remote === null);
    return engine;
  }

  /**
   * Embeds texts on the pool. Invalid items (not a string, empty, too large,
   * lone surrogates, no known word) fail one by one; the rest succeed.
   * @param texts - the texts.
   * @param options - `signal` cancels queued and running batches.
   * @returns vectors (rows × dims, input order) and per-item outcomes.
   * @throws {TypeError} when `texts` is not an array.
   * @throws {AbortError} when cancelled.
   */
  async embed(texts: readonly unknown[], options: EmbedOptions = {}): Promise<EmbedResult> {
    this.#checkOpen();
    if (!Array.isArray(texts)) throw new TypeError(`texts must be an array of strings, got ${texts === null ? 'null' : typeof texts}`);
    throwIfAborted(options.signal);
    if (this.#coalescer !== null && texts.length <= kCoalesceCallItems) return this.#coalescer.embed(texts, options.signal);
    return this.#scheduler.embed(texts, options.signal);
  }

  /**
   * Embeds one text; concurrent calls are coalesced into shared batches
   * (see {@link EngineCreateOptions.coalesceMs}).
   * @param text - the text.
   * @param options - `signal` cancels this call only.
   * @returns its vector (dims long) and outcome.
   * @throws {AbortError} when cancelled.
   */
  async embedOne(text: unknown, options: EmbedOptions = {}): Promise<{ readonly vector: Float32Array; readonly item: EmbedResult['items'][number] }> {
    const { vectors, items } = await this.embed([text], options);
    return { vector: vectors, item: items[0] as EmbedResult['items'][number] };
  }

  /**
   * Embeds a stream of texts window by window, yielding windows in input
   * order. At most `prefetch` windows are in flight, so memory stays
   * bounded whatever the input size; the source is read only as the
   * consumer pulls.
   * @param source - an (async) iterable of texts.
   * @param options - window size, prefetch and signal.
   * @returns an async iterable of windows.
   * @throws {TypeError | RangeError} for invalid options.
   */
  async *embedStream(source: AsyncIterable<unknown> | Iterable<unknown>, options: EmbedStreamOptions = {}): AsyncGenerator<EmbedStreamBatch, void, undefined> {
    this.#checkOpen();
    const { windowSize, prefetch, signal } = resolveEmbedStreamOptions(options, this.#options.sortWindow);
    if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source))) {
      throw new TypeError('source must be an iterable or async iterable of texts');
    }
    throwIfAborted(signal);
    const inFlight: Array<Promise<EmbedStreamBatch>> = [];
    const start = (texts: unknown[], offset: number): void => {
      const p = this.embed(texts, signal !== undefined ? { signal } : {}).then((r) => ({ ...r, offset }));
      // Rejections surface when the window is awaited below; this only keeps
      // a window that fails while an earlier one is consumed from being unhandled.
      p.catch(() => {});
      inFlight.push(p);
    };
    let window: unknown[] = [];
    let offset = 0;
    try {
      for await (const text of source as AsyncIterable<unknown>) {
        throwIfAborted(signal);
        window.push(text);
        if (window.length < windowSize) continue;
        start(window, offset);
        offset += window.length;
        window = [];
        while (inFlight.length >= prefetch) yield await (inFlight.shift() as Promise<EmbedStreamBatch>);
      }
      if (window.length > 0) start(window, offset);
      while (inFlight.length > 0) yield await (inFlight.shift() as Promise<EmbedStreamBatch>);
    } finally {
      inFlight.length = 0;
    }
  }

  /**
   * Describes the running engine.
   * @returns backend, model, dims, workers and cache locations.
   */
  info(): EngineInfo {
    return {
      backend: this.#backend,
      model: this.#options.model,
      modelId: this.#model.id,
      dims: this.#model.dims,
      workers: this.#options.workers,
      cacheDir: this.#options.cacheDir,
      modelFiles: this.#model.describe,
      options: this.#options,
    };
  }

  /**
   * Creates an empty index (written on `save()`).
   * @param options - dir, space, m, efConstruction, efSearch, capacity, dims, seed, pca.
   * @returns the index.
   * @throws {TypeError | RangeError} for invalid options.
   * @throws {VecforgeError} ERR_INDEX when `dir` already holds an index.
   */
  async createIndex(options: IndexOptions): Promise<VectorIndex> {
    this.#checkOpen();
    return VectorIndexImpl.create(this.#indexHost(), options);
  }

  /**
   * Opens the current version of an index directory, after checking every
   * file against its manifest. A sharded index directory (built with
   * `--shards`) opens as one index over its current set of shards: every
   * search fans out to all of them and merges the top k.
   * @param dir - the index directory.
   * @param options - hugePages (see {@link OpenIndexOptions}).
   * @returns the index.
   * @throws {VecforgeError} ERR_INDEX, ERR_INDEX_CORRUPT or ERR_INDEX_VERSION.
   * @throws {TypeError} for an option of the wrong type.
   */
  async openIndex(dir: string, options: OpenIndexOptions = {}): Promise<VectorIndex> {
    this.#checkOpen();
    const host = this.#indexHost();
    if (typeof dir === 'string' && dir !== '' && isShardedIndex(dir)) {
      return ShardedIndex.open({ modelDims: host.model.dims, embed: host.embed, openShard: (d, o) => VectorIndexImpl.open(host, d, o) }, dir, options);
    }
    return VectorIndexImpl.open(host, dir, options);
  }

  #indexHost(): IndexHost {
    return {
      scheduler: this.#scheduler,
      workers: this.#options.workers,
      backend: this.#backend,
      model: { id: this.#model.id, dims: this.#model.dims },
      // Through embed(), so an index's text queries share micro-batches with every other caller.
      embed: (texts, signal) => this.embed(texts, signal !== undefined ? { signal } : {}),
    };
  }

  /** The prepared model (for the index and job layers). */
  get model(): PreparedModel {
    return this.#model;
  }

  /**
   * Current scheduler metrics.
   * @returns a snapshot.
   */
  metrics(): EngineMetricsWithProvider {
    const snapshot = this.#scheduler.metrics.snapshot(this.#scheduler.queueDepth, this.#options.workers);
    return this.#remote === null ? snapshot : { ...snapshot, provider: this.#remote.provider.metrics() };
  }

  /** Zeroes the metrics and restarts their clock. */
  resetMetrics(): void {
    this.#remote?.provider.resetMetrics();
    this.#scheduler.metrics.reset();
  }

  /** Live worker threads (for tests and diagnostics). */
  get threadCount(): number {
    return this.#scheduler.threadCount;
  }

  /**
   * Stops the workers. Afterwards embed, embedStream, createIndex, openIndex
   * and every pool task of this engine's indexes reject with ERR_CLOSED (so
   * do batches still queued when it closes); info() and metrics() still answer.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const hooks = closeHooks.get(this);
    closeHooks.delete(this);
    for (const hook of hooks ?? []) await hook().catch(() => {});
    await this.#scheduler.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new VecforgeError('ERR_CLOSED', 'the engine is closed');
  }
}

export { AbortError };
