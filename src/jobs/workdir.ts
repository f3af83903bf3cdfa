/**
 * A job's working state inside the index directory:
 *
 * ```
 * DIR/.lock                  the pid of the job that owns DIR
 * DIR/errors.jsonl           per-item failures of the latest job
 * DIR/.job/checkpoint.json   what the job is, and how far it got
 * DIR/.job/work/             the index being built: its own versioned index
 *                            directory, saved at every checkpoint
 * ```
 *
 * Checkpoints save into `.job/work`, never into DIR, so DIR's `current`
 * version stays the last published one, searchable and unchanged, until the
 * job publishes its result as a new version in one atomic rename.
 *
 * A checkpoint is written in two steps so that a kill between any two
 * instructions leaves a state that resumes correctly: checkpoint.json first
 * records the progress as `pending` (with the work version it follows),
 * then the work index is saved, then checkpoint.json records it as
 * `committed`. On resume, the work index's `current` tells which of the two
 * the last save reached.
 */
import { hash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from '../errors.js';
import { currentVersion, nextVersionDir, publishVersion, type IndexManifest } from '../index/persist.js';
import { writeFileAtomicSync } from '../store/atomic.js';
import { kLineDigestBytes, type KnownLineLookup, type RecordPosition } from './sources.js';
import { loadNativeMatchDigests } from '../index/hnsw/native-core.js';

/** Bumped whenever checkpoint.json changes shape. */
export const kCheckpointFormatVersion = 1;

/** Counters of a job. */
export interface JobCounts {
  /** Records read (ok or failed; blank lines excluded). */
  read: number;
  /** New ids added to the index. */
  added: number;
  /** Ids whose text, namespace or metadata changed, upserted. */
  updated: number;
  /** Ids whose content is unchanged (reindex only). */
  unchanged: number;
  /** Ids removed because the input no longer has them (reindex only). */
  deleted: number;
  /** Records written to errors.jsonl. */
  failed: number;
  /** Texts embedded by the model (the rest came from the embedding cache). */
  embedded: number;
  /** Vectors found in the embedding cache. */
  cacheHits: number;
}

/** How far a job got, as saved by a checkpoint. */
export interface Progress {
  /** The work index version holding this progress; null before the first save of a build. */
  readonly version: string | null;
  /** The last record processed. */
  readonly position: RecordPosition;
  /** Bytes of errors.jsonl belonging to this progress. */
  readonly errorsBytes: number;
  readonly counts: JobCounts;
}

/** checkpoint.json. */
export interface Checkpoint {
  readonly format: 'vecforge-checkpoint';
  readonly formatVersion: number;
  /** What the job is: a resume must match it exactly. */
  readonly fingerprint: Readonly<Record<string, unknown>>;
  readonly phase: 'running' | 'publishing';
  readonly committed: Progress;
  readonly pending: (Progress & { readonly afterVersion: string | null }) | null;
  readonly updatedAt: string;
}

/** Paths of a job's state. */
export interface JobPaths {
  readonly dir: string;
  readonly jobDir: string;
  readonly workDir: string;
  readonly checkpoint: string;
  readonly errors: string;
}

/**
 * The paths of a job on an index directory.
 * @param dir - the index directory.
 * @returns the paths.
 */
export function jobPaths(dir: string): JobPaths {
  const jobDir = join(dir, '.job');
  return { dir, jobDir, workDir: join(jobDir, 'work'), checkpoint: join(jobDir, 'checkpoint.json'), errors: join(dir, 'errors.jsonl') };
}

/** The zero counters. */
export function zeroCounts(): JobCounts {
  return { read: 0, added: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0, embedded: 0, cacheHits: 0 };
}

/**
 * Reads checkpoint.json.
 * @param paths - the job paths.
 * @returns the checkpoint, or undefined when missing or unreadable.
 */
export function readCheckpoint(paths: JobPaths): Checkpoint | undefined {
  if (!existsSync(paths.checkpoint)) return undefined;
  try {
    const cp = JSON.parse(readFileSync(paths.checkpoint, 'utf8')) as Checkpoint;
    if (cp.format !== 'vecforge-checkpoint' || cp.formatVersion !== kCheckpointFormatVersion) return undefined;
    return cp;
  } catch {
    return undefined;
  }
}

/**
 * Writes checkpoint.json atomically (temporary file, fsync, rename).
 * @param paths - the job paths.
 * @param cp - the checkpoint.
 */
export function writeCheckpoint(paths: JobPaths, cp: Omit<Checkpoint, 'format' | 'formatVersion' | 'updatedAt'>): void {
  const full: Checkpoint = { format: 'vecforge-checkpoint', formatVersion: kCheckpointFormatVersion, ...cp, updatedAt: new Date().toISOString() };
  writeFileAtomicSync(paths.checkpoint, `${JSON.stringify(full, null, 2)}\n`);
}

/**
 * The progress a checkpoint stands for, given where the work index's
 * `current` points.
 * @param paths - the job paths.
 * @param cp - the checkpoint.
 * @returns the progress to resume from, or undefined when the work
 *   directory does not match the checkpoint (start over).
 */
export function resumableProgress(paths: JobPaths, cp: Checkpoint): Progress | undefined {
  let current: string | null;
  try {
    current = currentVersion(paths.workDir)?.name ?? null;
  } catch {
    return undefined;
  }
  if (current === cp.committed.version) return cp.committed;
  // The save of the pending checkpoint landed; checkpoint.json was not yet rewritten.
  if (cp.pending !== null && current !== null && cp.pending.afterVersion === cp.committed.version) {
    const { afterVersion: _after, ...progress } = cp.pending;
    return { ...progress, version: current };
  }
  return undefined;
}

/**
 * Removes a job's working state (not the lock, not errors.jsonl).
 * @param paths - the job paths.
 */
export function clearJob(paths: JobPaths): void {
  rmSync(paths.jobDir, { recursive: true, force: true });
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    // No hard links here (another filesystem, or a filesystem without them).
    copyFileSync(from, to);
  }
}

