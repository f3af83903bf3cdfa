/**
 * GloVe tokenisation: lower-case, then words are runs of letters and digits
 * that may hold in-word apostrophes ("don't", "o'clock"); everything else
 * separates words. A word missing from the vocabulary is retried without
 * its apostrophe suffix ("children's" → "children"), since the GloVe
 * vocabulary splits clitics off; then with common English suffixes folded
 * (fold.ts: plural, -ing, -ed); otherwise it is skipped.
 */
import { lookupFolded } from './fold.js';
import { hashPackedWord, kInlineWordChars, kLongWordMarker, lookupWord, type GloveTable } from './layout.js';

const kWordPattern = /[\p{L}\p{N}]+(?:['\u2019][\p{L}\p{N}]+)*/gu;

/**
 * Splits a text into vocabulary rows.
 * @param table - the GloVe table.
 * @param text - any text.
 * @param rows - receives the row of every known word, in order.
 * @param foldSuffixes - retry a missing word with its suffixes folded (what the model does; false to measure what folding changes).
 * @returns the number of words found (known or not).
 */
export function tokenizeToRows(table: GloveTable, text: string, rows: number[], foldSuffixes = true): number {
  const lower = text.toLowerCase();
  let words = 0;
  kWordPattern.lastIndex = 0;
  for (let m = kWordPattern.exec(lower); m !== null; m = kWordPattern.exec(lower)) {
    words++;
    const start = m.index;
    const end = start + m[0].length;
    let row = lookupWord(table, lower, start, end);
    if (row < 0) {
      const apostrophe = m[0].search(/['\u2019]/u);
      if (apostrophe > 0) row = lookupWord(table, lower, start, start + apostrophe);
      else if (foldSuffixes) row = lookupFolded(m[0], (form) => lookupWord(table, form));
    }
    if (row >= 0) rows.push(row);
  }
  return words;
}

/**
 * Splits a text into words the way the model does (for tests and tools).
 * @param text - any text.
 * @returns the lower-cased words.
 */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(kWordPattern) ?? [];
}

/** Byte classes of the UTF-8 tokeniser (ASCII only; bytes ≥ 0x80 are kNonAscii). */
const kSeparator = 0;
const kAlnum = 1;
const kApostrophe = 2;
const kNonAscii = 3;

/**
 * Class of every byte; for ASCII letters and digits, `kLower` holds the
 * lower-cased byte (what `toLowerCase` makes of it).
 */
const kClass = new Uint8Array(256);
const kLower = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  kLower[b] = b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
  if (b >= 0x80) kClass[b] = kNonAscii;
  else if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) kClass[b] = kAlnum;
  else if (b === 0x27) kClass[b] = kApostrophe;
  else kClass[b] = kSeparator;
}

const kFnvOffset = 0x811c9dc5;
const kFnvPrime = 0x01000193;

/**
 * Looks up the lower-cased ASCII word bytes[start, end) whose FNV-1a hash
 * (over the lower-cased bytes, which equal its UTF-16 units) is `hash`.
 * @returns the row, or -1.
 */
function lookupAsciiWord(t: GloveTable, bytes: Uint8Array, start: number, end: number, hash: number): number {
  const { hash: slots, wordOffsets, chars } = t;
  const mask = t.header.slots - 1;
  const len = end - start;
  let slot = hash & mask;
  // Hot loop: indexes are in range by construction, so the values are read
  // without the `?? 0` guards noUncheckedIndexedAccess would ask for.
  for (;;) {
    const row = slots[slot] as number;
    if (row < 0) return -1;
    const a = wordOffsets[row] as number;
    if ((wordOffsets[row + 1] as number) - a === len) {
      let k = 0;
      while (k < len && chars[a + k] === kLower[bytes[start + k] as number]) k++;
      if (k === len) return row;
    }
    slot = (slot + 1) & mask;
  }
}

/**
 * Splits the UTF-8 text bytes[start, end) into vocabulary rows without
 * making a string, for texts that are pure ASCII (the common case); the
 * rules are those of {@link tokenizeToRows}, on the same lower-cased
 * UTF-16 units, so both give the same rows.
 * @param table - the GloVe table.
 * @param bytes - UTF-8 bytes.
 * @param start - the text's first byte.
 * @param end - one past its last byte.
 * @param rows - receives the rows of known words; needs room for (end - start + 1) / 2 rows.
 * @returns the number of known words, or -1 when the text holds a non-ASCII
 *   byte (the caller then decodes it and uses {@link tokenizeToRows}).
 */
export function tokenizeAsciiToRows(table: GloveTable, bytes: Uint8Array, start: number, end: number, rows: Int32Array): number {
  if (table.ascii !== undefined) return tokenizeWithAsciiTable(table, table.ascii, bytes, start, end, rows);
  let n = 0;
  let p = start;
  while (p < end) {
    const cls = kClass[bytes[p] as number] as number;
    if (cls !== kAlnum) {
      if (cls === kNonAscii) return -1;
      p++;
      continue;
    }
    const wordStart = p;
    let h = kFnvOffset;
    let apostrophe = -1;
    let prefixHash = 0;
    for (;;) {
      let c = kClass[bytes[p] as number] as number;
      while (c === kAlnum) {
        h = Math.imul(h ^ (kLower[bytes[p] as number] as number), kFnvPrime);
        p++;
        c = p < end ? (kClass[bytes[p] as number] as number) : kSeparator;
      }
      if (c === kNonAscii) return -1;
      // An apostrophe stays in the word only between two letters or digits.
      if (c !== kApostrophe || p + 1 >= end) break;
      const next = kClass[bytes[p + 1] as number] as number;
      if (next === kNonAscii) return -1;
      if (next !== kAlnum) break;
      if (apostrophe < 0) {
        apostrophe = p;
        prefixHash = h;
      }
      h = Math.imul(h ^ 0x27, kFnvPrime);
      p++;
    }
    let row = lookupAsciiWord(table, bytes, wordStart, p, h >>> 0);
    // As in tokenizeToRows: "children's" falls back to "children", else suffixes are folded.
    if (row < 0 && apostrophe >= 0) row = lookupAsciiWord(table, bytes, wordStart, apostrophe, prefixHash >>> 0);
    else if (row < 0) row = lookupFoldedAscii(table, bytes, wordStart, p);
    if (row >= 0) rows[n++] = row;
  }
  return n;
}

/**
 * Looks a word up in the ASCII lookup table (layout: buildAsciiLookup).
 * @param w1 - the word packed (length byte 0 here), bytes 0–3.
 * @returns the row, or -1.
 */
function lookupPacked(t: GloveTable, ascii: Uint32Array, bytes: Uint8Array, start: number, len: number, w1: number, w2: number, w3: number): number {
  const mask = (ascii.length >> 2) - 1;
  if (len <= kInlineWordChars) {
    const key = (w1 | len) >>> 0;
    // Hot loops: indexes are in range by construction (see tokenizeAsciiToRows).
    for (let slot = hashPackedWord(key, w2, w3) & mask; ; slot = (slot + 1) & mask) {
      const at = slot << 2;
      const row = ascii[at] as number;
      if (row === 0) return -1;
      if (ascii[at + 1] === key && ascii[at + 2] === w2 && ascii[at + 3] === w3) return row - 1;
    }
  }
  const chars = t.chars;
  for (let slot = hashPackedWord((w1 | kLongWordMarker) >>> 0, w2, w3) & mask; ; slot = (slot + 1) & mask) {
    const at = slot << 2;
    const row = ascii[at] as number;
    if (row === 0) return -1;
    if (ascii[at + 1] === kLongWordMarker && ascii[at + 3] === len) {
      const a = ascii[at + 2] as number;
      let k = 0;
      while (k < len && chars[a + k] === kLower[bytes[start + k] as number]) k++;
      if (k === len) return row - 1;
    }
  }
}

/** {@link tokenizeAsciiToRows} with the ASCII lookup table: the scan packs each word's first characters, which are its hash key. */
function tokenizeWithAsciiTable(table: GloveTable, ascii: Uint32Array, bytes: Uint8Array, start: number, end: number, rows: Int32Array): number {
  let n = 0;
  let p = start;
  while (p < end) {
    const cls = kClass[bytes[p] as number] as number;
    if (cls !== kAlnum) {
      if (cls === kNonAscii) return -1;
      p++;
      continue;
    }
    const wordStart = p;
    // The word packed as lookup slots hold it: byte 0 (the length) is added
    // at lookup, byte q = k + 1 holds character k.
    let w1 = 0;
    let w2 = 0;
    let w3 = 0;
    let apostrophe = -1;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let c = cls;
    for (;;) {
      while (c === kAlnum) {
        const k = p - wordStart;
        const lower = kLower[bytes[p] as number] as number;
        if (k < 3) w1 |= lower << ((k + 1) << 3);
        else if (k < 7) w2 |= lower << ((k - 3) << 3);
        else if (k < 11) w3 |= lower << ((k - 7) << 3);
        p++;
        c = p < end ? (kClass[bytes[p] as number] as number) : kSeparator;
      }
      if (c === kNonAscii) return -1;
      // An apostrophe stays in the word only between two letters or digits.
      if (c !== kApostrophe || p + 1 >= end) break;
      const next = kClass[bytes[p + 1] as number] as number;
      if (next === kNonAscii) return -1;
      if (next !== kAlnum) break;
      if (apostrophe < 0) {
        apostrophe = p;
        a1 = w1;
        a2 = w2;
        a3 = w3;
      }
      const k = p - wordStart;
      if (k < 3) w1 |= 0x27 << ((k + 1) << 3);
      else if (k < 7) w2 |= 0x27 << ((k - 3) << 3);
      else if (k < 11) w3 |= 0x27 << ((k - 7) << 3);
      p++;
      c = kAlnum;
    }
    let row = lookupPacked(table, ascii, bytes, wordStart, p - wordStart, w1, w2 >>> 0, w3 >>> 0);
    // As in tokenizeToRows: "children's" falls back to "children", else suffixes are folded.
    if (row < 0 && apostrophe >= 0) row = lookupPacked(table, ascii, bytes, wordStart, apostrophe - wordStart, a1, a2 >>> 0, a3 >>> 0);
    else if (row < 0) row = lookupFoldedAscii(table, bytes, wordStart, p);
    if (row >= 0) rows[n++] = row;
  }
  return n;
}

/**
 * {@link lookupFolded} for the ASCII word bytes[start, end), lower-cased:
 * only missing words get here, so making a string is rare.
 */
function lookupFoldedAscii(table: GloveTable, bytes: Uint8Array, start: number, end: number): number {
  if (end - start < 4) return -1;
  let word = '';
  for (let k = start; k < end; k++) word += String.fromCharCode(kLower[bytes[k] as number] as number);
  return lookupFolded(word, (form) => lookupWord(table, form));
}

const utf8 = new TextDecoder('utf-8');
const stringRows: number[] = [];

/**
 * Splits the UTF-8 text bytes[start, end) into vocabulary rows: the ASCII
 * fast path of {@link tokenizeAsciiToRows}, else the text decoded and split
 * by {@link tokenizeToRows}. Same rows as `tokenizeToRows` on the decoded text.
 * @param table - the GloVe table.
 * @param bytes - UTF-8 bytes.
 * @param start - the text's first byte.
 * @param end - one past its last byte.
 * @param rows - receives the rows of known words; needs room for (end - start + 1) / 2 rows.
 * @returns the number of known words.
 */
export function tokenizeUtf8ToRows(table: GloveTable, bytes: Uint8Array, start: number, end: number, rows: Int32Array): number {
  const n = tokenizeAsciiToRows(table, bytes, start, end, rows);
  if (n >= 0) return n;
  stringRows.length = 0;
  const text = utf8.decode(bytes.subarray(start, end));
  tokenizeToRows(table, text, stringRows);
  for (let k = 0; k < stringRows.length; k++) rows[k] = stringRows[k] as number;
  return stringRows.length;
}

/**
 * Room a rows buffer needs for a text of `byteLength` bytes: at most one
 * word every two bytes.
 * @param byteLength - the text's UTF-8 size.
 * @returns rows.
 */
export function rowsCapacity(byteLength: number): number {
  return (byteLength + 2) >> 1;
}
