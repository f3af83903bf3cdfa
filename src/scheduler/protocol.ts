/**
 * The messages between the scheduler and the embed workers. Both sides
 * import this file; nothing else defines message shapes.
 */
import type { MessagePort } from 'node:worker_threads';
import { deserializeError, type SerializedError } from '../errors.js';
import type { BackendName } from '../tensor/backend.js';
import type { EmbedSlab } from './layout.js';

/** A test-only fault: crash or throw when a batch holds `marker`. */
export interface FaultSpec {
  /** `exit` ends the worker thread mid-batch; `throw` fails the batch. */
  readonly mode: 'exit' | 'throw';
  /** The text a batch must contain to trigger the fault; `@search` fires in search tasks instead. */
  readonly marker: string;
  /** How many times the fault fires in the whole pool. */
  readonly times: number;
  /** Int32[1] shared counter of faults fired (slot kFaultCountSlot in layout.ts). */
  readonly counter: SharedArrayBuffer;
}

/** Passed to every worker once, as Piscina's workerData. */
export interface WorkerInit {
  readonly backend: BackendName;
  readonly kernel: string;
  readonly shared: unknown;
  readonly needsTf: boolean;
  readonly fault: FaultSpec | null;
}

/**
 * A fitted PCA model as workers receive it: its serialized bytes (the
 * checksummed format of src/pca/model.ts) in shared memory, never copied,
 * and an id under which each worker caches one projector.
 */
export interface PcaModelRef {
  /** The model's id: the SHA-256 of its bytes, hex; equal ids mean equal models. */
  readonly id: string;
  /** The serialized model, exactly `byteLength` bytes. */
  readonly bytes: SharedArrayBuffer;
}

/**
 * Where an index keeps its full (pre-PCA) vectors, as half-precision rows
 * (row layout: src/pca/full-vectors.ts). `memory`: a SharedArrayBuffer every
 * worker reads and writes in place. `disk`: a file descriptor, valid in
 * every thread of the process, read and written at row offsets.
 */
export type FullVectorsRef =
  | { readonly kind: 'memory'; readonly dims: number; readonly rowBytes: number; readonly data: SharedArrayBuffer }
  | { readonly kind: 'disk'; readonly dims: number; readonly rowBytes: number; readonly fd: number };

/** The PCA step of an insert or search task. */
export interface PcaStage {
  readonly model: PcaModelRef;
  /** The index's space: cosine normalises inputs first; cosine and ip re-normalise projections; exact rerank scores use it. */
  readonly space: 'cosine' | 'ip' | 'l2';
  /** Inserts write the full vectors here, reranks read them back; null when the index keeps none. */
  readonly store: FullVectorsRef | null;
}

/** Insert embedded rows into a shared graph, right after embedding them. */
export interface InsertSpec {
  /** The native graph handle (process-global, usable from every worker). */
  readonly handle: number;
  /** Uint32 per item of the call: the label its row is inserted under. */
  readonly labels: SharedArrayBuffer;
  /** Reuse slots of deleted elements. */
  readonly replaceDeleted: boolean;
  /** Project the embedded rows with PCA before inserting them. Absent or null: no PCA. */
  readonly pca?: PcaStage | null;
}

/** Embed items order[start, end) of a slab (and insert them, with `insert`). */
export interface EmbedRequest {
  readonly kind: 'embed';
  readonly slab: EmbedSlab;
  readonly start: number;
  readonly end: number;
  readonly insert: InsertSpec | null;
}

/**
 * Embed every batch of a call that this run claims. Window slabs arrive on
 * `windows` (posted before their batches are published), read with
 * receiveMessageOnPort.
 */
export interface EmbedRunRequest {
  readonly kind: 'embed-run';
  /** Int32 plan, see kPlanPublishedSlot in layout.ts. */
  readonly plan: SharedArrayBuffer;
  /** Receives one EmbedSlab per window, in window order. */
  readonly windows: MessagePort;
  readonly insert: InsertSpec | null;
}

/** Insert rows [start, end) of a shared matrix into a shared graph. */
export interface InsertRequest {
  readonly kind: 'insert';
  readonly handle: number;
  /** Float32[rows × dims]. */
  readonly data: SharedArrayBuffer;
  readonly dims: number;
  /** Uint32[rows]: the label of each row. */
  readonly labels: SharedArrayBuffer;
  readonly start: number;
  readonly end: number;
  readonly replaceDeleted: boolean;
  /** Project the rows with PCA (`dims` is then the input dims). Absent or null: no PCA. */
  readonly pca?: PcaStage | null;
}

