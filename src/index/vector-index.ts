/**
 * VectorIndex: an HNSW graph (one per index, shared by every pool worker)
 * plus the doc store mapping string ids to 32-bit labels, namespaces and
 * metadata. Texts are embedded on the pool and inserted by the worker that
 * embedded them; vectors are inserted by pool workers in parallel.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, existsSync, mkdirSync } from 'node:fs';
import { copyFile, open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortError, VecforgeError, errorMessage, throwIfAborted } from '../errors.js';
import { DocStore, kDocSegmentLabels, sameContent, type DocRecord, type DocTable } from '../store/doc-store.js';
import type { ItemFailureCode } from '../scheduler/outcome.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { PcaModelRef, PcaStage } from '../scheduler/protocol.js';
import { loadTf, type BackendName } from '../tensor/backend.js';
import { FullVectorStore, kFullVectorEncoding, readFullRow, type FullVectorStorage } from '../pca/full-vectors.js';
import { parsePcaManifestSection, resolvePcaIndexOptions, type PcaIndexOptions, type PcaManifestSection, type ResolvedPcaIndexOptions } from '../pca/index-options.js';
import { deserializePcaModel, loadPcaModel, savePcaModel, type PcaModel } from '../pca/model.js';
import { pcaModelRef, pcaModelRefFromBytes, prepareRows, projectForGraph, searchProjected } from '../pca/pipeline.js';
import { createRng } from '../pca/random.js';
import { ReservoirSampler } from '../pca/reservoir.js';
import { compileFilter, LabelBitset, type MetadataFilter } from './filter.js';
import { kHnswNoLabel, type HnswCore, type HnswSearchResult, type HnswSpace } from './hnsw/core.js';
import { loadHnswCore } from './hnsw/native-core.js';
import { currentVersion, fileMismatchError, hashFile, hashFiles, kIndexFormatVersion, nextVersionDir, publishVersion, readVersionManifest, verifyVersionFiles, type FileEntry, type IndexManifest } from './persist.js';

/** Options of `engine.createIndex`. */
export interface IndexOptions {
  /** The index directory (created when missing; must not hold an index yet). */
  dir: string;
  /** Distance space. Scores: cosine similarity, inner product, or minus squared L2. @default 'cosine' */
  space?: HnswSpace;
  /** HNSW links per node. @default 16 */
  m?: number;
  /** Build-time candidate list size. @default 200 */
  efConstruction?: number;
  /** Default search candidate list size. @default 64 */
  efSearch?: number;
  /** Initial capacity; grows automatically. @default 1024 */
  capacity?: number;
  /** Vector dims. @default the engine model's dims */
  dims?: number;
  /** Level-generator seed. @default 100 */
  seed?: number;
  /**
   * Store vectors projected by PCA to `pca.dims` dims (see
   * {@link PcaIndexOptions}); allowed only when `dims` exceeds `pca.dims`.
   * Vectors and queries keep the input dims: projection happens inside the
   * pool workers. Omitted, null or false: no PCA.
   * @default null
   */
  pca?: PcaIndexOptions | null | false;
}

/** Resolved index options. `dims` are the input dims; the graph holds `pca.dims` when `pca` is set. */
export type ResolvedIndexOptions = Readonly<Required<Omit<IndexOptions, 'pca'>>> & { readonly pca: ResolvedPcaIndexOptions | null };

