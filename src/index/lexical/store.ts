/**
 * The lexical index of an open index and its files. Saved as segments
 * (segment.ts), listed with the BM25 parameters in the manifest's
 * `extra.lexical`, every segment a file under the manifest's checksums:
 *
 * - A save writes ONE new segment holding the documents added since the
 *   last save, and hard-links every earlier segment from the version it
 *   starts from: a reindex that changes 1% of the documents writes 1% of
 *   them. Deletions need no file: a document is live when the version's
 *   doc store holds its label (labels are never reused), so a load skips
 *   segment documents whose label has no record.
 * - Merges keep the segment count logarithmic: the new segment absorbs the
 *   newest segments while they are at most twice its live size (as a
 *   binary counter does), and any segment more than half dead; past
 *   {@link kMaxSegments} everything is merged. Merges are written from
 *   memory: no text is tokenized again.
 * - Loading is deferred to the first use (the doc store's live set is
 *   needed), like a lazily decoded doc store.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, readFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VecforgeError, errorMessage } from '../../errors.js';
import type { FileEntry } from '../manifest.js';
import { LexicalIndex } from './bm25.js';
import { kDefaultLexicalOptions, kLexicalRanges, type LexicalStats, type ResolvedLexicalOptions } from './options.js';
import { decodeSegment, encodeSegment } from './segment.js';
import { kLexicalTokenizers, lexicalTerms, stopWordsOfTokenizer } from './tokenize.js';

/** Segments a version keeps at most before all are merged into one. */
export const kMaxSegments = 24;
const kSegmentName = /^lexical-\d{6}\.seg$/;
const kMaxListedSegments = 1000;

/** One segment as the manifest lists it. */
export interface LexicalSegmentEntry {
  readonly file: string;
  /** Documents written in it (some may be deleted since). */
  readonly docs: number;
}

/** `extra.lexical` of a manifest. */
export interface LexicalSection {
  readonly tokenizer: string;
  readonly k1: number;
  readonly b: number;
  readonly nextSegment: number;
  readonly segments: readonly LexicalSegmentEntry[];
}

interface SegmentRef {
  readonly file: string;
  readonly docs: number;
  live: number;
  readonly entry: FileEntry;
}

/**
 * Parses `extra.lexical` of a manifest.
 * @param raw - the section as the manifest holds it.
 * @param files - the manifest's file names.
 * @param where - the manifest, for messages.
 * @returns the section; null when the index has none (built before lexical indexes: an empty one is used); false when it was created with `lexical: false`.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT naming the field that is not valid.
 */
export function parseLexicalSection(raw: unknown, files: readonly string[], where: string): LexicalSection | null | false {
  if (raw === undefined || raw === null) return null;
  if (raw === false) return false;
  const bad = (why: string): VecforgeError => new VecforgeError('ERR_INDEX_CORRUPT', `${where}: extra.lexical ${why}`);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw bad('is not an object');
  const o = raw as Record<string, unknown>;
  if (stopWordsOfTokenizer(o.tokenizer) === null) throw bad(`names tokenizer ${JSON.stringify(o.tokenizer)}; this vecforge has ${Object.values(kLexicalTokenizers).join(', ')}`);
  for (const [name, [min, max]] of Object.entries(kLexicalRanges)) {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(`has no valid ${name} (a number in [${min}, ${max}])`);
  }
  if (typeof o.nextSegment !== 'number' || !Number.isInteger(o.nextSegment) || o.nextSegment < 0 || o.nextSegment > 999_999) throw bad('has no valid nextSegment');
  if (!Array.isArray(o.segments) || o.segments.length > kMaxListedSegments) throw bad(`has no valid segments list (at most ${kMaxListedSegments})`);
  const listed = new Set(files);
  const seen = new Set<string>();
  const segments = o.segments.map((s: unknown, i) => {
    if (s === null || typeof s !== 'object') throw bad(`segment ${i} is not an object`);
    const { file, docs } = s as Record<string, unknown>;
    if (typeof file !== 'string' || !kSegmentName.test(file) || !listed.has(file) || seen.has(file)) throw bad(`segment ${i} names ${JSON.stringify(file)}, not a segment file the manifest lists once`);
    if (typeof docs !== 'number' || !Number.isInteger(docs) || docs < 0 || docs > 2 ** 32) throw bad(`segment ${i} has no valid docs count`);
    seen.add(file);
    return { file, docs };
  });
  return { tokenizer: o.tokenizer as string, k1: o.k1 as number, b: o.b as number, nextSegment: o.nextSegment, segments };
}

