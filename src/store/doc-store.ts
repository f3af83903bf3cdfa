/**
 * The doc store: label ↔ id ↔ namespace ↔ metadata ↔ content hash, in lmdb.
 * This is the only file importing lmdb (and msgpackr, lmdb's encoding).
 *
 * Records are kept in segments of {@link kDocSegmentLabels} consecutive
 * labels, one lmdb value each, plus a bitset of the live labels. A save
 * rewrites only the segments holding labels written since the last one:
 * labels are never reused, so new records land in the last segments, and a
 * removal only clears its bit.
 *
 * Layouts: 1 was one value per label (the `docs` database); 2 stored each
 * segment as a msgpack array of record objects; 3, written now, stores
 * each segment by columns (see {@link encodeSegment}): ids and hashes as
 * one string each plus end offsets, namespaces as a dictionary and an index
 * per label, metadata as one column per key when every object of the
 * segment has the same keys. Opening then decodes a few large strings per
 * segment and slices each record's strings out of them in one loop,
 * instead of decoding every string and object on its own, which leaves
 * half the bytes for the garbage collector to copy. Stores of layouts 1
 * and 2 are still read, and are rewritten in layout 3 by the next save.
 */
import { statSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { Packr } from 'msgpackr';
import { VecforgeError } from '../errors.js';
import { checkLmdbFile } from './lmdb-check.js';

/** What the store keeps per label. */
export interface DocRecord {
  readonly id: string;
  readonly namespace: string;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  /** Content hash of the text the vector came from, or null for given vectors. */
  readonly hash: string | null;
}

/**
 * Whether two JSON-like values are equal, object keys in any order: how
 * metadata read back from the doc store is compared with new metadata
 * (msgpack may hand back keys in another order). Byte arrays compare by
 * content.
 * @param a - one value.
 * @param b - the other.
 * @returns true when equal.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/**
 * Whether a record holds the same content as another: the same content
 * hash (not null), namespace and metadata (null reads as no fields).
 * @param a - one record.
 * @param b - the other.
 * @returns true when an upsert of `b` over `a` would change nothing but the vector's slot.
 */
export function sameContent(a: Pick<DocRecord, 'hash' | 'namespace' | 'metadata'>, b: Pick<DocRecord, 'hash' | 'namespace' | 'metadata'>): boolean {
  return a.hash !== null && a.hash === b.hash && a.namespace === b.namespace && jsonEqual(a.metadata ?? {}, b.metadata ?? {});
}

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

/** Labels per segment. */
export const kDocSegmentLabels = 4096;
/** The layout this file writes: 3, column segments. */
const kDocLayout = 3;
/** Separators tried for a string column, the first its strings do not contain is used. */
const kSeparators = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));
/** Layout 2: segments of record objects. */
const kRecordSegmentLayout = 2;
const kLayoutKey = 'layout';
const kLiveKey = 'live';
/** Bytes of the head length that starts a layout 3 segment. */
const kHeadLengthBytes = 4;
/** Offsets and indexes are stored little-endian, read through typed array views where that is the machine's order. */
const kLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * msgpack as lmdb's default encoding sets it up (only `copyBuffers`, since
 * lmdb hands out buffers it reuses): metadata values come back exactly as
 * from a store of layout 2, Dates, undefined and binary included.
 */
const kPackr = new Packr({ copyBuffers: true });

/**
 * A column of strings, in a segment's head: the strings joined into one
 * text of one byte per UTF-16 code unit (latin1) when every unit fits,
 * else two (UTF-16LE), so any string, lone surrogates included, comes back
 * exactly. Joined with a separator none of them contains, so that one
 * native `split` gives them all back; where every code unit of latin1
 * occurs in them, by end offsets instead. Numbers are indexes of the
 * segment's blobs.
 */
