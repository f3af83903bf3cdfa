import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { bertDirectoryDefinition } from '../src/models/bert/definition.js';
import { readTokenizerJson, readVocabTokenizer, WordPieceTokenizer } from '../src/models/bert/wordpiece.js';
import { cosine, kTinyVocab, referenceEmbed, writeTinyBert } from './bert-fixtures.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const id = (token: string): number => kTinyVocab.indexOf(token);

function vocabDir(config: Record<string, unknown> = { do_lower_case: true }): string {
  const dir = tempDir('vecforge-special-');
  writeFileSync(join(dir, 'vocab.txt'), `${kTinyVocab.join('\n')}\n`);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}

function fromVocab(dir: string): WordPieceTokenizer {
  return new WordPieceTokenizer(readVocabTokenizer(join(dir, 'vocab.txt'), join(dir, 'tokenizer_config.json')));
}

function tokenizerJson(added: unknown[], lowercase = true): string {
  const path = join(tempDir('vecforge-special-'), 'tokenizer.json');
  writeFileSync(
    path,
    JSON.stringify({
      added_tokens: added,
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
      post_processor: { type: 'TemplateProcessing', cls: ['[CLS]', 2], sep: ['[SEP]', 3] },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(kTinyVocab.map((t, i) => [t, i])) },
    }),
  );
  return path;
}

const special = (content: string): Record<string, unknown> => ({ id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

describe('special tokens inside a text are kept whole', () => {
  test('vocab.txt: [CLS] [SEP] [MASK] [PAD] [UNK] stay one token each, matched case-sensitively before lower-casing', () => {
    const wp = fromVocab(vocabDir());
    expect(wp.tokens('the [MASK] sat on the [PAD][UNK]mat')).toEqual(['the', '[MASK]', 'sat', 'on', 'the', '[PAD]', '[UNK]', 'mat']);
    expect(Array.from(wp.encode('Hello [SEP] world [CLS]', 16).ids)).toEqual([id('[CLS]'), id('hello'), id('[SEP]'), id('world'), id('[CLS]'), id('[SEP]')]);
    // Lower case is not the token: the brackets are punctuation and "mask" is not in the vocabulary.
    expect(wp.tokens('[mask]')).toEqual(['[UNK]', '[UNK]', '[UNK]']);
    // Without the rule, "[MASK]" would become "[", "mask", "]" pieces.
    expect(wp.tokens('cat[MASK]dog')).toEqual(['cat', '[MASK]', 'dog']);
  });

  test('vocab.txt: additional_special_tokens, added_tokens_decoder and added_tokens.json are kept whole too', () => {
    const dir = vocabDir({ do_lower_case: true, additional_special_tokens: ['Hello'], added_tokens_decoder: { 24: { content: 'cafe', normalized: false, special: false } } });
    writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify({ lazy: id('lazy') }));
    const wp = fromVocab(dir);
    // "Hello" as written is one token; lower-cased text around it is not matched ("hello" is an ordinary word).
    expect(Array.from(wp.encode('Hello hello cafelazy', 16).ids)).toEqual([id('[CLS]'), id('Hello'), id('hello'), id('cafe'), id('lazy'), id('[SEP]')]);
  });

  test('tokenizer.json: added_tokens, raw ones case-sensitive, normalized ones after lower-casing; longest match first', () => {
    const path = tokenizerJson([special('[PAD]'), special('[UNK]'), special('[CLS]'), special('[SEP]'), special('[MASK]'), { id: id('dog'), content: 'Big Dog', normalized: true, special: false }, { id: id('x'), content: '[MASK]x', normalized: false, special: false }]);
    const wp = new WordPieceTokenizer(readTokenizerJson(path));
    expect(Array.from(wp.encode('a BIG DOG runs [MASK]x [MASK]', 16).ids)).toEqual([id('[CLS]'), id('a'), id('dog'), id('runs'), id('x'), id('[MASK]'), id('[SEP]')]);
  });

  test('truncation counts a kept-whole token as one', () => {
    const wp = fromVocab(vocabDir());
    const e = wp.encode('[MASK] [MASK] [MASK] the cat', 5);
    expect(Array.from(e.ids)).toEqual([id('[CLS]'), id('[MASK]'), id('[MASK]'), id('[MASK]'), id('[SEP]')]);
    expect(e.truncated).toBe(true);
  });

  test('tokenizer.json: an added token without an integer id is refused', () => {
    const path = tokenizerJson([{ content: '[X]' }]);
    expect(() => readTokenizerJson(path)).toThrow(`${path}: each of "added_tokens" needs a non-empty "content" and an integer "id" ≥ 0, got {"content":"[X]"}`);
  });

  test('an added token whose id is past the word embeddings is refused when the model is prepared', async () => {
    const dir = join(tempDir('vecforge-special-'), 'm');
    writeTinyBert(dir);
    writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify({ '<new>': kTinyVocab.length }));
    await expect(bertDirectoryDefinition(dir).prepare({ cacheDir: kTestCacheDir, backend: 'wasm', math: 'auto' })).rejects.toThrow(
      `${dir}: added token "<new>" has id ${kTinyVocab.length}, outside the ${kTinyVocab.length} word embeddings of config.json`,
    );
  });
});

describe('special tokens through the engine', () => {
  let engine: Engine | undefined;
  afterAll(async () => {
    await engine?.close();
  });

  test('"the [MASK] sat" embeds [CLS] the [MASK] sat [SEP], as the reference forward pass does', async () => {
    const model = writeTinyBert(join(tempDir('vecforge-special-'), 'm'));
    engine = await Engine.create({ model: model.dir, cacheDir: kTestCacheDir, workers: 1 });
    const { vectors, dims, items } = await engine.embed(['the [MASK] sat', 'the mask sat']);
    expect(items.map((i) => i.state)).toEqual(['ok', 'ok']);
    const ref = referenceEmbed(model, [id('[CLS]'), id('the'), id('[MASK]'), id('sat'), id('[SEP]')]);
    expect(cosine(vectors.subarray(0, dims), ref)).toBeGreaterThanOrEqual(0.9999);
    expect(cosine(vectors.subarray(dims, 2 * dims), ref)).toBeLessThan(0.9999);
  });
});
