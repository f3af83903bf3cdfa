/**
 * GloVe's out-of-vocabulary fallback: a missing word is retried with its
 * English suffixes folded (plural, -ing, -ed) before it is dropped, on the
 * string and the ASCII byte paths alike.
 */
import { describe, expect, test } from 'vitest';
import { ensureGloveCache } from '../src/models/glove/convert.js';
import { foldedForms } from '../src/models/glove/fold.js';
import { gloveViews, lookupWord } from '../src/models/glove/layout.js';
import { rowsCapacity, tokenizeToRows, tokenizeUtf8ToRows } from '../src/models/glove/tokenize.js';
import { kTestCacheDir } from './helpers.js';

describe('suffix folding', () => {
  test.each([
    ['berries', ['berry', 'berri', 'berrie']],
    ['boxes', ['box', 'boxe']],
    ['rudds', ['rudd']],
    ['glass', []],
    ['virus', []],
    ['making', ['mak', 'make']],
    ['running', ['runn', 'runne', 'run']],
    ['carried', ['carry', 'carri', 'carrie']],
    ['hoped', ['hop', 'hope']],
    ['stopped', ['stopp', 'stoppe', 'stop']],
    ['cats', ['cat']],
    ['bus', []],
    ["don't", []],
    ['Ünis', []],
  ])('%s → %j', (word, forms) => {
    expect(foldedForms(word)).toEqual(forms);
  });

  test('a missing inflection finds its base word, the same on the string and byte paths; folding can be turned off to measure it', () => {
    const { buffer, header } = ensureGloveCache(kTestCacheDir);
    const table = gloveViews(buffer, header);
    expect(lookupWord(table, 'rudds')).toBe(-1);
    expect(lookupWord(table, 'glassing')).toBe(-1);
    const text = 'rudds glassing zzqqx';
    const rows: number[] = [];
    expect(tokenizeToRows(table, text, rows)).toBe(3);
    expect(rows).toEqual([lookupWord(table, 'rudd'), lookupWord(table, 'glass')]);
    const bytes = Buffer.from(text);
    const out = new Int32Array(rowsCapacity(bytes.length));
    expect(tokenizeUtf8ToRows(table, bytes, 0, bytes.length, out)).toBe(2);
    expect([...out.subarray(0, 2)]).toEqual(rows);
    const unfolded: number[] = [];
    tokenizeToRows(table, text, unfolded, false);
    expect(unfolded).toEqual([]);
  });
});
