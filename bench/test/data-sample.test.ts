import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { selectDefinitions } from '../src/data/definitions.js';
import { kSampleCsvRows, kSampleFiles, toCsv } from '../src/data/sample-corpus.js';
import { parseDataFile, parseGloss, parseIndexFile, type WordNetSynset } from '../src/data/wordnet.js';

const kDataDir = fileURLToPath(new URL('../../data/', import.meta.url));
const kPartsOfSpeech = ['noun', 'verb', 'adjective', 'adverb'];

interface Document {
  id: string;
  text: string;
  metadata: { pos: string; lemmas: string[]; lexname: string; examples: string[] };
  namespace: string;
}

function readJsonl<T>(name: string): T[] {
  return readFileSync(`${kDataDir}${name}`, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/** A strict RFC 4180 reader: CRLF record ends, `""` for a quote inside a quoted field. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let at = 0;
  for (;;) {
    let field = '';
    if (text[at] === '"') {
      at++;
      for (;;) {
        const close = text.indexOf('"', at);
        if (close < 0) throw new Error(`unclosed quote at ${at}`);
        field += text.slice(at, close);
        at = close + 1;
        if (text[at] !== '"') break;
        field += '"';
        at++;
      }
    } else {
      const end = text.slice(at).search(/[,\r\n"]/);
      const stop = end < 0 ? text.length : at + end;
      if (text[stop] === '"') throw new Error(`bare quote at ${stop}`);
      field = text.slice(at, stop);
      at = stop;
    }
    record.push(field);
    if (text[at] === ',') {
      at++;
      continue;
    }
    if (text.startsWith('\r\n', at)) {
      records.push(record);
      record = [];
      at += 2;
      if (at === text.length) return records;
      continue;
    }
    throw new Error(`expected "," or CRLF at ${at}, found ${JSON.stringify(text.slice(at, at + 10))}`);
  }
}

describe('sample corpus', () => {
  const documents = readJsonl<Document>(kSampleFiles.corpus);
  const ids = new Set(documents.map((document) => document.id));

  test('holds a few thousand documents with unique ids', () => {
    expect(documents.length).toBeGreaterThanOrEqual(3000);
    expect(documents.length).toBeLessThanOrEqual(5000);
    expect(ids.size).toBe(documents.length);
  });

  test('every document is well-formed and its namespace is its part of speech', () => {
    const malformed = documents.filter(
      (document) =>
        !/^[^\s]+\.[nvasr]\.\d{2}$/.test(document.id) ||
        document.text.trim() === '' ||
        document.text.split(/\s+/).length < 4 ||
        !kPartsOfSpeech.includes(document.namespace) ||
        document.metadata.pos !== document.namespace ||
        document.metadata.lemmas.length === 0 ||
        !/^(noun|verb|adj|adv)\./.test(document.metadata.lexname) ||
        !Array.isArray(document.metadata.examples),
    );
    expect(malformed).toEqual([]);
  });

  test('covers every part of speech, also within the CSV rows', () => {
    expect(new Set(documents.map((document) => document.namespace))).toEqual(new Set(kPartsOfSpeech));
    expect(new Set(documents.slice(0, kSampleCsvRows).map((document) => document.namespace))).toEqual(new Set(kPartsOfSpeech));
  });

  test('every query is non-empty and names documents of the corpus', () => {
    const queries = readJsonl<{ query: string; expected: string[] }>(kSampleFiles.queries);
    expect(queries.length).toBeGreaterThanOrEqual(35);
    for (const query of queries) {
      expect(query.query.trim()).not.toBe('');
      expect(query.expected.length).toBeGreaterThan(0);
      for (const id of query.expected) expect(ids.has(id), `${query.query} expects unknown id ${id}`).toBe(true);
    }
  });

  test('the CSV parses back to the first rows of the corpus', () => {
    const text = readFileSync(`${kDataDir}${kSampleFiles.csv}`, 'utf8');
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual(['id', 'text', 'namespace']);
    expect(rows).toEqual(documents.slice(0, kSampleCsvRows).map((document) => [document.id, document.text, document.namespace]));
    const texts = rows.map((row) => row[1] as string);
    expect(texts.filter((value) => value.includes('"')).length).toBeGreaterThan(0);
    expect(texts.filter((value) => value.includes(',')).length).toBeGreaterThan(0);
    expect(texts.some((value) => value.includes(',') && value.includes('"'))).toBe(true);
  });
});

describe('CSV writer', () => {
  test('quotes only what needs quoting and round-trips', () => {
    const rows = [
      { id: 'a', text: 'plain text', namespace: 'noun' },
      { id: 'b', text: 'one, two', namespace: 'verb' },
      { id: 'c', text: 'say "hi", then\nleave', namespace: 'adverb' },
      { id: 'd', text: ' padded ', namespace: 'noun' },
    ];
    const text = toCsv(rows);
    expect(text.split('\r\n')[1]).toBe('a,plain text,noun');
    expect(text).toContain('b,"one, two",verb');
    expect(text).toContain('c,"say ""hi"", then\nleave",adverb');
    expect(parseCsv(text).slice(1)).toEqual(rows.map((row) => [row.id, row.text, row.namespace]));
  });
});

describe('WordNet parser', () => {
  test('splits a gloss into definition and examples', () => {
    expect(parseGloss('a member of the genus Canis; occurs in many breeds; "the dog barked all night"  ')).toEqual({
      definition: 'a member of the genus Canis; occurs in many breeds',
      examples: ['the dog barked all night'],
    });
    expect(parseGloss('significant progress (especially in the phrase "make strides"); "they made big strides"')).toEqual({
      definition: 'significant progress (especially in the phrase "make strides")',
      examples: ['they made big strides'],
    });
    expect(parseGloss('assail on all sides: "The zebra was beset; so it ran"')).toEqual({
      definition: 'assail on all sides',
      examples: ['The zebra was beset; so it ran'],
    });
    expect(parseGloss('go on foot; "I walked home" - Anon')).toEqual({ definition: 'go on foot', examples: ['I walked home'] });
    expect(parseGloss('close in; darkness enclosed him"')).toEqual({ definition: 'close in', examples: ['darkness enclosed him'] });
  });

  test('names synsets the way NLTK does and strips adjective markers', () => {
    const index = parseIndexFile(
      [
        '  1 This software and database is being provided to you, the LICENSEE, by  ',
        'dog n 2 1 @ 2 1 02084071 10114209  ',
        'domestic_dog n 1 1 @ 1 0 02084071  ',
        'big a 2 0 2 1 01382086 01383394  ',
        '',
      ].join('\n'),
    );
    expect(index.get('dog')).toEqual([2084071, 10114209]);
    const [dog] = parseDataFile(
      '02084071 05 n 02 dog 0 domestic_dog 0 001 @ 02083346 n 0000 | a member of the genus Canis; "the dog barked"  \n',
      index,
    );
    expect(dog).toMatchObject({
      id: 'dog.n.01',
      offset: 2084071,
      pos: 'noun',
      lexname: 'noun.animal',
      lemmas: ['dog', 'domestic_dog'],
      definition: 'a member of the genus Canis',
      examples: ['the dog barked'],
    });
    const [big] = parseDataFile('01383394 00 s 01 big(a) 0 000 | significantly large  \n', index);
    expect(big).toMatchObject({ id: 'big.s.02', pos: 'adjective', lemmas: ['big'] });
    expect(() => parseDataFile('01383394 00 s 01 large 0 000 | x\n', index)).toThrow(/lemma "large" of synset 01383394 is missing/);
  });

  test('thins definitions evenly and fills up with examples', () => {
    const synsets: WordNetSynset[] = Array.from({ length: 10 }, (_, i) => ({
      id: `s${i}.n.01`,
      offset: i,
      type: 'n',
      pos: 'noun',
      lexname: 'noun.Tops',
      lemmas: [`s${i}`],
      definition: `definition ${i}`,
      examples: [`example ${i}`],
    }));
    expect(selectDefinitions(synsets, 5).map((record) => record.id)).toEqual(['s0.n.01', 's2.n.01', 's4.n.01', 's6.n.01', 's8.n.01']);
    const all = selectDefinitions(synsets, 12);
    expect(all.slice(10)).toEqual([
      { id: 's0.n.01#ex1', text: 'example 0', namespace: 'noun' },
      { id: 's5.n.01#ex1', text: 'example 5', namespace: 'noun' },
    ]);
    expect(() => selectDefinitions(synsets, 21)).toThrow(/options.count must be at most 20/);
  });
});
