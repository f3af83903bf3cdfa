/**
 * The `pca` option of an index and the `pca` section it writes into its
 * manifest's `extra`.
 */
import { VecforgeError } from '../errors.js';
import { kMaxPcaFitDims } from './fit.js';
import { kFullVectorEncoding, kFullVectorStorages, type FullVectorStorage } from './full-vectors.js';
import { kMaxReservoirCapacity, kMaxReservoirValues } from './reservoir.js';
import { describe } from './validate.js';

/** The index option `pca`: store vectors projected to fewer dims. */
export interface PcaIndexOptions {
  /** Dims after projection; an integer in [1, input dims − 1]. @default 256 */
  readonly dims?: number;
  /**
   * Vectors the model is fitted on, drawn uniformly (reservoir sampling)
   * from everything added before the fit; an integer in [dims, 16777216].
   * The fit runs once this many vectors have been added, or at the first
   * search or save, or on `index.fitPca()`.
   * @default 20000
   */
  readonly sample?: number;
  /** Keep the full vectors and re-score the top k × rerankFactor candidates exactly. @default true */
  readonly rerank?: boolean;
  /** Candidates reranked per result; an integer in [1, 1000]. @default 4 */
  readonly rerankFactor?: number;
  /**
   * Where the full vectors live between saves (half precision either way):
   * `disk`, a working file read by the workers (the process holds none of
   * it), or `memory`, a shared buffer (faster reranks, 2 bytes per input
   * dim per vector of memory). @default 'disk'
   */
  readonly rerankStorage?: FullVectorStorage;
  /** Seed of the sampling and of the fit's random start; an integer in [0, 4294967295]. @default 0x5eed */
  readonly seed?: number;
}

/** The defaults of {@link PcaIndexOptions}. */
export const kDefaultPcaIndexOptions = Object.freeze({
  dims: 256,
  sample: 20_000,
  rerank: true,
  rerankFactor: 4,
  rerankStorage: 'disk' as FullVectorStorage,
  seed: 0x5eed,
});

/** {@link PcaIndexOptions} resolved against the input dims. */
export interface ResolvedPcaIndexOptions {
  readonly inputDims: number;
  readonly dims: number;
  readonly sample: number;
  readonly rerank: boolean;
  readonly rerankFactor: number;
  readonly rerankStorage: FullVectorStorage;
  readonly seed: number;
}

