/**
 * Hostile but well-formed graph files: random byte and header-field edits of
 * a real graph file must either load and search, or be refused with a clean
 * error, by every loader (load, loadBuffer, loadFile) and by an index open
 * (ERR_INDEX_CORRUPT). A crash of the native parser fails the whole run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createFallbackHnswCore } from '../src/index/hnsw/fallback-core.js';
import { checkGraphFile } from '../src/index/hnsw/graph-check.js';
import { loadNativeAddon, type NativeAddon } from '../src/native/addon.js';
import { kFuzzRuns, kFuzzSeed } from './fuzz-settings.js';

const kState = loadNativeAddon();
const kDims = 8;
const kCount = 300;
const kM = 6;

/** Byte offsets of the header fields hnswlib's saveIndex writes (64-bit size_t). */
const kField = {
  offsetLevel0: 0,
  maxElements: 8,
  count: 16,
  sizeDataPerElement: 24,
  labelOffset: 32,
  offsetData: 40,
  maxLevel: 48,
  entryPoint: 52,
  maxM: 56,
  maxM0: 64,
  M: 72,
  mult: 80,
  efConstruction: 88,
} as const;
const kHeaderBytes = 96;
const kElementBytes = 2 * kM * 4 + 4 + kDims * 4 + 8;

function rows(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n * kDims);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

let addon: NativeAddon;
let original: Buffer;
let dir: string;
const queries = rows(4, 99);

/** Where the upper levels start, and element i's level, read from a valid file. */
function levelsOf(bytes: Buffer): number[] {
  const levels: number[] = [];
  let at = kHeaderBytes + kCount * kElementBytes;
  for (let i = 0; i < kCount; i++) {
    const size = bytes.readUInt32LE(at);
    levels.push(size / (kM * 4 + 4));
    at += 4 + size;
  }
  return levels;
}

/** Loads `bytes` with every loader; each either gives a graph that searches, or throws an Error. */
function tryAllLoaders(bytes: Buffer): { loaded: number; refused: string[] } {
  const file = join(dir, 'fuzz.hnsw');
  writeFileSync(file, bytes);
  let loaded = 0;
  const refused: string[] = [];
  const attempts: Array<() => number> = [
    () => addon.loadBuffer(bytes, 'l2', kDims, undefined, true, false),
    () => addon.load(file, 'l2', kDims, undefined, true, false),
    ...(addon.sha256 ? [() => addon.loadFile(file, 'l2', kDims, undefined, true, false).handle] : []),
  ];
  for (const attempt of attempts) {
    let handle: number;
    try {
      handle = attempt();
    } catch (error) {
      expect(error).toBeInstanceOf(Error);
      refused.push((error as Error).message);
      continue;
    }
    try {
      const count = addon.getCurrentCount(handle);
      if (count > 0) {
        const k = Math.min(5, count);
        const found = addon.searchKnn(handle, queries, k, 20);
        expect(found.labels).toHaveLength(4 * k);
        // An insert walks the upper levels with M, mult and efConstruction.
        addon.resize(handle, count + 10);
        addon.addPoints(handle, rows(3, 7), Uint32Array.of(1_000_001, 1_000_002, 1_000_003));
      }
      loaded += 1;
    } finally {
      addon.free(handle);
    }
  }
  return { loaded, refused };
}

