import { describe, expect, test } from 'vitest';
import { createCallBuffers, createSlab } from '../src/scheduler/layout.js';
import { mulberry32 } from '../src/random.js';

const encoder = new TextEncoder();

/** Packs texts[base, end) and checks every included text's bytes against its own UTF-8. */
function packAndCheck(texts: readonly unknown[], base = 0, end = texts.length): Uint8Array {
  const include = new Uint8Array(texts.length);
  const lengths = new Uint32Array(texts.length);
  texts.forEach((t, i) => {
    if (typeof t === 'string') {
      include[i] = 1;
      lengths[i] = t.length;
    }
  });
  const slab = createSlab(createCallBuffers(texts.length, 4), texts, base, end, include, lengths);
  const bytes = new Uint8Array(slab.textBytes);
  const offs = new Uint32Array(slab.offsets);
  for (let i = base; i < end; i++) {
    const got = bytes.subarray(offs[i - base], offs[i - base + 1]);
    const want = include[i] === 1 ? encoder.encode(texts[i] as string) : new Uint8Array(0);
    expect(Buffer.from(got).equals(Buffer.from(want)), `item ${i}: ${JSON.stringify(texts[i])}`).toBe(true);
  }
  return include;
}

describe('createSlab: one encode per window, offsets per item', () => {
  test('pure ASCII, with skipped items in between', () => {
    packAndCheck(['a cat', 42, 'sat on the mat', '', null, "children's toys"]);
  });

  test('2-, 3- and 4-byte characters anywhere: offsets from the few multi-byte characters', () => {
    const pieces = ['plain', 'café', 'naïve', 'Ω', '€ price', '日本語', '𝄞 clef', 'emoji 😀😀', 'x', 'ßß', ''];
    // Seeded mix, long enough that multi-byte characters straddle 4-byte words.
    const next = mulberry32(7);
    const texts = Array.from({ length: 500 }, () => Array.from({ length: 1 + Math.floor(next() * 4) }, () => pieces[Math.floor(next() * pieces.length)]).join(' '));
    packAndCheck(texts);
    packAndCheck(texts, 100, 300);
  });

  test('a window with a lone surrogate drops only that text', () => {
    const texts = ['ok café', 'bad \ud800 here', 'fine 😀', 'plain'];
    const include = packAndCheck(texts);
    expect(Array.from(include)).toEqual([1, 0, 1, 1]);
  });
});
