import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { basicTokenize, readTokenizerJson, readVocabTokenizer, WordPieceTokenizer, type WordPieceSpec } from '../src/models/bert/wordpiece.js';
import { kTinyVocab, writeTinyBert } from './bert-fixtures.js';
import { tempDir } from './helpers.js';

function vocabTokenizer(config: Record<string, unknown> = { do_lower_case: true }): WordPieceTokenizer {
  const dir = tempDir('vecforge-wp-');
  writeFileSync(join(dir, 'vocab.txt'), `${kTinyVocab.join('\n')}\n`);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return new WordPieceTokenizer(readVocabTokenizer(join(dir, 'vocab.txt'), join(dir, 'tokenizer_config.json')));
}

const kLower = { lowerCase: true, stripAccents: true, chineseChars: true, cleanText: true };

describe('basic tokenizer', () => {
  test.each([
    ['Hello, World!', ['hello', ',', 'world', '!']],
    ['the\tcat\n\u00a0sat\u0007\u200b', ['the', 'cat', 'sat']],
    ['naïve Café', ['naive', 'cafe']],
    ['中国x', ['中', '国', 'x']],
    ['a$b `c` ~d', ['a', '$', 'b', '`', 'c', '`', '~', 'd']],
    ["don't «stop»", ['don', "'", 't', '«', 'stop', '»']],
    ['  \u3000 ', []],
  ])('%j -> %j', (text, words) => {
    expect(basicTokenize(text, kLower)).toEqual(words);
  });

  test('keeps case and accents when not lower-casing', () => {
    expect(basicTokenize('Naïve Café', { ...kLower, lowerCase: false, stripAccents: false })).toEqual(['Naïve', 'Café']);
  });

  test('composes decomposed accents (NFC) before matching', () => {
    expect(basicTokenize('e\u0301', { ...kLower, lowerCase: false, stripAccents: false })).toEqual(['é']);
  });
});

describe('WordPiece', () => {
  const wp = vocabTokenizer();
  test.each([
    ['unaffable', ['un', '##aff', '##able']],
    ['running runs', ['run', '##ning', 'runs']],
    ['abc', ['a', '##b', '##c']],
    ['abd', ['[UNK]']],
    ['a$b', ['a', '[UNK]', '[UNK]']],
    ['Naïve CAFÉ 中国', ['naive', 'cafe', '中', '国']],
    ['x'.repeat(100), ['x', ...Array<string>(99).fill('##x')]],
    ['x'.repeat(101), ['[UNK]']],
  ])('%j -> %j', (text, tokens) => {
    expect(wp.tokens(text)).toEqual(tokens);
  });

  test('encodes [CLS] pieces [SEP] and flags truncation', () => {
    expect(Array.from(wp.encode('the cat sat', 5).ids)).toEqual([2, 5, 6, 7, 3]);
    expect(wp.encode('the cat sat', 5).truncated).toBe(false);
    const cut = wp.encode('the cat sat on the mat', 5);
    expect(Array.from(cut.ids)).toEqual([2, 5, 6, 7, 3]);
    expect(cut.truncated).toBe(true);
  });

  test('without do_lower_case, case and accents stay', () => {
    const cased = vocabTokenizer({ do_lower_case: false });
    expect(cased.tokens('Hello hello Naïve')).toEqual(['Hello', 'hello', '[UNK]']);
  });

  test('strip_accents: false keeps accents while lower-casing', () => {
    expect(vocabTokenizer({ do_lower_case: true, strip_accents: false }).tokens('É')).toEqual(['é']);
  });

  test('a vocabulary without a special token is refused', () => {
    const spec: WordPieceSpec = { ...readVocabTokenizer(writeVocab(['[PAD]', 'a']), undefined) };
    expect(() => new WordPieceTokenizer(spec)).toThrow('the vocabulary has no special token "[UNK]"');
  });
});

function writeVocab(tokens: readonly string[]): string {
  const path = join(tempDir('vecforge-wp-'), 'vocab.txt');
  writeFileSync(path, tokens.join('\r\n'));
  return path;
}

describe('tokenizer.json', () => {
  test('a WordPiece tokenizer.json tokenises as vocab.txt does', () => {
    const dir = tempDir('vecforge-wpj-');
    writeTinyBert(dir, { tokenizerJson: true });
    const fromJson = new WordPieceTokenizer(readTokenizerJson(join(dir, 'tokenizer.json')));
    const fromVocab = vocabTokenizer();
    for (const text of ['Hello, World!', 'unaffable running', 'Naïve CAFÉ 中国', 'a$b abd']) {
      expect(Array.from(fromJson.encode(text, 64).ids)).toEqual(Array.from(fromVocab.encode(text, 64).ids));
    }
  });

  test('a non-WordPiece model is refused, naming it', () => {
    const path = join(tempDir('vecforge-wpj-'), 'tokenizer.json');
    writeFileSync(path, JSON.stringify({ model: { type: 'BPE', vocab: {} } }));
    expect(() => readTokenizerJson(path)).toThrow(`${path}: tokenizer model "BPE" is not supported; supported: WordPiece`);
  });

  test('BertNormalizer lowercase: false keeps case', () => {
    const path = join(tempDir('vecforge-wpj-'), 'tokenizer.json');
    writeFileSync(path, JSON.stringify({ normalizer: { type: 'BertNormalizer', lowercase: false }, model: { type: 'WordPiece', vocab: Object.fromEntries(kTinyVocab.map((t, i) => [t, i])) } }));
    expect(new WordPieceTokenizer(readTokenizerJson(path)).tokens('Hello hello')).toEqual(['Hello', 'hello']);
  });
});
