/**
 * Embed worker: decodes a request, dispatches it on its kind through the
 * frozen task registry each layer contributes to, replies. The kernel (a
 * model bound to the shared table and a TF.js backend) is built once per
 * worker, on the first task that needs it, and cached at module level.
 */
import { Piscina } from 'piscina';
import { serializeError } from '../src/errors.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from '../src/scheduler/protocol.js';
import { createTaskRegistry, dispatchTask, type WorkerContext } from '../src/scheduler/task-registry.js';
import { createWorkerKernel, schedulerTasks } from '../src/scheduler/worker-side.js';
import { indexTasks, insertEmbeddedRows } from '../src/index/worker-tasks.js';
import { pcaTasks } from '../src/pca/worker-tasks.js';
import type { EmbedKernel } from '../src/models/embedder.js';

const init = Piscina.workerData as WorkerInit;
let kernel: Promise<{ kernel: EmbedKernel; backend: string }> | undefined;

const kTasks = createTaskRegistry(schedulerTasks, indexTasks, pcaTasks);

const kContext: WorkerContext = Object.freeze({
  init,
  kernel: () => (kernel ??= createWorkerKernel(init)),
  insertEmbeddedRows,
});

/**
 * Piscina task handler.
 * @param request - the message.
 * @returns the reply; `{ kind: 'failed', error: { code, message, ... } }` when it threw.
 */
export default async function handle(request: WorkerRequest): Promise<WorkerReply> {
  try {
    return await dispatchTask(kTasks, request, kContext);
  } catch (error) {
    // postMessage would clone the error without its class or code.
    return { kind: 'failed', error: serializeError(error) };
  }
}
