/**
 * Creating and opening an index: the state of an empty index, and of a
 * published version whose files are checked against the manifest before
 * any of them reaches native code. The graph may load on a pool worker
 * while this thread decodes the doc store (and, for a job, after open
 * returns); the doc store may be decoded on first use.
 */
import { existsSync } from 'node:fs';
import { ensureUsableDir } from '../io/usable-dir.js';
import { join } from 'node:path';
import { VecforgeError, errorMessage } from '../errors.js';
import { parsePcaManifestSection } from '../pca/index-options.js';
import { IndexPcaRuntime } from '../pca/index-runtime.js';
import { DocStore, type DocTable } from '../store/doc-store.js';
import { loadHnswCore } from './hnsw/native-core.js';
import { LabelTable } from './labels.js';
import { LexicalState, parseLexicalSection } from './lexical/store.js';
import { boolOption, kDefaultIndexOptions, kDefaultOpenIndexOptions, resolveIndexOptions } from './options.js';
import { currentVersion, fileMismatchError, readVersionManifest, verifyVersionFiles, type FileEntry } from './persist.js';
import { newIndexState, type IndexState } from './state.js';
import type { IndexHost, IndexOptions, ResolvedIndexOptions } from './types.js';

/** Open options, the public ones and those only jobs pass (see internal.ts). */
export interface ResolvedOpenOptions {
  readonly hugePages: boolean;
  /** Return while a pool worker still loads the graph. */
  readonly lazyGraph: boolean;
  /** Return before the doc store is decoded. */
  readonly lazyDocs: boolean;
}

/**
 * Checks open options.
 * @param options - the public options, and the job-only ones.
 * @returns the resolved options.
 * @throws {TypeError} naming an option that is not a boolean.
 */
export function resolveOpenOptions(options: { readonly hugePages?: unknown; readonly lazyGraph?: unknown; readonly lazyDocs?: unknown }): ResolvedOpenOptions {
  return {
    hugePages: boolOption('hugePages', options.hugePages, kDefaultOpenIndexOptions.hugePages),
    lazyGraph: boolOption('lazyGraph', options.lazyGraph, false),
    lazyDocs: boolOption('lazyDocs', options.lazyDocs, false),
  };
}

/**
 * The state of a new, empty index in `options.dir`.
 * @param host - the engine side.
 * @param options - index options.
 * @returns the state (nothing is written until a save).
 * @throws {TypeError | RangeError} for invalid options.
 * @throws {VecforgeError} ERR_INDEX when the directory already holds an index.
 */
export function createIndexState(host: IndexHost, options: IndexOptions): IndexState {
  const resolved = resolveIndexOptions(options, host.model.dims);
  if (existsSync(resolved.dir) && currentVersion(resolved.dir) !== undefined) {
    throw new VecforgeError('ERR_INDEX', `${resolved.dir} already holds an index; open it with engine.openIndex`);
  }
  // Checked with a bounded number of calls: a recursive mkdir never returns on /proc.
  ensureUsableDir(resolved.dir, { what: 'index directory' });
  const core = loadHnswCore();
  const pca = resolved.pca === null ? null : IndexPcaRuntime.create(resolved.pca, resolved.space, host.scheduler, resolved.dir);
  const graphDims = resolved.pca?.dims ?? resolved.dims;
  const handle = core.create(resolved.space, graphDims, resolved.capacity, resolved.m, resolved.efConstruction, resolved.seed, true);
  const lexical = resolved.lexical === null ? null : LexicalState.create(resolved.lexical);
  return newIndexState({ host, core, options: resolved, handle, nextLabel: 0, labels: new LabelTable(), pca, version: null, lexical });
}

/**
 * The state of the current version of an index directory. Every file is
 * checked against the manifest before any of it reaches native code; a PCA
 * model file whose dims disagree with the manifest is refused.
 * @param host - the engine side.
 * @param dir - the index directory.
 * @param open - resolved open options.
 * @returns the state.
 * @throws {VecforgeError} ERR_INDEX, ERR_INDEX_CORRUPT or ERR_INDEX_VERSION.
 */
