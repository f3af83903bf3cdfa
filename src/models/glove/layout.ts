/**
 * The binary layout of the converted glove-100d table: one file, loaded
 * whole into one SharedArrayBuffer that every worker maps without copying.
 *
 * ```
 * 0    magic "VECFGLV1" (8 bytes)
 * 8    u32 format version        12  u32 vocabulary size N
 * 16   u32 dims                  20  u32 hash slots (power of two)
 * 24   u32 word UTF-16 units     28  u32 payload bytes
 * 32   f64 SIF a                 40  f64 source size in bytes
 * 64   sha256 of the payload (32 bytes)
 * 128  payload: vectors f32[N*dims] | weights f32[N] | pc f32[dims]
 *      | word offsets u32[N+1] | hash i32[slots] | word chars u16[units]
 * ```
 */

/** File magic. */
export const kGloveMagic = 'VECFGLV1';
/** Bump when the layout or the math baked into the file changes. */
export const kGloveFormatVersion = 1;
/** Bytes before the payload. */
export const kGloveHeaderBytes = 128;
/** Byte offset of the payload checksum in the header. */
export const kGloveChecksumOffset = 64;

const kVersionOffset = 8;
const kCountOffset = 12;
const kDimsOffset = 16;
const kSlotsOffset = 20;
const kUnitsOffset = 24;
const kPayloadBytesOffset = 28;
const kSifAOffset = 32;
const kSourceBytesOffset = 40;

/** The counts a table's layout is computed from. */
export interface GloveHeader {
  readonly version: number;
  readonly count: number;
  readonly dims: number;
  readonly slots: number;
  readonly units: number;
  readonly payloadBytes: number;
  readonly sifA: number;
  readonly sourceBytes: number;
}

/** Byte offsets of each payload section, from the start of the file. */
export interface GloveSections {
  readonly vectors: number;
  readonly weights: number;
  readonly pc: number;
  readonly wordOffsets: number;
  readonly hash: number;
  readonly chars: number;
  readonly end: number;
}

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * Computes the section offsets of a table.
 * @param h - the counts.
 * @returns byte offsets of each section.
 */
export function gloveSections(h: Pick<GloveHeader, 'count' | 'dims' | 'slots' | 'units'>): GloveSections {
  const vectors = kGloveHeaderBytes;
  const weights = align8(vectors + h.count * h.dims * 4);
  const pc = align8(weights + h.count * 4);
  const wordOffsets = align8(pc + h.dims * 4);
  const hash = align8(wordOffsets + (h.count + 1) * 4);
  const chars = align8(hash + h.slots * 4);
  const end = align8(chars + h.units * 2);
  return { vectors, weights, pc, wordOffsets, hash, chars, end };
}

/**
 * Writes a header into the first bytes of `bytes` (checksum excluded).
 * @param bytes - the file buffer.
 * @param h - the header values.
 */
export function writeGloveHeader(bytes: Uint8Array, h: GloveHeader): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, kGloveHeaderBytes);
  for (let i = 0; i < kGloveMagic.length; i++) view.setUint8(i, kGloveMagic.charCodeAt(i));
  view.setUint32(kVersionOffset, h.version, true);
  view.setUint32(kCountOffset, h.count, true);
  view.setUint32(kDimsOffset, h.dims, true);
  view.setUint32(kSlotsOffset, h.slots, true);
  view.setUint32(kUnitsOffset, h.units, true);
  view.setUint32(kPayloadBytesOffset, h.payloadBytes, true);
  view.setFloat64(kSifAOffset, h.sifA, true);
  view.setFloat64(kSourceBytesOffset, h.sourceBytes, true);
}

/**
 * Reads a header, or returns a reason why the bytes are not a table.
 * @param bytes - at least the first {@link kGloveHeaderBytes} of a file.
 * @returns the header, or `{ error }`.
 */
export function readGloveHeader(bytes: Uint8Array): GloveHeader | { error: string } {
  if (bytes.byteLength < kGloveHeaderBytes) return { error: 'file is shorter than its header' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, kGloveHeaderBytes);
  for (let i = 0; i < kGloveMagic.length; i++) {
    if (view.getUint8(i) !== kGloveMagic.charCodeAt(i)) return { error: 'bad magic number' };
  }
  const version = view.getUint32(kVersionOffset, true);
  if (version !== kGloveFormatVersion) return { error: `format version ${version}, expected ${kGloveFormatVersion}` };
  return {
    version,
    count: view.getUint32(kCountOffset, true),
    dims: view.getUint32(kDimsOffset, true),
    slots: view.getUint32(kSlotsOffset, true),
    units: view.getUint32(kUnitsOffset, true),
    payloadBytes: view.getUint32(kPayloadBytesOffset, true),
    sifA: view.getFloat64(kSifAOffset, true),
    sourceBytes: view.getFloat64(kSourceBytesOffset, true),
  };
}

/** Typed views over a loaded table; all share one buffer. */
export interface GloveTable {
  readonly header: GloveHeader;
  /** The ASCII lookup table ({@link buildAsciiLookup}), when one was built. */
  readonly ascii?: Uint32Array;
  readonly vectors: Float32Array;
  readonly weights: Float32Array;
  readonly pc: Float32Array;
  readonly wordOffsets: Uint32Array;
  readonly hash: Int32Array;
  readonly chars: Uint16Array;
}

/**
 * Maps typed views over a table buffer (no copies).
 * @param buffer - the whole file, usually a SharedArrayBuffer.
 * @param header - its parsed header.
 * @returns the views.
 */
