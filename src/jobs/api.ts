/**
 * The public job functions: `buildIndex` and `reindex`.
 */
import { Engine } from '../engine.js';
import type { EngineCreateOptions } from '../engine.js';
import { parseFields } from '../config/fields.js';
import { kDefaultJobSection, kIndexFields, kJobFields } from '../config/job-options.js';
import { type LexicalOptions, resolveLexicalOptions } from '../index/lexical/options.js';
import type { PcaIndexOptions } from '../pca/index-options.js';
import { runJob } from './run.js';
import type { JobProgress, JobSpec, JobSummary } from './types.js';

/** Options shared by {@link buildIndex} and {@link reindex}. */
export interface JobOptions {
  /**
   * The input: a JSONL or CSV file path, or an (async) iterable of objects
   * such as `{ id, text, metadata?, namespace? }`.
   */
  readonly source: string | AsyncIterable<unknown> | Iterable<unknown>;
  /** An engine to run on (left open), or options to create one (closed at the end). @default {} */
  readonly engine?: Engine | EngineCreateOptions;
  /** File format; `auto` goes by extension, then by content. @default 'auto' */
  readonly format?: 'auto' | 'jsonl' | 'csv';
  /** Field (or CSV column) holding the id. @default 'id' */
  readonly idField?: string;
  /** Field holding the text. @default 'text' */
  readonly textField?: string;
  /** Field holding the namespace. @default 'namespace' */
  readonly namespaceField?: string;
  /** JSON field holding the metadata object (CSV: every other column is metadata). @default 'metadata' */
  readonly metadataField?: string;
  /** Checkpoint after this many records that needed work (a reindex does not count unchanged ones). @default 50000 */
  readonly checkpointItems?: number;
  /** Checkpoint after this many seconds. @default 60 */
  readonly checkpointSeconds?: number;
  /** Records per chunk fed to the cache, the model and the index. @default 4096 */
  readonly chunkSize?: number;
  /** Characters of each text kept in `metadata._snippet` (0: none). @default 200 */
  readonly snippetChars?: number;
  /** A record (line) larger than this fails as TOO_LARGE without being read into memory; an object of an iterable source larger than this as JSON fails the same way. @default 8388608 */
  readonly maxRecordBytes?: number;
  /** The embedding cache: true for `<engine cacheDir>/embeddings.lmdb`, a path, or false for none. @default true */
  readonly embeddingCache?: boolean | string;
  /** Identifies an iterable source across a resume (a file is identified by path, size and mtime). @default 'iterable' */
  readonly sourceId?: string;
  /** Aborts at once (rejects with AbortError); the last checkpoint stays resumable. */
  readonly signal?: AbortSignal;
  /** Stops at the next chunk with a checkpoint; the job resolves with state `interrupted`. */
  readonly stopSignal?: AbortSignal;
  /** Called after every chunk. */
  readonly onProgress?: (progress: JobProgress) => void;
  /** What the lock file says the job is. @default 'buildIndex' or 'reindex' */
  readonly command?: string;
}

/** HNSW parameters of a new index. */
export interface JobIndexOptions {
  /** @default 'cosine' */
  readonly space?: 'cosine' | 'ip' | 'l2';
  /** @default 16 */
  readonly m?: number;
  /** @default 200 */
  readonly efConstruction?: number;
  /** @default 64 */
  readonly efSearch?: number;
  /**
   * Store vectors projected by PCA (see `IndexOptions.pca`); allowed only
   * below the model's dims. For a full reindex, unset keeps the index's own
   * PCA settings and null (or false) drops PCA.
   * @default null
   */
  readonly pca?: PcaIndexOptions | null | false;
  /**
   * The lexical index beside the graph (see `IndexOptions.lexical`): BM25
   * k1, b and stop words, or false for none. Applies to a new index: a
   * build, or a full reindex (which, unset, keeps the index's own).
   * @default { k1: 1.2, b: 0.75, stopWords: 'english' }
   */
  readonly lexical?: LexicalOptions | false;
}

