/**
 * The doc store: label ↔ id ↔ namespace ↔ metadata ↔ content hash, in lmdb.
 * This is the only file importing lmdb.
 *
 * Records are kept in segments of {@link kDocSegmentLabels} consecutive
 * labels, one lmdb value each, plus a bitset of the live labels. A save
 * rewrites only the segments holding labels written since the last one:
 * labels are never reused, so new records land in the last segments, and a
 * removal only clears its bit.
 *
 * Layouts: 1 was one value per label (the `docs` database); 2 stored each
 * segment as a msgpack array of record objects; 3, written now, stores
 * each segment by columns (doc-segments.ts). Stores of layouts 1 and 2 are
 * still read, and are rewritten in layout 3 by the next save.
 */
import { statSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { VecforgeError } from '../errors.js';
import { encodeSegment, hasBit, kDocLayout, kDocSegmentLabels, SegmentReader, setBit, type SegmentHead } from './doc-segments.js';
import { checkLmdbFile } from './lmdb-check.js';
import type { DocRecord } from './record.js';

export { kDocSegmentLabels } from './doc-segments.js';
export { jsonEqual, sameContent, type DocRecord } from './record.js';

/** Layout 2: segments of record objects. */
const kRecordSegmentLayout = 2;
const kLayoutKey = 'layout';
const kLiveKey = 'live';

/** Every live record of a store, as opening an index needs them. */
export interface DocTable {
  /** Records by label, up to the last live one; undefined where a label has no live record. */
  readonly records: Array<DocRecord | undefined>;
  /** Live records. */
  readonly count: number;
  /** Bitset of the labels in `records` (bit `label & 7` of byte `label >> 3`). */
  readonly live: Uint8Array;
  /** Bitset of the labels of each namespace, as `live`. */
  readonly namespaces: ReadonlyMap<string, Uint8Array>;
}


/** An lmdb doc store file. */
export class DocStore {
  readonly #root: RootDatabase;
  /** Layout 1: label → record. */
  readonly #docs: Database<DocRecord, number>;
  /** Layout 2: segment number → records of its labels. */
  readonly #segments: Database<Array<DocRecord | null>, number> | undefined;
  /** Layout 3: segment number → its columns (binary, see {@link SegmentHead}). */
  readonly #columns: Database<Buffer, number> | undefined;
  readonly #info: Database<unknown, string> | undefined;

  private constructor(root: RootDatabase) {
    this.#root = root;
    // Opened read-only, a store of layout 1 has no segments or info
    // database, and lmdb gives none back.
    this.#docs = root.openDB<DocRecord, number>({ name: 'docs', keyEncoding: 'uint32' });
    this.#segments = root.openDB<Array<DocRecord | null>, number>({ name: 'segments', keyEncoding: 'uint32' }) as Database<Array<DocRecord | null>, number> | undefined;
    // The same database, read and written as bytes.
    this.#columns = root.openDB<Buffer, number>({ name: 'segments', keyEncoding: 'uint32', encoding: 'binary' }) as Database<Buffer, number> | undefined;
    this.#info = root.openDB<unknown, string>({ name: 'info' }) as Database<unknown, string> | undefined;
  }

  /**
   * Opens (or creates) a store file.
   * @param path - the lmdb data file (no sub-directory; a `-lock` file sits beside it).
   * @param readOnly - open without write access.
   * @returns the store.
   * @throws {VecforgeError} ERR_IO when lmdb cannot open it; ERR_INDEX_CORRUPT when the file is not one lmdb can map safely.
   */
  static open(path: string, readOnly = false): DocStore {
    // lmdb trusts every byte of the file it maps: an existing one is checked first.
    if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) > 0) checkLmdbFile(path);
    try {
      return new DocStore(open({ path, noSubdir: true, readOnly, compression: false, maxDbs: 4 }));
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot open doc store ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /**
   * Whether a store file is in the layout {@link DocStore.save} writes, so
   * that a save can update a copy of it rather than rewrite every record.
   * @param path - the lmdb data file.
   * @returns true for layout 3.
   * @throws {VecforgeError} ERR_IO when lmdb cannot open it.
   */
  static async isCurrentLayout(path: string): Promise<boolean> {
    const store = DocStore.open(path, true);
    try {
      return store.layout === kDocLayout;
    } finally {
      await store.close();
    }
  }

  /** The store's layout: 1 (also for an empty store), 2 or 3. */
  get layout(): number {
    const layout = this.#info?.get(kLayoutKey);
    return typeof layout === 'number' ? layout : 1;
  }

  /**
   * Saves records, in one transaction. `changed` null (or a store not yet
   * in layout 3) rewrites everything; otherwise only the segments holding
   * a changed label are rewritten, and the live bitset.
   * @param docs - every record by label (undefined: no record).
   * @param changed - labels written since the store last matched `docs`, or null.
   * @throws {VecforgeError} ERR_IO when the store is open read-only.
   */
  save(docs: ReadonlyArray<DocRecord | undefined>, changed: Iterable<number> | null): void {
    const segmentsDb = this.#segments;
    const columnsDb = this.#columns;
    const info = this.#info;
    if (segmentsDb === undefined || columnsDb === undefined || info === undefined) throw new VecforgeError('ERR_IO', 'the doc store is open read-only');
    const full = changed === null || this.layout !== kDocLayout;
    const segments = new Set<number>();
    if (full) for (let s = 0; s * kDocSegmentLabels < docs.length; s++) segments.add(s);
    else for (const label of changed) segments.add(Math.floor(label / kDocSegmentLabels));
    const live = Buffer.alloc(Math.ceil(docs.length / 8));
    for (let label = 0; label < docs.length; label++) if (docs[label] !== undefined) setBit(live, label);
    this.#root.transactionSync(() => {
      if (full) {
        for (const key of [...this.#docs.getKeys()]) void this.#docs.remove(key);
        for (const key of [...segmentsDb.getKeys()]) void segmentsDb.remove(key);
      }
      for (const s of segments) {
        const start = s * kDocSegmentLabels;
        void columnsDb.put(s, encodeSegment(docs.slice(start, Math.min(docs.length, start + kDocSegmentLabels))));
      }
      void info.put(kLiveKey, live);
      void info.put(kLayoutKey, kDocLayout);
    });
  }

  /**
   * Reads every live record, with the bitsets opening an index needs.
   * @returns the records by label, their count, and the live and per-namespace bitsets.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the store has segments but no live bitset, or a segment does not decode.
   */
  readTable(): DocTable {
    const layout = this.layout;
    if (layout !== kDocLayout && layout !== kRecordSegmentLayout) return this.#readLabels();
    const segments = this.#segments;
    const columns = this.#columns;
    const live = this.#info?.get(kLiveKey);
    if (segments === undefined || columns === undefined || !(live instanceof Uint8Array)) throw new VecforgeError('ERR_INDEX_CORRUPT', 'the doc store has segments but no live-label set');
    const table = new TableBuilder(live);
    if (layout === kDocLayout) {
      for (const key of [...columns.getKeys({ snapshot: false })]) {
        // A view of lmdb's read buffer, valid until its next read: decoded
        // (copied into strings and msgpack values) before that.
        const bytes = columns.getBinaryFast(key);
        if (bytes !== undefined) table.addColumns(key * kDocSegmentLabels, bytes);
      }
      return table.done();
    }
    for (const { key, value } of segments.getRange({ snapshot: false })) {
      const start = key * kDocSegmentLabels;
      for (let j = 0; j < value.length; j++) {
        const record = value[j];
        if (record !== null && record !== undefined) table.add(start + j, record);
      }
    }
    return table.done();
  }

  /**
   * Visits every live record, in label order.
   * @param visit - called with each label and record.
   * @returns the records visited.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT as {@link DocStore.readTable}.
   */
  readAll(visit: (label: number, record: DocRecord) => void): number {
    const { records, count } = this.readTable();
    for (let label = 0; label < records.length; label++) {
      const record = records[label];
      if (record !== undefined) visit(label, record);
    }
    return count;
  }

  /** Layout 1: one value per label, every one live. */
  #readLabels(): DocTable {
    const entries: Array<{ key: number; value: DocRecord }> = [];
    for (const entry of this.#docs.getRange({ snapshot: false })) entries.push(entry);
    const last = entries[entries.length - 1];
    const live = new Uint8Array(Math.ceil((last === undefined ? 0 : last.key + 1) / 8));
    for (const { key } of entries) setBit(live, key);
    const table = new TableBuilder(live);
    for (const { key, value } of entries) table.add(key, value);
    return table.done();
  }

  /** Flushes and closes. */
  async close(): Promise<void> {
    await this.#root.close();
  }
}

/** Collects the live records of a store in label order, with the namespace bitsets. */
class TableBuilder {
  /** The stored live bitset. */
  readonly #live: Uint8Array;
  /** The labels added: live, with a record. */
  readonly #added: Uint8Array;
  readonly #records: Array<DocRecord | undefined> = [];
  readonly #namespaces = new Map<string, Uint8Array>();
  #count = 0;

  /** @param live - the stored live bitset: records of other labels are skipped. */
  constructor(live: Uint8Array) {
    this.#live = live;
    this.#added = new Uint8Array(live.length);
  }

  #bitset(namespace: string): Uint8Array {
    let bits = this.#namespaces.get(namespace);
    if (bits === undefined) {
      bits = new Uint8Array(this.#live.length);
      this.#namespaces.set(namespace, bits);
    }
    return bits;
  }

  /** Pads the records up to `label` with undefined: the array's elements stay packed, where a jump past many labels would not keep them so. */
  #padTo(label: number): void {
    const records = this.#records;
    while (records.length < label) records.push(undefined);
  }

  /**
   * Adds a record, when its label is live.
   * @param label - its label; labels come in increasing order.
   * @param record - the record.
   */
  add(label: number, record: DocRecord): void {
    // Past the live set (a damaged key): no live record, and `label >> 3` would wrap past 2^31.
    if (label >= this.#live.length * 8 || !hasBit(this.#live, label)) return;
    this.#padTo(label);
    this.#records.push(record);
    setBit(this.#bitset(record.namespace), label);
    setBit(this.#added, label);
    this.#count++;
  }

  /**
   * Adds the live records of a layout 3 segment.
   * @param start - the segment's first label.
   * @param bytes - the segment (see {@link SegmentHead}); read before anything else reads lmdb.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the segment does not decode.
   */
  addColumns(start: number, bytes: Uint8Array): void {
    // Every segment a save writes lies within the live set, which covers every label ever given;
    // one past it is a damaged key (and `label >> 3` would wrap past 2^31).
    const segments = Math.max(1, Math.ceil((this.#live.length * 8) / kDocSegmentLabels));
    if (start >= segments * kDocSegmentLabels) {
      throw new VecforgeError('ERR_INDEX_CORRUPT', `doc store segment ${start / kDocSegmentLabels} lies past the live-label set (${this.#live.length * 8} labels)`);
    }
    const segment = new SegmentReader(bytes, start / kDocSegmentLabels);
    const { head } = segment;
    const namespaceOf = segment.uint16s(head.namespaceOf);
    const names = head.namespaces;
    const bitsets = names.map((name) => this.#bitset(name));
    const ids = segment.strings(head.ids);
    const hashes = segment.strings(head.hashes);
    const metadata = segment.metadata(head.metadata);
    const live = this.#live;
    const added = this.#added;
    const records = this.#records;
    const rows = Math.min(head.rows, namespaceOf.length);
    for (let i = 0; i < rows; i++) {
      const ns = (namespaceOf[i] as number) - 1;
      const label = start + i;
      const byte = label >> 3;
      const bit = 1 << (label & 7);
      if (ns < 0 || ((live[byte] as number) & bit) === 0) continue;
      if (records.length < label) this.#padTo(label);
      records.push({ id: ids[i] ?? '', namespace: names[ns] as string, metadata: metadata(i), hash: hashes[i] ?? null });
      const bits = bitsets[ns] as Uint8Array;
      bits[byte] = (bits[byte] as number) | bit;
      added[byte] = (added[byte] as number) | bit;
      this.#count++;
    }
  }

  /** @returns the table. */
  done(): DocTable {
    return { records: this.#records, count: this.#count, live: this.#added, namespaces: this.#namespaces };
  }
}

