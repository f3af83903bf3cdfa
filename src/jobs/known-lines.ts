/**
 * Known lines: the snapshot of the input lines behind a published version
 * (their digests and ids), its file format, and the lookup a reindex
 * matches the lines it reads against.
 */
import { hash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { IndexManifest } from '../index/persist.js';
import { kLineDigestBytes, loadDigestMatcher } from './line-digests.js';
import type { KnownLineLookup } from './source-records.js';

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
  readonly #match = loadDigestMatcher();
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
      for (const [i, known] of this.#ids.entries()) this.#positions.set(known, i);
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
  const bytes = readSnapshotBytes(join(version.path, kLineSnapshotFile), entry.bytes);
  if (bytes === null || bytes.length < 16 || hash('sha256', bytes, 'hex') !== entry.sha256) return null;
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
 * Reads a snapshot file of exactly the size its manifest entry gives, and
 * only then allocates: a file of another size, not a regular file (a link
 * to /dev/zero, a FIFO) or unreadable is not used.
 * @param path - the file.
 * @param size - its size as the manifest has it.
 * @returns its bytes, or null.
 */
function readSnapshotBytes(path: string, size: number): Buffer | null {
  if (!Number.isSafeInteger(size) || size < 0) return null;
  let fd: number;
  try {
    // Non-blocking: opening a FIFO for reading would wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== size) return null;
    const bytes = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) return null;
      read += n;
    }
    return bytes;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** How a job uses and keeps the line snapshot (see {@link LineSnapshot}). */
export interface LineSettings {
  /** The reading settings that the snapshot is valid under. */
  readonly key: string;
  /** Read line digests and collect the snapshot to publish. */
  readonly collect: boolean;
  /** The base version's snapshot (incremental jobs). */
  known: KnownLines | null;
}

const kNoDigest = new Uint8Array(0);

/**
 * Lines kept for the snapshot, in line order: runs of the base version's
 * known lines (by place, their digests and ids copied from it when the
 * snapshot is made), and single lines with their own digest and id.
 */
export class KeptLines {
  /** First line of each entry. */
  readonly lines: number[] = [];
  /** Lines of each entry. */
  readonly counts: number[] = [];
  /** Each entry's first place among the known lines, or -1 for a single line. */
  readonly positions: number[] = [];
  /** Digest and id of each single line (empty for runs). */
  readonly digests: Uint8Array[] = [];
  readonly ids: string[] = [];

  /** Adds a single line. */
  push(line: number, digest: Uint8Array, id: string): void {
    this.#add(line, 1, -1, digest, id);
  }

  /** Adds lines `line`… that are the known lines at places `position`…. */
  pushRun(line: number, position: number, count: number): void {
    if (count > 0) this.#add(line, count, position, kNoDigest, '');
  }

  #add(line: number, count: number, position: number, digest: Uint8Array, id: string): void {
    this.lines.push(line);
    this.counts.push(count);
    this.positions.push(position);
    this.digests.push(digest);
    this.ids.push(id);
  }

  /**
   * Merges two lists, each in line order (no line in both), into the
   * digests and ids of their lines in line order.
   * @param a - one list.
   * @param b - the other.
   * @param known - the known lines the runs refer to.
   * @returns the digests, concatenated, and the ids.
   */
  static merge(a: KeptLines, b: KeptLines, known: KnownLines | null): { digests: Uint8Array; ids: string[] } {
    const digests: Uint8Array[] = [];
    const ids: string[] = [];
    let i = 0;
    let j = 0;
    while (i < a.lines.length || j < b.lines.length) {
      const fromA = j >= b.lines.length || (i < a.lines.length && (a.lines[i] ?? 0) < (b.lines[j] ?? 0));
      const from = fromA ? a : b;
      const k = fromA ? i++ : j++;
      const position = from.positions[k] ?? -1;
      if (position < 0) {
        digests.push(from.digests[k] ?? kNoDigest);
        ids.push(from.ids[k] ?? '');
        continue;
      }
      if (known === null) throw new Error('KeptLines.merge: a run of known lines without the known lines');
      const count = from.counts[k] ?? 0;
      digests.push(known.digestsOf(position, count));
      for (let p = position; p < position + count; p++) ids.push(known.idAt(p));
    }
    return { digests: Buffer.concat(digests), ids };
  }
}
