/**
 * The lexical index's terms. The rules, in order:
 *
 * 1. Words as the GloVe model splits them (models/glove/tokenize.ts):
 *    lower-cased, runs of Unicode letters and digits that may hold in-word
 *    apostrophes ("don't", "o'clock"); everything else separates words.
 * 2. A trailing possessive is dropped ("children's" → "children"), other
 *    apostrophes are removed ("don't" → "dont"), as GloVe's clitic fallback.
 * 3. Under the `english` stop words (the default), the 33 words of Lucene's
 *    English analyzer ("a", "of", "the", …: {@link kEnglishStopWords}) are
 *    dropped, as Lucene and Elasticsearch's `english` analyzer do: they are
 *    in most documents (on GCIDE, "a" and "of" in 54% of the entries), so a
 *    long query spent 88% of its postings on them for almost no score (their
 *    IDF is near zero). Measured on GCIDE, 1,000 definition-length queries:
 *    3× faster, recall@10 0.318 → 0.319. Indexes made with `stopWords:
 *    'none'` keep every word.
 * 4. Words of ASCII letters only are stemmed with the Porter2 (Snowball
 *    English) stemmer of `wink-porter2-stemmer` ("running" → "run",
 *    "definitions" → "definit"); words with digits or other scripts are
 *    kept as they are.
 * 5. A term is at most {@link kMaxTermChars} characters (longer words are
 *    cut there).
 *
 * Texts and queries go through the same rules (those named in the index's
 * manifest), so a query term matches exactly the document terms it should.
 */
import { createRequire } from 'node:module';

/** The stop word lists. */
export const kStopWordLists = Object.freeze(['english', 'none'] as const);
/** Which stop words an index drops. */
export type StopWords = (typeof kStopWordLists)[number];

/** The tokenizer's name and rules version for each stop word list, stored with the index: an index names the rules it was built with. */
export const kLexicalTokenizers: Readonly<Record<StopWords, string>> = Object.freeze({ english: 'words-porter2-stop-english-v1', none: 'words-porter2-v1' });
/** The longest term, in UTF-16 code units. */
export const kMaxTermChars = 64;

/** Lucene's English stop words (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET). */
export const kEnglishStopWords: ReadonlySet<string> = new Set(
  ['a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with'],
);

const require = createRequire(import.meta.url);
// wink-porter2-stemmer is CommonJS with no type declarations: one function of a word.
const porter2 = require('wink-porter2-stemmer') as (word: string) => string;

const kWordPattern = /[\p{L}\p{N}]+(?:['\u2019][\p{L}\p{N}]+)*/gu;
const kAsciiLetters = /^[a-z]+$/;
/** Terms memoised by word, per rule set (words repeat heavily in text); cleared when full so memory stays bounded. */
const kTermCacheSize = 200_000;
const gTerms: Record<StopWords, Map<string, string>> = { english: new Map(), none: new Map() };

/**
 * The term of one lower-cased word (rules 2–5).
 * @param word - a lower-cased word as the pattern matched it.
 * @param stopWords - the stop words dropped.
 * @returns its term ('' when nothing is left).
 */
export function termOf(word: string, stopWords: StopWords = 'english'): string {
  const cache = gTerms[stopWords];
  const cached = cache.get(word);
  if (cached !== undefined) return cached;
  let w = word;
  if (w.includes('\u2019')) w = w.replaceAll('\u2019', "'");
  if (w.endsWith("'s")) w = w.slice(0, -2);
  if (w.includes("'")) w = w.replaceAll("'", '');
  let term: string;
  if (stopWords === 'english' && kEnglishStopWords.has(w)) term = '';
  else {
    if (w.length > kMaxTermChars) w = w.slice(0, kMaxTermChars);
    term = w.length <= 2 || !kAsciiLetters.test(w) ? w : porter2(w);
  }
  if (cache.size >= kTermCacheSize) cache.clear();
  cache.set(word, term);
  return term;
}

/**
 * Splits a text into terms (see the rules above).
 * @param text - any text.
 * @param stopWords - the stop words dropped. @default 'english'
 * @returns the terms, in text order, repeats included.
 */
export function lexicalTerms(text: string, stopWords: StopWords = 'english'): string[] {
  const out: string[] = [];
  forEachWord(text, (word) => {
    const term = termOf(word, stopWords);
    if (term !== '') out.push(term);
  });
  return out;
}

/**
 * Calls `fn` with each lower-cased word of a text (rule 1), in text order:
 * what an index that memoises words' terms itself reads.
 * @param text - any text.
 * @param fn - receives each word.
 */
export function forEachWord(text: string, fn: (word: string) => void): void {
  const lower = text.toLowerCase();
  // One pattern for every walk, its lastIndex the walk's state (a copy per
  // text cost 25% more over 100,000 WordNet definitions): walks never nest,
  // as `fn` only maps words to terms.
  const pattern = kWordPattern;
  pattern.lastIndex = 0;
  for (let m = pattern.exec(lower); m !== null; m = pattern.exec(lower)) fn(m[0]);
}

/**
 * The stop word list of a tokenizer name.
 * @param name - a name from a manifest.
 * @returns the list, or null for a name this vecforge does not know.
 */
export function stopWordsOfTokenizer(name: unknown): StopWords | null {
  for (const list of kStopWordLists) if (kLexicalTokenizers[list] === name) return list;
  return null;
}