/** Options of {@link buildIndex}. */
export interface BuildIndexOptions extends JobOptions {
  /** The index directory: created, or resumed when it holds this job's checkpoint. */
  readonly out: string;
  /** HNSW parameters. */
  readonly index?: JobIndexOptions;
}

/** Options of {@link reindex}. */
export interface ReindexOptions extends JobOptions {
  /** The index directory to update. */
  readonly dir: string;
  /** Keep ids that are missing from the input. @default false */
  readonly keepMissing?: boolean;
  /** Rebuild from scratch instead of diffing. @default false */
  readonly full?: boolean;
  /** HNSW and PCA parameters for `full`; unset ones keep the index's. */
  readonly index?: JobIndexOptions;
  /**
   * Refit the PCA model on a fresh sample of the index's full vectors and
   * rebuild the graph with it, then publish (also when no document
   * changed). Needs a PCA index that keeps full vectors; a `full` rebuild
   * always fits anew. `{ sample }` fits on that many vectors instead of the
   * index's `pca.sample`.
   * @default false
   */
  readonly refitPca?: boolean | { readonly sample?: number };
}

const kScalarKeys = ['format', 'idField', 'textField', 'namespaceField', 'metadataField', 'checkpointItems', 'checkpointSeconds', 'chunkSize', 'snippetChars', 'maxRecordBytes'] as const;

function pick(o: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function checkCommon(o: JobOptions): Omit<JobSpec, 'kind' | 'full' | 'keepMissing' | 'refitPca' | 'dir' | 'index' | 'command'> {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const source = o.source as unknown;
  if (typeof source === 'string') {
    if (source === '') throw new TypeError('options.source must be a file path or an iterable, got ""');
  } else if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source))) {
    throw new TypeError('options.source must be a file path or an (async) iterable of objects');
  }
  const fields: Record<string, unknown> = {};
  for (const k of kScalarKeys) fields[k] = kJobFields[k];
  const parsed = { ...kDefaultJobSection, ...parseFields(fields as typeof kJobFields, pick(o as unknown as Record<string, unknown>, kScalarKeys), 'options') };
  const cache = o.embeddingCache ?? true;
  if (typeof cache !== 'boolean' && (typeof cache !== 'string' || cache === '')) throw new TypeError('options.embeddingCache must be a boolean or a non-empty path');
  if (o.sourceId !== undefined && (typeof o.sourceId !== 'string' || o.sourceId === '')) throw new TypeError('options.sourceId must be a non-empty string');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('options.onProgress must be a function');
  const engine = o.engine ?? {};
  if (!(engine instanceof Engine) && (engine === null || typeof engine !== 'object')) throw new TypeError('options.engine must be an Engine or engine options');
  return {
    source: o.source,
    sourceId: o.sourceId ?? 'iterable',
    format: parsed.format,
    fields: { id: parsed.idField, text: parsed.textField, namespace: parsed.namespaceField, metadata: parsed.metadataField },
    snippetChars: parsed.snippetChars,
    maxRecordBytes: parsed.maxRecordBytes,
    chunkSize: parsed.chunkSize,
    checkpointItems: parsed.checkpointItems,
    checkpointSeconds: parsed.checkpointSeconds,
    embeddingCache: cache,
    engine,
    signal: o.signal,
    stopSignal: o.stopSignal,
    onProgress: o.onProgress,
  };
}

const kHnswFields = Object.freeze({ space: kIndexFields.space, m: kIndexFields.m, efConstruction: kIndexFields.efConstruction, efSearch: kIndexFields.efSearch });

function checkIndex(index: JobIndexOptions | undefined): JobSpec['index'] {
  if (index === undefined) return {};
  if (index === null || typeof index !== 'object') throw new TypeError('options.index must be an object { space?, m?, efConstruction?, efSearch?, pca?, lexical? }');
  const { pca, lexical, ...hnsw } = index;
  const fields = parseFields(kHnswFields, hnsw, 'options.index');
  const out = lexical === undefined ? fields : { ...fields, lexical: checkLexical(lexical) };
  if (pca === undefined) return out;
  // The values are checked against the model's dims when the job starts.
  if (pca === null || pca === false) return { ...out, pca: null };
  if (typeof pca !== 'object' || Array.isArray(pca)) throw new TypeError('options.index.pca must be an object { dims?, sample?, rerank?, ... }, null or false');
  return { ...out, pca };
}