/** One item to add. Exactly one of `text` and `vector`. */
export interface IndexItem {
  readonly id: string;
  readonly text?: string;
  readonly vector?: Float32Array | readonly number[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** @default 'default' */
  readonly namespace?: string;
  /**
   * For a `vector` item: the content hash of the text it was computed from,
   * kept in the doc store (`get(id).hash`) for change detection. Ignored for
   * text items, which always store `contentHash(text)`.
   * @default null
   */
  readonly hash?: string;
}

/** Why an item was not added, updated or deleted: the index's own codes, and the embedding codes of text items. */
export type IndexItemFailureCode =
  | 'INVALID_ITEM'
  | 'INVALID_ID'
  | 'DUPLICATE_ID'
  | 'EXISTS'
  | 'NOT_FOUND'
  | 'WRONG_DIMS'
  | 'NON_FINITE'
  | 'INVALID_NAMESPACE'
  | 'INVALID_METADATA'
  | ItemFailureCode;

/** A pool search's query count before any task wrote it (never a real count: k is at most 65,536). */
const kUnsearched = 0xffffffff;

/** Outcome of one item of addBatch, upsert or delete. */
export type IndexItemOutcome =
  | {
      readonly state: 'ok';
      readonly id: string;
      /**
       * upsert with `skipUnchanged`: whether the id was new (`added`),
       * replaced a record (`updated`), or was left as it is because the
       * stored record already had this content (`unchanged`).
       */
      readonly change?: 'added' | 'updated' | 'unchanged';
    }
  | { readonly state: 'failed'; readonly id: string | null; readonly code: IndexItemFailureCode; readonly reason: string };

/** A search hit. */
export interface Hit {
  readonly id: string;
  /** Higher is better: cosine similarity, inner product, or −(squared L2). */
  readonly score: number;
  readonly namespace: string;
  readonly metadata: Readonly<Record<string, unknown>> | null;
}

/** Options of a search. */
/** Options of {@link Engine.openIndex}. */
export interface OpenIndexOptions {
  /**
   * Move the graph's vectors and level-0 links into transparent huge pages
   * while loading (Linux; a few percent faster searches and inserts for one
   * copy of the graph at open). false for a short job that applies a few
   * changes and saves. @default true
   */
  readonly hugePages?: boolean;
  /**
   * Return once the doc store is decoded, while a pool worker goes on
   * checking and loading the graph; operations that need the graph wait
   * for it (async ones) or throw ERR_INDEX until it is loaded (`stats`,
   * `getVector`, `getProjectedVector`). A graph that fails its checksum
   * or does not load fails the first operation that needs it with
   * ERR_INDEX_CORRUPT. What a job does, to read its input meanwhile.
   * Ignored when the graph cannot be shared with the pool.
   * @internal
   * @default false
   */
  readonly lazyGraph?: boolean;
  /**
   * Return before the doc store is decoded (its checksum is checked): it is
   * decoded on the first use that needs it, and by an upsert only once its
   * inserts are running on the pool, so that decoding and inserting
   * overlap. What a reindex job does. Ignored for a PCA index.
   * @internal
   * @default false
   */
  readonly lazyDocs?: boolean;
}

export interface SearchOptions {
  /** Neighbours to return, in [1, count]. @default 10 */
  readonly k?: number;
  /** Candidate list size, ≥ k. @default max(efSearch, k) */
  readonly ef?: number;
  /** Only these namespaces. */
  readonly namespace?: string | readonly string[];
  /** Only items whose metadata matches. */
  readonly filter?: MetadataFilter;
  /**
   * PCA indexes that keep full vectors: rerank the top k × this many graph
   * candidates exactly; 0 returns the graph's (projected) ranking. An
   * integer in [0, 1000].
   * @default the index's `pca.rerankFactor`
   */
  readonly rerankFactor?: number;
  readonly signal?: AbortSignal;
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

/** What `index.stats()` reports. */
export interface IndexStats {
  readonly count: number;
  readonly deleted: number;
  /** Input dims: what added vectors and queries have (with PCA the graph holds `pca.outputDims`). */
  readonly dims: number;
  readonly space: HnswSpace;
  readonly capacity: number;
  /** Graph bytes per stored element: the vector plus its links and header, as hnswlib lays it out. */
  readonly bytesPerVector: number;
  readonly params: { readonly m: number; readonly efConstruction: number; readonly efSearch: number };
  readonly namespaces: Readonly<Record<string, number>>;
  readonly core: 'native' | 'hnswlib-node';
  readonly version: string | null;
  /** PCA figures; null for an index without PCA. */
  readonly pca: IndexPcaStats | null;
}

/** What the index needs from its engine. */
export interface IndexHost {
  readonly scheduler: Scheduler;
  readonly workers: number;
  /** The TF.js backend, for PCA steps run on the main thread (only when the HNSW core cannot be shared). */
  readonly backend: BackendName;
  readonly model: { readonly id: string; readonly dims: number };
  /** Embeds query texts (no insert). */
  embed(texts: readonly unknown[], signal?: AbortSignal): Promise<{ vectors: Float32Array; items: ReadonlyArray<{ state: string; reason?: string }> }>;
}

const kDefaultNamespace = 'default';
/** Rows per insert task. */
const kInsertChunkRows = 1024;
/** Fewest rows per insert task: smaller ones cost more in messages than they gain. */
const kMinInsertChunkRows = 32;
/**
 * Searches with ef × dims up to this run inline on the calling thread;
 * larger ones go to a libuv thread. The hop there and back costs about
 * 0.1–0.2 ms here (two thread wake-ups), as much as the search itself at
 * this size: on the 340K-word GloVe graph, ef 320 × 100 dims takes about
 * 0.55 ms inline and runs ~25% slower through the threadpool.
 */
const kInlineSearchBudget = 32_768;
/**
 * An inline search is also expected, from the searches this index has run
 * inline, to take at most this long: on a graph big or slow enough that a
 * search within the budget takes longer, the event loop is not held up.
 */
const kInlineSearchMaxMs = 1;
const kMaxIdBytes = 1024;

/** A search's checked parameters. */
interface SearchParams {
  readonly k: number;
  readonly ef: number;
  readonly filter: Uint8Array | undefined;
  /** Graph candidates to rerank exactly per query (PCA with full vectors); 0 for none. */
  readonly rerank: number;
}

function intOption(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be an integer in [${min}, ${max}], got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`options.${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

/**
 * Validates and resolves index options.
 * @param options - as given.
 * @param modelDims - the engine model's dims.
 * @returns resolved options.
 * @throws {TypeError | RangeError} naming the option.
 */
export function resolveIndexOptions(options: unknown, modelDims: number): ResolvedIndexOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object with at least { dir }');
  const o = options as Record<string, unknown>;
  const known = ['dir', 'space', 'm', 'efConstruction', 'efSearch', 'capacity', 'dims', 'seed', 'pca'];
  for (const key of Object.keys(o)) if (!known.includes(key)) throw new TypeError(`options.${key} is not a known index option; known: ${known.join(', ')}`);
  if (typeof o.dir !== 'string' || o.dir === '') throw new TypeError(`options.dir must be a non-empty string, got ${String(o.dir)}`);
  const space = o.space ?? 'cosine';
  if (space !== 'cosine' && space !== 'ip' && space !== 'l2') throw new RangeError(`options.space must be one of "cosine", "ip", "l2", got ${JSON.stringify(space)}`);
  const dims = intOption('dims', o.dims ?? modelDims, 1, 65536);
  return Object.freeze({
    dir: o.dir,
    space,
    m: intOption('m', o.m ?? 16, 2, 2048),
    efConstruction: intOption('efConstruction', o.efConstruction ?? 200, 1, 4096),
    efSearch: intOption('efSearch', o.efSearch ?? 64, 1, 4096),
    capacity: intOption('capacity', o.capacity ?? 1024, 1, 2 ** 32 - 2),
    dims,
    seed: intOption('seed', o.seed ?? 100, 0, 2 ** 32 - 1),
    pca: resolvePcaIndexOptions(o.pca, dims),
  });
}

function failed(id: string | null, code: IndexItemFailureCode, reason: string): IndexItemOutcome {
  return { state: 'failed', id, code, reason };
}

/**
 * Content hash of a text, the key of the embedding cache and of reindex
 * change detection.
 * @param text - the text.
 * @returns hex SHA-256.
 */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The PCA state of an index. */
interface PcaRuntime {
  readonly options: ResolvedPcaIndexOptions;
  /** Draws the fit sample; null once fitted. */
  sampler: ReservoirSampler | null;
  /** label → prepared full vector, buffered until the fit inserts it. */
  readonly pending: Map<number, Float32Array>;
  model: PcaModel | null;
  ref: PcaModelRef | null;
  /** The full vectors (rerank); null without rerank. */
  readonly store: FullVectorStore | null;
  /** Duration of the last fit task, ms. */
  fitMs: number;
}

/** Names of the PCA files in a version directory. */
const kPcaModelFile = 'pca.model';
const kFullVectorsFile = 'full-vectors.f16';
/** Rows decoded and inserted per step of a refit's rebuild. */
const kRebuildChunkRows = 8192;
/** Deleted graph slots are reused once they are at least 1/this of the elements. */
const kReuseDeletedShare = 5;
/** hnswlib's largest k. */
const kMaxK = 65_536;

/** A searchable HNSW index. Create with `engine.createIndex` or `engine.openIndex`. */
export class VectorIndex {
  readonly #host: IndexHost;
  readonly #core: HnswCore;
  #options: ResolvedIndexOptions;
  /** Dims of the graph's vectors: `pca.dims` with PCA, else the input dims. */
  readonly #graphDims: number;
  /** Moving average of inline search time per unit of ef (ms); NaN before the first. */
  #inlineMsPerEf = Number.NaN;
  /** Searches sent off the main thread by timing alone, since the last inline one. */
  #timedOut = 0;
  readonly #pca: PcaRuntime | null;
  #handle: number;
  #nextLabel: number;
  readonly #idToLabel = new Map<string, number>();
  readonly #docs: Array<DocRecord | undefined> = [];
  readonly #namespaces = new Map<string, LabelBitset>();
  readonly #live = new LabelBitset();
  #liveCount = 0;
  /**
   * The doc store file of the version last opened or saved, and the labels
   * written and removed since: a save copies that file and applies only
   * the changes, instead of writing every record again.
   */
  #docsBase: string | null = null;
  readonly #docsWritten = new Set<number>();
  #version: string | null;
  /** Whether anything may have changed since the index was opened or last saved. */
  #unsaved = false;
  #closed = false;
  #mutations = 0;
  #filterCache: { key: string; mutations: number; bits: Uint8Array } | undefined;
  /** Serialises mutations and saves: one at a time, searches run freely. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Searches running on the pool: a refit and close wait for them before freeing what they read. */
  readonly #searches = new Set<Promise<unknown>>();
  /**
   * The graph still loading (opened with `lazyGraph`); null once `#handle`
   * holds it. A failed load stays here, rejected with ERR_INDEX_CORRUPT.
   */
  #graphLoad: Promise<void> | null = null;
  /** Why the graph did not load (lazyGraph), for the synchronous operations. */
  #graphError: unknown = null;
  /** The verified doc store not decoded yet (opened with `lazyDocs`): decoded by #ensureDocs. */
  #docsPending: { readonly path: string; readonly count: number; readonly dir: string } | null = null;
  /** Why decoding the doc store failed (lazyDocs): every later use throws it. */
  #docsError: unknown = null;

  private constructor(host: IndexHost, core: HnswCore, options: ResolvedIndexOptions, handle: number, nextLabel: number, version: string | null, pca: PcaRuntime | null) {
    this.#host = host;
    this.#core = core;
    this.#options = options;
    this.#graphDims = options.pca?.dims ?? options.dims;
    this.#pca = pca;
    this.#handle = handle;
    this.#nextLabel = nextLabel;
    this.#version = version;
  }

  /**
   * Creates an empty index in `options.dir`.
   * @param host - the engine side.
   * @param options - index options.
   * @returns the index (nothing is written until `save()`).
   * @throws {TypeError | RangeError} for invalid options.
   * @throws {VecforgeError} ERR_INDEX when the directory already holds an index.
   */
  static create(host: IndexHost, options: IndexOptions): VectorIndex {
    const resolved = resolveIndexOptions(options, host.model.dims);
    if (existsSync(resolved.dir) && currentVersion(resolved.dir) !== undefined) {
      throw new VecforgeError('ERR_INDEX', `${resolved.dir} already holds an index; open it with engine.openIndex`);
    }
    mkdirSync(resolved.dir, { recursive: true });
    const core = loadHnswCore();
    const pca = resolved.pca;
    const store = pca?.rerank === true ? FullVectorStore.create(pca.rerankStorage, resolved.dims, resolved.dir) : null;
    const graphDims = pca?.dims ?? resolved.dims;
    const handle = core.create(resolved.space, graphDims, resolved.capacity, resolved.m, resolved.efConstruction, resolved.seed, true);
    const runtime: PcaRuntime | null =
      pca === null ? null : { options: pca, sampler: new ReservoirSampler(pca.sample, resolved.dims, pca.seed), pending: new Map(), model: null, ref: null, store, fitMs: 0 };
    return new VectorIndex(host, core, resolved, handle, 0, null, runtime);
  }

  /**
   * Opens the current version of an index directory. Every file is checked
   * against the manifest before any of it reaches native code; a PCA model
   * file whose dims disagree with the manifest is refused.
   * @param host - the engine side.
   * @param dir - the index directory.
   * @returns the index.
   * @throws {VecforgeError} ERR_INDEX, ERR_INDEX_CORRUPT or ERR_INDEX_VERSION.
   */
  static async open(host: IndexHost, dir: string, openOptions: OpenIndexOptions = {}): Promise<VectorIndex> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError(`dir must be a non-empty string, got ${String(dir)}`);
    const hugePages = openOptions.hugePages ?? true;
    if (typeof hugePages !== 'boolean') throw new TypeError(`options.hugePages must be a boolean, got ${typeof hugePages}`);
    const lazyGraph = openOptions.lazyGraph ?? false;
    if (typeof lazyGraph !== 'boolean') throw new TypeError(`options.lazyGraph must be a boolean, got ${typeof lazyGraph}`);
    const lazyDocsOption = openOptions.lazyDocs ?? false;
    if (typeof lazyDocsOption !== 'boolean') throw new TypeError(`options.lazyDocs must be a boolean, got ${typeof lazyDocsOption}`);
    const version = readVersionManifest(dir);
    const { manifest, path, name } = version;
    if (manifest.model !== null && manifest.model.id !== host.model.id) {
      throw new VecforgeError('ERR_INDEX', `index ${dir} was built with model ${manifest.model.id}, but the engine runs ${host.model.id}`);
    }
    const core = loadHnswCore();
    const graphPath = join(path, 'graph.hnsw');
    // A pool worker checks the graph's checksum and loads it while this
    // thread checks the other files and decodes the doc store. No file
    // reaches native code (hnswlib, lmdb) before its checksum matched.
    verifyVersionFiles(dir, version, ['graph.hnsw'], { checksum: !core.sharedAcrossThreads });
    const graphEntry = manifest.files['graph.hnsw'] as FileEntry;
    const loading = core.sharedAcrossThreads
      ? host.scheduler
          .run({ kind: 'load-graph', handle: 0, path: graphPath, space: manifest.space, dims: manifest.dims, maxElements: manifest.counts.capacity, hugePages, expect: { bytes: graphEntry.bytes, sha256: graphEntry.sha256 } })
          .then(
            (reply) => {
              if (reply.mismatch !== undefined) throw fileMismatchError(dir, 'graph.hnsw', graphEntry, reply.mismatch);
              return reply.handle;
            },
            (error: unknown) => {
              throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: the graph file does not load: ${errorMessage(error)}`, { cause: error });
            },
          )
      : null;
    loading?.catch(() => {});
    let table: DocTable | undefined;
    let runtime: PcaRuntime | null = null;
    try {
      verifyVersionFiles(
        dir,
        version,
        Object.keys(manifest.files).filter((f) => f !== 'graph.hnsw'),
      );
      const section = parsePcaManifestSection(manifest.extra?.pca, manifest.dims, Object.keys(manifest.files), dir);
      runtime = section === null ? null : await VectorIndex.#openPca(section, path, dir, manifest.counts.count);
      if (!lazyDocsOption || runtime !== null) table = await VectorIndex.#readDocs(join(path, 'docs.lmdb'));
    } catch (error) {
      const loaded = await loading?.catch(() => null);
      if (loaded !== undefined && loaded !== null) core.free(loaded);
      runtime?.store?.close();
      throw error;
    }
    const lazy = lazyGraph && loading !== null;
    let handle = 0;
    if (!lazy) {
      try {
        handle = loading !== null ? await loading : core.load(graphPath, manifest.space, manifest.dims, manifest.counts.capacity, true, hugePages);
      } catch (error) {
        runtime?.store?.close();
        if (error instanceof VecforgeError && error.code === 'ERR_INDEX_CORRUPT') throw error;
        throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: the graph file does not load: ${errorMessage(error)}`, { cause: error });
      }
    }
    const options: ResolvedIndexOptions = Object.freeze({
      dir,
      space: manifest.space,
      m: manifest.params.m,
      efConstruction: manifest.params.efConstruction,
      efSearch: manifest.params.efSearch,
      capacity: manifest.counts.capacity,
      dims: runtime?.options.inputDims ?? manifest.dims,
      seed: 100,
      pca: runtime?.options ?? null,
    });
    const index = new VectorIndex(host, core, options, handle, manifest.counts.nextLabel, name, runtime);
    if (lazy && loading !== null) index.#loadLater(loading);
    const docsPath = join(path, 'docs.lmdb');
    if (table === undefined) {
      index.#docsPending = { path: docsPath, count: manifest.counts.count, dir };
      return index;
    }
    try {
      index.#takeDocs(table, docsPath, manifest.counts.count, dir);
    } catch (error) {
      await index.close();
      throw error;
    }
    return index;
  }

