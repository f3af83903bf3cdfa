import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { ensureGloveCache } from '../src/models/glove/convert.js';
import { gloveViews, type GloveTable } from '../src/models/glove/layout.js';
import { rowsCapacity, tokenizeAsciiToRows, tokenizeToRows, tokenizeUtf8ToRows } from '../src/models/glove/tokenize.js';
import { kRepoRoot, kTestCacheDir } from './helpers.js';

let table: GloveTable;

beforeAll(() => {
  const { buffer, header } = ensureGloveCache(kTestCacheDir);
  table = gloveViews(buffer, header);
});

/** Rows of a text through the string tokeniser (the reference). */
function stringRows(text: string): number[] {
  const rows: number[] = [];
  tokenizeToRows(table, text, rows);
  return rows;
}

/** Rows of a text through the UTF-8 tokeniser, reading it from shared memory at an offset. */
function utf8Rows(text: string): number[] {
  const encoded = new TextEncoder().encode(text);
  const bytes = new Uint8Array(new SharedArrayBuffer(encoded.length + 7));
  bytes.set(encoded, 3);
  const rows = new Int32Array(rowsCapacity(encoded.length));
  const n = tokenizeUtf8ToRows(table, bytes, 3, 3 + encoded.length, rows);
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
  'A'.repeat(300) + ' king',
];

describe('UTF-8 tokeniser', () => {
  test.each(kCases)('same rows as the string tokeniser: %s', (text) => {
    expect(utf8Rows(text)).toEqual(stringRows(text));
  });

  test('the ASCII path declines text with non-ASCII bytes', () => {
    const bytes = new TextEncoder().encode('king café');
    expect(tokenizeAsciiToRows(table, bytes, 0, bytes.length, new Int32Array(rowsCapacity(bytes.length)))).toBe(-1);
    expect(tokenizeAsciiToRows(table, bytes, 0, 4, new Int32Array(4))).toBe(1);
  });

  test('same rows as the string tokeniser on every text of the sample corpus and queries', () => {
    let texts = 0;
    for (const file of ['sample-corpus.jsonl', 'sample-queries.jsonl']) {
      for (const line of readFileSync(join(kRepoRoot, 'data', file), 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const record = JSON.parse(line) as { text?: string; query?: string; metadata?: { examples?: string[] } };
        for (const text of [record.text ?? record.query ?? '', ...(record.metadata?.examples ?? [])]) {
          expect(utf8Rows(text)).toEqual(stringRows(text));
          // The same text with its first letters upper-cased and a non-ASCII word: both paths.
          const varied = `${text.slice(0, 8).toUpperCase()}${text.slice(8)} Ærøskøbing`;
          expect(utf8Rows(varied)).toEqual(stringRows(varied));
          texts++;
        }
      }
    }
    expect(texts).toBeGreaterThan(3_000);
  });
});