/** Search queries [start, end) of a shared matrix in a shared graph. */
export interface SearchRequest {
  readonly kind: 'search';
  readonly handle: number;
  /** Float32[nq × dims]. */
  readonly queries: SharedArrayBuffer;
  readonly dims: number;
  readonly start: number;
  readonly end: number;
  readonly k: number;
  readonly ef: number;
  /** Label bitset, or null for none. */
  readonly filter: SharedArrayBuffer | null;
  /** Uint32[nq × k] labels, Float32[nq × k] distances, Uint32[nq] counts. */
  readonly outLabels: SharedArrayBuffer;
  readonly outDistances: SharedArrayBuffer;
  readonly outCounts: SharedArrayBuffer;
  /** Project the queries with PCA (`dims` is then the input dims). Absent or null: no PCA. */
  readonly pca?: PcaStage | null;
  /**
   * With `pca.store`: fetch this many graph candidates (≥ k) and return the
   * k best by exact score on the full vectors. Absent or 0: no rerank.
   */
  readonly rerankCandidates?: number;
  /**
   * Int32[1], shared by every task of one search call: the next query to
   * claim. When present, [start, end) is the whole call's range and each
   * task claims shrinking runs of it (guided self-scheduling, as hnswlib's
   * ParallelFor hands out rows) until none are left, so no worker idles
   * while another still holds a long run. Absent or null: the task
   * searches exactly [start, end).
   */
  readonly cursor?: SharedArrayBuffer | null;
  /** With `cursor`: how many tasks share it (sets the run sizes). */
  readonly sharers?: number;
}

/** Save a shared graph to a file, or load one and return its handle. */
export interface GraphFileRequest {
  readonly kind: 'save-graph' | 'load-graph';
  readonly handle: number;
  readonly path: string;
  readonly space: 'cosine' | 'ip' | 'l2';
  readonly dims: number;
  readonly maxElements: number;
  /** load-graph: back the graph with transparent huge pages (see HnswCore.load). @default true */
  readonly hugePages?: boolean;
  /**
   * load-graph: the file's size and SHA-256 from the manifest. The worker
   * checks them before the file reaches hnswlib and, on a mismatch, replies
   * with `mismatch` instead of loading. Absent or null: the caller checked
   * the file already. @default null
   */
  readonly expect?: { readonly bytes: number; readonly sha256: string } | null;
}

/** Fit a PCA model on a sample, off the main thread. */
export interface FitPcaRequest {
  readonly kind: 'fit-pca';
  /** Float32[rows × dims], row-major. */
  readonly sample: SharedArrayBuffer;
  readonly rows: number;
  readonly dims: number;
  /** Output dims. */
  readonly components: number;
  /** Seed of the randomized subspace iteration. */
  readonly seed: number;
}

/** Ask a worker for its state; also warms it up. */
export interface PingRequest {
  readonly kind: 'ping';
}

/** Any request. */
export type WorkerRequest = EmbedRequest | EmbedRunRequest | InsertRequest | SearchRequest | GraphFileRequest | FitPcaRequest | PingRequest;

/** The requests `Scheduler.run` sends: single idempotent tasks, retried on another worker. */
export type PoolTaskRequest = InsertRequest | SearchRequest | GraphFileRequest | FitPcaRequest;

/** Reply to {@link EmbedRequest}. */
export interface EmbedReply {
  readonly kind: 'embedded';
  readonly items: number;
  readonly durationMs: number;
}

/** Reply to {@link EmbedRunRequest}. */
export interface EmbedRunReply {
  readonly kind: 'embed-run-done';
  /** Duration of each batch this run embedded, in claim order. */
  readonly durationsMs: readonly number[];
}

/** Reply to {@link PingRequest}. */
export interface PingReply {
  readonly kind: 'pong';
  readonly backend: string;
  readonly threadId: number;
  readonly rssBytes: number;
}

/** Reply to insert, search and graph-file requests. */
export interface DoneReply {
  readonly kind: 'done';
  readonly durationMs: number;
  /** The loaded graph's handle (load-graph). */
  readonly handle: number;
  /**
   * load-graph with `expect`: the file's actual size and SHA-256 when they
   * differ from the expected ones (nothing was loaded, `handle` is 0).
   */
  readonly mismatch?: { readonly bytes: number; readonly sha256: string };
}

/** Reply to {@link FitPcaRequest}. */
export interface PcaFittedReply {
  readonly kind: 'pca-fitted';
  /** The serialized model (src/pca/model.ts format), exactly `byteLength` bytes. */
  readonly model: SharedArrayBuffer;
  readonly durationMs: number;
}

/** The reply `Scheduler.run` resolves with for a request type. */
export type PoolTaskReply<R extends PoolTaskRequest> = R extends FitPcaRequest ? PcaFittedReply : DoneReply;

/**
 * Reply to any request that threw in the worker. postMessage would drop the
 * error's class and code, so the worker flattens it (serializeError) and
 * the scheduler rebuilds it (deserializeError) and throws it.
 */
export interface FailedReply {
  readonly kind: 'failed';
  readonly error: SerializedError;
}

/** Any reply. */
export type WorkerReply = EmbedReply | EmbedRunReply | PingReply | DoneReply | PcaFittedReply | FailedReply;

/**
 * A worker's reply, or the error it replied with, rebuilt with its code.
 * @param reply - what the pool resolved with.
 * @returns the reply when it is not `failed`.
 * @throws {VecforgeError | TypeError | RangeError} the worker's error.
 */
export function checkedReply(reply: WorkerReply): WorkerReply {
  if (reply.kind === 'failed') throw deserializeError(reply.error);
  return reply;
}