describe.skipIf(!kState.ok)('graph files edited by hand', () => {
  beforeAll(() => {
    if (!kState.ok) throw new Error(kState.reason);
    addon = kState.addon;
    // One directory for the whole file (helpers' tempDir is removed after each test).
    dir = mkdtempSync(join(tmpdir(), 'vecforge-fuzz-graph-'));
    const h = addon.create('l2', kDims, kCount, kM, 40, 3, true);
    addon.addPoints(h, rows(kCount, 1), Uint32Array.from({ length: kCount }, (_, i) => i));
    addon.markDelete(h, 5);
    const file = join(dir, 'graph.hnsw');
    addon.save(h, file);
    addon.free(h);
    original = readFileSync(file);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    if (kState.ok) expect(addon.openHandles()).toBe(0);
  });

  test('the unedited file loads with every loader', () => {
    expect(tryAllLoaders(original)).toEqual({ loaded: addon.sha256 ? 3 : 2, refused: [] });
  });

  const named: Array<[string, (b: Buffer) => void, RegExp]> = [
    ['entry point a level-0 node while the max level is 3', (b) => {
      const level0 = levelsOf(b).indexOf(0);
      b.writeUInt32LE(level0, kField.entryPoint);
      b.writeInt32LE(3, kField.maxLevel);
    }, /entry point \(element \d+\) has level 0, not the max level 3|an upper-level list is out of range/],
    ['entry point a level-0 node', (b) => b.writeUInt32LE(levelsOf(b).indexOf(0), kField.entryPoint), /entry point \(element \d+\) has level 0, not the max level/],
    ['max level above every element', (b) => b.writeInt32LE(b.readInt32LE(kField.maxLevel) + 1, kField.maxLevel), /has level \d+, not the max level/],
    ['max level negative in a non-empty graph', (b) => b.writeInt32LE(-1, kField.maxLevel), /max level \(-1\) is out of range \[0, 64\]/],
    ['M does not match maxM', (b) => b.writeBigUInt64LE(BigInt(kM + 1), kField.M), /maxM \(6\) is not M \(7\)/],
    ['M, maxM and maxM0 all changed', (b) => {
      b.writeBigUInt64LE(8n, kField.M);
      b.writeBigUInt64LE(8n, kField.maxM);
      b.writeBigUInt64LE(16n, kField.maxM0);
    }, /maxM0|offsetData|level-0 layout/],
    ['maxM0 not 2 × M', (b) => b.writeBigUInt64LE(BigInt(2 * kM - 1), kField.maxM0), /maxM0 \(11\) is not 2 × M \(12\)/],
    ['M above 2048', (b) => b.writeBigUInt64LE(100_000n, kField.M), /M \(100000\) is out of range \[2, 2048\]/],
    ['mult far above 1/ln(M)', (b) => b.writeDoubleLE(1e300, kField.mult), /level multiplier mult \(.*\) is not 1\/ln\(M\)/],
    ['mult NaN', (b) => b.writeDoubleLE(Number.NaN, kField.mult), /level multiplier mult/],
    ['mult slightly off', (b) => b.writeDoubleLE(b.readDoubleLE(kField.mult) * 1.01, kField.mult), /level multiplier mult/],
    ['efConstruction 0', (b) => b.writeBigUInt64LE(0n, kField.efConstruction), /efConstruction \(0\) is out of range \[1, 1048576\]/],
    ['efConstruction 2^40', (b) => b.writeBigUInt64LE(2n ** 40n, kField.efConstruction), /efConstruction \(.*\) is out of range/],
    ['entry point past the count', (b) => b.writeUInt32LE(kCount + 3, kField.entryPoint), /entry point \(303\) is not below the element count \(300\)/],
    ['capacity above 2^32', (b) => b.writeBigUInt64LE(2n ** 40n, kField.maxElements), /element count out of range/],
    ['an upper-level neighbour whose level is too low', (b) => {
      const levels = levelsOf(b);
      const low = levels.indexOf(0);
      let at = kHeaderBytes + kCount * kElementBytes;
      for (let i = 0; i < kCount; i++) {
        const size = b.readUInt32LE(at);
        if (size > 0 && b.readUInt16LE(at + 4) > 0) {
          b.writeUInt32LE(low, at + 8);
          return;
        }
        at += 4 + size;
      }
      throw new Error('no upper-level list with a neighbour');
    }, /an upper-level neighbour list is out of range \(element \d+, level 1\)/],
    ['two live elements with one label', (b) => b.writeBigUInt64LE(b.readBigUInt64LE(kHeaderBytes + kElementBytes - 8), kHeaderBytes + 2 * kElementBytes - 8), /label 0 is on two live elements/],
    ['a label above 2^32', (b) => b.writeBigUInt64LE(2n ** 40n, kHeaderBytes + kElementBytes - 8), /has label .*, above 2\^32 - 1/],
  ];

  test.each(named)('%s: refused by every loader, naming the problem', (_name, edit, message) => {
    const bytes = Buffer.from(original);
    edit(bytes);
    const { loaded, refused } = tryAllLoaders(bytes);
    expect(loaded).toBe(0);
    expect(refused).toHaveLength(addon.sha256 ? 3 : 2);
    for (const m of refused) expect(m).toMatch(message);
  });

  test.each(named)('%s: refused by the TypeScript check the hnswlib-node fallback runs first', (_name, edit, message) => {
    const bytes = Buffer.from(original);
    edit(bytes);
    expect(() => checkGraphFile(bytes, kDims)).toThrow(message);
    const file = join(dir, 'fallback.hnsw');
    writeFileSync(file, bytes);
    expect(() => createFallbackHnswCore().load(file, 'l2', kDims, undefined, true)).toThrow(message);
  });

  test('the TypeScript check accepts what the addon saves, and the fallback loads it', () => {
    expect(() => checkGraphFile(original, kDims)).not.toThrow();
    const file = join(dir, 'fallback.hnsw');
    writeFileSync(file, original);
    const core = createFallbackHnswCore();
    const handle = core.load(file, 'l2', kDims, undefined, true);
    expect(core.getCurrentCount(handle)).toBe(kCount);
    core.free(handle);
  });

  test('random byte edits: the TypeScript check refuses with a RangeError or accepts, never anything else', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const bytes = Buffer.from(original);
        for (const [at, value] of edits) bytes[at] = value;
        try {
          checkGraphFile(bytes, kDims);
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
        }
      }),
      { seed: kFuzzSeed, numRuns: kFuzzRuns },
    );
  });

  test('an empty graph must have entry point and max level -1', () => {
    const h = addon.create('l2', kDims, 10, kM, 40, 3, false);
    const file = join(dir, 'empty.hnsw');
    addon.save(h, file);
    addon.free(h);
    const empty = readFileSync(file);
    expect(tryAllLoaders(empty).loaded).toBeGreaterThan(0);
    const bad = Buffer.from(empty);
    bad.writeUInt32LE(0, kField.entryPoint);
    bad.writeInt32LE(2, kField.maxLevel);
    const { loaded, refused } = tryAllLoaders(bad);
    expect(loaded).toBe(0);
    for (const m of refused) expect(m).toMatch(/an empty graph must have entry point -1 and max level -1/);
  });

  test('a huge capacity in the file does not allocate it: the load is capped near the count', () => {
    const bytes = Buffer.from(original);
    bytes.writeBigUInt64LE(2n ** 32n - 1n, kField.maxElements);
    const handle = addon.loadBuffer(bytes, 'l2', kDims, undefined, true, false);
    try {
      expect(addon.getMaxElements(handle)).toBeLessThanOrEqual(kCount + Math.max(kCount, Math.floor((64 << 20) / kElementBytes)));
      expect(addon.getMaxElements(handle)).toBeGreaterThanOrEqual(kCount);
    } finally {
      addon.free(handle);
    }
  });

  test('random header-field values: loaded and searched, or refused (seed 42, 300 runs)', () => {
    const offsets = Object.values(kField);
    fc.assert(
      fc.property(fc.constantFrom(...offsets), fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 4096n }), fc.constantFrom(0n, 1n, 2n ** 32n - 1n, 2n ** 63n)), (offset, value) => {
        const bytes = Buffer.from(original);
        if (offset === kField.maxLevel || offset === kField.entryPoint) bytes.writeUInt32LE(Number(value & 0xffff_ffffn), offset);
        else bytes.writeBigUInt64LE(value, offset);
        tryAllLoaders(bytes);
      }),
      { seed: kFuzzSeed, numRuns: kFuzzRuns },
    );
  });

  test('random byte edits anywhere in the file: loaded and searched, or refused (seed 42, 300 runs)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat({ max: 3 }), (edits, cut) => {
        let bytes = Buffer.from(original);
        for (const [at, value] of edits) bytes[at] = value;
        if (cut === 3) bytes = bytes.subarray(0, edits[0]?.[0] ?? 0);
        tryAllLoaders(bytes);
      }),
      { seed: kFuzzSeed, numRuns: kFuzzRuns },
    );
  });
});
