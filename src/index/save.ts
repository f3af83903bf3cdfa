/**
 * Saving an index: a fresh version directory with the graph (written by a
 * pool worker while this thread writes the doc store), the doc store
 * (incremental from the last version's when it can be), the PCA files,
 * and the manifest, published by swapping `current`.
 */
import { constants as fsConstants, existsSync } from 'node:fs';
import { copyFile, open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PcaManifestSection } from '../pca/index-options.js';
import { VecforgeError } from '../errors.js';
import { acquireLock, type HeldLock } from '../store/dir-lock.js';
import { DocStore, kDocSegmentLabels } from '../store/doc-store.js';
import { lexicalOf } from './hybrid.js';
import { kDefaultSaveOptions, kSaveConflictModes } from './options.js';
import { currentVersion, hashFile, hashFiles, kIndexFormatVersion, nextVersionDir, publishVersion, type FileEntry, type IndexManifest } from './persist.js';
import type { IndexState } from './state.js';
import type { SaveOptions } from './types.js';

/** What a save does on a conflict (see `SaveOptions.onConflict`). */
export type SaveConflictMode = (typeof kSaveConflictModes)[number];

/**
 * Checks save options.
 * @param options - as given.
 * @returns the conflict mode.
 * @throws {TypeError} for options that are not an object; {RangeError} for an unknown `onConflict`.
 */
export function resolveSaveOptions(options: SaveOptions | undefined): SaveConflictMode {
  if (options === undefined) return kDefaultSaveOptions.onConflict;
  if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
  const mode: unknown = options.onConflict ?? kDefaultSaveOptions.onConflict;
  if (!(kSaveConflictModes as readonly unknown[]).includes(mode)) throw new RangeError(`options.onConflict must be one of ${kSaveConflictModes.join(', ')}, got ${String(mode)}`);
  return mode as SaveConflictMode;
}

/**
 * Writes and publishes a new version under the directory's lock (the one
 * jobs hold), after checking that no other version was published since the
 * index's base (the version it was opened at or last saved).
 * @param s - the index.
 * @param onConflict - what to do when another version was published.
 * @returns the version name.
 * @throws {VecforgeError} ERR_LOCKED while a job (or another save) holds the lock; ERR_CONFLICT when `current` moved and `onConflict` is `'error'`.
 */
export async function saveVersionLocked(s: IndexState, onConflict: SaveConflictMode): Promise<string> {
  const dir = s.options.dir;
  let lock: HeldLock;
  try {
    lock = acquireLock(dir, 'index.save()');
  } catch (error) {
    if (error instanceof VecforgeError && error.code === 'ERR_LOCKED') throw new VecforgeError('ERR_LOCKED', `cannot save the index in ${dir} now: ${error.message}`, { cause: error });
    throw error;
  }
  try {
    const current = currentVersion(dir)?.name ?? null;
    if (current !== s.version && onConflict === 'error') {
      throw new VecforgeError(
        'ERR_CONFLICT',
        `cannot save the index in ${dir}: version ${String(current)} was published there since this index ${s.version === null ? 'was created' : `was opened at ${s.version}`} (by a job or another handle), and saving would discard its changes; reopen the index and apply the changes again, or save({ onConflict: 'overwrite' }) to replace that version`,
      );
    }
    return await saveVersion(s);
  } finally {
    lock.release();
  }
}

/**
 * Writes and publishes a new version; runs inside the index's write queue,
 * after a PCA index has been fitted.
 * @param s - the index.
 * @returns the version name.
 */
export async function saveVersion(s: IndexState): Promise<string> {
  const { core, host, labels } = s;
  const dir = s.options.dir;
  const version = nextVersionDir(dir);
  const graph = join(version.path, 'graph.hnsw');
  // A pool worker writes the graph while this thread writes the doc store.
  const savingGraph = core.sharedAcrossThreads ? host.scheduler.run({ kind: 'save-graph', handle: s.handle, path: graph, space: s.options.space, dims: s.graphDims, maxElements: 0 }) : null;
  // hnswlib writes through a plain stream: the graph is flushed to disk
  // (on a libuv thread) as soon as this thread sees the worker done,
  // while it goes on with the doc store, before the manifest names it.
  const syncingGraph = savingGraph === null ? null : savingGraph.then(() => fsyncFile(graph));
  syncingGraph?.catch(() => {});
  const docsPath = join(version.path, 'docs.lmdb');
  const base = labels.base !== null && existsSync(labels.base) ? labels.base : null;
  let docsEntry: FileEntry;
  let graphEntry: FileEntry;
  try {
    // Records of removed labels stay in their segments until a full
    // rewrite, once they outnumber the live ones; a store of an older
    // layout is rewritten whole too.
    const compact = s.nextLabel > 2 * labels.liveCount + kDocSegmentLabels;
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
      store.save(labels.docs, incremental ? labels.written : null);
    } finally {
      await store.close();
    }
    // Checksummed while the worker may still be writing the graph.
    docsEntry = hashFile(docsPath);
    if (syncingGraph !== null) await savingGraph;
    else {
      core.save(s.handle, graph);
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
  if (s.pca !== null) {
    const saved = await s.pca.save(version.path, s.nextLabel);
    files.push(...saved.files);
    section = saved.section;
  }
  const lexical = lexicalOf(s);
  const lexicalSaved = lexical === null ? null : await lexical.save(version.path);
  const info = core.getInfo(s.handle);
  const manifest: IndexManifest = {
    format: 'vecforge-index',
    formatVersion: kIndexFormatVersion,
    createdAt: new Date().toISOString(),
    model: s.options.dims === host.model.dims ? { id: host.model.id, dims: host.model.dims } : null,
    space: s.options.space,
    dims: s.graphDims,
    params: { m: s.options.m, efConstruction: s.options.efConstruction, efSearch: s.options.efSearch },
    counts: { count: labels.liveCount, deleted: info.deleted, nextLabel: s.nextLabel, capacity: info.maxElements },
    files: { 'graph.hnsw': graphEntry, 'docs.lmdb': docsEntry, ...hashFiles(version.path, files.filter((f) => f !== 'docs.lmdb' && f !== 'graph.hnsw')), ...lexicalSaved?.files },
    extra: { ...(section === null ? {} : { pca: section }), lexical: lexicalSaved?.section ?? false },
  };
  publishVersion(dir, version, manifest);
  lexicalSaved?.commit();
  s.version = version.name;
  labels.saved(docsPath);
  return version.name;
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
