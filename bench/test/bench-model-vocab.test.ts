/**
 * The model suite's random MiniLM-shaped model: its vocabulary of real
 * words, and the --model-texts and --quality-model checks.
 */
import { describe, expect, test } from 'vitest';
import { buildVocabulary, kMiniLmShape } from '../src/data/minilm-random.js';
import { runBench } from '../src/main.js';

describe('random MiniLM vocabulary', () => {
  const corpus = ['the dog runs over the lazy cat', 'a running dog', 'cats and dogs sleeping', 'Naïve café, über-cool!'];
  const { vocab, wholeWords } = buildVocabulary(corpus);

  test('has all-MiniLM-L6-v2\'s size, BERT\'s special ids and no duplicate', () => {
    expect(vocab).toHaveLength(kMiniLmShape.vocab);
    expect(new Set(vocab).size).toBe(vocab.length);
    expect(vocab[0]).toBe('[PAD]');
    expect(vocab.slice(100, 104)).toEqual(['[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  });

  test('holds the corpus\'s words (lower-cased, accents stripped), characters and their ## forms', () => {
    expect(wholeWords).toBeGreaterThan(0);
    for (const w of ['the', 'dog', 'runs', 'naive', 'cafe', 'uber', 'cool', 'a', '##a', '!', '##!']) expect(vocab).toContain(w);
    expect(vocab.indexOf('the')).toBeLessThan(vocab.indexOf('sleeping'));
  });
});

test('--model-texts must be an integer in [1, 165000]', async () => {
  await expect(runBench({ suites: ['model'], modelTexts: 0 })).rejects.toThrow(new RangeError('--model-texts must be an integer in [1, 165000], got 0'));
});

test('--quality-model must be a model directory', async () => {
  await expect(runBench({ suites: ['quality'], qualityModel: '/no/such/model' })).rejects.toThrow(new RangeError('--quality-model must be a model directory, got "/no/such/model"'));
  await expect(runBench({ suites: ['quality'], qualityModel: '' })).rejects.toThrow(new RangeError('--quality-model must be a model directory, got ""'));
});
