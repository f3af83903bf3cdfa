/**
 * One lexical segment file: the documents of some labels with their
 * counted terms. Little-endian:
 *
 * ```
 * header   magic "VFLX", format u32, docs u32, terms u32, entries u32, reserved u32
 * terms    `terms` × (u16 UTF-8 byte length, bytes): the segment's own dictionary
 * docs     `docs` × (label u32, length u32, distinct terms u32), labels ascending
 * entries  `entries` × (term index u32, tf u32), each document's in turn
 * ```
 *
 * A segment is written once and never changed; versions share it by hard
 * links. Its checksum is checked against the manifest before it is read,
 * and the reader still checks every count, index and size, so a damaged
 * file is refused with ERR_INDEX_CORRUPT and never read past its end.
 */
import { VecforgeError } from '../../errors.js';
import type { LexicalIndex } from './bm25.js';
import { kMaxTermChars } from './tokenize.js';

const kMagic = 0x584c4656; // "VFLX" little-endian
/** The segment format this build writes and reads. */
export const kSegmentFormat = 1;
const kHeaderBytes = 24;

/**
 * Encodes the documents of `labels` (present in `index`, ascending).
 * @param index - the in-memory index.
 * @param labels - the labels, ascending.
 * @returns the file's bytes.
 */
export function encodeSegment(index: LexicalIndex, labels: readonly number[]): Buffer {
  const termIndex = new Map<string, number>();
  const termBytes: Buffer[] = [];
  const docs = new Uint32Array(labels.length * 3);
  const entries: number[] = [];
  labels.forEach((label, i) => {
    let distinct = 0;
    const length = index.forEachTerm(label, (term, tf) => {
      let t = termIndex.get(term);
      if (t === undefined) {
        t = termBytes.length;
        termIndex.set(term, t);
        termBytes.push(Buffer.from(term, 'utf8'));
      }
      entries.push(t, tf);
      distinct++;
    });
    docs[3 * i] = label;
    docs[3 * i + 1] = length;
    docs[3 * i + 2] = distinct;
  });
  const termsSize = termBytes.reduce((a, b) => a + 2 + b.length, 0);
  const out = Buffer.alloc(kHeaderBytes + termsSize + docs.byteLength + entries.length * 4);
  out.writeUInt32LE(kMagic, 0);
  out.writeUInt32LE(kSegmentFormat, 4);
  out.writeUInt32LE(labels.length, 8);
  out.writeUInt32LE(termBytes.length, 12);
  out.writeUInt32LE(entries.length / 2, 16);
  let p = kHeaderBytes;
  for (const b of termBytes) {
    out.writeUInt16LE(b.length, p);
    b.copy(out, p + 2);
    p += 2 + b.length;
  }
  for (let i = 0; i < docs.length; i++, p += 4) out.writeUInt32LE(docs[i] as number, p);
  for (let i = 0; i < entries.length; i++, p += 4) out.writeUInt32LE(entries[i] as number, p);
  return out;
}

/**
 * Decodes a segment into `index`, checking every field; documents whose
 * label `isLive` rejects (deleted since the segment was written) are skipped.
 * @param bytes - the file's bytes.
 * @param index - receives the documents.
 * @param isLive - whether a label still holds a record.
 * @param maxLabel - labels must be below this (the manifest's nextLabel).
 * @param where - the file, for messages.
 * @returns the labels the segment holds (live or not), ascending.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT naming what is wrong.
 */
export function decodeSegment(bytes: Buffer, index: LexicalIndex, isLive: (label: number) => boolean, maxLabel: number, where: string): Uint32Array {
  const bad = (why: string): VecforgeError => new VecforgeError('ERR_INDEX_CORRUPT', `${where}: ${why}`);
  if (bytes.length < kHeaderBytes) throw bad(`is ${bytes.length} bytes, shorter than its header`);
  if (bytes.readUInt32LE(0) !== kMagic) throw bad('is not a lexical segment (bad magic)');
  const format = bytes.readUInt32LE(4);
  if (format !== kSegmentFormat) throw bad(`has segment format ${format}; this vecforge reads ${kSegmentFormat}`);
  const nDocs = bytes.readUInt32LE(8);
  const nTerms = bytes.readUInt32LE(12);
  const nEntries = bytes.readUInt32LE(16);
  let p = kHeaderBytes;
  // Every term takes at least 3 bytes, every document 12, every entry 8: bounds before any allocation.
  if (nTerms * 3 + nDocs * 12 + nEntries * 8 > bytes.length - kHeaderBytes) throw bad(`counts (${nDocs} documents, ${nTerms} terms, ${nEntries} entries) do not fit its ${bytes.length} bytes`);
  const terms: string[] = new Array<string>(nTerms);
  for (let t = 0; t < nTerms; t++) {
    if (p + 2 > bytes.length) throw bad(`term ${t} runs past the end`);
    const len = bytes.readUInt16LE(p);
    if (len === 0 || p + 2 + len > bytes.length) throw bad(`term ${t} has a bad length ${len}`);
    const term = bytes.toString('utf8', p + 2, p + 2 + len);
    if (term.length > kMaxTermChars || term.includes('\uFFFD')) throw bad(`term ${t} is not a valid term`);
    terms[t] = term;
    p += 2 + len;
  }
  if (bytes.length - p !== nDocs * 12 + nEntries * 8) throw bad(`holds ${bytes.length - p} bytes of documents and entries, its counts say ${nDocs * 12 + nEntries * 8}`);
  const docsAt = p;
  let entryAt = docsAt + nDocs * 12;
  const labels = new Uint32Array(nDocs);
  let entriesSeen = 0;
  let prev = -1;
  for (let d = 0; d < nDocs; d++) {
    const label = bytes.readUInt32LE(docsAt + 12 * d);
    const length = bytes.readUInt32LE(docsAt + 12 * d + 4);
    const distinct = bytes.readUInt32LE(docsAt + 12 * d + 8);
    if (label <= prev || label >= maxLabel) throw bad(`document ${d} has label ${label}, not ascending below ${maxLabel}`);
    prev = label;
    labels[d] = label;
    if (distinct > nEntries - entriesSeen) throw bad(`document ${d} lists more entries than the file holds`);
    const docTerms: string[] = new Array<string>(distinct);
    const tfs = new Uint32Array(distinct);
    let sum = 0;
    for (let e = 0; e < distinct; e++, entryAt += 8) {
      const t = bytes.readUInt32LE(entryAt);
      const tf = bytes.readUInt32LE(entryAt + 4);
      if (t >= nTerms || tf === 0) throw bad(`document ${d} entry ${e} has term ${t} (of ${nTerms}) and tf ${tf}`);
      docTerms[e] = terms[t] as string;
      tfs[e] = tf;
      sum += tf;
    }
    entriesSeen += distinct;
    if (sum !== length) throw bad(`document ${d} has length ${length}, its term frequencies sum to ${sum}`);
    if (new Set(docTerms).size !== distinct) throw bad(`document ${d} lists a term twice`);
    if (isLive(label)) index.addCounted(label, length, docTerms, tfs);
  }
  if (entriesSeen !== nEntries) throw bad(`its documents list ${entriesSeen} entries, the header says ${nEntries}`);
  return labels;
}
