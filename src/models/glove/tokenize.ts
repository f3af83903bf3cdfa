/**
 * GloVe tokenisation: lower-case, then words are runs of letters and digits
 * that may hold in-word apostrophes ("don't", "o'clock"); everything else
 * separates words. A word missing from the vocabulary is retried without
 * its apostrophe suffix ("children's" → "children"), since the GloVe
 * vocabulary splits clitics off; otherwise it is skipped.
 */
import { lookupWord, type GloveTable } from './layout.js';

const kWordPattern = /[\p{L}\p{N}]+(?:['\u2019][\p{L}\p{N}]+)*/gu;

/**
 * Splits a text into vocabulary rows.
 * @param table - the GloVe table.
 * @param text - any text.
 * @param rows - receives the row of every known word, in order.
 * @returns the number of words found (known or not).
 */
export function tokenizeToRows(table: GloveTable, text: string, rows: number[]): number {
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
