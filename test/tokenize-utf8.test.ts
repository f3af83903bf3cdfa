import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { ensureGloveCache } from '../src/models/glove/convert.js';
import { gloveViews, type GloveTable } from '../src/models/glove/layout.js';
import { rowsCapacity, tokenizeAsciiToRows, tokenizeToRows, tokenizeUtf8ToRows } from '../src/models/glove/tokenize.js';
import { kRepoRoot, kTestCacheDir } from './helpers.js';

let table: GloveTable;
/** The same table with its ASCII lookup table, which the UTF-8 fast path then uses. */
let withAscii: GloveTable;

beforeAll(() => {
  const { buffer, header, asciiLookup } = ensureGloveCache(kTestCacheDir);
  table = gloveViews(buffer, header);
  withAscii = gloveViews(buffer, header, asciiLookup);
});

const kLookups = ['main hash table', 'ASCII lookup table'] as const;
const pick = (lookup: (typeof kLookups)[number]): GloveTable => (lookup === 'main hash table' ? table : withAscii);

/** Rows of a text through the string tokeniser (the reference). */
function stringRows(text: string): number[] {
  const rows: number[] = [];
  tokenizeToRows(table, text, rows);
  return rows;
}

/** Rows of a text through the UTF-8 tokeniser, reading it from shared memory at an offset. */
function utf8Rows(text: string, t: GloveTable = table): number[] {
  const encoded = new TextEncoder().encode(text);
  const bytes = new Uint8Array(new SharedArrayBuffer(encoded.length + 7));
  bytes.set(encoded, 3);
  const rows = new Int32Array(rowsCapacity(encoded.length));
  const n = tokenizeUtf8ToRows(t, bytes, 3, 3 + encoded.length, rows);
  return Array.from(rows.subarray(0, n));
}

const kCases = [
  'The King and the QUEEN',
  "don't stop; o'clock, children's toys, rock'n'roll",
  "'quoted' words'' and trailing' apostrophes ''",
  "it's the dog's bone, isn't it? ''tis",
  'numbers 42 and 3.14, 1990s, mp3 and B52 covers',
  'tabs\tand\nnewlines\r\nand   spaces',
  'punctuation: a-b_c/d\\e(f)[g]{h}<i>j|k~l@m#n$o%p^q&r*s+t=u',
  'café naïve résumé Zürich São Paulo',
  'Straße ÉCOLE İstanbul ΑΘΗΝΑ Москва 東京 ٣٤ ½',
  'curly apostrophes: don’t, o’clock, children’s',
  'emoji 🙂 between words 👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 letters',
  'x',
  '!!!',
  "'",
  "a'",
  "'a",
  'qqzzxxnotaword king qqzzxxnotaword',
  'long words: photosynthesis internationalization characteristically Performances information development',
  `${'A'.repeat(300)} king`,
];

describe('UTF-8 tokeniser', () => {
  test.each(kLookups.flatMap((lookup) => kCases.map((text) => [lookup, text] as const)))('%s: same rows as the string tokeniser: %s', (lookup, text) => {
    expect(utf8Rows(text, pick(lookup))).toEqual(stringRows(text));
  });

  test('the ASCII lookup table finds every ASCII vocabulary word at its row', () => {
    const { wordOffsets, chars } = table;
    let checked = 0;
    for (let row = 0; row < table.header.count; row += 7) {
      const word = String.fromCharCode(...chars.subarray(wordOffsets[row], wordOffsets[row + 1]));
      if (word.length === 0 || [...word].some((c) => c.charCodeAt(0) > 0x7f)) continue;
      const bytes = new TextEncoder().encode(word);
      const rows = new Int32Array(rowsCapacity(bytes.length) + 1);
      // A vocabulary word may itself tokenise into several words ("a.m."); check single-word ones.
      if (stringRows(word).length !== 1) continue;
      tokenizeAsciiToRows(withAscii, bytes, 0, bytes.length, rows);
      expect(rows[0]).toBe(stringRows(word)[0]);
      checked++;
    }
    expect(checked).toBeGreaterThan(40_000);
  });

  test('the ASCII path declines text with non-ASCII bytes', () => {
    const bytes = new TextEncoder().encode('king café');
    expect(tokenizeAsciiToRows(table, bytes, 0, bytes.length, new Int32Array(rowsCapacity(bytes.length)))).toBe(-1);
    expect(tokenizeAsciiToRows(table, bytes, 0, 4, new Int32Array(4))).toBe(1);
    expect(tokenizeAsciiToRows(withAscii, bytes, 0, bytes.length, new Int32Array(rowsCapacity(bytes.length)))).toBe(-1);
  });

  test.each(kLookups)('%s: same rows as the string tokeniser on every text of the sample corpus and queries', (lookup) => {
    const t = pick(lookup);
    let texts = 0;
    for (const file of ['sample-corpus.jsonl', 'sample-queries.jsonl']) {
      for (const line of readFileSync(join(kRepoRoot, 'data', file), 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const record = JSON.parse(line) as { text?: string; query?: string; metadata?: { examples?: string[] } };
        for (const text of [record.text ?? record.query ?? '', ...(record.metadata?.examples ?? [])]) {
          expect(utf8Rows(text, t)).toEqual(stringRows(text));
          // The same text with its first letters upper-cased and a non-ASCII word: both paths.
          const varied = `${text.slice(0, 8).toUpperCase()}${text.slice(8)} Ærøskøbing`;
          expect(utf8Rows(varied, t)).toEqual(stringRows(varied));
          texts++;
        }
      }
    }
    expect(texts).toBeGreaterThan(3_000);
  });
});
