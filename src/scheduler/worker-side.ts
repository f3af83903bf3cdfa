/**
 * What an embed worker does, as plain functions (the worker entry file only
 * routes messages here).
 */
import { loadTf } from '../tensor/backend.js';
import { getKernel } from '../models/registry.js';
import type { EmbedKernel } from '../models/embedder.js';
import { kFaultCountSlot } from './layout.js';
import type { EmbedReply, EmbedRequest, FaultSpec, WorkerInit } from './protocol.js';

/**
 * Builds this worker's kernel: starts TF.js when the model needs it, then
 * binds the model to its shared state.
 * @param init - the pool's workerData.
 * @returns the kernel and the active backend name.
 */
export async function createWorkerKernel(init: WorkerInit): Promise<{ kernel: EmbedKernel; backend: string }> {
  const tf = init.needsTf ? await loadTf(init.backend) : undefined;
  const kernel = await getKernel(init.kernel)(init.shared, tf);
  return { kernel, backend: init.needsTf ? init.backend : 'none' };
}

const decoder = new TextDecoder('utf-8');

function maybeFault(fault: FaultSpec | null, texts: readonly string[], afterPartialWrite: () => void): void {
  if (fault === null || !texts.some((t) => t.includes(fault.marker))) return;
  const counter = new Int32Array(fault.counter);
  // Atomics.add makes "fire at most `times` times" hold across all workers.
  if (Atomics.add(counter, kFaultCountSlot, 1) >= fault.times) return;
  afterPartialWrite();
  if (fault.mode === 'exit') process.exit(70);
  throw new Error(`injected fault on "${fault.marker}"`);
}

/**
 * Embeds order[start, end) of a slab and writes rows and statuses in place.
 * @param kernel - the model kernel.
 * @param request - the batch.
 * @param fault - the test-only fault hook, null in normal runs.
 * @returns the reply.
 */
export async function handleEmbed(kernel: EmbedKernel, request: EmbedRequest, fault: FaultSpec | null): Promise<EmbedReply> {
  const started = performance.now();
  const { slab, start, end } = request;
  const { dims } = slab;
  const bytes = new Uint8Array(slab.textBytes);
  const offsets = new Uint32Array(slab.offsets);
  const order = new Uint32Array(slab.order, start * 4, end - start);
  const out = new Float32Array(slab.out);
  const status = new Uint8Array(slab.status);
  const texts: string[] = new Array<string>(order.length);
  for (let j = 0; j < order.length; j++) {
    const local = (order[j] ?? 0) - slab.base;
    texts[j] = decoder.decode(bytes.subarray(offsets[local] ?? 0, offsets[local + 1] ?? 0));
  }
  const local = new Uint8Array(order.length);
  const rows = await kernel.embedBatch(texts, local);
  const write = (from: number, to: number): void => {
    for (let j = from; j < to; j++) {
      const i = order[j] ?? 0;
      out.set(rows.subarray(j * dims, (j + 1) * dims), i * dims);
      status[i] = local[j] ?? 0;
    }
  };
  // A fault fires after half the rows are written, so a retry must cope
  // with a partly written batch (rows are idempotent: same place, same value).
  maybeFault(fault, texts, () => write(0, order.length >> 1));
  write(0, order.length);
  return { kind: 'embedded', items: order.length, durationMs: performance.now() - started };
}
