/**
 * What a job is: the index parameters it builds with, the PCA refit it
 * does, and its fingerprint, which a checkpoint must match to be resumed
 * and a line snapshot's key must match to be used.
 */
import { VecforgeError } from '../errors.js';
import type { LexicalOptions } from '../index/lexical/options.js';
import { stopWordsOfTokenizer } from '../index/lexical/tokenize.js';
import type { IndexManifest } from '../index/persist.js';
import { kDefaultIndexOptions } from '../index/options.js';
import { pcaOptionsFromManifest, resolvePcaIndexOptions, type PcaIndexOptions } from '../pca/index-options.js';
import type { JobSpec } from './types.js';

/** The HNSW, PCA and lexical parameters of a job's index. */
export interface JobIndexParams {
  readonly space: 'cosine' | 'ip' | 'l2';
  readonly m: number;
  readonly efConstruction: number;
  readonly efSearch: number;
  readonly pca: PcaIndexOptions | null;
  /** A full reindex: the lexical options of the index it rebuilds (absent: the defaults). */
  readonly lexical?: LexicalOptions | false;
}

/** A job's identity, worked out before anything is written. */
export interface JobIdentity {
  readonly params: JobIndexParams;
  /** The job refits the index's PCA (`refitPca` on an incremental reindex). */
  readonly refit: boolean;
  /** The refit's sample size, when the spec sets one. */
  readonly refitSample: number | undefined;
  /** What the job is: a resume must match it exactly. */
  readonly fingerprint: Readonly<Record<string, unknown>>;
  /** The reading settings a line snapshot is valid under. */
  readonly linesKey: string;
}

/**
 * The lexical options an index was created with, from its manifest.
 * @param manifest - the index's manifest.
 * @returns k1, b and stop words; false for an index created with `lexical: false`; undefined when the manifest has none to read (the defaults).
 */
function lexicalOptionsOf(manifest: IndexManifest): LexicalOptions | false | undefined {
  const raw = manifest.extra?.lexical;
  if (raw === false) return false;
  if (raw === null || typeof raw !== 'object') return undefined;
  const { k1, b, tokenizer } = raw as Record<string, unknown>;
  const stopWords = stopWordsOfTokenizer(tokenizer);
  return typeof k1 === 'number' && typeof b === 'number' && stopWords !== null ? { k1, b, stopWords } : undefined;
}

/**
 * The HNSW, PCA and lexical parameters of a job's index: the spec's, else
 * (a full reindex) the existing index's, else the defaults.
 * @param spec - the job.
 * @param base - the manifest of the index a reindex starts from.
 * @returns the parameters.
 */
export function indexParams(spec: JobSpec, base: IndexManifest | undefined): JobIndexParams {
  return {
    space: spec.index.space ?? base?.space ?? 'cosine',
    m: spec.index.m ?? base?.params.m ?? kDefaultIndexOptions.m,
    efConstruction: spec.index.efConstruction ?? base?.params.efConstruction ?? kDefaultIndexOptions.efConstruction,
    efSearch: spec.index.efSearch ?? base?.params.efSearch ?? kDefaultIndexOptions.efSearch,
    // A full reindex keeps the PCA of the index it rebuilds unless told otherwise.
    pca: spec.index.pca !== undefined ? spec.index.pca : base !== undefined ? pcaOptionsFromManifest(base) : null,
    // The job's lexical options; a full reindex without any keeps those (k1, b, stop words, or none) of the index it rebuilds.
    ...(spec.index.lexical !== undefined ? { lexical: spec.index.lexical } : spec.full && base !== undefined ? { lexical: lexicalOptionsOf(base) } : {}),
  };
}

/**
 * Works out a job's identity, checking its PCA options against the model's
 * dims and a refit against the index.
 * @param spec - the job.
 * @param dir - the index directory (resolved).
 * @param model - the engine's model id, dims and text limit.
 * @param source - what identifies the input (a file's path, format, size and mtime, or an iterable's id).
 * @param base - a reindex's current version, with its manifest.
 * @returns the identity.
 * @throws {VecforgeError} ERR_PCA when the index cannot be refitted; as resolvePcaIndexOptions for bad PCA options.
 * @throws {RangeError} when `refitPca.sample` is below the index's PCA dims.
 */
export function jobIdentity(
  spec: JobSpec,
  dir: string,
  model: { readonly modelId: string; readonly dims: number; readonly maxTextBytes: number },
  source: Readonly<Record<string, unknown>>,
  base: { readonly name: string; readonly manifest: IndexManifest } | undefined,
): JobIdentity {
  const incremental = spec.kind === 'reindex' && !spec.full;
  const params = indexParams(spec, base?.manifest);
  // Checked before anything is written: the pca option against the model's dims, a refit against the index.
  if (params.pca !== null) resolvePcaIndexOptions(params.pca, model.dims);
  const refit = spec.refitPca !== false && incremental;
  const refitSample = typeof spec.refitPca === 'object' ? spec.refitPca.sample : undefined;
  if (refit) {
    const pca = base?.manifest.extra.pca as { rerank?: unknown; outputDims?: unknown } | undefined;
    if (pca === undefined || pca === null) throw new VecforgeError('ERR_PCA', `--refit-pca: index ${dir} has no PCA; rebuild it with PCA: vecforge reindex --full --pca DIMS`);
    if (pca.rerank !== true) throw new VecforgeError('ERR_PCA', `--refit-pca: index ${dir} keeps no full vectors (built with --no-rerank), so the PCA cannot be refitted from it; rebuild it from its source: vecforge reindex --full`);
    const needed = Math.max(2, typeof pca.outputDims === 'number' ? pca.outputDims : 2);
    if (refitSample !== undefined && refitSample < needed) {
      throw new RangeError(`options.refitPca.sample must be at least the index's PCA dims (${needed}) to fit ${needed} components, got ${refitSample}`);
    }
  }
  const fingerprint = {
    kind: spec.kind,
    full: spec.full,
    keepMissing: spec.keepMissing,
    source,
    model: model.modelId,
    fields: spec.fields,
    snippetChars: spec.snippetChars,
    maxTextBytes: model.maxTextBytes,
    maxRecordBytes: spec.maxRecordBytes,
    index: params,
    refitPca: refit ? { sample: refitSample ?? null } : false,
    base: base?.name ?? null,
  };
  // A JSONL file's lines are remembered with the version a job publishes;
  // the next reindex of it takes the lines it finds there as unchanged.
  const linesKey = JSON.stringify({ model: model.modelId, fields: spec.fields, snippetChars: spec.snippetChars, maxTextBytes: model.maxTextBytes, maxRecordBytes: spec.maxRecordBytes });
  return { params, refit, refitSample, fingerprint, linesKey };
}
