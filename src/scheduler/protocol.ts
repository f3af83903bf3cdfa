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

/** Embed items order[start, end) of a slab. */
export interface EmbedRequest {
  readonly kind: 'embed';
  readonly slab: EmbedSlab;
  readonly start: number;
  readonly end: number;
}

/** Ask a worker for its state; also warms it up. */
export interface PingRequest {
  readonly kind: 'ping';
}

/** Any request. */
export type WorkerRequest = EmbedRequest | PingRequest;

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

/** Any reply. */
export type WorkerReply = EmbedReply | PingReply;
