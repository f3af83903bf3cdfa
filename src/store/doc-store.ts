/**
 * The doc store: label ↔ id ↔ namespace ↔ metadata ↔ content hash, in lmdb
 * (msgpackr encoding built in). This is the only file importing lmdb.
 *
 * Records are kept in segments of {@link kDocSegmentLabels} consecutive
 * labels, one lmdb value each (an array with null where a label has no
 * record), plus a bitset of the live labels. Opening decodes a few dozen
 * values instead of one per record (about ten times faster), and a save
 * rewrites only the segments holding labels written since the last one:
 * labels are never reused, so new records land in the last segments, and a
 * removal only clears its bit. Stores written before segments (one value
 * per label in the `docs` database) are still read, and are converted by
 * the next save.
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import { VecforgeError } from '../errors.js';

/** What the store keeps per label. */
export interface DocRecord {
  readonly id: string;
  readonly namespace: string;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  /** Content hash of the text the vector came from, or null for given vectors. */
  readonly hash: string | null;
}

/** Labels per segment. */
export const kDocSegmentLabels = 4096;
/** The layout this file writes: 2, segments (1 was one value per label). */
const kDocLayout = 2;
const kLayoutKey = 'layout';
const kLiveKey = 'live';

/** An lmdb doc store file. */
export class DocStore {
  readonly #root: RootDatabase;
  /** Layout 1: label → record. */
  readonly #docs: Database<DocRecord, number>;
  /** Layout 2: segment number → records of its labels. */
  readonly #segments: Database<Array<DocRecord | null>, number> | undefined;
  readonly #info: Database<unknown, string> | undefined;

  private constructor(root: RootDatabase) {
    this.#root = root;
    // Opened read-only, a store of the old layout has no segments or info
    // database, and lmdb gives none back.
    this.#docs = root.openDB<DocRecord, number>({ name: 'docs', keyEncoding: 'uint32' });
    this.#segments = root.openDB<Array<DocRecord | null>, number>({ name: 'segments', keyEncoding: 'uint32' }) as Database<Array<DocRecord | null>, number> | undefined;
    this.#info = root.openDB<unknown, string>({ name: 'info' }) as Database<unknown, string> | undefined;
  }

  /**
   * Opens (or creates) a store file.
   * @param path - the lmdb data file (no sub-directory; a `-lock` file sits beside it).
   * @param readOnly - open without write access.
   * @returns the store.
   * @throws {VecforgeError} ERR_IO when lmdb cannot open it.
   */
  static open(path: string, readOnly = false): DocStore {
    try {
      return new DocStore(open({ path, noSubdir: true, readOnly, compression: false, maxDbs: 4 }));
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot open doc store ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** Whether the store is in the segment layout (else it is empty or in the old one). */
  get #segmented(): boolean {
    return this.#info?.get(kLayoutKey) === kDocLayout;
  }

  /**
   * Saves records, in one transaction. `changed` null (or a store not yet
   * in the segment layout) rewrites everything; otherwise only the segments
   * holding a changed label are rewritten, and the live bitset.
   * @param docs - every record by label (undefined: no record).
   * @param changed - labels written since the store last matched `docs`, or null.
   */
  save(docs: ReadonlyArray<DocRecord | undefined>, changed: Iterable<number> | null): void {
    const segmentsDb = this.#segments;
    const info = this.#info;
    if (segmentsDb === undefined || info === undefined) throw new VecforgeError('ERR_IO', 'the doc store is open read-only');
    const full = changed === null || !this.#segmented;
    const segments = new Set<number>();
    if (full) for (let s = 0; s * kDocSegmentLabels < docs.length; s++) segments.add(s);
    else for (const label of changed) segments.add(Math.floor(label / kDocSegmentLabels));
    const live = Buffer.alloc(Math.ceil(docs.length / 8));
    for (let label = 0; label < docs.length; label++) if (docs[label] !== undefined) live[label >> 3] = (live[label >> 3] ?? 0) | (1 << (label & 7));
    this.#root.transactionSync(() => {
      if (full) {
        for (const key of [...this.#docs.getKeys()]) void this.#docs.remove(key);
        for (const key of [...segmentsDb.getKeys()]) void segmentsDb.remove(key);
      }
      for (const s of segments) {
        const start = s * kDocSegmentLabels;
        const end = Math.min(docs.length, start + kDocSegmentLabels);
        const records: Array<DocRecord | null> = [];
        for (let label = start; label < end; label++) records.push(docs[label] ?? null);
        void segmentsDb.put(s, records);
      }
      void info.put(kLiveKey, live);
      void info.put(kLayoutKey, kDocLayout);
    });
  }

  /**
   * Visits every live record, in label order.
   * @param visit - called with each label and record.
   * @returns the records visited.
   */
  readAll(visit: (label: number, record: DocRecord) => void): number {
    let n = 0;
    const segments = this.#segments;
    if (!this.#segmented || segments === undefined) {
      for (const { key, value } of this.#docs.getRange({ snapshot: false })) {
        visit(key, value);
        n++;
      }
      return n;
    }
    const live = this.#info?.get(kLiveKey);
    if (!(live instanceof Uint8Array)) throw new VecforgeError('ERR_INDEX_CORRUPT', 'the doc store has segments but no live-label set');
    for (const { key, value } of segments.getRange({ snapshot: false })) {
      const start = key * kDocSegmentLabels;
      for (let j = 0; j < value.length; j++) {
        const label = start + j;
        const record = value[j];
        if (record === null || record === undefined || ((live[label >> 3] ?? 0) & (1 << (label & 7))) === 0) continue;
        visit(label, record);
        n++;
      }
    }
    return n;
  }

  /** Flushes and closes. */
  async close(): Promise<void> {
    await this.#root.close();
  }
}
