/**
 * Embed worker: decodes a request, calls src/, replies. The kernel (a model
 * bound to the shared table and a TF.js backend) is built once per worker
 * and cached at module level.
 */
import { threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { serializeError } from '../src/errors.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from '../src/scheduler/protocol.js';
import { createWorkerKernel, handleEmbed, handleEmbedRun, handleFitPca, handleGraphFile, handleInsert, handleSearch } from '../src/scheduler/worker-side.js';
import type { EmbedKernel } from '../src/models/embedder.js';

const init = Piscina.workerData as WorkerInit;
let kernel: Promise<{ kernel: EmbedKernel; backend: string }> | undefined;

/**
 * Piscina task handler.
 * @param request - the message.
 * @returns the reply; `{ kind: 'failed', error: { code, message, ... } }` when it threw.
 */
export default async function handle(request: WorkerRequest): Promise<WorkerReply> {
  try {
    return await dispatch(request);
  } catch (error) {
    // postMessage would clone the error without its class or code.
    return { kind: 'failed', error: serializeError(error) };
  }
}

async function dispatch(request: WorkerRequest): Promise<WorkerReply> {
  switch (request.kind) {
    case 'insert':
      return handleInsert(request, init.backend);
    case 'search':
      return handleSearch(request, init.backend, init.fault);
    case 'fit-pca':
      return handleFitPca(request, init.backend);
    case 'save-graph':
    case 'load-graph':
      return handleGraphFile(request);
    default:
      break;
  }
  kernel ??= createWorkerKernel(init);
  const ready = await kernel;
  switch (request.kind) {
    case 'ping':
      return { kind: 'pong', backend: ready.backend, threadId, rssBytes: process.memoryUsage.rss() };
    case 'embed':
      return handleEmbed(ready.kernel, request, init.fault, init.backend);
    case 'embed-run':
      return handleEmbedRun(ready.kernel, request, init.fault, init.backend);
  }
}