  /** Reads every record of a (verified) doc store file. */
  static async #readDocs(path: string): Promise<DocTable> {
    const store = DocStore.open(path, true);
    try {
      return store.readTable();
    } finally {
      await store.close();
    }
  }

  /** Takes the records of the version's doc store, and checks their count against the manifest. */
  #takeDocs(table: DocTable, path: string, count: number, dir: string): void {
    this.#rememberSaved(table);
    if (this.#liveCount !== count) {
      throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: doc store holds ${this.#liveCount} items, the manifest says ${count}`);
    }
    this.#docsSaved(path);
  }

  /**
   * Decodes the doc store of an index opened with `lazyDocs`, if not done
   * yet (synchronously: the store is read whole). Every use of the records
   * calls it first.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the store does not decode or its count disagrees with the manifest (again on every later call).
   */
  #ensureDocs(): void {
    if (this.#docsError !== null) throw this.#docsError;
    const pending = this.#docsPending;
    if (pending === null) return;
    this.#docsPending = null;
    try {
      const store = DocStore.open(pending.path, true);
      let table: DocTable;
      try {
        table = store.readTable();
      } finally {
        store.close().catch(() => {});
      }
      this.#takeDocs(table, pending.path, pending.count, pending.dir);
    } catch (error) {
      this.#docsError = error instanceof VecforgeError ? error : new VecforgeError('ERR_INDEX_CORRUPT', `index ${pending.dir}: the doc store does not decode: ${errorMessage(error)}`, { cause: error });
      throw this.#docsError;
    }
  }

  /**
   * Whether the doc store is decoded (an index opened with `lazyDocs`
   * decodes it on first use).
   * @internal
   */
  get docsLoaded(): boolean {
    return this.#docsPending === null && this.#docsError === null;
  }

  /**
   * Decodes the doc store now if the index was opened with `lazyDocs`.
   * @internal
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when it does not decode.
   */
  loadDocs(): void {
    this.#checkOpen();
    this.#ensureDocs();
  }

  /** Takes the graph a pool worker is still loading (lazyGraph): operations that need it wait for `#graphLoad`. */
  #loadLater(loading: Promise<number>): void {
    const load = loading.then(
      (handle) => {
        this.#handle = handle;
        this.#graphLoad = null;
      },
      (error: unknown) => {
        this.#graphError = error;
        throw error;
      },
    );
    // Its failure is reported by the operations that wait for it.
    load.catch(() => {});
    this.#graphLoad = load;
  }

  /** The graph's handle for a synchronous operation; throws while a lazily opened graph is still loading, or when it failed to. */
  #syncHandle(): number {
    if (this.#graphLoad !== null) {
      if (this.#graphError !== null) throw this.#graphError;
      throw new VecforgeError('ERR_INDEX', 'the graph of this index is still loading; await an operation that needs it (search, upsert, save) first');
    }
    return this.#handle;
  }

  /** Loads the PCA model and full vectors of a verified version. */
  static async #openPca(section: PcaManifestSection, path: string, dir: string, count: number): Promise<PcaRuntime> {
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
    return {
      options,
      sampler: model === null ? new ReservoirSampler(options.sample, options.inputDims, options.seed) : null,
      pending: new Map(),
      model,
      ref: model === null ? null : pcaModelRef(model),
      store,
      fitMs: 0,
    };
  }

  /** @param saved - the record is already in the doc store of the current version (opening). */
  #remember(label: number, record: DocRecord, saved = false): void {
    this.#docs[label] = record;
    if (!saved) this.#docsWritten.add(label);
    this.#idToLabel.set(record.id, label);
    this.#live.set(label);
    this.#liveCount++;
    let ns = this.#namespaces.get(record.namespace);
    if (ns === undefined) {
      ns = new LabelBitset();
      this.#namespaces.set(record.namespace, ns);
    }
    ns.set(label);
    this.#mutations++;
  }

  /**
   * What {@link VectorIndex.#remember} does for each record of the doc
   * store being opened, at once: the store's bitsets are taken as they are.
   * @param table - every live record of the version's doc store.
   */
  #rememberSaved(table: DocTable): void {
    const docs = this.#docs;
    const ids = this.#idToLabel;
    const records = table.records;
    for (let label = 0; label < records.length; label++) {
      const record = records[label];
      // Pushed, undefined included, to keep the array's elements packed.
      if (label >= docs.length) docs.push(record);
      else if (record !== undefined) docs[label] = record;
      if (record !== undefined) ids.set(record.id, label);
    }
    const bitsetOf = (bytes: Uint8Array): LabelBitset => {
      const bits = new LabelBitset(bytes.length * 8);
      bits.bytes.set(bytes);
      return bits;
    };
    this.#live.or(bitsetOf(table.live));
    for (const [name, bytes] of table.namespaces) {
      const ns = this.#namespaces.get(name);
      if (ns === undefined) this.#namespaces.set(name, bitsetOf(bytes));
      else ns.or(bitsetOf(bytes));
    }
    this.#liveCount += table.count;
    this.#mutations++;
  }

  #forget(label: number): void {
    const record = this.#docs[label];
    if (record === undefined) return;
    this.#docs[label] = undefined;
    this.#idToLabel.delete(record.id);
    this.#live.clear(label);
    this.#liveCount--;
    this.#namespaces.get(record.namespace)?.clear(label);
    this.#mutations++;
  }

  #checkOpen(): void {
    if (this.#closed) throw new VecforgeError('ERR_CLOSED', 'the index is closed');
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    // Anything queued may change the index; a save clears the mark when it ends.
    const marked = (): Promise<T> => {
      this.#unsaved = true;
      // A lazily opened graph: everything queued needs it.
      return this.#graphLoad === null ? fn() : this.#graphLoad.then(fn);
    };
    const run = this.#queue.then(marked, marked);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Items in the index (deleted ones excluded). */
  get count(): number {
    // Before a lazily opened doc store is decoded: the manifest's count (checked against the store when it is).
    if (this.#docsPending !== null) return this.#docsPending.count;
    return this.#liveCount;
  }

  /** Input vector dims: what added vectors and queries have (with PCA the graph holds `pca.dims`). */
  get dims(): number {
    return this.#options.dims;
  }

  /**
   * Adds items. An id already in the index fails with EXISTS (use upsert);
   * a repeated id within one batch fails with DUPLICATE_ID (the first
   * occurrence is added). Every other item is added.
   * @param items - the items.
   * @param options - `signal` cancels embedding and insertion.
   * @returns one outcome per item, in order.
   * @throws {TypeError} when `items` is not an array.
   */
  async addBatch(items: readonly IndexItem[], options: { signal?: AbortSignal } = {}): Promise<IndexItemOutcome[]> {
    return this.#write(items, false, options.signal);
  }

  /**
   * Adds items, replacing the vector, namespace and metadata of ids already
   * in the index. A repeated id within one batch fails with DUPLICATE_ID.
   * @param items - the items.
   * @param options - `signal`; `skipUnchanged`: an item whose `hash`,
   *   namespace and metadata equal the stored record's is left as it is,
   *   its vector not used, and every ok outcome says what changed
   *   (`change`).
   * @returns one outcome per item, in order.
   * @throws {TypeError} when `items` is not an array, or an option has the wrong type.
   */
  async upsert(items: readonly IndexItem[], options: { signal?: AbortSignal; skipUnchanged?: boolean } = {}): Promise<IndexItemOutcome[]> {
    const skipUnchanged = options.skipUnchanged ?? false;
    if (typeof skipUnchanged !== 'boolean') throw new TypeError(`options.skipUnchanged must be a boolean, got ${typeof skipUnchanged}`);
    return this.#write(items, true, options.signal, skipUnchanged);
  }

  async #write(items: readonly IndexItem[], replace: boolean, signal?: AbortSignal, skipUnchanged = false): Promise<IndexItemOutcome[]> {
    this.#checkOpen();
    if (!Array.isArray(items)) throw new TypeError(`items must be an array, got ${items === null ? 'null' : typeof items}`);
    throwIfAborted(signal);
    return this.#serial(async () => {
      // addBatch checks ids against the records while validating. An upsert
      // (lazyDocs) needs them only to commit: they are decoded while the
      // pool inserts, below.
      if (!replace) this.#ensureDocs();
      const outcomes: IndexItemOutcome[] = new Array<IndexItemOutcome>(items.length);
      const dims = this.#options.dims;
      const seen = new Set<string>();
      const texts: Array<{ at: number; id: string; text: string; label: number; record: DocRecord }> = [];
      const vectors: Array<{ at: number; id: string; vector: Float32Array; label: number; record: DocRecord }> = [];
      const fresh: number[] = [];
      // Every write takes a fresh label, also for an id already present: the
      // old label is marked deleted once the new one is committed. hnswlib's
      // in-place update (updatePoint, also behind replaceDeleted) re-links
      // the neighbours of the neighbours and costs several inserts.
      const take = (_id: string): number => {
        const label = this.#nextLabel++;
        fresh.push(label);
        return label;
      };
      items.forEach((raw, at) => {
        const item = raw as unknown;
        if (item === null || typeof item !== 'object' || Array.isArray(item)) {
          outcomes[at] = failed(null, 'INVALID_ITEM', 'item must be an object { id, text | vector, metadata?, namespace? }');
          return;
        }
        const { id, text, vector, metadata, namespace, hash } = item as Record<string, unknown>;
        if (typeof id !== 'string' || id === '' || Buffer.byteLength(id) > kMaxIdBytes) {
          outcomes[at] = failed(typeof id === 'string' ? id : null, 'INVALID_ID', `id must be a non-empty string of at most ${kMaxIdBytes} bytes`);
          return;
        }
        if (seen.has(id)) {
          outcomes[at] = failed(id, 'DUPLICATE_ID', 'id appears earlier in the same batch; the first occurrence is used');
          return;
        }
        seen.add(id);
        if (!replace && this.#idToLabel.has(id)) {
          outcomes[at] = failed(id, 'EXISTS', 'id is already in the index; use upsert to replace it');
          return;
        }
        if ((text === undefined) === (vector === undefined)) {
          outcomes[at] = failed(id, 'INVALID_ITEM', 'item must have exactly one of text and vector');
          return;
        }
        const ns = namespace ?? kDefaultNamespace;
        if (typeof ns !== 'string' || ns === '' || ns.length > 256) {
          outcomes[at] = failed(id, 'INVALID_NAMESPACE', 'namespace must be a non-empty string of at most 256 characters');
          return;
        }
        if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
          outcomes[at] = failed(id, 'INVALID_METADATA', 'metadata must be a plain object');
          return;
        }
        const meta = (metadata ?? null) as Readonly<Record<string, unknown>> | null;
        if (vector !== undefined) {
          let v: Float32Array;
          if (vector instanceof Float32Array) v = vector;
          else if (Array.isArray(vector) && vector.every((x) => typeof x === 'number')) v = Float32Array.from(vector as number[]);
          else {
            outcomes[at] = failed(id, 'INVALID_ITEM', 'vector must be a Float32Array or an array of numbers');
            return;
          }
          if (v.length !== dims) {
            outcomes[at] = failed(id, 'WRONG_DIMS', `vector has ${v.length} dims, the index has ${dims}`);
            return;
          }
          for (let d = 0; d < dims; d++) {
            if (!Number.isFinite(v[d])) {
              outcomes[at] = failed(id, 'NON_FINITE', `vector component ${d} is ${String(v[d])}`);
              return;
            }
          }
          if (hash !== undefined && (typeof hash !== 'string' || hash === '' || hash.length > 128)) {
            outcomes[at] = failed(id, 'INVALID_ITEM', 'hash must be a non-empty string of at most 128 characters');
            return;
          }
          vectors.push({ at, id, vector: v, label: take(id), record: { id, namespace: ns, metadata: meta, hash: hash ?? null } });
          return;
        }
        if (dims !== this.#host.model.dims) {
          outcomes[at] = failed(id, 'WRONG_DIMS', `the index has ${dims} dims but the model embeds ${this.#host.model.dims}; add vectors instead of texts`);
          return;
        }
        if (typeof text !== 'string') {
          outcomes[at] = failed(id, 'NOT_A_STRING', `text must be a string, got ${text === null ? 'null' : typeof text}`);
          return;
        }
        texts.push({ at, id, text, label: take(id), record: { id, namespace: ns, metadata: meta, hash: contentHash(text) } });
      });

      const pca = this.#pca;
      if (pca !== null && pca.model === null) return this.#bufferForFit(pca, texts, vectors, outcomes, signal);
      if (pca !== null && pca.pending.size > 0) await this.#flushPending(pca, signal);
      this.#ensureCapacity(fresh.length);
      pca?.store?.ensureRows(this.#nextLabel);
      const stage = this.#pcaStage();
      const inserting = Promise.all([this.#insertTexts(texts, outcomes, stage, signal), this.#insertVectors(vectors, stage, signal)]);
      if (this.#docsPending !== null) {
        // lazyDocs: decoded on this thread while the pool inserts.
        inserting.catch(() => {});
        try {
          this.#ensureDocs();
        } catch (error) {
          await inserting.catch(() => {});
          for (const label of fresh) this.#markDeletedQuietly(label);
          throw error;
        }
      }
      try {
        await inserting;
      } catch (error) {
        // Labels that never made it into the doc store are simply unused;
        // a partly inserted graph element without a doc is never returned
        // (search maps labels through the doc store) and is marked deleted.
        this.#markOrphans(fresh);
        throw error;
      }
      const commit = (label: number, at: number, record: DocRecord): void => {
        const old = this.#idToLabel.get(record.id);
        const before = old === undefined ? undefined : this.#docs[old];
        // Left as it is: the fresh label gets no record, and #markOrphans marks it deleted.
        if (!skipUnchanged) {
          this.#commit(label, record);
          outcomes[at] = { state: 'ok', id: record.id };
          return;
        }
        if (before !== undefined && sameContent(before, record)) {
          outcomes[at] = { state: 'ok', id: record.id, change: 'unchanged' };
          return;
        }
        this.#commit(label, record);
        outcomes[at] = { state: 'ok', id: record.id, change: before === undefined ? 'added' : 'updated' };
      };
      for (const v of vectors) commit(v.label, v.at, v.record);
      for (const t of texts) if (outcomes[t.at] === undefined) commit(t.label, t.at, t.record);
      this.#markOrphans(fresh);
      return outcomes;
    });
  }

  /** Marks a label deleted in the graph, if it is there. */
  #markDeletedQuietly(label: number): void {
    try {
      this.#core.markDelete(this.#handle, label);
    } catch {
      // Not in the graph.
    }
  }

  #commit(label: number, record: DocRecord): void {
    const old = this.#idToLabel.get(record.id);
    if (old !== undefined && old !== label) this.#retire(old);
    if (this.#docs[label] !== undefined) this.#forget(label);
    this.#remember(label, record);
  }

  /** Removes a label: from the PCA buffer when it waits for the fit, else marked deleted in the graph. */
  #retire(label: number): void {
    if (this.#pca?.pending.delete(label) !== true) {
      try {
        this.#core.markDelete(this.#handle, label);
      } catch {
        // Already deleted, or never inserted.
      }
    }
    this.#forget(label);
  }

  /**
   * Whether inserts should take the slots of deleted elements. Reusing a
   * slot runs hnswlib's updatePoint (several inserts' worth of work), so
   * slots are only reused once deleted elements are a sizeable share of
   * the graph; until then the graph grows.
   */
  #reuseDeleted(handle: number): boolean {
    const deleted = this.#core.getDeletedCount(handle);
    return deleted > 0 && deleted * kReuseDeletedShare >= this.#core.getCurrentCount(handle);
  }

  /** Marks fresh labels that got no doc (failed items) deleted in the graph, if they were inserted. */
  #markOrphans(fresh: readonly number[]): void {
    for (const label of fresh) {
      if (this.#docs[label] !== undefined) continue;
      try {
        this.#core.markDelete(this.#handle, label);
      } catch {
        // Not in the graph: the item failed before insertion.
      }
    }
  }

  #ensureCapacity(extra: number): void {
    // Inserts that take deleted slots (replaceDeleted) need room only for
    // live elements and the new ones.
    const current = this.#core.getCurrentCount(this.#handle);
    const count = this.#reuseDeleted(this.#handle) ? current - this.#core.getDeletedCount(this.#handle) : current;
    const max = this.#core.getMaxElements(this.#handle);
    if (count + extra <= max) return;
    this.#core.resize(this.#handle, Math.max(count + extra, Math.ceil(max * 1.5)));
  }

  async #insertTexts(
    texts: ReadonlyArray<{ at: number; id: string; text: string; label: number }>,
    outcomes: IndexItemOutcome[],
    stage: PcaStage | null,
    signal?: AbortSignal,
  ): Promise<void> {
    if (texts.length === 0) return;
    const labels = new Uint32Array(new SharedArrayBuffer(texts.length * 4));
    texts.forEach((t, i) => {
      labels[i] = t.label;
    });
    const shared = this.#core.sharedAcrossThreads;
    const result = await this.#host.scheduler.embed(
      texts.map((t) => t.text),
      signal,
      shared ? { handle: this.#handle, labels: labels.buffer as SharedArrayBuffer, replaceDeleted: this.#reuseDeleted(this.#handle), pca: stage } : null,
    );
    const dims = this.#options.dims;
    const okRows: number[] = [];
    result.items.forEach((item, i) => {
      const t = texts[i];
      if (t === undefined) return;
      if (item.state === 'failed') outcomes[t.at] = failed(t.id, item.code, item.reason);
      else okRows.push(i);
    });
    if (shared || okRows.length === 0) return;
    // The core is not shared with the workers: insert the embedded rows here.
    const data = new Float32Array(new SharedArrayBuffer(okRows.length * dims * 4));
    const okLabels = new Uint32Array(new SharedArrayBuffer(okRows.length * 4));
    okRows.forEach((i, j) => {
      data.set(result.vectors.subarray(i * dims, (i + 1) * dims), j * dims);
      okLabels[j] = labels[i] ?? 0;
    });
    await this.#insertRows(this.#handle, data, okLabels, stage, signal);
  }

  async #insertVectors(vectors: ReadonlyArray<{ vector: Float32Array; label: number }>, stage: PcaStage | null, signal?: AbortSignal): Promise<void> {
    if (vectors.length === 0) return;
    const dims = this.#options.dims;
    const data = new Float32Array(new SharedArrayBuffer(vectors.length * dims * 4));
    const labels = new Uint32Array(new SharedArrayBuffer(vectors.length * 4));
    vectors.forEach((v, i) => {
      data.set(v.vector, i * dims);
      labels[i] = v.label;
    });
    await this.#insertRows(this.#handle, data, labels, stage, signal);
  }

  /**
   * Inserts rows (input dims, on shared memory) into a graph: every pool
   * worker inserts its slice, projecting it first with a PCA stage; or
   * here, when the core cannot be shared.
   */
  async #insertRows(handle: number, data: Float32Array, labels: Uint32Array, stage: PcaStage | null, signal?: AbortSignal): Promise<void> {
    const count = labels.length;
    if (count === 0) return;
    const dims = this.#options.dims;
    if (!this.#core.sharedAcrossThreads) {
      const rows = stage === null ? data : projectForGraph(data, labels, stage, await loadTf(this.#host.backend));
      this.#core.addPoints(handle, rows, labels, this.#reuseDeleted(handle));
      return;
    }
    // Small chunks handed out in turn keep the workers inserting neighbouring
    // rows at the same time, as hnswlib's own ParallelFor does, instead of
    // each building a distant region of the graph.
    // A small batch is still split across every worker.
    const per = Math.max(kMinInsertChunkRows, Math.min(kInsertChunkRows, Math.ceil(count / Math.max(1, this.#host.workers))));
    // Reusing deleted slots takes hnswlib's global deleted-elements lock and
    // an updatePoint on every insert; only pay for it when there is much to reuse.
    const replaceDeleted = this.#reuseDeleted(handle);
    const tasks: Array<Promise<unknown>> = [];
    for (let start = 0; start < count; start += per) {
      const end = Math.min(count, start + per);
      tasks.push(
        this.#host.scheduler.run(
          { kind: 'insert', handle, data: data.buffer as SharedArrayBuffer, dims, labels: labels.buffer as SharedArrayBuffer, start, end, replaceDeleted, pca: stage },
          signal,
        ),
      );
    }
    const settled = await Promise.allSettled(tasks);
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected !== undefined) throw rejected.reason;
  }

  /** The PCA step of insert and search tasks; null without PCA or before the fit. */
  #pcaStage(): PcaStage | null {
    const pca = this.#pca;
    if (pca === null || pca.ref === null) return null;
    return { model: pca.ref, space: this.#options.space, store: pca.store?.ref() ?? null };
  }

  /** A unit-normalised (cosine) or plain copy of an input vector, as the sample and the buffer keep it. */
  #prepared(v: Float32Array): Float32Array {
    const out = prepareRows(v, this.#options.dims, this.#options.space);
    return out === v ? v.slice() : out;
  }

  /**
   * Before the fit: embeds texts (no insert), buffers every vector with its
   * label, offers it to the sample, commits the records, and fits once the
   * sample is complete. Buffered items count, can be fetched, upserted and
   * deleted; they reach the graph when the fit runs.
   */
  async #bufferForFit(
    pca: PcaRuntime,
    texts: ReadonlyArray<{ at: number; id: string; text: string; label: number; record: DocRecord }>,
    vectors: ReadonlyArray<{ at: number; id: string; vector: Float32Array; label: number; record: DocRecord }>,
    outcomes: IndexItemOutcome[],
    signal?: AbortSignal,
  ): Promise<IndexItemOutcome[]> {
    const sampler = pca.sampler as ReservoirSampler;
    const dims = this.#options.dims;
    const keep = (label: number, row: Float32Array): void => {
      const prepared = this.#prepared(row);
      pca.pending.set(label, prepared);
      sampler.add(prepared);
    };
    if (texts.length > 0) {
      const result = await this.#host.scheduler.embed(
        texts.map((t) => t.text),
        signal,
        null,
      );
      result.items.forEach((item, i) => {
        const t = texts[i];
        if (t === undefined) return;
        if (item.state === 'failed') outcomes[t.at] = failed(t.id, item.code, item.reason);
        else keep(t.label, result.vectors.subarray(i * dims, (i + 1) * dims));
      });
    }
    throwIfAborted(signal);
    for (const v of vectors) {
      keep(v.label, v.vector);
      this.#commit(v.label, v.record);
      outcomes[v.at] = { state: 'ok', id: v.id };
    }
    for (const t of texts) {
      if (outcomes[t.at] !== undefined) continue;
      this.#commit(t.label, t.record);
      outcomes[t.at] = { state: 'ok', id: t.id };
    }
    if (sampler.seen >= pca.options.sample) await this.#fitLocked(signal);
    return outcomes;
  }

  /**
   * Fits the model (unless fitted), then projects and inserts the buffered
   * vectors. Runs inside the mutation queue.
   */
  async #fitLocked(signal?: AbortSignal): Promise<PcaFitSummary> {
    const pca = this.#requirePca();
    const { inputDims, dims: target, seed } = pca.options;
    let fitMs = 0;
    if (pca.model === null) {
      const sampler = pca.sampler as ReservoirSampler;
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
      const reply = await this.#host.scheduler.run({ kind: 'fit-pca', sample, rows, dims: inputDims, components: target, seed }, signal);
      const bytes = new Uint8Array(reply.model).slice();
      pca.model = deserializePcaModel(bytes, { inputDims, outputDims: target });
      pca.ref = pcaModelRefFromBytes(bytes);
      pca.sampler = null;
      pca.fitMs = reply.durationMs;
      fitMs = reply.durationMs;
    }
    const inserted = pca.pending.size > 0 ? await this.#flushPending(pca, signal) : 0;
    return this.#fitSummary(pca, fitMs, inserted);
  }

  /** Projects and inserts the buffered vectors, in label order. */
  async #flushPending(pca: PcaRuntime, signal?: AbortSignal): Promise<number> {
    const dims = this.#options.dims;
    const labels = [...pca.pending.keys()].sort((a, b) => a - b);
    const data = new Float32Array(new SharedArrayBuffer(labels.length * dims * 4));
    const shared = new Uint32Array(new SharedArrayBuffer(labels.length * 4));
    labels.forEach((label, i) => {
      data.set(pca.pending.get(label) as Float32Array, i * dims);
      shared[i] = label;
    });
    this.#ensureCapacity(labels.length);
    pca.store?.ensureRows(this.#nextLabel);
    await this.#insertRows(this.#handle, data, shared, this.#pcaStage(), signal);
    pca.pending.clear();
    return labels.length;
  }

  #fitSummary(pca: PcaRuntime, fitMs: number, inserted: number): PcaFitSummary {
    const model = pca.model as PcaModel;
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

  #requirePca(): PcaRuntime {
    if (this.#pca === null) throw new VecforgeError('ERR_PCA', 'this index has no PCA; create it with options.pca');
    return this.#pca;
  }

  /** Fits the model first when the index still samples or buffers (searches and saves need it). */
  async #ready(signal?: AbortSignal): Promise<void> {
    if (this.#graphLoad !== null) await this.#graphLoad;
    const pca = this.#pca;
    if (pca === null || (pca.model !== null && pca.pending.size === 0)) return;
    await this.#serial(() => this.#fitLocked(signal));
  }

  /**
   * Fits the PCA model now, on the vectors sampled so far, then projects and
   * inserts the buffered ones. Without this call the fit runs once
   * `pca.sample` vectors have been added, or at the first search or save.
   * A fitted index returns its model's figures.
   * @param options - `signal` cancels the fit.
   * @returns the model's dims, explained variance and fit time.
   * @throws {VecforgeError} ERR_PCA when the index has no PCA, or fewer vectors than the fit needs (max(2, pca.dims)).
   * @throws {AbortError} when cancelled.
   */
  async fitPca(options: { signal?: AbortSignal } = {}): Promise<PcaFitSummary> {
    this.#checkOpen();
    this.#requirePca();
    throwIfAborted(options.signal);
    return this.#serial(() => this.#fitLocked(options.signal));
  }

  /**
   * Refits the PCA model on a fresh uniform sample of the index's current
   * full vectors and rebuilds the graph with it (what `vecforge reindex
   * --refit-pca` runs). Searches keep using the old graph until the new
   * one is complete. Needs the full vectors (`pca.rerank: true`); the
   * rebuilt graph is fed from them, so inputs carry their half-precision
   * rounding (relative 2⁻¹¹ of each row's largest value).
   * @param options - `sample`: the sample size, default `pca.sample`; `signal`.
   * @returns the new model's figures; `inserted` is the number of vectors rebuilt.
   * @throws {TypeError | RangeError} for an invalid `sample`.
   * @throws {VecforgeError} ERR_PCA when the index has no PCA, keeps no full vectors, or has too few vectors.
   * @throws {AbortError} when cancelled (the index keeps its old model and graph).
   */
  async refitPca(options: { sample?: number; signal?: AbortSignal } = {}): Promise<PcaFitSummary> {
    this.#checkOpen();
    const pca = this.#requirePca();
    const needed = Math.max(2, pca.options.dims);
    const sampleSize = options.sample ?? pca.options.sample;
    if (typeof sampleSize !== 'number') throw new TypeError(`options.sample must be an integer in [${needed}, 16777216], got ${String(sampleSize)}`);
    if (!Number.isInteger(sampleSize) || sampleSize < needed || sampleSize > 16_777_216) throw new RangeError(`options.sample must be an integer in [${needed}, 16777216], got ${sampleSize}`);
    const { signal } = options;
    throwIfAborted(signal);
    return this.#serial(async () => {
      if (pca.model === null) return this.#fitLocked(signal);
      const store = pca.store;
      if (store === null) {
        throw new VecforgeError('ERR_PCA', 'refitPca needs the full vectors, but this index was created with pca.rerank false; rebuild it from its source (vecforge reindex --full)');
      }
      if (pca.pending.size > 0) await this.#flushPending(pca, signal);
      const labels: number[] = [];
      for (const [label] of this.#liveRecords()) labels.push(label);
      if (labels.length < needed) throw new VecforgeError('ERR_PCA', `cannot refit PCA: the index holds ${labels.length} vectors, fewer than the ${needed} the fit needs (options.pca.dims = ${pca.options.dims})`);
      const { inputDims, dims: target, seed } = pca.options;
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
      const reply = await this.#host.scheduler.run({ kind: 'fit-pca', sample, rows, dims: inputDims, components: target, seed }, signal);
      const bytes = new Uint8Array(reply.model).slice();
      const model = deserializePcaModel(bytes, { inputDims, outputDims: target });
      const modelRef = pcaModelRefFromBytes(bytes);
      const capacity = Math.max(labels.length, this.#core.getMaxElements(this.#handle) - this.#core.getDeletedCount(this.#handle), 1);
      const handle = this.#core.create(this.#options.space, this.#graphDims, capacity, this.#options.m, this.#options.efConstruction, this.#options.seed, true);
      try {
        // The stored rows are the inputs: insert their projections, leave the store as it is.
        const stage: PcaStage = { model: modelRef, space: this.#options.space, store: null };
        for (let start = 0; start < labels.length; start += kRebuildChunkRows) {
          throwIfAborted(signal);
          const end = Math.min(labels.length, start + kRebuildChunkRows);
          const data = new Float32Array(new SharedArrayBuffer((end - start) * inputDims * 4));
          const chunk = new Uint32Array(new SharedArrayBuffer((end - start) * 4));
          for (let i = start; i < end; i++) {
            chunk[i - start] = labels[i] as number;
            readFullRow(ref, labels[i] as number, data.subarray((i - start) * inputDims, (i - start + 1) * inputDims));
          }
          await this.#insertRows(handle, data, chunk, stage, signal);
        }
      } catch (error) {
        this.#core.free(handle);
        throw error;
      }
      const old = this.#handle;
      this.#handle = handle;
      pca.model = model;
      pca.ref = modelRef;
      pca.fitMs = reply.durationMs;
      // Searches dispatched before the swap still read the old graph.
      await Promise.allSettled([...this.#searches]);
      this.#core.free(old);
      return this.#fitSummary(pca, reply.durationMs, labels.length);
    });
  }

  /**
   * Marks items deleted; searches never return them again and their graph
   * slots are reused by later inserts once deleted elements make up a fifth
   * of the graph. Unknown ids fail per item.
   * @param ids - the ids.
   * @returns one outcome per id.
   * @throws {TypeError} when `ids` is not an array.
   */
  async delete(ids: readonly string[]): Promise<IndexItemOutcome[]> {
    this.#checkOpen();
    if (!Array.isArray(ids)) throw new TypeError(`ids must be an array of strings, got ${ids === null ? 'null' : typeof ids}`);
    return this.#serial(async () => {
      this.#ensureDocs();
      return ids.map((id) => {
        if (typeof id !== 'string') return failed(null, 'INVALID_ID', 'id must be a string');
        const label = this.#idToLabel.get(id);
        if (label === undefined) return failed(id, 'NOT_FOUND', 'id is not in the index');
        // A vector still buffered for the PCA fit is not in the graph yet.
        if (this.#pca?.pending.delete(label) !== true) this.#core.markDelete(this.#handle, label);
        this.#forget(label);
        return { state: 'ok', id } as const;
      });
    });
  }

  #searchParams(options: SearchOptions): SearchParams {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    this.#ensureDocs();
    const count = this.#liveCount;
    if (count === 0) throw new RangeError('the index is empty');
    const k = options.k ?? Math.min(10, count);
    if (typeof k !== 'number' || !Number.isInteger(k)) throw new TypeError(`options.k must be an integer in [1, ${count}], got ${String(k)}`);
    if (k < 1 || k > count) throw new RangeError(`options.k must be an integer in [1, ${count}] (the index holds ${count} items), got ${k}`);
    const ef = options.ef ?? Math.max(this.#options.efSearch, k);
    if (typeof ef !== 'number' || !Number.isInteger(ef)) throw new TypeError(`options.ef must be an integer in [${k}, 1048576], got ${String(ef)}`);
    if (ef < k || ef > 1_048_576) throw new RangeError(`options.ef must be an integer in [k = ${k}, 1048576], got ${ef}`);
    const store = this.#pca?.store ?? null;
    let rerank = 0;
    if (options.rerankFactor !== undefined) {
      const factor: unknown = options.rerankFactor;
      if (typeof factor !== 'number' || !Number.isInteger(factor)) throw new TypeError(`options.rerankFactor must be an integer in [0, 1000], got ${String(factor)}`);
      if (factor < 0 || factor > 1000) throw new RangeError(`options.rerankFactor must be an integer in [0, 1000], got ${factor}`);
      if (factor > 0 && store === null) throw new RangeError('options.rerankFactor needs a PCA index that keeps full vectors (created with pca.rerank true)');
      rerank = factor;
    } else if (store !== null) rerank = this.#pca?.options.rerankFactor ?? 0;
    return { k, ef, filter: this.#filterBits(options), rerank: Math.min(kMaxK, k * rerank) };
  }

  #filterBits(options: SearchOptions): Uint8Array | undefined {
    const { namespace, filter } = options;
    if (namespace === undefined && filter === undefined) return undefined;
    const key = JSON.stringify([namespace, filter]);
    if (this.#filterCache?.key === key && this.#filterCache.mutations === this.#mutations) return this.#filterCache.bits;
    let bits: LabelBitset | undefined;
    if (namespace !== undefined) {
      const names = typeof namespace === 'string' ? [namespace] : namespace;
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw new TypeError('options.namespace must be a string or an array of strings');
      bits = new LabelBitset(this.#nextLabel);
      for (const n of names) {
        const ns = this.#namespaces.get(n);
        if (ns !== undefined) bits.or(ns);
      }
    }
    if (filter !== undefined) {
      const test = compileFilter(filter);
      const matching = new LabelBitset(this.#nextLabel);
      for (let label = 0; label < this.#docs.length; label++) {
        const d = this.#docs[label];
        if (d !== undefined && test(d.metadata)) matching.set(label);
      }
      if (bits === undefined) bits = matching;
      else bits.and(matching);
    }
    const out = bits?.bytes ?? new Uint8Array(1);
    this.#filterCache = { key, mutations: this.#mutations, bits: out };
    return out;
  }

  #checkedQuery(q: Float32Array): Float32Array {
    const dims = this.#options.dims;
    if (q.length !== dims) throw new RangeError(`query 0 has ${q.length} dims, the index has ${dims}`);
    for (let d = 0; d < dims; d++) if (!Number.isFinite(q[d])) throw new RangeError(`query 0 component ${d} is ${String(q[d])}`);
    return q;
  }

  async #queryVectors(queries: readonly (string | Float32Array)[], signal?: AbortSignal): Promise<Float32Array> {
    const dims = this.#options.dims;
    const out = new Float32Array(new SharedArrayBuffer(Math.max(1, queries.length) * dims * 4));
    const textAt: number[] = [];
    const texts: string[] = [];
    queries.forEach((q, i) => {
      if (typeof q === 'string') {
        textAt.push(i);
        texts.push(q);
      } else if (q instanceof Float32Array) {
        if (q.length !== dims) throw new RangeError(`query ${i} has ${q.length} dims, the index has ${dims}`);
        for (let d = 0; d < dims; d++) if (!Number.isFinite(q[d])) throw new RangeError(`query ${i} component ${d} is ${String(q[d])}`);
        out.set(q, i * dims);
      } else throw new TypeError(`query ${i} must be a string or a Float32Array`);
    });
    if (texts.length > 0) {
      if (dims !== this.#host.model.dims) throw new RangeError(`the index has ${dims} dims but the model embeds ${this.#host.model.dims}; search with vectors`);
      const r = await this.#host.embed(texts, signal);
      r.items.forEach((item, j) => {
        if (item.state !== 'ok') throw new VecforgeError('ERR_INVALID_INPUT', `query ${textAt[j] ?? j} cannot be embedded: ${item.reason ?? 'failed'}`);
        out.set(r.vectors.subarray(j * dims, (j + 1) * dims), (textAt[j] ?? 0) * dims);
      });
    }
    return out;
  }

  #hits(r: HnswSearchResult, q: number, k: number): Hit[] {
    const hits: Hit[] = [];
    const n = r.counts[q] ?? 0;
    for (let j = 0; j < n; j++) {
      const label = r.labels[q * k + j] ?? kHnswNoLabel;
      const doc = label === kHnswNoLabel ? undefined : this.#docs[label];
      if (doc === undefined) continue;
      const distance = r.distances[q * k + j] ?? Number.POSITIVE_INFINITY;
      const score = this.#options.space === 'l2' ? -distance : 1 - distance;
      hits.push({ id: doc.id, score, namespace: doc.namespace, metadata: doc.metadata });
    }
    return hits;
  }

  /**
   * Finds the k nearest items to a text or a vector.
   * @param query - a text (embedded on the pool) or a vector of the index dims.
   * @param options - k, ef, namespace, filter, signal.
   * @returns hits, best first.
   * @throws {RangeError} for k ≤ 0, k > count, ef < k, wrong dims.
   * @throws {AbortError} when cancelled.
   */
  async search(query: string | Float32Array, options: SearchOptions = {}): Promise<Hit[]> {
    this.#checkOpen();
    throwIfAborted(options.signal);
    const params = this.#searchParams(options);
    const { k, ef, filter } = params;
    const q = query instanceof Float32Array ? this.#checkedQuery(query) : await this.#queryVectors([query], options.signal);
    if (this.#pca !== null) {
      // PCA: the query is projected (and the candidates reranked) on the pool.
      await this.#ready(options.signal);
      const shared = q.buffer instanceof SharedArrayBuffer ? q : sharedCopy(q);
      return this.#hits(await this.#searchOnPool(shared, 1, params, options.signal), 0, k);
    }
    // A small search runs inline: the hop to a libuv thread and back costs
    // about as much as the search itself. Larger ones, and any this index's
    // own inline timings say would take over kInlineSearchMaxMs, run off the
    // main thread so the event loop stays free.
    if (this.#graphLoad !== null) await this.#graphLoad;
    let inline = !this.#core.sharedAcrossThreads || ef * this.#graphDims <= kInlineSearchBudget;
    if (inline && ef * this.#inlineMsPerEf > kInlineSearchMaxMs) {
      // Every 16th such search still runs inline, so that one slow outlier
      // (a cold page, a preempted thread) cannot send them all away for good.
      inline = ++this.#timedOut % 16 === 0;
    }
    let r: HnswSearchResult;
    if (inline) {
      const started = performance.now();
      r = this.#core.searchKnn(this.#handle, q, k, ef, filter);
      const perEf = (performance.now() - started) / ef;
      // A moving average per unit of ef, so small searches keep it current.
      this.#inlineMsPerEf = Number.isNaN(this.#inlineMsPerEf) ? perEf : 0.9 * this.#inlineMsPerEf + 0.1 * perEf;
    } else r = await this.#core.searchKnnAsync(this.#handle, q, k, ef, filter);
    if (options.signal?.aborted === true) throw new AbortError(options.signal.reason);
    return this.#hits(r, 0, k);
  }

  /**
   * Searches many queries on the pool in parallel.
   * @param queries - texts or vectors, or one row-major Float32Array of nq × dims.
   * @param options - as for search.
   * @returns one hit list per query.
   */
  async searchBatch(queries: readonly (string | Float32Array)[] | Float32Array, options: SearchOptions = {}): Promise<Hit[][]> {
    this.#checkOpen();
    throwIfAborted(options.signal);
    const params = this.#searchParams(options);
    const dims = this.#options.dims;
    let q: Float32Array;
    if (queries instanceof Float32Array) {
      if (queries.length % dims !== 0) throw new RangeError(`queries length ${queries.length} is not a multiple of dims ${dims}`);
      q = new Float32Array(new SharedArrayBuffer(Math.max(1, queries.length) * 4));
      q.set(queries);
    } else if (Array.isArray(queries)) q = await this.#queryVectors(queries, options.signal);
    else throw new TypeError('queries must be an array of texts or vectors, or a Float32Array');
    const nq = queries instanceof Float32Array ? queries.length / dims : queries.length;
    if (nq === 0) return [];
    await this.#ready(options.signal);
    const r = await this.#searchOnPool(q, nq, params, options.signal);
    return Array.from({ length: nq }, (_, i) => this.#hits(r, i, params.k));
  }

  /** Searches `nq` queries (input dims, on shared memory): pool workers in parallel, or here when the core cannot be shared. */
  async #searchOnPool(q: Float32Array, nq: number, params: SearchParams, signal?: AbortSignal): Promise<HnswSearchResult> {
    const { k, ef, filter, rerank } = params;
    // Read together, before any await: a refit swaps both.
    const handle = this.#handle;
    const stage = this.#pcaStage();
    const dims = this.#options.dims;
    if (!this.#core.sharedAcrossThreads) {
      const rows = q.subarray(0, nq * dims);
      if (stage === null) return this.#core.searchKnn(handle, rows, k, ef, filter);
      const tf = await loadTf(this.#host.backend);
      return searchProjected((r, width, e) => this.#core.searchKnn(handle, r, width, e, filter), rows, k, ef, stage, rerank, tf);
    }
    const outLabels = new SharedArrayBuffer(nq * k * 4);
    const outDistances = new SharedArrayBuffer(nq * k * 4);
    const outCounts = new SharedArrayBuffer(nq * 4);
    let filterSab: SharedArrayBuffer | null = null;
    if (filter !== undefined) {
      filterSab = new SharedArrayBuffer(filter.length);
      new Uint8Array(filterSab).set(filter);
    }
    // One task per worker, all claiming runs of the queries from one shared
    // cursor (see handleSearch): the work spreads evenly whatever each
    // query costs. Counts start at a sentinel, so a query whose run was lost
    // with a crashed worker is found below and searched again.
    const workers = Math.min(this.#host.workers, nq);
    const counts = new Uint32Array(outCounts);
    counts.fill(kUnsearched);
    const cursor = new SharedArrayBuffer(4);
    const tasks: Array<Promise<unknown>> = [];
    for (let t = 0; t < workers; t++) {
      tasks.push(
        this.#track(
          this.#host.scheduler.run(
            { kind: 'search', handle, queries: q.buffer as SharedArrayBuffer, dims, start: 0, end: nq, k, ef, filter: filterSab, outLabels, outDistances, outCounts, pca: stage, rerankCandidates: rerank, cursor, sharers: workers },
            signal,
          ),
        ),
      );
    }
    await Promise.all(tasks);
    for (let i = 0; i < nq; i++) {
      if (counts[i] !== kUnsearched) continue;
      let j = i + 1;
      while (j < nq && counts[j] === kUnsearched) j++;
      await this.#track(
        this.#host.scheduler.run({ kind: 'search', handle, queries: q.buffer as SharedArrayBuffer, dims, start: i, end: j, k, ef, filter: filterSab, outLabels, outDistances, outCounts, pca: stage, rerankCandidates: rerank }, signal),
      );
      i = j - 1;
    }
    return { labels: new Uint32Array(outLabels), distances: new Float32Array(outDistances), counts };
  }

  /** Registers a pool search, so a refit or close waits for it before freeing what it reads. */
  #track<T>(task: Promise<T>): Promise<T> {
    this.#searches.add(task);
    task.then(
      () => this.#searches.delete(task),
      () => this.#searches.delete(task),
    );
    return task;
  }

  /**
   * Embeds one query once and searches several namespaces in parallel: one
   * call for "all memory types at once".
   * @param query - a text or a vector.
   * @param options - `namespaces`: name → k; `ef`, `filter`, `signal`.
   * @returns name → hits.
   */
  async retrieveAll(
    query: string | Float32Array,
    options: { namespaces: Readonly<Record<string, number>>; ef?: number; filter?: MetadataFilter; signal?: AbortSignal },
  ): Promise<Record<string, Hit[]>> {
    this.#checkOpen();
    if (options === null || typeof options !== 'object' || options.namespaces === null || typeof options.namespaces !== 'object') {
      throw new TypeError('options.namespaces must be an object of namespace → k');
    }
    throwIfAborted(options.signal);
    this.#ensureDocs();
    const q = await this.#queryVectors([query], options.signal);
    await this.#ready(options.signal);
    const entries = Object.entries(options.namespaces);
    const results = await Promise.all(
      entries.map(async ([name, k]) => {
        const ns = this.#namespaces.get(name);
        let nsCount = 0;
        if (ns !== undefined) for (const b of ns.bytes) nsCount += popcount(b);
        if (nsCount === 0) return [name, []] as const;
        const params = this.#searchParams({ k: Math.min(k, nsCount), namespace: name, ...(options.ef !== undefined ? { ef: Math.max(options.ef, Math.min(k, nsCount)) } : {}), ...(options.filter !== undefined ? { filter: options.filter } : {}) });
        let r: HnswSearchResult;
        if (this.#pca !== null) r = await this.#searchOnPool(q, 1, params, options.signal);
        else if (this.#core.sharedAcrossThreads) r = await this.#core.searchKnnAsync(this.#handle, q, params.k, params.ef, params.filter);
        else r = this.#core.searchKnn(this.#handle, q, params.k, params.ef, params.filter);
        return [name, this.#hits(r, 0, params.k)] as const;
      }),
    );
    return Object.fromEntries(results);
  }

  /**
   * Statistics.
   * @returns counts, dims, parameters, bytes per vector and, for a PCA
   *   index, dims before and after, explained variance, bytes per vector
   *   with and without PCA, and the full vectors' memory and disk use.
   */
  stats(): IndexStats {
    this.#checkOpen();
    this.#ensureDocs();
    const info = this.#core.getInfo(this.#syncHandle());
    const m = this.#options.m;
    const namespaces: Record<string, number> = {};
    for (const [name, bits] of this.#namespaces) {
      let n = 0;
      for (const b of bits.bytes) n += popcount(b);
      namespaces[name] = n;
    }
    return {
      count: this.#liveCount,
      deleted: info.deleted,
      dims: this.#options.dims,
      space: this.#options.space,
      capacity: info.maxElements,
      bytesPerVector: graphBytesPerVector(m, this.#graphDims),
      params: { m, efConstruction: this.#options.efConstruction, efSearch: this.#options.efSearch },
      namespaces,
      core: this.#core.kind,
      version: this.#version,
      pca: this.#pcaStats(),
    };
  }

  #pcaStats(): IndexPcaStats | null {
    const pca = this.#pca;
    if (pca === null) return null;
    const { inputDims, dims: outputDims } = pca.options;
    const store = pca.store;
    const inMemory = store !== null && store.storage === 'memory' ? store.rowBytes : 0;
    const model = pca.model;
    let zero = 0;
    if (model !== null) for (const v of model.explainedVariance) if (v === 0) zero++;
    return {
      state: model === null ? 'sampling' : 'fitted',
      inputDims,
      outputDims,
      sampleSize: pca.options.sample,
      seen: pca.sampler?.seen ?? null,
      pending: pca.pending.size,
      fittedOn: model?.fittedOn ?? null,
      explainedVarianceRatio: model?.explainedVarianceRatio ?? null,
      zeroVarianceComponents: model === null ? null : zero,
      fitMs: pca.fitMs > 0 ? pca.fitMs : null,
      rerank: pca.options.rerank,
      rerankFactor: pca.options.rerankFactor,
      rerankStorage: pca.options.rerankStorage,
      bytesPerVector: { withPca: graphBytesPerVector(this.#options.m, outputDims) + inMemory, withoutPca: graphBytesPerVector(this.#options.m, inputDims) },
      vectorBytesPerVector: { withPca: 4 * outputDims + inMemory, withoutPca: 4 * inputDims },
      fullVectors:
        store === null
          ? null
          : {
              encoding: kFullVectorEncoding,
              bytesPerRow: store.rowBytes,
              rows: this.#nextLabel,
              memoryBytes: store.memoryBytes,
              diskBytes: store.workingFileBytes,
              savedBytes: this.#nextLabel * store.rowBytes,
            },
    };
  }

  /**
   * Saves a new version: graph, doc store and, with PCA, the model
   * (`pca.model`) and the full vectors (`full-vectors.f16`) are written
   * into a fresh version directory, checksummed, and published by swapping
   * `current`. A PCA index that still samples is fitted first (an empty one
   * is saved unfitted). The previous version stays readable until the new
   * one is complete.
   * @returns the version name.
   * @throws {VecforgeError} ERR_PCA when a PCA index holds fewer vectors than the fit needs.
   */
  async save(): Promise<string> {
    this.#checkOpen();
    return this.#serial(async () => {
      this.#ensureDocs();
      const pca = this.#pca;
      if (pca !== null && (pca.pending.size > 0 || (pca.model === null && this.#liveCount > 0))) await this.#fitLocked();
      const dir = this.#options.dir;
      const version = nextVersionDir(dir);
      const graph = join(version.path, 'graph.hnsw');
      // A pool worker writes the graph while this thread writes the doc store.
      const savingGraph = this.#core.sharedAcrossThreads
        ? this.#host.scheduler.run({ kind: 'save-graph', handle: this.#handle, path: graph, space: this.#options.space, dims: this.#graphDims, maxElements: 0 })
        : null;
      // hnswlib writes through a plain stream: the graph is flushed to disk
      // (on a libuv thread) as soon as this thread sees the worker done,
      // while it goes on with the doc store, before the manifest names it.
      const syncingGraph = savingGraph === null ? null : savingGraph.then(() => fsyncFile(graph));
      syncingGraph?.catch(() => {});
      const docsPath = join(version.path, 'docs.lmdb');
      const base = this.#docsBase !== null && existsSync(this.#docsBase) ? this.#docsBase : null;
      let docsEntry: FileEntry;
      let graphEntry: FileEntry;
      try {
        // Records of removed labels stay in their segments until a full
        // rewrite, once they outnumber the live ones; a store of an older
        // layout is rewritten whole too.
        const compact = this.#nextLabel > 2 * this.#liveCount + kDocSegmentLabels;
        const incremental = base !== null && !compact && (await DocStore.isCurrentLayout(base));
        // Published files are never written again (versions share them by
        // hard links), so the changes go into a copy of the last version's
        // store. lmdb's commit fsyncs the file, copied pages included. The
        // copy runs on a libuv thread: this one sees the graph written
        // meanwhile. A full rewrite starts from an empty file instead: in a
        // copy, lmdb would keep every old page as free space, doubling the
        // file that every later open checksums and every later save copies.
        if (incremental) await copyFile(base, docsPath, fsConstants.COPYFILE_FICLONE);
        const store = DocStore.open(docsPath);
        try {
          store.save(this.#docs, incremental ? this.#docsWritten : null);
        } finally {
          await store.close();
        }
        // Checksummed while the worker may still be writing the graph.
        docsEntry = hashFile(docsPath);
        if (syncingGraph !== null) await savingGraph;
        else {
          this.#core.save(this.#handle, graph);
          await fsyncFile(graph);
        }
        // Checksummed while it may still be flushing.
        graphEntry = hashFile(graph);
      } finally {
        await syncingGraph?.catch(() => {});
      }
      await syncingGraph;
      const files = ['graph.hnsw', 'docs.lmdb'];
      let section: PcaManifestSection | null = null;
      if (pca !== null) {
        if (pca.model !== null) {
          await savePcaModel(join(version.path, kPcaModelFile), pca.model);
          files.push(kPcaModelFile);
        }
        if (pca.store !== null) {
          pca.store.saveTo(join(version.path, kFullVectorsFile), this.#nextLabel);
          files.push(kFullVectorsFile);
        }
        const o = pca.options;
        section = {
          inputDims: o.inputDims,
          outputDims: o.dims,
          sample: o.sample,
          rerank: o.rerank,
          rerankFactor: o.rerankFactor,
          rerankStorage: o.rerankStorage,
          seed: o.seed,
          model: pca.model === null ? null : { file: kPcaModelFile, fittedOn: pca.model.fittedOn, explainedVarianceRatio: pca.model.explainedVarianceRatio },
          fullVectors: pca.store === null ? null : { file: kFullVectorsFile, encoding: kFullVectorEncoding, dims: o.inputDims, rows: this.#nextLabel },
        };
      }
      const info = this.#core.getInfo(this.#handle);
      const manifest: IndexManifest = {
        format: 'vecforge-index',
        formatVersion: kIndexFormatVersion,
        createdAt: new Date().toISOString(),
        model: this.#options.dims === this.#host.model.dims ? { id: this.#host.model.id, dims: this.#host.model.dims } : null,
        space: this.#options.space,
        dims: this.#graphDims,
        params: { m: this.#options.m, efConstruction: this.#options.efConstruction, efSearch: this.#options.efSearch },
        counts: { count: this.#liveCount, deleted: info.deleted, nextLabel: this.#nextLabel, capacity: info.maxElements },
        files: { 'graph.hnsw': graphEntry, 'docs.lmdb': docsEntry, ...hashFiles(version.path, files.filter((f) => f !== 'docs.lmdb' && f !== 'graph.hnsw')) },
        extra: section === null ? {} : { pca: section },
      };
      publishVersion(dir, version, manifest);
      this.#version = version.name;
      this.#docsSaved(docsPath);
      this.#unsaved = false;
      return version.name;
    });
  }

  /**
   * Points this index at a copy of the version it last saved (or opened),
   * in another directory: the current version of `dir`, whose files must be
   * those of that version (hard links or copies; the caller checks that by
   * the manifests' checksums, and the doc store, which later saves start
   * from, is checked against its manifest here). Later saves go to `dir`.
   * What a job does to reuse the index it published instead of opening the
   * copy from disk.
   * @internal
   * @param dir - an index directory whose current version is the copy.
   * @returns nothing.
   * @throws {VecforgeError} ERR_INDEX when the index has changes since its last save, was never saved, or has PCA; ERR_INDEX_CORRUPT when the copy's doc store does not match its manifest.
   */
  async rebase(dir: string): Promise<void> {
    this.#checkOpen();
    await this.#queue;
    if (this.#graphLoad !== null) await this.#graphLoad;
    if (this.#unsaved || this.#version === null || this.#pca !== null) throw new VecforgeError('ERR_INDEX', 'only a saved index without PCA and without unsaved changes can be rebased');
    this.#ensureDocs();
    const version = readVersionManifest(dir);
    verifyVersionFiles(dir, version, ['docs.lmdb']);
    this.#options = Object.freeze({ ...this.#options, dir });
    this.#version = version.name;
    this.#docsSaved(join(version.path, 'docs.lmdb'));
  }

  /**
   * Waits for a graph opened with `lazyGraph` to finish loading (at once
   * for any other index).
   * @internal
   * @returns nothing.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the graph file fails its checksum or does not load; ERR_CLOSED when the index is closed.
   */
  async graphLoaded(): Promise<void> {
    this.#checkOpen();
    if (this.#graphLoad !== null) await this.#graphLoad;
  }

  /** Whether the index can be rebased (see {@link VectorIndex.rebase}). */
  get rebaseable(): boolean {
    return !this.#closed && !this.#unsaved && this.#version !== null && this.#pca === null;
  }

  /** Records the doc store file that now holds every record: later saves start from it. */
  #docsSaved(path: string): void {
    this.#docsBase = path;
    this.#docsWritten.clear();
  }

  *#liveRecords(): Generator<readonly [number, DocRecord]> {
    for (let label = 0; label < this.#docs.length; label++) {
      const d = this.#docs[label];
      if (d !== undefined) yield [label, d] as const;
    }
  }

  /**
   * The stored record of an id.
   * @param id - the id.
   * @returns its namespace, metadata and content hash, or undefined.
   */
  get(id: string): DocRecord | undefined {
    this.#ensureDocs();
    const label = this.#idToLabel.get(id);
    return label === undefined ? undefined : this.#docs[label];
  }

  /**
   * Every id in the index.
   * @returns the ids.
   */
  ids(): string[] {
    this.#ensureDocs();
    return [...this.#idToLabel.keys()];
  }

  /**
   * The stored vector of an id, in the input dims (unit-normalised in
   * cosine indexes), usable as a query. With PCA: the kept full vector
   * (half precision) or the one buffered for the fit; undefined when the
   * index keeps no full vectors (`pca.rerank: false`), see
   * {@link VectorIndex.getProjectedVector}.
   * @param id - the id.
   * @returns a copy of the vector, or undefined.
   */
  getVector(id: string): Float32Array | undefined {
    this.#ensureDocs();
    const label = this.#idToLabel.get(id);
    if (label === undefined) return undefined;
    const pca = this.#pca;
    if (pca === null) return this.#core.getVector(this.#syncHandle(), label);
    const pending = pca.pending.get(label);
    if (pending !== undefined) return pending.slice();
    if (pca.store === null) return undefined;
    return readFullRow(pca.store.ref(), label, new Float32Array(this.#options.dims));
  }

  /**
   * The graph's vector of an id: with PCA, its projection (`pca.dims`
   * values, re-normalised for cosine and ip); without, as `getVector`.
   * @param id - the id.
   * @returns a copy, or undefined (also for a vector still buffered for the PCA fit).
   */
  getProjectedVector(id: string): Float32Array | undefined {
    this.#ensureDocs();
    const label = this.#idToLabel.get(id);
    if (label === undefined || this.#pca?.pending.has(label) === true) return undefined;
    return this.#core.getVector(this.#syncHandle(), label);
  }

  /** Releases the graph (and the full vectors' memory or working file). Unsaved changes are lost. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    await Promise.allSettled([...this.#searches]);
    // A lazily opened graph is freed once it has loaded; one that failed to load holds nothing.
    if (this.#graphLoad !== null) await this.#graphLoad.catch(() => {});
    if (this.#graphError === null) this.#core.free(this.#handle);
    this.#pca?.store?.close();
  }
}

/**
 * hnswlib's bytes per element: level 0 holds links (2M ids + count), the
 * vector and the label; upper levels average 1/(M−1) extra link lists.
 * @param m - HNSW links per node.
 * @param dims - dims of the graph's vectors.
 * @returns bytes per element, as `index.stats().bytesPerVector` reports it.
 */
export function graphBytesPerVector(m: number, dims: number): number {
  const level0 = (2 * m + 1) * 4 + dims * 4 + 8;
  const upper = ((m + 1) * 4) / Math.max(1, m - 1) + 8;
  return Math.round(level0 + upper);
}

/** Flushes a file to disk (on a libuv thread). */
async function fsyncFile(path: string): Promise<void> {
  const handle = await openFile(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A copy of a vector on shared memory, for pool tasks. */
function sharedCopy(v: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(Math.max(1, v.length) * 4), 0, v.length);
  out.set(v);
  return out;
}

function popcount(b: number): number {
  let n = 0;
  for (let x = b; x !== 0; x &= x - 1) n++;
  return n;
}
