/**
 * The PCA steps of an index, as plain functions the pool workers run (and
 * the main thread, when the HNSW core cannot be shared across threads):
 * fit a model on a sample, prepare and project rows before they reach the
 * graph, and rerank graph candidates exactly on the full vectors.
 *
 * Per space: `cosine` inputs are unit-normalised first (cosine ignores
 * length) and projections re-normalised; `ip` projections are
 * re-normalised (PCA's centring breaks inner products otherwise, so the
 * graph ranks by cosine in the projected space and the rerank restores
 * exact inner products); `l2` projections are left as they are (centring
 * and an orthonormal projection keep L2 distances, shortened).
 */
import { createHash } from 'node:crypto';
import type { FitPcaRequest, FullVectorsRef, PcaFittedReply, PcaModelRef, PcaStage } from '../scheduler/protocol.js';
import type { Tf } from '../tensor/backend.js';
import { fitPca } from './fit.js';
import { fullRowScorer, writeFullRows } from './full-vectors.js';
import { deserializePcaModel, serializePcaModel, type PcaModel } from './model.js';
import { PcaProjector } from './project.js';

/** Projectors each thread keeps, most recently used first out last. */
const kCachedProjectors = 4;
const gProjectors = new Map<string, PcaProjector>();

/**
 * Wraps a model for workers: serialized into shared memory, with its id.
 * @param model - the model.
 * @returns the reference to put in task messages.
 */
export function pcaModelRef(model: PcaModel): PcaModelRef {
  return pcaModelRefFromBytes(serializePcaModel(model));
}

/**
 * Wraps serialized model bytes (already checked) for workers.
 * @param bytes - the serialized model.
 * @returns the reference.
 */
export function pcaModelRefFromBytes(bytes: Uint8Array): PcaModelRef {
  const shared = new SharedArrayBuffer(bytes.length);
  new Uint8Array(shared).set(bytes);
  return { id: createHash('sha256').update(bytes).digest('hex'), bytes: shared };
}

/**
 * This thread's projector for a model, built on first use and cached by id
 * (a few per thread; the least recently used one is disposed).
 * @param ref - the model.
 * @param tf - TF.js.
 * @returns the projector.
 */
export function projectorFor(ref: PcaModelRef, tf: Tf): PcaProjector {
  const cached = gProjectors.get(ref.id);
  if (cached !== undefined) {
    gProjectors.delete(ref.id);
    gProjectors.set(ref.id, cached);
    return cached;
  }
  // slice(): a private copy, so the checksum is computed over bytes no other thread can change.
  const projector = new PcaProjector(deserializePcaModel(new Uint8Array(ref.bytes).slice()), tf);
  gProjectors.set(ref.id, projector);
  if (gProjectors.size > kCachedProjectors) {
    const [oldest, old] = gProjectors.entries().next().value as [string, PcaProjector];
    gProjectors.delete(oldest);
    old.dispose();
  }
  return projector;
}

/**
 * Rows as the model sees them: a unit-normalised copy for cosine (zero
 * rows stay zero), the rows themselves otherwise.
 * @param rows - row-major input rows.
 * @param dims - values per row.
 * @param space - the index space.
 * @returns the prepared rows.
 */
export function prepareRows(rows: Float32Array, dims: number, space: PcaStage['space']): Float32Array {
  if (space !== 'cosine') return rows;
  const out = new Float32Array(rows.length);
  for (let start = 0; start < rows.length; start += dims) {
    let sum = 0;
    for (let d = start; d < start + dims; d++) sum += rows[d]! * rows[d]!;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let d = start; d < start + dims; d++) out[d] = rows[d]! * scale;
  }
  return out;
}

/**
 * Prepares rows, stores their full vectors (when the stage keeps them and
 * `labels` are given), and projects them for the graph.
 * @param rows - `n × inputDims` input rows.
 * @param labels - their labels, or null to skip the store (queries, rebuilds).
 * @param stage - the model, space and store.
 * @param tf - TF.js.
 * @returns `n × outputDims` rows for the graph.
 */
export function projectForGraph(rows: Float32Array, labels: Uint32Array | null, stage: PcaStage, tf: Tf): Float32Array {
  const projector = projectorFor(stage.model, tf);
  const prepared = prepareRows(rows, projector.inputDims, stage.space);
  if (labels !== null && stage.store !== null && labels.length > 0) writeFullRows(stage.store, prepared, labels);
  return projector.project(prepared, undefined, { normalize: stage.space !== 'l2' });
}