const kKnown = ['dims', 'sample', 'rerank', 'rerankFactor', 'rerankStorage', 'seed'];

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`options.pca.${name} must be an integer in [${min}, ${max}], got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`options.pca.${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

/**
 * Validates and resolves the `pca` index option.
 * @param value - `options.pca` as given (undefined, null or false: no PCA).
 * @param inputDims - the index's input dims (`options.dims`, default the model's).
 * @returns the resolved options, or null for no PCA.
 * @throws {TypeError} when `pca` or a field has the wrong type, or a field is unknown.
 * @throws {RangeError} when a field is out of range: `pca.dims` not below
 *   the input dims, `pca.sample` below `pca.dims`, input dims above 8192.
 */
export function resolvePcaIndexOptions(value: unknown, inputDims: number): ResolvedPcaIndexOptions | null {
  if (value === undefined || value === null || value === false) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`options.pca must be an object { dims?, sample?, rerank?, rerankFactor?, rerankStorage?, seed? }, got ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!kKnown.includes(key)) throw new TypeError(`options.pca.${key} is not a known PCA option; known: ${kKnown.join(', ')}`);
  }
  const dims = integer('dims', o.dims ?? kDefaultPcaIndexOptions.dims, 1, kMaxPcaFitDims);
  if (inputDims > kMaxPcaFitDims) {
    throw new RangeError(`options.pca needs input dims of at most ${kMaxPcaFitDims}, the index has options.dims = ${inputDims}`);
  }
  if (dims >= inputDims) {
    throw new RangeError(`options.pca.dims must be smaller than the input dims: options.pca.dims is ${dims}, options.dims is ${inputDims}`);
  }
  const sample = integer('sample', o.sample ?? kDefaultPcaIndexOptions.sample, 2, kMaxReservoirCapacity);
  if (sample < dims) {
    throw new RangeError(`options.pca.sample must be at least options.pca.dims (${dims}) to fit ${dims} components, got ${sample}`);
  }
  if (sample * inputDims > kMaxReservoirValues) {
    throw new RangeError(`options.pca.sample × options.dims must be at most ${kMaxReservoirValues}, got ${sample} × ${inputDims}`);
  }
  const rerank = o.rerank ?? kDefaultPcaIndexOptions.rerank;
  if (typeof rerank !== 'boolean') throw new TypeError(`options.pca.rerank must be a boolean, got ${describe(rerank)}`);
  const rerankStorage = o.rerankStorage ?? kDefaultPcaIndexOptions.rerankStorage;
  if (!kFullVectorStorages.includes(rerankStorage as FullVectorStorage)) {
    throw new RangeError(`options.pca.rerankStorage must be one of ${kFullVectorStorages.map((s) => `"${s}"`).join(', ')}, got ${typeof rerankStorage === 'string' ? JSON.stringify(rerankStorage) : describe(rerankStorage)}`);
  }
  return Object.freeze({
    inputDims,
    dims,
    sample,
    rerank,
    rerankFactor: integer('rerankFactor', o.rerankFactor ?? kDefaultPcaIndexOptions.rerankFactor, 1, 1000),
    rerankStorage: rerankStorage as FullVectorStorage,
    seed: integer('seed', o.seed ?? kDefaultPcaIndexOptions.seed, 0, 0xffff_ffff),
  });
}

/** The `pca` section of a manifest's `extra`. */
export interface PcaManifestSection {
  readonly inputDims: number;
  readonly outputDims: number;
  readonly sample: number;
  readonly rerank: boolean;
  readonly rerankFactor: number;
  readonly rerankStorage: FullVectorStorage;
  readonly seed: number;
  /** The model file, or null while the index has not been fitted (it was saved empty). */
  readonly model: { readonly file: string; readonly fittedOn: number; readonly explainedVarianceRatio: number } | null;
  /** The full-vector file, or null when the index keeps none. */
  readonly fullVectors: { readonly file: string; readonly encoding: string; readonly dims: number; readonly rows: number } | null;
}

/**
 * Checks the `pca` section of a manifest read from disk.
 * @param raw - `manifest.extra.pca`.
 * @param graphDims - `manifest.dims`, the graph's dims.
 * @param files - the manifest's file names.
 * @param dir - the index directory, for messages.
 * @returns the section, or null when the index has no PCA.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT when it is malformed or disagrees with the manifest.
 */
export function parsePcaManifestSection(raw: unknown, graphDims: number, files: readonly string[], dir: string): PcaManifestSection | null {
  if (raw === undefined || raw === null) return null;
  const bad = (why: string): VecforgeError => new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: the manifest's pca section ${why}`);
  if (typeof raw !== 'object') throw bad('is not an object');
  const s = raw as Record<string, unknown>;
  const int = (name: string, min: number, max: number): number => {
    const v = s[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`has no valid ${name}`);
    return v;
  };
  const inputDims = int('inputDims', 2, kMaxPcaFitDims);
  const outputDims = int('outputDims', 1, inputDims - 1);
  if (outputDims !== graphDims) throw bad(`says ${outputDims} output dims, the manifest's dims are ${graphDims}`);
  if (typeof s.rerank !== 'boolean') throw bad('has no valid rerank');
  if (!kFullVectorStorages.includes(s.rerankStorage as FullVectorStorage)) throw bad('has no valid rerankStorage');
  const model = s.model;
  let parsedModel: PcaManifestSection['model'] = null;
  if (model !== null) {
    const m = model as Record<string, unknown> | undefined;
    if (typeof m !== 'object' || typeof m.file !== 'string' || !files.includes(m.file) || typeof m.fittedOn !== 'number' || typeof m.explainedVarianceRatio !== 'number') {
      throw bad('names no checksummed model file');
    }
    parsedModel = { file: m.file, fittedOn: m.fittedOn, explainedVarianceRatio: m.explainedVarianceRatio };
  }
  const full = s.fullVectors;
  let parsedFull: PcaManifestSection['fullVectors'] = null;
  if (full !== null) {
    const f = full as Record<string, unknown> | undefined;
    if (typeof f !== 'object' || typeof f.file !== 'string' || !files.includes(f.file) || typeof f.rows !== 'number' || !Number.isInteger(f.rows) || f.rows < 0) {
      throw bad('names no checksummed full-vector file');
    }
    if (f.encoding !== kFullVectorEncoding || f.dims !== inputDims) throw bad(`describes full vectors as ${String(f.encoding)} × ${String(f.dims)} dims, expected ${kFullVectorEncoding} × ${inputDims}`);
    parsedFull = { file: f.file, encoding: kFullVectorEncoding, dims: inputDims, rows: f.rows };
  }
  return {
    inputDims,
    outputDims,
    sample: int('sample', 2, kMaxReservoirCapacity),
    rerank: s.rerank,
    rerankFactor: int('rerankFactor', 1, 1000),
    rerankStorage: s.rerankStorage as FullVectorStorage,
    seed: int('seed', 0, 0xffff_ffff),
    model: parsedModel,
    fullVectors: parsedFull,
  };
}

/**
 * The `pca` option that recreates an index like a saved one (for a full
 * rebuild of a PCA index, e.g. `vecforge reindex --full`): the saved
 * output dims, sample size, rerank settings and seed.
 * @param manifest - a manifest (only its `extra.pca` is read).
 * @returns the option, or null when the index has no PCA.
 */
export function pcaOptionsFromManifest(manifest: { readonly extra?: Readonly<Record<string, unknown>> }): PcaIndexOptions | null {
  const raw = manifest.extra?.pca;
  if (raw === undefined || raw === null || typeof raw !== 'object') return null;
  const s = raw as Record<string, unknown>;
  const pick = <T>(key: string, ok: (v: unknown) => boolean): T | undefined => (ok(s[key]) ? (s[key] as T) : undefined);
  const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);
  const options: Record<string, unknown> = {
    dims: pick<number>('outputDims', isInt),
    sample: pick<number>('sample', isInt),
    rerank: pick<boolean>('rerank', (v) => typeof v === 'boolean'),
    rerankFactor: pick<number>('rerankFactor', isInt),
    rerankStorage: pick<FullVectorStorage>('rerankStorage', (v) => kFullVectorStorages.includes(v as FullVectorStorage)),
    seed: pick<number>('seed', isInt),
  };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options as PcaIndexOptions;
}

