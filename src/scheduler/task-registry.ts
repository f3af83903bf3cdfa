/**
 * The pool's task registry: a frozen table from a message's `kind` to the
 * handler that runs it in a worker. Each layer exports its own table
 * (scheduler: embed, embed-run, ping; index: insert, search, graph files;
 * PCA: fit), and the worker entry composes them, so that this layer never
 * imports the layers above it. An unknown kind is refused with the list of
 * valid ones, the way transformers.js answers an unknown pipeline task.
 */
import { VecforgeError } from '../errors.js';
import type { EmbedKernel } from '../models/embedder.js';
import type { InsertSpec, WorkerInit, WorkerReply, WorkerRequest } from './protocol.js';
import type { BackendName } from '../tensor/backend.js';

/**
 * Inserts rows a worker just embedded into the shared graph (projecting them
 * first with a PCA stage). The index layer provides it (src/index/worker-tasks.ts);
 * the worker entry passes it in, so that this layer never imports the index.
 */
export type InsertEmbeddedRows = (spec: InsertSpec, rows: Float32Array, labels: Uint32Array, backend: BackendName) => Promise<void>;

/** A message kind a worker can be sent. */
export type TaskKind = WorkerRequest['kind'];

/** What a handler may use besides its request: the pool's workerData and the worker's cached state. */
export interface WorkerContext {
  /** The pool's workerData. */
  readonly init: WorkerInit;
  /** This worker's model kernel and active backend, built on first use and cached. */
  kernel(): Promise<{ readonly kernel: EmbedKernel; readonly backend: string }>;
  /** Inserts rows just embedded into a shared graph (provided by the index layer). */
  readonly insertEmbeddedRows: InsertEmbeddedRows;
}

/** A handler of one message kind. */
export type TaskHandler<K extends TaskKind> = (request: Extract<WorkerRequest, { readonly kind: K }>, context: WorkerContext) => WorkerReply | Promise<WorkerReply>;

/** Handlers by message kind; a layer's table holds the kinds it owns. */
export type TaskTable = { readonly [K in TaskKind]?: TaskHandler<K> };

/**
 * Composes layers' tables into one frozen registry.
 * @param tables - the layers' tables; a kind registered twice is refused.
 * @returns the frozen registry.
 * @throws {VecforgeError} ERR_WORKER when two tables register the same kind.
 */
export function createTaskRegistry(...tables: readonly TaskTable[]): Readonly<TaskTable> {
  const registry: Record<string, unknown> = {};
  for (const table of tables) {
    for (const [kind, handler] of Object.entries(table)) {
      if (kind in registry) throw new VecforgeError('ERR_WORKER', `task "${kind}" is registered twice`);
      registry[kind] = handler;
    }
  }
  return Object.freeze(registry) as Readonly<TaskTable>;
}

/**
 * Runs a request with the handler its kind is registered under.
 * @param registry - the composed registry.
 * @param request - the message.
 * @param context - the worker's context.
 * @returns the handler's reply.
 * @throws {VecforgeError} ERR_WORKER for a kind no table registers, naming the valid ones.
 */
export async function dispatchTask(registry: Readonly<TaskTable>, request: WorkerRequest, context: WorkerContext): Promise<WorkerReply> {
  const kind = (request as { readonly kind?: unknown } | null)?.kind;
  const handler = typeof kind === 'string' && Object.hasOwn(registry, kind) ? (registry[kind as TaskKind] as TaskHandler<TaskKind> | undefined) : undefined;
  if (handler === undefined) throw new VecforgeError('ERR_WORKER', `Unsupported task: ${String(kind)}. Must be one of [${Object.keys(registry).join(', ')}]`);
  return handler(request as never, context);
}