export async function openIndexState(host: IndexHost, dir: string, open: ResolvedOpenOptions): Promise<IndexState> {
  const { hugePages, lazyGraph } = open;
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
  let pca: IndexPcaRuntime | null = null;
  let lexical: LexicalState | null = null;
  try {
    verifyVersionFiles(
      dir,
      version,
      Object.keys(manifest.files).filter((f) => f !== 'graph.hnsw'),
    );
    // Loaded on first use, once the doc store's live set is known (see lexical/store.ts).
    const lexicalSection = parseLexicalSection(manifest.extra?.lexical, Object.keys(manifest.files), `index ${dir}: ${name}/manifest.json`);
    if (lexicalSection === null) lexical = LexicalState.create();
    else if (lexicalSection !== false) lexical = LexicalState.deferred(path, lexicalSection, manifest.counts.nextLabel, dir);
    const section = parsePcaManifestSection(manifest.extra?.pca, manifest.dims, Object.keys(manifest.files), dir);
    pca = section === null ? null : await IndexPcaRuntime.open(section, manifest.space, host.scheduler, path, dir, manifest.counts.count);
    if (!open.lazyDocs || pca !== null) table = await readDocs(join(path, 'docs.lmdb'));
  } catch (error) {
    const loaded = await loading?.catch(() => null);
    if (loaded !== undefined && loaded !== null) core.free(loaded);
    pca?.close();
    throw error;
  }
  const lazy = lazyGraph && loading !== null;
  let handle = 0;
  if (!lazy) {
    try {
      handle = loading !== null ? await loading : core.load(graphPath, manifest.space, manifest.dims, manifest.counts.capacity, true, hugePages);
    } catch (error) {
      pca?.close();
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
    dims: pca?.options.inputDims ?? manifest.dims,
    seed: kDefaultIndexOptions.seed,
    pca: pca?.options ?? null,
    lexical: lexical?.options ?? null,
  });
  const s = newIndexState({ host, core, options, handle, nextLabel: manifest.counts.nextLabel, labels: new LabelTable(), pca, version: name, lexical });
  if (lazy && loading !== null) loadLater(s, loading);
  const docsPath = join(path, 'docs.lmdb');
  if (table === undefined) {
    s.labels.defer(docsPath, manifest.counts.count, dir);
    return s;
  }
  try {
    s.labels.take(table, docsPath, manifest.counts.count, dir);
    // Decoded with the doc store, so that a damaged segment refuses the open.
    s.lexical?.ensure((label) => s.labels.docs[label] !== undefined);
  } catch (error) {
    await releaseState(s);
    throw error;
  }
  return s;
}

/** Reads every record of a (verified) doc store file. */
async function readDocs(path: string): Promise<DocTable> {
  const store = DocStore.open(path, true);
  try {
    return store.readTable();
  } finally {
    await store.close();
  }
}

/** Takes the graph a pool worker is still loading (lazyGraph): operations that need it wait for `graphLoad`. */
function loadLater(s: IndexState, loading: Promise<number>): void {
  const load = loading.then(
    (handle) => {
      s.handle = handle;
      s.graphLoad = null;
    },
    (error: unknown) => {
      s.graphError = error;
      throw error;
    },
  );
  // Its failure is reported by the operations that wait for it.
  load.catch(() => {});
  s.graphLoad = load;
}

/**
 * The graph's handle for a synchronous operation.
 * @param s - the index.
 * @returns the handle.
 * @throws {VecforgeError} ERR_INDEX while a lazily opened graph is still loading; its load error when it failed to.
 */
export function syncHandle(s: IndexState): number {
  if (s.graphLoad !== null) {
    if (s.graphError !== null) throw s.graphError;
    throw new VecforgeError('ERR_INDEX', 'the graph of this index is still loading; await an operation that needs it (search, upsert, save) first');
  }
  return s.handle;
}

/**
 * Releases the graph (and the full vectors' memory or working file), once
 * no pool search reads it.
 * @param s - the index.
 */
export async function releaseState(s: IndexState): Promise<void> {
  await Promise.allSettled([...s.searches]);
  // A lazily opened graph is freed once it has loaded; one that failed to load holds nothing.
  if (s.graphLoad !== null) await s.graphLoad.catch(() => {});
  if (s.graphError === null) s.core.free(s.handle);
  s.pca?.close();
}