/**
 * Reads the manifest of the current version of an index directory (not
 * verified: opening the index verifies it).
 * @param dir - the index directory.
 * @returns the version and its manifest, or undefined when there is none.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT when the manifest does not parse.
 */
export function currentManifest(dir: string): { name: string; path: string; manifest: IndexManifest } | undefined {
  const version = currentVersion(dir);
  if (version === undefined) return undefined;
  try {
    return { ...version, manifest: JSON.parse(readFileSync(join(version.path, 'manifest.json'), 'utf8')) as IndexManifest };
  } catch (error) {
    throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: manifest of ${version.name} is missing or not valid JSON`, { cause: error });
  }
}

/**
 * Copies the current version of `from` into `to` as its first version:
 * files are hard-linked (published files are never written again), so
 * this costs no copy of the data.
 * @param from - a published index directory.
 * @param to - an empty directory for the copy.
 * @returns the version name in `to`.
 * @throws {VecforgeError} ERR_INDEX when `from` holds no index.
 */
export function forkIndex(from: string, to: string): string {
  const source = currentManifest(from);
  if (source === undefined) throw new VecforgeError('ERR_INDEX', `${from} holds no published index (no "current" file)`);
  mkdirSync(to, { recursive: true });
  const version = nextVersionDir(to);
  for (const name of Object.keys(source.manifest.files)) linkOrCopy(join(source.path, name), join(version.path, name));
  publishVersion(to, version, source.manifest);
  return version.name;
}

/**
 * Publishes the current version of the work index as a new version of the
 * index directory: files hard-linked, manifest (with `extra`) written, then
 * `current` swapped atomically.
 * @param workDir - the work index directory.
 * @param dir - the index directory.
 * @param extra - sections added to the manifest's `extra`.
 * @returns the new version name in `dir`.
 * @throws {VecforgeError} ERR_INDEX when the work index holds no version; ERR_IO when a write fails.
 */
export function publishWork(workDir: string, dir: string, extra: Readonly<Record<string, unknown>>, lines: Buffer | null = null): string {
  const work = currentManifest(workDir);
  if (work === undefined) throw new VecforgeError('ERR_INDEX', `the job's work index ${workDir} holds no saved version`);
  const version = nextVersionDir(dir);
  let more = extra;
  try {
    for (const name of Object.keys(work.manifest.files)) linkOrCopy(join(work.path, name), join(version.path, name));
    if (lines !== null) {
      const bytes = lines;
      // Not fsynced: a snapshot lost or torn by a crash fails its checksum and is not used.
      writeFileSync(join(version.path, kLineSnapshotFile), bytes);
      const job = (extra.job ?? {}) as Readonly<Record<string, unknown>>;
      const entry: LineSnapshotEntry = { file: kLineSnapshotFile, bytes: bytes.length, sha256: hash('sha256', bytes, 'hex') };
      more = { ...extra, job: { ...job, lines: entry } };
    }
  } catch (error) {
    rmSync(version.path, { recursive: true, force: true });
    throw new VecforgeError('ERR_IO', `cannot write ${version.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  publishVersion(dir, version, { ...work.manifest, createdAt: new Date().toISOString(), extra: { ...work.manifest.extra, ...more } });
  return version.name;
}

/**
 * The input lines behind a published version: for every JSONL line a job
 * read whose record the version holds exactly as that line makes it (added,
 * updated or unchanged; not failed), the digest of the line's bytes and the
 * record's id. The next reindex of the same input skips decoding, parsing
 * and hashing the text of every line whose bytes it finds here.
 *
 * It is valid only for the version it was published with and only under
 * the same reading settings (`key`: model, field names, limits): a line's
 * bytes then determine its record. It lives in the version directory
 * (`input-lines.bin`), outside the index's own files; its size and SHA-256
 * are in the manifest's `extra.job.lines`, and it is checked before use.
 */
export interface LineSnapshot {
  /** The reading settings the lines were read under. */
  readonly key: string;
  /** lineDigest of each line, concatenated ({@link kLineDigestBytes} bytes each). */
  readonly digests: Uint8Array;
  /** The id of each line's record. */
  readonly ids: readonly string[];
}

/** Where a version's line snapshot is, in `extra.job.lines`. */
export interface LineSnapshotEntry {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The line snapshot's file name in a version directory. */
export const kLineSnapshotFile = 'input-lines.bin';
const kLineSnapshotMagic = 'VFLINES3';
/** How far from where the last known line was found the next is looked for. */
const kLookBehind = 2;
const kLookAhead = 8;

/**
 * Encodes a line snapshot: magic, count (u32 LE), key length (u32 LE), key
 * (UTF-8), the digests ({@link kLineDigestBytes} bytes each), the ids as a
 * JSON array. (Version 2, with base64 digests, is no longer read: a job
 * given one reads every line in full, once.)
 * @param lines - the snapshot.
 * @returns the file's bytes.
 */
export function encodeLineSnapshot(lines: LineSnapshot): Buffer {
  if (lines.digests.length !== lines.ids.length * kLineDigestBytes) throw new RangeError(`line snapshot: ${lines.digests.length / kLineDigestBytes} digests but ${lines.ids.length} ids`);
  const key = Buffer.from(lines.key, 'utf8');
  const head = Buffer.alloc(16);
  head.write(kLineSnapshotMagic, 0, 'latin1');
  head.writeUInt32LE(lines.ids.length, 8);
  head.writeUInt32LE(key.length, 12);
  return Buffer.concat([head, key, lines.digests, Buffer.from(JSON.stringify(lines.ids), 'utf8')]);
}

/**
 * The lines of a snapshot, looked up in input order: a reindex reads its
 * input mostly as the last job did, so each line is first compared with
 * the few known lines around where the previous one was found (eight
 * int32 comparisons each), then looked up among all of them (a table by
 * the digest's first int32), so a moved line, or the lines after a removed
 * block, are found too. A line found nowhere is read in full.
 */
export class KnownLines implements KnownLineLookup {
  readonly #digests: Uint8Array;
  /** The same bytes as int32s (a copy, aligned), 8 per digest. */
  readonly #digests32: Int32Array;
  readonly #ids: readonly string[];
  /** Where the next line is expected, and the window around it: [next, behind, ahead]. */
  readonly #cursor = new Int32Array([0, kLookBehind, kLookAhead]);
  readonly #match = loadNativeMatchDigests();
  /** Every known digest by its first int32 (see {@link KnownLines.find}); built on first use. */
  #table: Int32Array | null = null;
  #positions: Map<string, number> | null = null;

  /**
   * @param digests - the known lines' digests, {@link kLineDigestBytes} bytes each.
   * @param ids - the id of each known line's record.
   */
  constructor(digests: Uint8Array, ids: readonly string[]) {
    if (digests.length !== ids.length * kLineDigestBytes) throw new RangeError(`KnownLines: ${digests.length} digest bytes for ${ids.length} ids`);
    this.#digests32 = new Int32Array(digests.length / 4);
    this.#digests = new Uint8Array(this.#digests32.buffer);
    this.#digests.set(digests);
    this.#ids = ids;
  }

  /** Lines known. */
  get size(): number {
    return this.#ids.length;
  }

  /**
   * The id of a known line.
   * @param position - its place.
   * @returns the id.
   */
  idAt(position: number): string {
    return this.#ids[position] ?? '';
  }

  /**
   * The digests of consecutive known lines.
   * @param position - the first line's place.
   * @param count - lines.
   * @returns their digests, concatenated.
   */
  digestsOf(position: number, count: number): Uint8Array {
    return this.#digests.subarray(position * kLineDigestBytes, (position + count) * kLineDigestBytes);
  }

  /**
   * Whether a known place is in the window {@link KnownLines.positionOf}
   * searches first around `near`.
   * @param position - a known place.
   * @param near - where a line is expected.
   * @returns true when it is.
   */
  isNear(position: number, near: number): boolean {
    return position >= near - kLookBehind && position < near + kLookAhead;
  }

  /**
   * The place of the known line of an id: looked for around `near` first
   * (a changed line usually replaces the known line where it was
   * expected), then in a map built on the first such miss.
   * @param id - an id.
   * @param near - where the line is expected, if known.
   * @returns its place, or undefined.
   */
  positionOf(id: string, near = -1): number | undefined {
    if (near >= 0) {
      const from = Math.max(0, near - kLookBehind);
      const to = Math.min(this.#ids.length, near + kLookAhead);
      if (this.#ids[near] === id) return near;
      for (let j = from; j < to; j++) if (this.#ids[j] === id) return j;
    }
    if (this.#positions === null) {
      this.#positions = new Map();
      this.#ids.forEach((known, i) => this.#positions?.set(known, i));
    }
    return this.#positions.get(id);
  }

  /**
   * The known line with this digest, looked for near the last one found.
   * @param digests - line digests, 8 int32s each.
   * @param at - which of them to look for.
   * @returns its place, or -1.
   */
  find(digests: Int32Array, at: number): number {
    const n = this.#ids.length;
    const next = this.#cursor[0] ?? 0;
    const from = Math.max(0, next - kLookBehind);
    const to = Math.min(n, next + kLookAhead);
    // The expected position first, then the rest of the window.
    let found = next < n && this.#same(digests, at, next) ? next : -1;
    for (let j = from; found < 0 && j < to; j++) if (this.#same(digests, at, j)) found = j;
    if (found < 0) {
      // Anywhere else: a line moved, or the first after lines removed or added.
      const table = this.#digestTable();
      const mask = table.length - 1;
      for (let h = (digests[at * 8] ?? 0) & mask; found < 0 && (table[h] ?? 0) !== 0; h = (h + 1) & mask) {
        const place = (table[h] ?? 0) - 1;
        if (this.#same(digests, at, place)) found = place;
      }
    }
    // Not found: most likely a changed line, whose old version was the expected one.
    this.#cursor[0] = found < 0 ? next + 1 : found + 1;
    return found;
  }

  /**
   * {@link KnownLines.find} for each of the first `count` digests, in
   * order (natively where the addon allows).
   * @param digests - line digests, 8 int32s each.
   * @param count - how many.
   * @param positions - receives each one's place, or -1.
   */
  findBlock(digests: Int32Array, count: number, positions: Int32Array): void {
    if (this.#match !== undefined) {
      this.#match(this.#digests32, this.#cursor, digests, count, positions, this.#digestTable());
      return;
    }
    for (let i = 0; i < count; i++) positions[i] = this.find(digests, i);
  }

  /**
   * The known digests by their first int32: open addressing, slots hold
   * place + 1 (0: empty), at most half full.
   * @returns the table.
   */
  #digestTable(): Int32Array {
    if (this.#table !== null) return this.#table;
    const n = this.#ids.length;
    let size = 2;
    while (size < 2 * n) size *= 2;
    const table = new Int32Array(size);
    const mask = size - 1;
    const known = this.#digests32;
    for (let place = 0; place < n; place++) {
      let h = (known[place * 8] ?? 0) & mask;
      while ((table[h] ?? 0) !== 0) h = (h + 1) & mask;
      table[h] = place + 1;
    }
    this.#table = table;
    return table;
  }

  /** Whether digest `at` of `digests` is the known line `position`'s. */
  #same(digests: Int32Array, at: number, position: number): boolean {
    const a = at * 8;
    const b = position * 8;
    const known = this.#digests32;
    for (let k = 0; k < 8; k++) if (digests[a + k] !== known[b + k]) return false;
    return true;
  }
}

/**
 * Whether a published version names a line snapshot (not read or checked).
 * @param version - the version's manifest.
 * @returns true when its manifest has an `extra.job.lines` entry.
 */
export function hasLineSnapshot(version: { manifest: IndexManifest }): boolean {
  const job = version.manifest.extra.job as { lines?: Partial<LineSnapshotEntry> } | undefined;
  return job?.lines?.file === kLineSnapshotFile;
}

/**
 * Reads the line snapshot of a published version, if it has one that
 * matches `key` and its checksum.
 * @param version - the version's directory and manifest.
 * @param key - the reading settings of the job about to use it.
 * @returns the known lines, or null when there is no usable snapshot (the job then reads every line in full).
 */
export function readLineSnapshot(version: { path: string; manifest: IndexManifest }, key: string): KnownLines | null {
  const job = version.manifest.extra.job as { lines?: Partial<LineSnapshotEntry> } | undefined;
  const entry = job?.lines;
  if (entry === undefined || entry.file !== kLineSnapshotFile || typeof entry.bytes !== 'number' || typeof entry.sha256 !== 'string') return null;
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(version.path, kLineSnapshotFile));
  } catch {
    return null;
  }
  if (bytes.length !== entry.bytes || bytes.length < 16 || hash('sha256', bytes, 'hex') !== entry.sha256) return null;
  if (bytes.toString('latin1', 0, 8) !== kLineSnapshotMagic) return null;
  const count = bytes.readUInt32LE(8);
  const keyEnd = 16 + bytes.readUInt32LE(12);
  const digestsEnd = keyEnd + count * kLineDigestBytes;
  if (digestsEnd > bytes.length || bytes.toString('utf8', 16, keyEnd) !== key) return null;
  let ids: unknown;
  try {
    ids = JSON.parse(bytes.toString('utf8', digestsEnd));
  } catch {
    return null;
  }
  if (!Array.isArray(ids) || ids.length !== count || !ids.every((id) => typeof id === 'string')) return null;
  return new KnownLines(bytes.subarray(keyEnd, digestsEnd), ids as string[]);
}

/**
 * Whether the current version of `dir` holds exactly the files of the
 * current work version (a publish that completed before a crash).
 * @param workDir - the work index directory.
 * @param dir - the index directory.
 * @returns true when their files' checksums are equal.
 */
export function workIsPublished(workDir: string, dir: string): boolean {
  const work = currentManifest(workDir);
  const published = currentManifest(dir);
  if (work === undefined || published === undefined) return false;
  const a = work.manifest.files;
  const b = published.manifest.files;
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((n) => a[n]?.sha256 === b[n]?.sha256);
}