export function gloveViews(buffer: ArrayBufferLike, header: GloveHeader, asciiLookup?: ArrayBufferLike): GloveTable {
  const s = gloveSections(header);
  return {
    header,
    ...(asciiLookup !== undefined ? { ascii: new Uint32Array(asciiLookup) } : {}),
    vectors: new Float32Array(buffer, s.vectors, header.count * header.dims),
    weights: new Float32Array(buffer, s.weights, header.count),
    pc: new Float32Array(buffer, s.pc, header.dims),
    wordOffsets: new Uint32Array(buffer, s.wordOffsets, header.count + 1),
    hash: new Int32Array(buffer, s.hash, header.slots),
    chars: new Uint16Array(buffer, s.chars, header.units),
  };
}

/**
 * FNV-1a over the UTF-16 code units of `s[start, end)`.
 * @param s - the string.
 * @param start - first code unit.
 * @param end - one past the last code unit.
 * @returns an unsigned 32-bit hash.
 */
export function hashWord(s: string, start = 0, end = s.length): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Looks a word up in the shared open-addressing hash table.
 * @param t - the table.
 * @param s - a string holding the word.
 * @param start - the word's first code unit in `s`.
 * @param end - one past its last code unit.
 * @returns the word's row, or -1 when it is not in the vocabulary.
 */
export function lookupWord(t: GloveTable, s: string, start = 0, end = s.length): number {
  const mask = t.header.slots - 1;
  const len = end - start;
  let slot = hashWord(s, start, end) & mask;
  for (;;) {
    const row = t.hash[slot] ?? -1;
    if (row < 0) return -1;
    const a = t.wordOffsets[row] ?? 0;
    const b = t.wordOffsets[row + 1] ?? 0;
    if (b - a === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (t.chars[a + i] !== s.charCodeAt(start + i)) {
          same = false;
          break;
        }
      }
      if (same) return row;
    }
    slot = (slot + 1) & mask;
  }
}

/**
 * The ASCII lookup table: a second open-addressing table over the ASCII
 * words of the vocabulary (the only ones an ASCII text can hold), built
 * for the UTF-8 tokeniser. Each slot is 4 u32: row + 1 (0: empty); then a
 * word of at most {@link kInlineWordChars} characters inline as 12 bytes
 * (its length, then its characters, zero-padded), or for a longer word
 * 0xff, its offset in `chars` and its length. One cache line answers most
 * lookups, where the main table needs three (slot, offsets, characters).
 * Slots are found by {@link hashPackedWord} of the packed first characters,
 * which the tokeniser computes as it scans, with no per-character hash;
 * linear probing, rows inserted in order, so that a lookup finds the same
 * row as {@link lookupWord}.
 */
export const kAsciiSlotWords = 4;
/** Longest word held inline in an ASCII lookup slot. */
export const kInlineWordChars = 11;
/** Marks a slot whose word is longer than {@link kInlineWordChars}. */
export const kLongWordMarker = 0xff;

/**
 * The slot hash of the ASCII lookup table: a word packed as 12 bytes (a
 * length byte, its length or 0xff past {@link kInlineWordChars}, then its
 * first {@link kInlineWordChars} characters, zero-padded) in three
 * little-endian u32, mixed.
 * @param w1 - bytes 0–3 (length byte, characters 0–2).
 * @param w2 - bytes 4–7.
 * @param w3 - bytes 8–11.
 * @returns an unsigned 32-bit hash.
 */
export function hashPackedWord(w1: number, w2: number, w3: number): number {
  let h = Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2, 0x85ebca77) ^ Math.imul(w3, 0xc2b2ae3d);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * Builds the ASCII lookup table of a vocabulary into shared memory.
 * @param t - the table.
 * @returns the slots (a SharedArrayBuffer of u32 × 4 per slot, a power of two of slots).
 */
export function buildAsciiLookup(t: GloveTable): SharedArrayBuffer {
  const { count } = t.header;
  let slots = 1;
  while (slots < count * 1.5) slots *= 2;
  const buffer = new SharedArrayBuffer(slots * kAsciiSlotWords * 4);
  const table = new Uint32Array(buffer);
  const mask = slots - 1;
  const packed = new Uint8Array(12);
  const packedWords = new Uint32Array(packed.buffer);
  for (let row = 0; row < count; row++) {
    const a = t.wordOffsets[row] ?? 0;
    const b = t.wordOffsets[row + 1] ?? 0;
    const len = b - a;
    let ascii = len > 0;
    for (let k = a; k < b && ascii; k++) if ((t.chars[k] ?? 0) >= 0x80) ascii = false;
    if (!ascii) continue;
    packed.fill(0);
    packed[0] = len <= kInlineWordChars ? len : kLongWordMarker;
    for (let k = 0; k < Math.min(len, kInlineWordChars); k++) packed[k + 1] = t.chars[a + k] ?? 0;
    const w1 = packedWords[0] ?? 0;
    const w2 = packedWords[1] ?? 0;
    const w3 = packedWords[2] ?? 0;
    let slot = hashPackedWord(w1, w2, w3) & mask;
    while ((table[slot * kAsciiSlotWords] ?? 0) !== 0) slot = (slot + 1) & mask;
    const at = slot * kAsciiSlotWords;
    table[at] = row + 1;
    if (len <= kInlineWordChars) {
      table[at + 1] = w1;
      table[at + 2] = w2;
      table[at + 3] = w3;
    } else {
      table[at + 1] = kLongWordMarker;
      table[at + 2] = a;
      table[at + 3] = len;
    }
  }
  return buffer;
}
