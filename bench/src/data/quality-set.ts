/**
 * The quality suite's documents and queries from a dictionary (dictd.ts).
 *
 * Two kinds of query, each with a known answer, neither favouring one side:
 *
 * - **headword**: the query is a headword, lower-cased; the documents that
 *   answer it are the entries with that headword (any case), whose text is
 *   their definition without the headword line. The definition rarely
 *   repeats the headword (examples and notes sometimes do), so this asks
 *   whether a search finds what a word means: the vector side through the
 *   word's embedding, the lexical side through the rare entries that use it.
 * - **held-out sense**: for an entry with several numbered senses, the query
 *   is its last sense and the document the other senses (the held-out one
 *   removed): a related gloss of the same word, sharing some words and some
 *   meaning with the document, as a user's paraphrase would.
 *
 * Entries are drawn with a seeded generator; the held-out entries and the
 * headword entries are disjoint.
 */
import { createRng } from '../internals.js';
import type { DictEntry } from './dictd.js';

/** One query and the documents that answer it. */
export interface QualityQuery {
  readonly kind: 'headword' | 'held-out sense';
  readonly text: string;
  /** Indexes of the documents that answer it. */
  readonly relevant: readonly number[];
}

/** Documents and queries. */
export interface QualitySet {
  /** Document texts; document i is entry i (of the entries kept). */
  readonly docs: readonly string[];
  readonly queries: readonly QualityQuery[];
}

const kHeadword = /^[\p{L}\p{N}][\p{L}\p{N} '-]*$/u;

/**
 * Builds the set.
 * @param entries - the dictionary's entries.
 * @param options - documents kept at most (thinned evenly), queries of each kind, seed.
 * @returns documents and queries.
 */
export function qualitySet(entries: readonly DictEntry[], options: { readonly maxDocs: number; readonly perKind: number; readonly seed: number }): QualitySet {
  const step = Math.max(1, entries.length / options.maxDocs);
  const kept: DictEntry[] = [];
  for (let i = 0; i < Math.min(entries.length, options.maxDocs); i++) kept.push(entries[Math.floor(i * step)] as DictEntry);
  const rng = createRng(options.seed);
  const shuffled = kept.map((_, i) => i);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.nextUint32() % (i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j] as number, shuffled[i] as number];
  }
  const heldOut = new Set<number>();
  for (const i of shuffled) {
    if (heldOut.size >= options.perKind) break;
    if ((kept[i]?.senses.length ?? 0) >= 2) heldOut.add(i);
  }
  const docs = kept.map((e, i) => (heldOut.has(i) ? e.senses.slice(0, -1) : e.senses).join(' '));
  const byHeadword = new Map<string, number[]>();
  kept.forEach((e, i) => {
    const h = e.headword.toLowerCase();
    const list = byHeadword.get(h);
    if (list === undefined) byHeadword.set(h, [i]);
    else list.push(i);
  });
  const queries: QualityQuery[] = [];
  for (const i of heldOut) queries.push({ kind: 'held-out sense', text: kept[i]?.senses.at(-1) ?? '', relevant: [i] });
  const asked = new Set<string>();
  for (const i of shuffled) {
    if (asked.size >= options.perKind) break;
    const e = kept[i] as DictEntry;
    const h = e.headword.toLowerCase();
    if (heldOut.has(i) || asked.has(h) || !kHeadword.test(h)) continue;
    asked.add(h);
    queries.push({ kind: 'headword', text: h, relevant: byHeadword.get(h) ?? [i] });
  }
  return { docs, queries };
}
