import { describe, expect, test } from 'vitest';
import { contentHash } from '../src/store/record.js';
import { readId, snippet, toItem } from '../src/jobs/records.js';
import { jsonEqual } from '../src/store/doc-store.js';

const kNames = { id: 'id', text: 'text', namespace: 'namespace', metadata: 'metadata' };
const kLimits = { maxTextBytes: 1000, snippetChars: 5 };

describe('job records', () => {
  test('an item carries the index content hash of its text', () => {
    const outcome = toItem({ id: 'a', text: 'é ü 猫 🐈' }, 'a', 1, kNames, kLimits, false);
    expect(outcome.state).toBe('ok');
    if (outcome.state === 'ok') expect(outcome.item.hash).toBe(contentHash('é ü 猫 🐈'));
  });

  test('metadata equality ignores key order, not values', () => {
    expect(jsonEqual({ a: 1, b: { c: [1, 'x'] } }, { b: { c: [1, 'x'] }, a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: null }, { a: {} })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });

  test('snippets never cut a surrogate pair', () => {
    expect(snippet('abcd🐈ef', 5)).toBe('abcd');
    expect(snippet('abc', 5)).toBe('abc');
  });

  test('ids: strings and integers; other types, empty and oversized ids fail', () => {
    expect(readId({ id: 'a' }, 'id')).toEqual({ id: 'a' });
    expect(readId({ id: 12 }, 'id')).toEqual({ id: '12' });
    expect(readId({ id: '' }, 'id')).toEqual({ id: null, code: 'MISSING_ID', reason: 'missing "id"' });
    expect(readId({ id: 1.5 }, 'id')).toEqual({ id: null, code: 'INVALID_ID', reason: '"id" must be a string or an integer, got number' });
    expect(readId({ id: 'x'.repeat(1025) }, 'id')).toEqual({ id: null, code: 'INVALID_ID', reason: '"id" is over 1024 bytes' });
  });

  test('items: text checks, namespace default, metadata copied with the snippet', () => {
    const meta = { pos: 'noun' };
    const ok = toItem({ id: 'a', text: 'a cat on a mat', metadata: meta }, 'a', 3, kNames, kLimits, false);
    expect(ok).toEqual({ state: 'ok', item: { line: 3, id: 'a', text: 'a cat on a mat', hash: contentHash('a cat on a mat'), namespace: 'default', metadata: { pos: 'noun', _snippet: 'a cat' } } });
    expect(meta).toEqual({ pos: 'noun' });
    expect(toItem({ id: 'a', text: 'x \ud800' }, 'a', 1, kNames, kLimits, false)).toMatchObject({ state: 'failed', code: 'MALFORMED_UTF16' });
    expect(toItem({ id: 'a', text: 5 }, 'a', 1, kNames, kLimits, false)).toMatchObject({ state: 'failed', code: 'NOT_A_STRING', reason: '"text" must be a string, got number' });
    expect(toItem({ id: 'a', text: 'é'.repeat(501) }, 'a', 1, kNames, kLimits, false)).toMatchObject({ state: 'failed', code: 'TOO_LARGE', reason: 'text is 1002 bytes, over the limit of 1000 (engine.maxTextBytes)' });
    expect(toItem({ id: 'a', text: 'a dog', namespace: 'noun', extra: '1' }, 'a', 1, kNames, { ...kLimits, snippetChars: 0 }, true)).toEqual({
      state: 'ok',
      item: { line: 1, id: 'a', text: 'a dog', hash: contentHash('a dog'), namespace: 'noun', metadata: { extra: '1' } },
    });
  });
});
