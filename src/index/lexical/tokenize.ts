/**
 * The lexical index's terms. The rules, in order:
 *
 * 1. Words as the GloVe model splits them (models/glove/tokenize.ts):
 *    lower-cased, runs of Unicode letters and digits that may hold in-word
 *    apostrophes ("don't", "o'clock"); everything else separates words.
 * 2. A trailing possessive is dropped ("children's" → "children"), other
 *    apostrophes are removed ("don't" → "dont"), as GloVe's clitic fallback.
 * 3. Words of ASCII letters only are stemmed with the Porter2 (Snowball
 *    English) stemmer of `wink-porter2-stemmer` ("running" → "run",
 *    "definitions" → "definit"); words with digits or other scripts are
 *    kept as they are.
 * 4. A term is at most {@link kMaxTermChars} characters (longer words are
 *    cut there). No stop words are removed: BM25's IDF weighs them down.
 *
 * Texts and queries go through the same function, so a query term matches
 * exactly the document terms it should.
 */
import { createRequire } from 'node:module';

/** The tokenizer's name and rules version, stored with the index: an index built with other rules is refused. */
export const kLexicalTokenizer = 'words-porter2-v1';
/** The longest term, in UTF-16 code units. */
export const kMaxTermChars = 64;

const require = createRequire(import.meta.url);
// wink-porter2-stemmer is CommonJS with no type declarations: one function of a word.
const porter2 = require('wink-porter2-stemmer') as (word: string) => string;

const kWordPattern = /[\p{L}\p{N}]+(?:['\u2019][\p{L}\p{N}]+)*/gu;
const kAsciiLetters = /^[a-z]+$/;
/** Stems memoised (words repeat heavily in text); cleared when full so memory stays bounded. */
const kStemCacheSize = 200_000;
const gStems = new Map<string, string>();

/**
 * The term of one lower-cased word (rules 2–4).
 * @param word - a lower-cased word as the pattern matched it.
 * @returns its term ('' when nothing is left).
 */
export function termOf(word: string): string {
  let w = word;
  if (w.includes('\u2019')) w = w.replaceAll('\u2019', "'");
  if (w.endsWith("'s")) w = w.slice(0, -2);
  if (w.includes("'")) w = w.replaceAll("'", '');
  if (w.length > kMaxTermChars) w = w.slice(0, kMaxTermChars);
  if (!kAsciiLetters.test(w)) return w;
  const cached = gStems.get(w);
  if (cached !== undefined) return cached;
  const stem = w.length <= 2 ? w : porter2(w);
  if (gStems.size >= kStemCacheSize) gStems.clear();
  gStems.set(w, stem);
  return stem;
}

/**
 * Splits a text into terms (see the rules above).
 * @param text - any text.
 * @returns the terms, in text order, repeats included.
 */
export function lexicalTerms(text: string): string[] {
  const out: string[] = [];
  const lower = text.toLowerCase();
  for (const m of lower.matchAll(kWordPattern)) {
    const term = termOf(m[0]);
    if (term !== '') out.push(term);
  }
  return out;
}
