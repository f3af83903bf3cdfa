/**
 * The index a job last published, kept open in memory for the next job on
 * the same directory with the same engine (a reindex run by a long-lived
 * process, every few minutes, say): that job then skips verifying,
 * loading and decoding the version it starts from, which it would read
 * back exactly as this index holds it.
 *
 * One index per process at most: a job that keeps its index releases the
 * one kept before. A kept index is used only while the directory's
 * current version is still the one it published, with the same
 * checksums; anything else (another process published, a checkpoint to
 * resume, a full rebuild) closes it and the job opens the index from disk.
 */
import { onEngineClose, type Engine } from '../engine.js';
import type { IndexManifest } from '../index/persist.js';
import type { VectorIndex } from '../index/vector-index.js';
import { jobIndexHandle } from '../index/internal.js';

interface Kept {
  readonly engine: Engine;
  readonly dir: string;
  readonly version: string;
  readonly files: IndexManifest['files'];
  readonly index: VectorIndex;
  /** Removes the hook that releases it when its engine closes. */
  readonly unhook: () => void;
}

let kept: Kept | null = null;

/**
 * Keeps a job's index after it published it as `version` of `dir`,
 * releasing the index kept before.
 * @param engine - the engine the index runs on.
 * @param dir - the index directory (resolved).
 * @param published - the version published and its manifest.
 * @param index - the index, saved, holding exactly that version.
 * @returns nothing.
 */
export async function keepIndex(engine: Engine, dir: string, published: { name: string; manifest: IndexManifest }, index: VectorIndex): Promise<void> {
  const before = kept;
  // Closing the engine releases the index (its graph and doc store) with it.
  const unhook = onEngineClose(engine, () => releaseKeptIndex(dir));
  kept = { engine, dir, version: published.name, files: published.manifest.files, index, unhook };
  before?.unhook();
  if (before !== null && before.index !== index) await before.index.close().catch(() => {});
}

/**
 * Takes the kept index of `dir` when it holds the directory's current
 * version; otherwise releases any kept index of `dir`.
 * @param engine - the engine of the job asking.
 * @param dir - the index directory (resolved).
 * @param current - its current version and manifest, or undefined.
 * @returns the index (no longer kept: the caller owns it), or undefined.
 */
export async function takeKeptIndex(engine: Engine, dir: string, current: { name: string; manifest: IndexManifest } | undefined): Promise<VectorIndex | undefined> {
  const k = kept;
  if (k === null || k.dir !== dir) return undefined;
  kept = null;
  k.unhook();
  if (k.engine === engine && current !== undefined && current.name === k.version && sameFiles(k.files, current.manifest.files) && jobIndexHandle(k.index).rebaseable) return k.index;
  await k.index.close().catch(() => {});
  return undefined;
}

/**
 * Releases the kept index, if any (of `dir` only, when given).
 * @param dir - the index directory, or undefined for any.
 * @returns nothing.
 */
export async function releaseKeptIndex(dir?: string): Promise<void> {
  const k = kept;
  if (k === null || (dir !== undefined && k.dir !== dir)) return;
  kept = null;
  k.unhook();
  await k.index.close().catch(() => {});
}

function sameFiles(a: IndexManifest['files'], b: IndexManifest['files']): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((n) => a[n]?.sha256 === b[n]?.sha256 && a[n]?.bytes === b[n]?.bytes);
}
