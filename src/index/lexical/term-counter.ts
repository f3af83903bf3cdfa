/**
 * Counting a text's terms by term id for the BM25 index (bm25.ts): each
 * word's term id is memoised (words repeat heavily in text, and a word's
 * term costs a stemming the first time), and counts go to a scratch array
 * by id, so adding a text builds no maps of its own.
 */
import { forEachWord, termOf, type StopWords } from './tokenize.js';

/** Words whose term id is kept at most (the memo is cleared when full): some 15 MB at most, the size of the tokenizer's own memo. */
const kMaxWords = 200_000;

/** A text's distinct terms (by id, in order of first occurrence) with their counts. */
export interface CountedTerms {
  readonly ids: number[];
  readonly tfs: number[];
  /** Terms in all, repeats included. */
  readonly length: number;
}

/** Counts texts' terms under one index's term ids. */
export class TermCounter {
  readonly #intern: (term: string) => number;
  /** Per lower-cased word: its term id, or −1 for none (a stop word). */
  readonly #ids = new Map<string, number>();
  #rules: StopWords | null = null;
  /** Per term id: its count in the text being counted (zero between texts). */
  #tf = new Uint32Array(1024);

  /** @param intern - the index's term id of a term, created when new. */
  constructor(intern: (term: string) => number) {
    this.#intern = intern;
  }

  /** Forgets the memoised ids (the index renumbered its terms). */
  clear(): void {
    this.#ids.clear();
  }

  /**
   * The terms of a text, as `lexicalTerms(text, stopWords)` gives them, counted.
   * @param text - the text.
   * @param stopWords - the stop words dropped.
   * @returns distinct term ids, their counts and the length.
   */
  count(text: string, stopWords: StopWords): CountedTerms {
    if (this.#rules !== stopWords) {
      this.#ids.clear();
      this.#rules = stopWords;
    }
    const memo = this.#ids;
    const ids: number[] = [];
    let length = 0;
    forEachWord(text, (word) => {
      let id = memo.get(word);
      if (id === undefined) {
        const term = termOf(word, stopWords);
        id = term === '' ? -1 : this.#intern(term);
        if (memo.size >= kMaxWords) memo.clear();
        memo.set(word, id);
      }
      if (id < 0) return;
      length++;
      if (this.#tf.length <= id) {
        const grown = new Uint32Array(Math.max(id + 1, this.#tf.length * 2));
        grown.set(this.#tf);
        this.#tf = grown;
      }
      if (this.#tf[id] === 0) ids.push(id);
      this.#tf[id] = (this.#tf[id] as number) + 1;
    });
    const tfs = ids.map((id) => {
      const n = this.#tf[id] as number;
      this.#tf[id] = 0;
      return n;
    });
    return { ids, tfs, length };
  }
}
