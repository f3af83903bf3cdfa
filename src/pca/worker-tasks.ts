/**
 * The PCA layer's pool tasks: fit a model on a shared sample. (Projection
 * runs inside the index's insert and search tasks, through pipeline.ts.)
 * The worker entry registers {@link pcaTasks} in its task registry.
 */
import type { FitPcaRequest, PcaFittedReply } from '../scheduler/protocol.js';
import type { TaskTable } from '../scheduler/task-registry.js';
import { loadTf, type BackendName } from '../tensor/backend.js';
import { fitPcaTask } from './pipeline.js';

/**
 * Fits a PCA model on a shared sample.
 * @param request - the sample and target dims.
 * @param backend - the TF.js backend.
 * @returns the serialized model, in shared memory.
 */
export async function handleFitPca(request: FitPcaRequest, backend: BackendName): Promise<PcaFittedReply> {
  return fitPcaTask(request, await loadTf(backend));
}

/** The PCA layer's pool task handlers, by message kind. */
export const pcaTasks: TaskTable = Object.freeze({
  'fit-pca': (request: FitPcaRequest, context) => handleFitPca(request, context.init.backend),
});
