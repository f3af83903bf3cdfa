/**
 * English suffix folding for words missing from the GloVe vocabulary: a
 * word of ASCII letters that is not in the vocabulary is retried as the
 * forms its common inflections come from, in this order, before it is
 * dropped; the first form the vocabulary holds is used.
 *
 * - plural: -ies → -y ("berries" → "berry"), -es → "" ("boxes" → "box"),
 *   -s → "" ("rudds" → "rudd"; not after s, u or i: "glass", "virus", "axis")
 * - -ing: "" ("walking"), +e ("making" → "make"), undoubled ("running" → "run")
 * - -ed: "" ("walked"), -d ("hoped" → "hope"), undoubled ("stopped" →
 *   "stop"), -ied → -y ("carried" → "carry")
 *
 * Only words of at least {@link kMinFoldChars} letters are folded, and the
 * stem left must be at least 3 letters, so short words are not mistaken
 * for inflections.
 */

/** The shortest word folded. */
export const kMinFoldChars = 4;
const kMinStemChars = 3;
const kLetters = /^[a-z]+$/;

function undoubled(stem: string): string | null {
  const n = stem.length;
  return n >= kMinStemChars + 1 && stem[n - 1] === stem[n - 2] && !'aeiou'.includes(stem[n - 1] as string) ? stem.slice(0, -1) : null;
}

/**
 * The forms a word may be an inflection of, most likely first.
 * @param word - a lower-cased word.
 * @returns the candidates (empty for a word that is not folded).
 */
export function foldedForms(word: string): string[] {
  if (word.length < kMinFoldChars || !kLetters.test(word)) return [];
  const out: string[] = [];
  const add = (s: string | null): void => {
    if (s !== null && s.length >= kMinStemChars && !out.includes(s)) out.push(s);
  };
  if (word.endsWith('ies')) add(`${word.slice(0, -3)}y`);
  if (word.endsWith('es')) add(word.slice(0, -2));
  if (word.endsWith('s') && !/[sui]s$/.test(word)) add(word.slice(0, -1));
  if (word.endsWith('ing')) {
    const stem = word.slice(0, -3);
    add(stem);
    add(`${stem}e`);
    add(undoubled(stem));
  }
  if (word.endsWith('ed')) {
    const stem = word.slice(0, -2);
    if (word.endsWith('ied')) add(`${word.slice(0, -3)}y`);
    add(stem);
    add(word.slice(0, -1));
    add(undoubled(stem));
  }
  return out;
}

/**
 * Looks up the folded forms of a word missing from the vocabulary.
 * @param word - the lower-cased word.
 * @param lookup - the vocabulary lookup (row, or −1).
 * @returns the row of the first form found, or −1.
 */
export function lookupFolded(word: string, lookup: (form: string) => number): number {
  for (const form of foldedForms(word)) {
    const row = lookup(form);
    if (row >= 0) return row;
  }
  return -1;
}