/** Hard-links a published file into another version (copies where links fail). */
function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** The lexical index of an open index: in memory, plus what its files are. */
export class LexicalState {
  readonly options: ResolvedLexicalOptions;
  readonly index: LexicalIndex;
  /** The version directory the segments were last saved in or opened from. */
  #base: { path: string; segments: SegmentRef[] } | null = null;
  /** Label → index into the base's segments, −1 for none. */
  #segOf = new Int32Array(0);
  /** Labels added since the base. */
  readonly #written = new Set<number>();
  #nextSegment = 0;
  #pending: { path: string; section: LexicalSection; maxLabel: number; where: string } | null = null;
  #error: unknown = null;

  private constructor(options: ResolvedLexicalOptions) {
    this.options = options;
    this.index = new LexicalIndex(options);
  }

  /**
   * An empty lexical index.
   * @param options - k1 and b.
   * @returns the state.
   */
  static create(options: ResolvedLexicalOptions = kDefaultLexicalOptions): LexicalState {
    return new LexicalState(options);
  }

  /**
   * The lexical index of a version, loaded on first use ({@link LexicalState.ensure}).
   * @param path - the version directory (its files verified).
   * @param section - its `extra.lexical`.
   * @param maxLabel - the manifest's nextLabel.
   * @param where - the index, for messages.
   * @returns the state.
   */
  static deferred(path: string, section: LexicalSection, maxLabel: number, where: string): LexicalState {
    const state = new LexicalState(Object.freeze({ k1: section.k1, b: section.b, stopWords: stopWordsOfTokenizer(section.tokenizer) ?? 'none' }));
    state.#pending = { path, section, maxLabel, where };
    state.#nextSegment = section.nextSegment;
    return state;
  }

