/**
 * The PCA life cycle of an index: sampling the vectors added before the
 * fit, the fit on the pool, the flush of the buffered vectors into the
 * graph, the refit from the kept full vectors, and what a save writes.
 * The index calls it through {@link IndexPcaRuntime} and lends it its
 * graph through {@link PcaGraphAccess} (index-types.ts); this folder never
 * imports the index.
 */
import { join } from 'node:path';
import { VecforgeError, errorMessage, throwIfAborted } from '../errors.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { PcaModelRef, PcaStage } from '../scheduler/protocol.js';
import { FullVectorStore, kFullVectorEncoding, readFullRow } from './full-vectors.js';
import type { PcaManifestSection, ResolvedPcaIndexOptions } from './index-options.js';
import { deserializePcaModel, loadPcaModel, savePcaModel, type PcaModel } from './model.js';
import { pcaModelRef, pcaModelRefFromBytes, prepareRows } from './pipeline.js';
import { createRng } from './random.js';
import { ReservoirSampler } from './reservoir.js';
import type { IndexPcaStats, PcaFitSummary, PcaGraphAccess, PcaSpace } from './index-types.js';

export type { IndexPcaStats, PcaFitSummary, PcaGraphAccess, PcaSpace } from './index-types.js';

/** Names of the PCA files in a version directory. */
const kPcaModelFile = 'pca.model';
const kFullVectorsFile = 'full-vectors.f16';
/** Rows decoded and inserted per step of a refit's rebuild. */
const kRebuildChunkRows = 8192;
/** The largest refit sample. */
const kMaxRefitSample = 16_777_216;

/** The PCA state of one index. */
export class IndexPcaRuntime {
  readonly options: ResolvedPcaIndexOptions;
  readonly #space: PcaSpace;
  readonly #scheduler: Scheduler;
  /** Draws the fit sample; null once fitted. */
  #sampler: ReservoirSampler | null;
  /** label → prepared full vector, buffered until the fit inserts it. */
  readonly #pending = new Map<number, Float32Array>();
  #model: PcaModel | null;
  #ref: PcaModelRef | null;
  /** The full vectors (rerank); null without rerank. */
  readonly store: FullVectorStore | null;
  /** Duration of the last fit task, ms. */
  #fitMs = 0;

  private constructor(options: ResolvedPcaIndexOptions, space: PcaSpace, scheduler: Scheduler, model: PcaModel | null, store: FullVectorStore | null) {
    this.options = options;
    this.#space = space;
    this.#scheduler = scheduler;
    this.#model = model;
    this.#ref = model === null ? null : pcaModelRef(model);
    this.#sampler = model === null ? new ReservoirSampler(options.sample, options.inputDims, options.seed) : null;
    this.store = store;
  }

  /**
   * The runtime of a new index: sampling, no model yet.
   * @param options - the resolved `pca` option.
   * @param space - the index's distance space.
   * @param scheduler - the pool the fit runs on.
   * @param dir - the index directory (the full vectors' working file).
   * @returns the runtime.
   */
  static create(options: ResolvedPcaIndexOptions, space: PcaSpace, scheduler: Scheduler, dir: string): IndexPcaRuntime {
    const store = options.rerank ? FullVectorStore.create(options.rerankStorage, options.inputDims, dir) : null;
    return new IndexPcaRuntime(options, space, scheduler, null, store);
  }