/**
 * Reranks each query's graph candidates by exact distance on the full
 * vectors and keeps the best k.
 * @param queries - `nq × inputDims` prepared query rows (see {@link prepareRows}).
 * @param candidates - the graph search: `nq × width` labels, counts per query.
 * @param width - candidate slots per query.
 * @param k - results per query.
 * @param store - the full vectors.
 * @param space - the index space.
 * @returns `nq × k` labels and distances (graph-style: 1 − dot, or squared L2), and counts.
 */
export function rerankCandidates(
  queries: Float32Array,
  candidates: { readonly labels: Uint32Array; readonly counts: Uint32Array },
  width: number,
  k: number,
  store: FullVectorsRef,
  space: PcaStage['space'],
): { labels: Uint32Array; distances: Float32Array; counts: Uint32Array } {
  const dims = store.dims;
  const nq = candidates.counts.length;
  const scorer = fullRowScorer(store, space);
  const labels = new Uint32Array(nq * k).fill(0xffff_ffff);
  const distances = new Float32Array(nq * k).fill(Number.POSITIVE_INFINITY);
  const counts = new Uint32Array(nq);
  const scored = new Float64Array(width);
  const order: number[] = [];
  for (let q = 0; q < nq; q++) {
    const query = queries.subarray(q * dims, (q + 1) * dims);
    const n = candidates.counts[q]!;
    order.length = 0;
    for (let j = 0; j < n; j++) {
      scored[j] = scorer.distance(query, candidates.labels[q * width + j]!);
      order.push(j);
    }
    // Ties keep the graph's order (a stable sort), so equal full vectors rank as the graph ranked them.
    order.sort((a, b) => scored[a]! - scored[b]!);
    const kept = Math.min(k, n);
    for (let j = 0; j < kept; j++) {
      labels[q * k + j] = candidates.labels[q * width + order[j]!]!;
      distances[q * k + j] = scored[order[j]!]!;
    }
    counts[q] = kept;
  }
  return { labels, distances, counts };
}

/** The k-NN search of a graph, as {@link searchProjected} calls it. */
export type GraphSearch = (rows: Float32Array, k: number, ef: number) => { labels: Uint32Array; distances: Float32Array; counts: Uint32Array };

/**
 * Searches with a PCA stage: prepares and projects the queries (one
 * matmul), searches the graph for `max(k, rerank)` candidates when
 * `rerank` > 0 and the stage keeps full vectors (k otherwise), and reranks
 * them exactly.
 * @param search - the graph search.
 * @param queries - `nq × inputDims` query rows.
 * @param k - results per query.
 * @param ef - the search's candidate list size (raised to the candidate count).
 * @param stage - the model, space and store.
 * @param rerank - candidates to rerank per query; 0 for none.
 * @param tf - TF.js.
 * @returns `nq × k` labels and distances, and counts.
 */
export function searchProjected(
  search: GraphSearch,
  queries: Float32Array,
  k: number,
  ef: number,
  stage: PcaStage,
  rerank: number,
  tf: Tf,
): { labels: Uint32Array; distances: Float32Array; counts: Uint32Array } {
  const projector = projectorFor(stage.model, tf);
  const prepared = prepareRows(queries, projector.inputDims, stage.space);
  const projected = projector.project(prepared, undefined, { normalize: stage.space !== 'l2' });
  const store = rerank > 0 ? stage.store : null;
  const width = store !== null ? Math.max(k, rerank) : k;
  const found = search(projected, width, Math.max(ef, width));
  return store !== null ? rerankCandidates(prepared, found, width, k, store, stage.space) : found;
}

/**
 * Fits a model on a shared sample (the `fit-pca` task).
 * @param request - the sample and the target dims.
 * @param tf - TF.js.
 * @returns the serialized model in shared memory.
 * @throws {RangeError} for a sample `fitPca` refuses (too few rows, non-finite values).
 */
export async function fitPcaTask(request: FitPcaRequest, tf: Tf): Promise<PcaFittedReply> {
  const started = performance.now();
  const sample = new Float32Array(request.sample, 0, request.rows * request.dims);
  const model = await fitPca(sample, request.dims, { components: request.components, seed: request.seed }, tf);
  const bytes = serializePcaModel(model);
  const shared = new SharedArrayBuffer(bytes.length);
  new Uint8Array(shared).set(bytes);
  return { kind: 'pca-fitted', model: shared, durationMs: performance.now() - started };
}