interface StringColumnHead {
  readonly wide: boolean;
  readonly text: number;
  /** The code unit between the strings, or null: the strings are cut at `ends`. */
  readonly separator: string | null;
  /** Blob of a uint32 per row: where its string ends in the text, in code units; -1 with a separator. */
  readonly ends: number;
  /** Bitset of the rows whose value is null; -1 when none is. */
  readonly nulls: number;
}

/**
 * Metadata of a segment: `rows`, each object (or null) as msgpack encodes
 * it; or `fields`, when every object is a plain object with the same keys
 * in the same order: one column per key, a {@link StringColumnHead} when
 * every value is a string (or null), else the values as msgpack encodes them.
 */
type MetadataHead =
  | { readonly kind: 'rows'; readonly values: ReadonlyArray<Readonly<Record<string, unknown>> | null> }
  | { readonly kind: 'fields'; readonly keys: readonly string[]; readonly nulls: number; readonly fields: ReadonlyArray<StringColumnHead | readonly unknown[]> };

/**
 * What starts a layout 3 segment, after its length (uint32): row `i` is
 * label `segment * kDocSegmentLabels + i`. The blobs follow, each at a
 * multiple of 4 bytes from the segment's start.
 */
interface SegmentHead {
  readonly rows: number;
  /** The namespaces of the segment's records. */
  readonly namespaces: readonly string[];
  /** Blob of a uint16 per row: 0 where the row has no record, else its namespace's index + 1. */
  readonly namespaceOf: number;
  readonly ids: StringColumnHead;
  readonly hashes: StringColumnHead;
  readonly metadata: MetadataHead;
  /** Byte length of each blob. */
  readonly blobs: readonly number[];
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
    if (!hasBit(this.#live, label)) return;
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

/** Decodes a layout 3 segment's head and gives its blobs. */
class SegmentReader {
  readonly head: SegmentHead;
  readonly #bytes: Buffer;
  readonly #segment: number;
  /** Byte offset of each blob. */
  readonly #offsets: number[] = [];

  /**
   * @param bytes - the segment.
   * @param segment - its number, for errors.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the head does not decode or the blobs overrun the segment.
   */
  constructor(bytes: Uint8Array, segment: number) {
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#segment = segment;
    const headBytes = bytes.byteLength < kHeadLengthBytes ? -1 : this.#bytes.readUInt32LE(0);
    let head: SegmentHead | undefined;
    try {
      if (headBytes >= 0 && kHeadLengthBytes + headBytes <= bytes.byteLength) head = kPackr.unpack(this.#bytes.subarray(kHeadLengthBytes, kHeadLengthBytes + headBytes)) as SegmentHead;
    } catch (error) {
      throw this.#corrupt(`its head does not decode: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (head === undefined || head === null || typeof head !== 'object' || !Array.isArray(head.blobs) || !Array.isArray(head.namespaces)) throw this.#corrupt('it has no head');
    this.head = head;
    let offset = align4(kHeadLengthBytes + headBytes);
    for (const length of head.blobs) {
      this.#offsets.push(offset);
      offset = align4(offset + length);
    }
    if (offset > align4(bytes.byteLength)) throw this.#corrupt('its blobs overrun it');
  }

  #corrupt(why: string): VecforgeError {
    return new VecforgeError('ERR_INDEX_CORRUPT', `doc store segment ${this.#segment} is not in layout ${kDocLayout}: ${why}`);
  }

  /** @returns the bytes of a blob (a view). */
  blob(index: number): Buffer {
    const offset = this.#offsets[index];
    const length = this.head.blobs[index];
    if (offset === undefined || length === undefined) throw this.#corrupt(`it has no blob ${index}`);
    return this.#bytes.subarray(offset, offset + length);
  }

  /** @returns a blob of little-endian uint16s. */
  uint16s(index: number): Uint16Array {
    const bytes = this.blob(index);
    if (kLittleEndian && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
    // A fresh array buffer starts aligned.
    const copy = Buffer.from(new Uint8Array(bytes.subarray(0, bytes.byteLength & ~1)).buffer);
    if (!kLittleEndian) copy.swap16();
    return new Uint16Array(copy.buffer, 0, copy.byteLength >> 1);
  }

  /** @returns a blob of little-endian uint32s. */
  uint32s(index: number): Uint32Array {
    const bytes = this.blob(index);
    if (kLittleEndian && bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
    const copy = Buffer.from(new Uint8Array(bytes.subarray(0, bytes.byteLength & ~3)).buffer);
    if (!kLittleEndian) copy.swap32();
    return new Uint32Array(copy.buffer, 0, copy.byteLength >> 2);
  }

  /**
   * @param column - a string column of the segment.
   * @returns its strings by row (null for null values).
   */
  strings(column: StringColumnHead): Array<string | null> {
    if (column === null || typeof column !== 'object') throw this.#corrupt('a string column has no head');
    const text = this.blob(column.text).toString(column.wide ? 'utf16le' : 'latin1');
    let values: Array<string | null>;
    if (typeof column.separator === 'string') values = text.split(column.separator);
    else {
      const ends = this.uint32s(column.ends);
      values = [];
      for (let i = 0, start = 0; i < ends.length; i++) {
        const end = ends[i] as number;
        values.push(text.slice(start, end));
        start = end;
      }
    }
    if (values.length < this.head.rows) throw this.#corrupt(`a string column has ${values.length} values for ${this.head.rows} rows`);
    if (column.nulls >= 0) {
      const nulls = this.blob(column.nulls);
      for (let i = 0; i < this.head.rows; i++) if (hasBit(nulls, i)) values[i] = null;
    }
    return values;
  }

  /**
   * @param column - the segment's metadata.
   * @returns a function giving the metadata of a row.
   */
  metadata(column: MetadataHead): (row: number) => Readonly<Record<string, unknown>> | null {
    if (column.kind === 'rows') {
      const values = column.values;
      return (row) => values[row] ?? null;
    }
    const { keys } = column;
    if (column.fields.length !== keys.length) throw this.#corrupt(`its metadata has ${keys.length} keys but ${column.fields.length} fields`);
    const nulls = column.nulls < 0 ? null : new Uint8Array(this.blob(column.nulls));
    const fields = column.fields.map((field): readonly unknown[] => (Array.isArray(field) ? field : this.strings(field as StringColumnHead)));
    return (row) => {
      if (nulls !== null && hasBit(nulls, row)) return null;
      const metadata: Record<string, unknown> = {};
      for (let f = 0; f < keys.length; f++) metadata[keys[f] as string] = (fields[f] as readonly unknown[])[row];
      return metadata;
    };
  }
}

/**
 * Encodes a segment in layout 3: the head's length (uint32 LE), the head
 * (msgpack, {@link SegmentHead}), then the blobs, each padded to 4 bytes.
 * @param docs - the segment's records by row (undefined: none).
 * @returns the bytes.
 */
function encodeSegment(docs: ReadonlyArray<DocRecord | undefined>): Buffer {
  const rows = docs.length;
  const blobs: Uint8Array[] = [];
  const blob = (bytes: Uint8Array): number => blobs.push(bytes) - 1;
  const strings = (values: ReadonlyArray<string | null>): StringColumnHead => stringColumn(values, blob);
  const names = new Map<string, number>();
  const namespaceOf = new Uint16Array(rows);
  for (let i = 0; i < rows; i++) {
    const record = docs[i];
    if (record === undefined) continue;
    let n = names.get(record.namespace);
    if (n === undefined) {
      n = names.size;
      names.set(record.namespace, n);
    }
    namespaceOf[i] = n + 1;
  }
  const columns: Omit<SegmentHead, 'blobs'> = {
    rows,
    namespaces: [...names.keys()],
    namespaceOf: blob(littleEndianBytes(namespaceOf)),
    ids: strings(docs.map((r) => r?.id ?? '')),
    hashes: strings(docs.map((r) => (r === undefined ? '' : r.hash))),
    metadata: metadataHead(docs, blob, strings),
  };
  const head: SegmentHead = { ...columns, blobs: blobs.map((b) => b.byteLength) };
  const packed = kPackr.pack(head);
  const parts: Uint8Array[] = [Buffer.alloc(kHeadLengthBytes), packed];
  (parts[0] as Buffer).writeUInt32LE(packed.byteLength, 0);
  let length = kHeadLengthBytes + packed.byteLength;
  for (const bytes of blobs) {
    const pad = align4(length) - length;
    if (pad > 0) parts.push(Buffer.alloc(pad));
    parts.push(bytes);
    length += pad + bytes.byteLength;
  }
  return Buffer.concat(parts);
}

/** Encodes strings (null: a null value) as a string column, its blobs added by `blob`. */
function stringColumn(values: ReadonlyArray<string | null>, blob: (bytes: Uint8Array) => number): StringColumnHead {
  const ends = new Uint32Array(values.length);
  let nulls: Uint8Array | null = null;
  let end = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      nulls ??= new Uint8Array(Math.ceil(values.length / 8));
      setBit(nulls, i);
    } else end += value.length;
    ends[i] = end;
  }
  const joined = values.join('');
  // Latin1 keeps the low byte of each code unit: exact only when none is above 0xff.
  const wide = /[^\u0000-\u00ff]/u.test(joined);
  const separator = kSeparators.find((c) => !joined.includes(c)) ?? null;
  const text = separator === null ? joined : values.join(separator);
  return {
    wide,
    text: blob(Buffer.from(text, wide ? 'utf16le' : 'latin1')),
    separator,
    ends: separator === null ? blob(littleEndianBytes(ends)) : -1,
    nulls: nulls === null ? -1 : blob(nulls),
  };
}

/** Encodes the metadata of a segment's records, by fields when they all have the same keys (see {@link MetadataHead}). */
function metadataHead(docs: ReadonlyArray<DocRecord | undefined>, blob: (bytes: Uint8Array) => number, strings: (values: ReadonlyArray<string | null>) => StringColumnHead): MetadataHead {
  const rows: MetadataHead = { kind: 'rows', values: docs.map((r) => r?.metadata ?? null) };
  let keys: string[] | null = null;
  let nulls: Uint8Array | null = null;
  for (let i = 0; i < docs.length; i++) {
    const metadata = docs[i]?.metadata ?? null;
    if (metadata === null) {
      nulls ??= new Uint8Array(Math.ceil(docs.length / 8));
      setBit(nulls, i);
      continue;
    }
    // Only plain objects are rebuilt key by key, and `__proto__` would set
    // the prototype instead of a key: anything else is kept whole.
    if (Object.getPrototypeOf(metadata) !== Object.prototype) return rows;
    const own = Object.keys(metadata);
    if (keys === null) {
      if (own.includes('__proto__')) return rows;
      keys = own;
    } else if (own.length !== keys.length || own.some((key, k) => key !== keys?.[k])) return rows;
  }
  if (keys === null) return rows;
  const fields = keys.map((key): StringColumnHead | unknown[] => {
    // Rows without metadata are null in every field: the nulls bitset tells them apart.
    const values = docs.map((r) => (r?.metadata === null || r?.metadata === undefined ? null : r.metadata[key]));
    return values.every((v) => v === null || typeof v === 'string') ? strings(values as Array<string | null>) : values;
  });
  return { kind: 'fields', keys, nulls: nulls === null ? -1 : blob(nulls), fields };
}

/** The bytes of a typed array, little-endian. */
function littleEndianBytes(values: Uint16Array | Uint32Array): Uint8Array {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  if (!kLittleEndian) {
    if (values instanceof Uint16Array) bytes.swap16();
    else bytes.swap32();
  }
  return bytes;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function hasBit(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3] = (bits[i >> 3] ?? 0) | (1 << (i & 7));
}
