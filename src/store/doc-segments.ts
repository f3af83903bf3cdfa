/**
 * The doc store's segment codec, layout 3: a segment of
 * {@link kDocSegmentLabels} consecutive labels stored by columns (see
 * {@link encodeSegment}): ids and hashes as one string each plus end
 * offsets, namespaces as a dictionary and an index per label, metadata as
 * one column per key when every object of the segment has the same keys.
 * Opening then decodes a few large strings per segment and slices each
 * record's strings out of them in one loop, instead of decoding every
 * string and object on its own. Metadata values are msgpack as lmdb's
 * default encoding writes them; this file and doc-store.ts are the only
 * ones that use msgpackr.
 */
import { Packr } from 'msgpackr';
import { VecforgeError } from '../errors.js';
import type { DocRecord } from './record.js';

/** Labels per segment. */
export const kDocSegmentLabels = 4096;
/** The layout this codec writes and reads: 3, column segments. */
export const kDocLayout = 3;
/** Separators tried for a string column, the first its strings do not contain is used. */
const kSeparators = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));
/** A code unit above latin1's range (0x00–0xff): the column then needs two bytes a unit. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the class is latin1's whole range, U+0000 included, on purpose.
const kWideUnit = /[^\x00-\xff]/u;
/** Bytes of the head length that starts a layout 3 segment. */
const kHeadLengthBytes = 4;
/** Offsets and indexes are stored little-endian, read through typed array views where that is the machine's order. */
export const kLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * msgpack as lmdb's default encoding sets it up (only `copyBuffers`, since
 * lmdb hands out buffers it reuses): metadata values come back exactly as
 * from a store of layout 2, Dates, undefined and binary included.
 */
export const kPackr = new Packr({ copyBuffers: true });

/**
 * A column of strings, in a segment's head: the strings joined into one
 * text of one byte per UTF-16 code unit (latin1) when every unit fits,
 * else two (UTF-16LE), so any string, lone surrogates included, comes back
 * exactly. Joined with a separator none of them contains, so that one
 * native `split` gives them all back; where every code unit of latin1
 * occurs in them, by end offsets instead. Numbers are indexes of the
 * segment's blobs.
 */
export interface StringColumnHead {
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
export type MetadataHead =
  | { readonly kind: 'rows'; readonly values: ReadonlyArray<Readonly<Record<string, unknown>> | null> }
  | { readonly kind: 'fields'; readonly keys: readonly string[]; readonly nulls: number; readonly fields: ReadonlyArray<StringColumnHead | readonly unknown[]> };

/**
 * What starts a layout 3 segment, after its length (uint32): row `i` is
 * label `segment * kDocSegmentLabels + i`. The blobs follow, each at a
 * multiple of 4 bytes from the segment's start.
 */
export interface SegmentHead {
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


/** Decodes a layout 3 segment's head and gives its blobs. */
export class SegmentReader {
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
export function encodeSegment(docs: ReadonlyArray<DocRecord | undefined>): Buffer {
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
  const wide = kWideUnit.test(joined);
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


/** Bit `i` of a bitset (bit `i & 7` of byte `i >> 3`). */
export function hasBit(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

/** Sets bit `i` of a bitset. */
export function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3] = (bits[i >> 3] ?? 0) | (1 << (i & 7));
}
