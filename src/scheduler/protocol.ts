/**
 * The messages between the scheduler and the embed workers. Both sides
 * import this file; nothing else defines message shapes.
 */
import type { BackendName } from '../tensor/backend.js';
import type { EmbedSlab } from './layout.js';

/** A test-only fault: crash or throw when a batch holds `marker`. */
export interface FaultSpec {
  /** `exit` ends the worker thread mid-batch; `throw` fails the batch. */
  readonly mode: 'exit' | 'throw';
  /** The text a batch must contain to trigger the fault. */
  readonly marker: string;
  /** How many times the fault fires in the whole pool. */
  readonly times: number;
  /** Int32[1] shared counter of faults fired (slot kFaultCountSlot). */
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

/** Insert embedded rows into a shared graph, right after embedding them. */
export interface InsertSpec {
  /** The native graph handle (process-global, usable from every worker). */
  readonly handle: number;
  /** Uint32 per item of the call: the label its row is inserted under. */
  readonly labels: SharedArrayBuffer;
  /** Reuse slots of deleted elements. */
  readonly replaceDeleted: boolean;
}

/** Embed items order[start, end) of a slab (and insert them, with `insert`). */
export interface EmbedRequest {
  readonly kind: 'embed';
  readonly slab: EmbedSlab;
  readonly start: number;
  readonly end: number;
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
}

/** Save a shared graph to a file, or load one and return its handle. */
export interface GraphFileRequest {
  readonly kind: 'save-graph' | 'load-graph';
  readonly handle: number;
  readonly path: string;
  readonly space: 'cosine' | 'ip' | 'l2';
  readonly dims: number;
  readonly maxElements: number;
}

/** Ask a worker for its state; also warms it up. */
export interface PingRequest {
  readonly kind: 'ping';
}

/** Any request. */
export type WorkerRequest = EmbedRequest | InsertRequest | SearchRequest | GraphFileRequest | PingRequest;

/** Reply to {@link EmbedRequest}. */
export interface EmbedReply {
  readonly kind: 'embedded';
  readonly items: number;
  readonly durationMs: number;
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
}

/** Any reply. */
export type WorkerReply = EmbedReply | PingReply | DoneReply;
