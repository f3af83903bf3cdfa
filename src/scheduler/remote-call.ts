/**
 * An embedding call served by a remote provider on the main thread instead
 * of the pool: the same validation, per-item outcomes, input order and
 * shared output as a pool call; with an insert spec, the embedded rows are
 * then inserted into the graph by the pool.
 */
import { AbortError, VecforgeError } from '../errors.js';
import type { MetricsRecorder } from './metrics.js';
import { kItemOkOutcome, validateText, type ItemFailed, type ItemOutcome } from './outcome.js';
import type { InsertSpec, PoolTaskRequest } from './protocol.js';

/** What a remote provider offers the scheduler (see models/providers/openai.ts). */
export interface RemoteEmbedder {
  /** Output dims. */
  readonly dims: number;
  /**
   * Embeds valid texts into `out`, row j for texts[j].
   * @returns the texts it rejected, by position.
   */
  embedInto(texts: readonly string[], out: Float32Array, signal?: AbortSignal): Promise<ReadonlyMap<number, { readonly code: 'PROVIDER_REJECTED'; readonly reason: string }>>;
}

/** What a call returns: the shape of the scheduler's EmbedResult (kept here so this file does not import scheduler.ts). */
export interface RemoteCallResult {
  readonly vectors: Float32Array;
  readonly dims: number;
  readonly items: readonly ItemOutcome[];
}

/** Rows per insert task handed to the pool. */
const kInsertChunkRows = 1024;

/** What a remote call needs from the scheduler. */
export interface RemoteCallHost {
  readonly remote: RemoteEmbedder;
  readonly maxTextBytes: number;
  readonly metrics: MetricsRecorder;
  /** Aborted when the scheduler closes. */
  readonly closing: AbortSignal;
  /** Runs an insert task on the pool. */
  run(request: PoolTaskRequest, signal?: AbortSignal): Promise<unknown>;
}

/**
 * Embeds a call through the remote provider.
 * @param host - the scheduler's side.
 * @param texts - the inputs; anything not a valid string fails per item.
 * @param signal - cancels queued requests and aborts in-flight ones.
 * @param insert - insert the ok rows into this graph, under these labels.
 * @returns vectors in input order and per-item outcomes.
 * @throws {AbortError} when cancelled; {@link VecforgeError} ERR_CLOSED, ERR_PROVIDER or ERR_PROVIDER_UNAVAILABLE.
 */
export async function embedRemoteCall(host: RemoteCallHost, texts: readonly unknown[], signal: AbortSignal | undefined, insert: InsertSpec | null): Promise<RemoteCallResult> {
  const { dims } = host.remote;
  const n = texts.length;
  const outcomes = new Array<ItemOutcome>(n).fill(kItemOkOutcome);
  const valid: string[] = [];
  const positions: number[] = [];
  for (let i = 0; i < n; i++) {
    const failure = validateText(texts[i], host.maxTextBytes);
    if (failure !== undefined) outcomes[i] = failure;
    else {
      valid.push(texts[i] as string);
      positions.push(i);
    }
  }
  // The output lives in shared memory, as a pool call's does, so that rows can go to the pool's insert tasks.
  const vectors = new Float32Array(new SharedArrayBuffer(Math.max(1, n * dims) * 4), 0, n * dims);
  const rows = new Float32Array(valid.length * dims);
  const started = performance.now();
  const both = signal === undefined ? host.closing : AbortSignal.any([signal, host.closing]);
  let rejected: ReadonlyMap<number, { readonly code: 'PROVIDER_REJECTED'; readonly reason: string }>;
  try {
    rejected = await host.remote.embedInto(valid, rows, both);
  } catch (error) {
    if (host.closing.aborted) throw new VecforgeError('ERR_CLOSED', 'the engine is closed', { cause: error });
    if (signal?.aborted === true) throw new AbortError(signal.reason);
    throw error;
  }
  host.metrics.addBatch(performance.now() - started);
  for (let j = 0; j < positions.length; j++) {
    const i = positions[j] as number;
    const failure = rejected.get(j);
    if (failure !== undefined) outcomes[i] = { state: 'failed', code: failure.code, reason: failure.reason } satisfies ItemFailed;
    else vectors.set(rows.subarray(j * dims, (j + 1) * dims), i * dims);
  }
  let ok = 0;
  for (const o of outcomes) if (o.state === 'ok') ok++;
  host.metrics.addItems(ok);
  host.metrics.addFailures(n - ok);
  if (insert !== null && ok > 0) await insertOkRows(host, vectors, dims, outcomes, insert, signal);
  return { vectors, dims, items: outcomes };
}

async function insertOkRows(host: RemoteCallHost, vectors: Float32Array, dims: number, outcomes: readonly ItemOutcome[], insert: InsertSpec, signal: AbortSignal | undefined): Promise<void> {
  const allLabels = new Uint32Array(insert.labels);
  const okRows: number[] = [];
  outcomes.forEach((o, i) => {
    if (o.state === 'ok') okRows.push(i);
  });
  const data = new Float32Array(new SharedArrayBuffer(okRows.length * dims * 4));
  const labels = new Uint32Array(new SharedArrayBuffer(okRows.length * 4));
  okRows.forEach((i, j) => {
    data.set(vectors.subarray(i * dims, (i + 1) * dims), j * dims);
    labels[j] = allLabels[i] ?? 0;
  });
  const tasks: Array<Promise<unknown>> = [];
  for (let start = 0; start < okRows.length; start += kInsertChunkRows) {
    const end = Math.min(okRows.length, start + kInsertChunkRows);
    tasks.push(host.run({ kind: 'insert', handle: insert.handle, data: data.buffer as SharedArrayBuffer, dims, labels: labels.buffer as SharedArrayBuffer, start, end, replaceDeleted: insert.replaceDeleted, pca: insert.pca ?? null }, signal));
  }
  await Promise.all(tasks);
}