  /**
   * Loads the PCA model and full vectors of a verified version.
   * @param section - the manifest's pca section.
   * @param space - the index's distance space.
   * @param scheduler - the pool later fits run on.
   * @param path - the version directory.
   * @param dir - the index directory, for messages.
   * @param count - the index's item count.
   * @returns the runtime.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the model or full vectors are missing or refused.
   */
  static async open(section: PcaManifestSection, space: PcaSpace, scheduler: Scheduler, path: string, dir: string, count: number): Promise<IndexPcaRuntime> {
    const options: ResolvedPcaIndexOptions = Object.freeze({
      inputDims: section.inputDims,
      dims: section.outputDims,
      sample: section.sample,
      rerank: section.rerank,
      rerankFactor: section.rerankFactor,
      rerankStorage: section.rerankStorage,
      seed: section.seed,
    });
    if (section.model === null && count > 0) throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir} holds ${count} items but no PCA model`);
    if (section.rerank && section.fullVectors === null) throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir} reranks but has no full-vector file`);
    let model: PcaModel | null = null;
    if (section.model !== null) {
      try {
        model = await loadPcaModel(join(path, section.model.file), { inputDims: section.inputDims, outputDims: section.outputDims });
      } catch (error) {
        throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: the PCA model is refused: ${errorMessage(error)}`, { cause: error });
      }
    }
    const full = section.fullVectors;
    const store = full === null ? null : FullVectorStore.load(section.rerankStorage, section.inputDims, join(path, full.file), full.rows, dir);
    return new IndexPcaRuntime(options, space, scheduler, model, store);
  }

  /** Whether the model is fitted. */
  get fitted(): boolean {
    return this.#model !== null;
  }

  /** Vectors buffered for the fit. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Whether the sample the fit waits for is complete. */
  get sampleComplete(): boolean {
    return this.#sampler !== null && this.#sampler.seen >= this.options.sample;
  }

  /** Rerank factor searches use by default: the option's when full vectors are kept, else 0. */
  get defaultRerankFactor(): number {
    return this.store !== null ? this.options.rerankFactor : 0;
  }

  /**
   * The PCA step of insert and search tasks.
   * @returns the stage; null before the fit.
   */
  stage(): PcaStage | null {
    if (this.#ref === null) return null;
    return { model: this.#ref, space: this.#space, store: this.store?.ref() ?? null };
  }

  /** Makes the full-vector store hold a row for every label below `rows`. */
  ensureRows(rows: number): void {
    this.store?.ensureRows(rows);
  }

  /**
   * Before the fit: buffers a vector under its label (unit-normalised for
   * cosine) and offers it to the sample.
   * @param label - the label.
   * @param row - the input vector (copied).
   */
  keep(label: number, row: Float32Array): void {
    const out = prepareRows(row, this.options.inputDims, this.#space);
    const prepared = out === row ? row.slice() : out;
    this.#pending.set(label, prepared);
    (this.#sampler as ReservoirSampler).add(prepared);
  }

  /**
   * Drops a label from the buffer.
   * @param label - the label.
   * @returns whether it was buffered (and so is not in the graph).
   */
  drop(label: number): boolean {
    return this.#pending.delete(label);
  }

  /**
   * @param label - the label.
   * @returns whether its vector is buffered for the fit.
   */
  isPending(label: number): boolean {
    return this.#pending.has(label);
  }

  /**
   * The input vector of a label: the one buffered for the fit, or the kept full vector.
   * @param label - the label.
   * @returns a copy, or undefined without full vectors.
   */
  vector(label: number): Float32Array | undefined {
    const pending = this.#pending.get(label);
    if (pending !== undefined) return pending.slice();
    if (this.store === null) return undefined;
    return readFullRow(this.store.ref(), label, new Float32Array(this.options.inputDims));
  }

  /**
   * Fits the model (unless fitted), then projects and inserts the buffered
   * vectors. The index runs it inside its mutation queue.
   * @param graph - the index's graph.
   * @param signal - cancels the fit.
   * @returns the model's figures.
   * @throws {VecforgeError} ERR_PCA with fewer sampled vectors than the fit needs.
   */
  async fit(graph: PcaGraphAccess, signal?: AbortSignal): Promise<PcaFitSummary> {
    const { inputDims, dims: target, seed } = this.options;
    let fitMs = 0;
    if (this.#model === null) {
      const sampler = this.#sampler as ReservoirSampler;
      const needed = Math.max(2, target);
      if (sampler.count < needed) {
        throw new VecforgeError(
          'ERR_PCA',
          `cannot fit PCA: ${sampler.seen} vectors added, fewer than the ${needed} the fit needs (options.pca.dims = ${target}); add more vectors before searching, saving or calling fitPca()`,
        );
      }
      const rows = sampler.count;
      const sample = new SharedArrayBuffer(rows * inputDims * 4);
      new Float32Array(sample).set(sampler.sample());
      const reply = await this.#scheduler.run({ kind: 'fit-pca', sample, rows, dims: inputDims, components: target, seed }, signal);
      const bytes = new Uint8Array(reply.model).slice();
      this.#model = deserializePcaModel(bytes, { inputDims, outputDims: target });
      this.#ref = pcaModelRefFromBytes(bytes);
      this.#sampler = null;
      this.#fitMs = reply.durationMs;
      fitMs = reply.durationMs;
    }
    const inserted = this.#pending.size > 0 ? await this.flush(graph, signal) : 0;
    return this.#summary(fitMs, inserted);
  }

  /**
   * Projects and inserts the buffered vectors, in label order.
   * @param graph - the index's graph.
   * @param signal - cancels the inserts.
   * @returns how many were inserted.
   */
  async flush(graph: PcaGraphAccess, signal?: AbortSignal): Promise<number> {
    const dims = this.options.inputDims;
    const labels = [...this.#pending.keys()].sort((a, b) => a - b);
    const data = new Float32Array(new SharedArrayBuffer(labels.length * dims * 4));
    const shared = new Uint32Array(new SharedArrayBuffer(labels.length * 4));
    labels.forEach((label, i) => {
      data.set(this.#pending.get(label) as Float32Array, i * dims);
      shared[i] = label;
    });
    graph.ensureCapacity(labels.length);
    this.store?.ensureRows(graph.nextLabel);
    await graph.insert(data, shared, this.stage(), signal);
    this.#pending.clear();
    return labels.length;
  }

  /**
   * Checks a refit's sample size.
   * @param sample - `options.sample` as given.
   * @returns the sample size.
   * @throws {TypeError | RangeError} naming `options.sample` and its range.
   */
  refitSample(sample: unknown): number {
    const needed = Math.max(2, this.options.dims);
    const size = sample ?? this.options.sample;
    if (typeof size !== 'number') throw new TypeError(`options.sample must be an integer in [${needed}, ${kMaxRefitSample}], got ${String(size)}`);
    if (!Number.isInteger(size) || size < needed || size > kMaxRefitSample) throw new RangeError(`options.sample must be an integer in [${needed}, ${kMaxRefitSample}], got ${size}`);
    return size;
  }

  /**
   * Refits the model on a fresh uniform sample of the kept full vectors and
   * rebuilds the graph with it. The index runs it inside its mutation queue.
   * @param graph - the index's graph.
   * @param sampleSize - checked by {@link IndexPcaRuntime.refitSample}.
   * @param signal - cancels the refit (the index keeps its old model and graph).
   * @returns the new model's figures.
   * @throws {VecforgeError} ERR_PCA without full vectors or with too few vectors.
   */
  async refit(graph: PcaGraphAccess, sampleSize: number, signal?: AbortSignal): Promise<PcaFitSummary> {
    if (this.#model === null) return this.fit(graph, signal);
    const store = this.store;
    if (store === null) {
      throw new VecforgeError('ERR_PCA', 'refitPca needs the full vectors, but this index was created with pca.rerank false; rebuild it from its source (vecforge reindex --full)');
    }
    if (this.#pending.size > 0) await this.flush(graph, signal);
    const needed = Math.max(2, this.options.dims);
    const labels = graph.liveLabels();
    if (labels.length < needed) throw new VecforgeError('ERR_PCA', `cannot refit PCA: the index holds ${labels.length} vectors, fewer than the ${needed} the fit needs (options.pca.dims = ${this.options.dims})`);
    const { inputDims, dims: target, seed } = this.options;
    // A uniform sample without replacement: partial Fisher–Yates over the live labels.
    const picked = labels.slice();
    const rows = Math.min(sampleSize, picked.length);
    const rng = createRng(seed);
    for (let i = 0; i < rows; i++) {
      const j = i + Math.min(picked.length - i - 1, Math.floor(rng.nextFloat() * (picked.length - i)));
      [picked[i], picked[j]] = [picked[j] as number, picked[i] as number];
    }
    const ref = store.ref();
    const sample = new SharedArrayBuffer(rows * inputDims * 4);
    const sampleRows = new Float32Array(sample);
    for (let i = 0; i < rows; i++) readFullRow(ref, picked[i] as number, sampleRows.subarray(i * inputDims, (i + 1) * inputDims));
    const reply = await this.#scheduler.run({ kind: 'fit-pca', sample, rows, dims: inputDims, components: target, seed }, signal);
    const bytes = new Uint8Array(reply.model).slice();
    const model = deserializePcaModel(bytes, { inputDims, outputDims: target });
    const modelRef = pcaModelRefFromBytes(bytes);
    // The stored rows are the inputs: insert their projections, leave the store as it is.
    const stage: PcaStage = { model: modelRef, space: this.#space, store: null };
    await graph.rebuild(
      labels.length,
      async (insert) => {
        for (let start = 0; start < labels.length; start += kRebuildChunkRows) {
          throwIfAborted(signal);
          const end = Math.min(labels.length, start + kRebuildChunkRows);
          const data = new Float32Array(new SharedArrayBuffer((end - start) * inputDims * 4));
          const chunk = new Uint32Array(new SharedArrayBuffer((end - start) * 4));
          for (let i = start; i < end; i++) {
            chunk[i - start] = labels[i] as number;
            readFullRow(ref, labels[i] as number, data.subarray((i - start) * inputDims, (i - start + 1) * inputDims));
          }
          await insert(data, chunk, stage);
        }
      },
      () => {
        this.#model = model;
        this.#ref = modelRef;
        this.#fitMs = reply.durationMs;
      },
      signal,
    );
    return this.#summary(reply.durationMs, labels.length);
  }

  #summary(fitMs: number, inserted: number): PcaFitSummary {
    const model = this.#model as PcaModel;
    return {
      inputDims: model.inputDims,
      outputDims: model.outputDims,
      fittedOn: model.fittedOn,
      explainedVarianceRatio: model.explainedVarianceRatio,
      explainedVariance: model.explainedVariance.slice(),
      fitMs,
      inserted,
    };
  }

  /**
   * The figures `index.stats().pca` reports.
   * @param rows - the index's next label (rows of the full-vector store).
   * @param graphBytesPerVector - the graph's bytes per element at some dims.
   * @returns the figures.
   */
  stats(rows: number, graphBytesPerVector: (dims: number) => number): IndexPcaStats {
    const { inputDims, dims: outputDims } = this.options;
    const store = this.store;
    const inMemory = store !== null && store.storage === 'memory' ? store.rowBytes : 0;
    const model = this.#model;
    let zero = 0;
    if (model !== null) for (const v of model.explainedVariance) if (v === 0) zero++;
    return {
      state: model === null ? 'sampling' : 'fitted',
      inputDims,
      outputDims,
      sampleSize: this.options.sample,
      seen: this.#sampler?.seen ?? null,
      pending: this.#pending.size,
      fittedOn: model?.fittedOn ?? null,
      explainedVarianceRatio: model?.explainedVarianceRatio ?? null,
      zeroVarianceComponents: model === null ? null : zero,
      fitMs: this.#fitMs > 0 ? this.#fitMs : null,
      rerank: this.options.rerank,
      rerankFactor: this.options.rerankFactor,
      rerankStorage: this.options.rerankStorage,
      bytesPerVector: { withPca: graphBytesPerVector(outputDims) + inMemory, withoutPca: graphBytesPerVector(inputDims) },
      vectorBytesPerVector: { withPca: 4 * outputDims + inMemory, withoutPca: 4 * inputDims },
      fullVectors:
        store === null
          ? null
          : {
              encoding: kFullVectorEncoding,
              bytesPerRow: store.rowBytes,
              rows,
              memoryBytes: store.memoryBytes,
              diskBytes: store.workingFileBytes,
              savedBytes: rows * store.rowBytes,
            },
    };
  }

  /**
   * Writes the model and the full vectors into a version directory.
   * @param path - the version directory.
   * @param rows - the index's next label (rows of the full-vector store).
   * @returns the files written and the manifest's pca section.
   */
  async save(path: string, rows: number): Promise<{ readonly files: string[]; readonly section: PcaManifestSection }> {
    const files: string[] = [];
    const model = this.#model;
    if (model !== null) {
      await savePcaModel(join(path, kPcaModelFile), model);
      files.push(kPcaModelFile);
    }
    if (this.store !== null) {
      this.store.saveTo(join(path, kFullVectorsFile), rows);
      files.push(kFullVectorsFile);
    }
    const o = this.options;
    const section: PcaManifestSection = {
      inputDims: o.inputDims,
      outputDims: o.dims,
      sample: o.sample,
      rerank: o.rerank,
      rerankFactor: o.rerankFactor,
      rerankStorage: o.rerankStorage,
      seed: o.seed,
      model: model === null ? null : { file: kPcaModelFile, fittedOn: model.fittedOn, explainedVarianceRatio: model.explainedVarianceRatio },
      fullVectors: this.store === null ? null : { file: kFullVectorsFile, encoding: kFullVectorEncoding, dims: o.inputDims, rows },
    };
    return { files, section };
  }

  /** Releases the full vectors' memory or working file. */
  close(): void {
    this.store?.close();
  }
}