  /**
   * Loads the segments of a deferred state, if not done yet.
   * @param isLive - whether a label holds a record in the doc store.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when a segment does not decode (again on every later call).
   */
  ensure(isLive: (label: number) => boolean): void {
    if (this.#error !== null) throw this.#error;
    const p = this.#pending;
    if (p === null) return;
    this.#pending = null;
    try {
      this.#segOf = new Int32Array(p.maxLabel).fill(-1);
      const refs: SegmentRef[] = [];
      p.section.segments.forEach((seg, i) => {
        const bytes = readFileSync(join(p.path, seg.file));
        const before = this.index.docCount;
        const labels = decodeSegment(bytes, this.index, isLive, p.maxLabel, `index ${p.where}: ${seg.file}`);
        if (labels.length !== seg.docs) throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${p.where}: ${seg.file} holds ${labels.length} documents, the manifest says ${seg.docs}`);
        for (const label of labels) {
          if (this.#segOf[label] !== -1) throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${p.where}: label ${label} is in two lexical segments`);
          this.#segOf[label] = i;
        }
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        refs.push({ file: seg.file, docs: seg.docs, live: this.index.docCount - before, entry: { bytes: bytes.length, sha256 } });
      });
      this.#base = { path: p.path, segments: refs };
      // Segments hold ascending labels, but a merged one can hold older
      // labels than a segment before it: the lists are then rebuilt in
      // label order (what a compaction does), which the native walk needs
      // to take labels a block at a time.
      if (!this.index.listsSorted) this.index.compact();
    } catch (error) {
      this.#error = error instanceof VecforgeError ? error : new VecforgeError('ERR_INDEX_CORRUPT', `index ${p.where}: the lexical index does not load: ${errorMessage(error)}`, { cause: error });
      throw this.#error;
    }
  }

  /** Whether the segments are loaded (or there are none to load). */
  get loaded(): boolean {
    return this.#pending === null && this.#error === null;
  }

  /**
   * Indexes a document's text under its label.
   * @param label - the label.
   * @param text - the text.
   */
  add(label: number, text: string): void {
    this.index.addText(label, text, this.options.stopWords);
    this.#written.add(label);
  }

  /**
   * A text's terms under this index's rules (its stop words).
   * @param text - a document's or a query's text.
   * @returns the terms, repeats included.
   */
  terms(text: string): string[] {
    return lexicalTerms(text, this.options.stopWords);
  }

  /**
   * Removes a label's document, if it has one.
   * @param label - the label.
   */
  remove(label: number): void {
    if (!this.index.remove(label)) return;
    this.#written.delete(label);
    const seg = this.#segOf[label] ?? -1;
    const ref = seg >= 0 ? this.#base?.segments[seg] : undefined;
    if (ref !== undefined) ref.live--;
  }

  /**
   * Writes the segments of a new version into its directory (see the
   * module comment); the state moves to it only when `commit` is called,
   * once the version is published.
   * @param versionPath - the new version's directory.
   * @returns the files with their entries, the manifest section, and commit.
   */
  async save(versionPath: string): Promise<{ files: Record<string, FileEntry>; section: LexicalSection; commit: () => void }> {
    const base = this.#base !== null && existsSync(this.#base.path) ? this.#base : null;
    const index = this.index;
    type Part = { readonly refs: number[]; live: number; fresh: boolean };
    const parts: Part[] = [];
    const merged: number[] = [];
    let freshLabels: number[];
    if (base === null) {
      freshLabels = [];
      for (let label = 0; label < index.labelSlots; label++) if (index.has(label)) freshLabels.push(label);
    } else {
      freshLabels = [...this.#written].filter((l) => index.has(l));
      base.segments.forEach((ref, i) => {
        // More than half dead (or empty): its live documents go into the new segment.
        if (ref.live * 2 <= ref.docs) merged.push(i);
        else parts.push({ refs: [i], live: ref.live, fresh: false });
      });
    }
    const fresh: Part = { refs: merged, live: freshLabels.length + merged.reduce((a, i) => a + (base?.segments[i]?.live ?? 0), 0), fresh: true };
    while (parts.length > 0 && (parts[parts.length - 1] as Part).live <= 2 * fresh.live) {
      const last = parts.pop() as Part;
      fresh.refs.push(...last.refs);
      fresh.live += last.live;
    }
    if (parts.length + 1 > kMaxSegments) {
      for (const p of parts) {
        fresh.refs.push(...p.refs);
        fresh.live += p.live;
      }
      parts.length = 0;
    }
    const files: Record<string, FileEntry> = {};
    const next: SegmentRef[] = [];
    for (const p of parts) {
      const ref = base?.segments[p.refs[0] as number] as SegmentRef;
      linkOrCopy(join(base?.path ?? '', ref.file), join(versionPath, ref.file));
      files[ref.file] = ref.entry;
      next.push({ ...ref });
    }
    let nextSegment = this.#nextSegment;
    let freshLabelsAll: number[] = [];
    if (fresh.live > 0) {
      const from = new Set(fresh.refs);
      freshLabelsAll = freshLabels;
      if (from.size > 0) {
        for (let label = 0; label < this.#segOf.length; label++) if (from.has(this.#segOf[label] as number) && index.has(label)) freshLabelsAll.push(label);
      }
      freshLabelsAll.sort((a, b) => a - b);
      const bytes = encodeSegment(index, freshLabelsAll);
      const file = `lexical-${String(nextSegment++).padStart(6, '0')}.seg`;
      await writeDurably(join(versionPath, file), bytes);
      const entry = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
      files[file] = entry;
      next.push({ file, docs: freshLabelsAll.length, live: freshLabelsAll.length, entry });
    }
    const section: LexicalSection = { tokenizer: kLexicalTokenizers[this.options.stopWords], k1: this.options.k1, b: this.options.b, nextSegment, segments: next.map((r) => ({ file: r.file, docs: r.docs })) };
    const commit = (): void => {
      const slots = Math.max(this.#segOf.length, index.labelSlots);
      const segOf = new Int32Array(slots).fill(-1);
      const oldIndex = new Map<number, number>();
      parts.forEach((p, i) => {
        oldIndex.set(p.refs[0] as number, i);
      });
      for (let label = 0; label < this.#segOf.length; label++) {
        const i = oldIndex.get(this.#segOf[label] as number);
        if (i !== undefined) segOf[label] = i;
      }
      for (const label of freshLabelsAll) segOf[label] = next.length - 1;
      this.#segOf = segOf;
      this.#base = { path: versionPath, segments: next };
      this.#nextSegment = nextSegment;
      this.#written.clear();
    };
    return { files, section, commit };
  }

  /**
   * Points the state at a copy of its last saved version in another
   * directory (the segments there are the same files).
   * @param versionPath - the copy's version directory.
   */
  rebase(versionPath: string): void {
    if (this.#base !== null) this.#base.path = versionPath;
    else if (this.#pending !== null) this.#pending.path = versionPath;
  }

  /**
   * Figures of the lexical index.
   * @returns counts, memory and disk, per document too.
   */
  stats(): LexicalStats {
    const mem = this.index.memoryStats();
    const diskBytes = this.#base?.segments.reduce((a, s) => a + s.entry.bytes, 0) ?? 0;
    const docs = Math.max(1, mem.docs);
    return {
      ...mem,
      k1: this.options.k1,
      b: this.options.b,
      stopWords: this.options.stopWords,
      segments: this.#base?.segments.length ?? 0,
      diskBytes,
      memoryBytesPerDoc: Math.round(mem.memoryBytes / docs),
      diskBytesPerDoc: Math.round(diskBytes / docs),
    };
  }
}

/** Writes a new file and flushes it to disk before the manifest names it. */
async function writeDurably(path: string, bytes: Buffer): Promise<void> {
  const handle = await openFile(path, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
