/**
 * The types between an index and its PCA runtime: what the runtime reports
 * (fit summaries, stats) and what it needs from the index's graph.
 */
import type { PcaStage } from '../scheduler/protocol.js';
import type { FullVectorStorage } from './full-vectors.js';

/** A distance space, as the index and the PCA stage name it. */
export type PcaSpace = PcaStage['space'];

/** What `index.fitPca()` and `index.refitPca()` return. */
export interface PcaFitSummary {
  readonly inputDims: number;
  readonly outputDims: number;
  readonly fittedOn: number;
  readonly explainedVarianceRatio: number;
  /** Per-component variance, best first. */
  readonly explainedVariance: Float32Array;
  /** Wall time of the fit task on the pool (0 when the model was already fitted). */
  readonly fitMs: number;
  /** Vectors projected and inserted after the fit (the buffered ones, or all of them for a refit). */
  readonly inserted: number;
}

/** What `index.stats().pca` reports. */
export interface IndexPcaStats {
  /** `sampling`: vectors are buffered until the fit; `fitted`: they go through the model. */
  readonly state: 'sampling' | 'fitted';
  /** Dims before projection (what vectors and queries have). */
  readonly inputDims: number;
  /** Dims after projection (what the graph stores). */
  readonly outputDims: number;
  /** The sample size the fit waits for. */
  readonly sampleSize: number;
  /** Vectors offered to the sample so far (`sampling` only; null once fitted). */
  readonly seen: number | null;
  /** Vectors buffered, waiting for the fit. */
  readonly pending: number;
  /** Sample rows the model was fitted on; null before the fit. */
  readonly fittedOn: number | null;
  /** Share of the sample's variance the kept components explain, in [0, 1]; null before the fit. */
  readonly explainedVarianceRatio: number | null;
  /** Components with zero variance (degenerate data: constant, or of lower rank than outputDims); null before the fit. */
  readonly zeroVarianceComponents: number | null;
  /** Wall time of the last fit task on the pool, ms; null when this process has not fitted the model (before the fit, or opened fitted). */
  readonly fitMs: number | null;
  readonly rerank: boolean;
  readonly rerankFactor: number;
  readonly rerankStorage: FullVectorStorage;
  /** Graph bytes per vector (hnswlib's layout, as `bytesPerVector`) plus full-vector bytes held in memory, with PCA; and without it (input dims in the graph). */
  readonly bytesPerVector: { readonly withPca: number; readonly withoutPca: number };
  /** Vector bytes per vector held in memory: float32 graph vector plus in-memory full vector; and float32 input vector without PCA. */
  readonly vectorBytesPerVector: { readonly withPca: number; readonly withoutPca: number };
  /**
   * The kept full vectors (half precision, row-scaled), null without rerank.
   * `memoryBytes`: held by the process (`memory` storage). `diskBytes`: the
   * working file (`disk` storage), and the saved file of each version
   * (`savedBytes`, rows × bytesPerRow).
   */
  readonly fullVectors: { readonly encoding: string; readonly bytesPerRow: number; readonly rows: number; readonly memoryBytes: number; readonly diskBytes: number; readonly savedBytes: number } | null;
}

/** What the PCA runtime needs from the index's graph. */
export interface PcaGraphAccess {
  /** The next label the index hands out: the full-vector store holds a row for every label below it. */
  readonly nextLabel: number;
  /** Makes room in the graph for `extra` more elements. */
  ensureCapacity(extra: number): void;
  /** Inserts rows (input dims, on shared memory) into the current graph, through a PCA stage. */
  insert(data: Float32Array, labels: Uint32Array, stage: PcaStage | null, signal?: AbortSignal): Promise<void>;
  /** The labels of the live records, ascending. */
  liveLabels(): number[];
  /**
   * Builds a new graph for `rows` elements with `build`, then swaps it in:
   * `swapped` runs in the same turn as the swap, and the old graph is freed
   * once no search reads it. A failed build frees the new graph.
   */
  rebuild(
    rows: number,
    build: (insert: (data: Float32Array, labels: Uint32Array, stage: PcaStage) => Promise<void>) => Promise<void>,
    swapped: () => void,
    signal?: AbortSignal,
  ): Promise<void>;
}