function checkLexical(lexical: unknown): LexicalOptions | false {
  try {
    resolveLexicalOptions(lexical);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      const Ctor = error instanceof TypeError ? TypeError : RangeError;
      throw new Ctor(error.message.replaceAll('options.lexical', 'options.index.lexical'), { cause: error });
    }
    throw error;
  }
  if (lexical === false) return false;
  // true or null: the defaults, as createIndex takes them.
  return lexical === true || lexical === null ? {} : (lexical as LexicalOptions);
}

function checkDir(name: string, dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`options.${name} must be a non-empty directory path, got ${dir === '' ? '""' : String(dir)}`);
  return dir;
}

/**
 * Builds a new index from a JSONL or CSV file or an iterable, streaming the
 * input in chunks with bounded memory. Per-record failures go to
 * `out/errors.jsonl` and the job goes on. Progress is checkpointed; after a
 * crash or `stopSignal`, calling again with the same options resumes, and
 * the result is the same as an uninterrupted build. The index appears in
 * `out` (its `current` version) only once complete.
 * @param options - source, out, engine, fields, checkpoints.
 * @returns the summary: state, counts, per-stage times.
 * @throws {TypeError | RangeError} for invalid options, naming the option.
 * @throws {VecforgeError} ERR_LOCKED when another job holds `out`; ERR_INDEX when `out` already holds another index; ERR_IO for an unreadable input or a failed write (no version is published).
 * @throws {AbortError} when `signal` aborts.
 */
export async function buildIndex(options: BuildIndexOptions): Promise<JobSummary> {
  const common = checkCommon(options);
  return runJob({ ...common, kind: 'build', full: false, keepMissing: false, refitPca: false, dir: checkDir('out', options.out), index: checkIndex(options.index), command: options.command ?? 'buildIndex' });
}

/**
 * Brings an index up to date with its source: only new or changed
 * documents (by content hash, namespace and metadata) are embedded (or
 * taken from the embedding cache) and upserted; ids missing from the input
 * are deleted unless `keepMissing`; the result is published as one new
 * version, atomically. `full` rebuilds from scratch (still publishing only
 * at the end). Checkpoints and resume work as for {@link buildIndex}.
 * @param options - source, dir, keepMissing, full.
 * @returns the summary.
 * @throws {TypeError | RangeError} for invalid options.
 * @throws {VecforgeError} ERR_INDEX when `dir` holds no index; ERR_LOCKED, ERR_IO, ERR_INDEX_CORRUPT.
 * @throws {AbortError} when `signal` aborts.
 */
export async function reindex(options: ReindexOptions): Promise<JobSummary> {
  const common = checkCommon(options);
  if (options.keepMissing !== undefined && typeof options.keepMissing !== 'boolean') throw new TypeError('options.keepMissing must be a boolean');
  if (options.full !== undefined && typeof options.full !== 'boolean') throw new TypeError('options.full must be a boolean');
  const refit = options.refitPca ?? false;
  if (typeof refit !== 'boolean') {
    if (refit === null || typeof refit !== 'object') throw new TypeError('options.refitPca must be a boolean or { sample }');
    const sample = refit.sample;
    if (sample !== undefined && (typeof sample !== 'number' || !Number.isInteger(sample) || sample < 2 || sample > 16_777_216)) {
      throw new RangeError(`options.refitPca.sample must be an integer in [2, 16777216], got ${String(sample)}`);
    }
  }
  if (options.full !== true && options.index?.lexical !== undefined) {
    throw new RangeError('options.index.lexical applies to a new index: a build, or a reindex with full: true (an incremental reindex keeps the index\'s lexical options)');
  }
  return runJob({
    ...common,
    kind: 'reindex',
    full: options.full ?? false,
    keepMissing: options.keepMissing ?? false,
    refitPca: refit,
    dir: checkDir('dir', options.dir),
    index: checkIndex(options.index),
    command: options.command ?? 'reindex',
  });
}
