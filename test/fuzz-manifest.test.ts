/**
 * The manifest reader under hostile input: random bytes, random JSON, and a
 * real manifest with one field replaced, removed, or a file entry added.
 * Opening must either succeed or be refused with a clean VecforgeError
 * (ERR_INDEX_CORRUPT, ERR_INDEX_VERSION; ERR_INDEX for a manifest naming
 * another model), never another error, and must touch nothing outside the
 * index directory (nor write inside it).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { VecforgeError } from '../src/errors.js';
import { currentVersion } from '../src/index/persist.js';
import { kTestCacheDir, tempDir } from './helpers.js';
import { kFuzzRuns, kFuzzSeed } from './fuzz-settings.js';

const kDims = 8;
const kRuns = kFuzzRuns;

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

/** Every path under `dir` with its size and mtime: what "untouched" compares. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        // lmdb's own lock file beside a doc store is written by every open.
        out.push(e.name.endsWith('-lock') ? p : `${p} ${st.size} ${st.mtimeMs} ${st.nlink}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

const kHostileNames = ['../payload.txt', '../../payload.txt', '../../../payload.txt', '/etc/hostname', '..', '.', '', 'a/b', 'a\\b', 'x\u0000y', 'C:payload'];

/** A manifest with one change: a field replaced by a random value, removed, or a file entry added. */
function mutated(base: Record<string, unknown>): fc.Arbitrary<string> {
  const fields = ['format', 'formatVersion', 'createdAt', 'model', 'space', 'dims', 'params', 'counts', 'files', 'extra'];
  const nested: Array<[string, string]> = [
    ['params', 'm'],
    ['params', 'efConstruction'],
    ['params', 'efSearch'],
    ['counts', 'count'],
    ['counts', 'deleted'],
    ['counts', 'nextLabel'],
    ['counts', 'capacity'],
  ];
  const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer({ min: -2, max: 2 ** 33 }), fc.constantFrom(0, 1, kDims, 2 ** 32, -1, 1e308, 0.5, 'cosine', 'l2', null));
  const replace = fc.tuple(fc.constantFrom(...fields), value).map(([f, v]) => ({ ...base, [f]: v }));
  const remove = fc.constantFrom(...fields).map((f) => {
    const copy = { ...base };
    delete copy[f];
    return copy;
  });
  const inner = fc.tuple(fc.constantFrom(...nested), value).map(([[outer, f], v]) => ({ ...base, [outer]: { ...(base[outer] as object), [f]: v } }));
  const entry = fc.record({ bytes: fc.oneof(fc.nat(), fc.constant(-1)), sha256: fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }), fc.string()) });
  const file = fc.tuple(fc.oneof(fc.constantFrom(...kHostileNames), fc.string({ maxLength: 12 })), fc.oneof(entry, value)).map(([name, e]) => ({ ...base, files: { ...(base.files as object), [name]: e } }));
  const entryEdit = fc.tuple(fc.constantFrom('graph.hnsw', 'docs.lmdb'), fc.oneof(entry, value)).map(([name, e]) => ({ ...base, files: { ...(base.files as object), [name]: e } }));
  return fc.oneof(replace, remove, inner, file, entryEdit).map((m) => JSON.stringify(m));
}

describe('fuzz: manifest reader', () => {
  test(`open either succeeds or refuses cleanly, and touches nothing (${kRuns} seeded cases)`, async () => {
    const root = tempDir();
    const idx = join(root, 'idx');
    const index = await engine.createIndex({ dir: idx, dims: kDims, capacity: 64 });
    const outcomes = await index.addBatch(Array.from({ length: 20 }, (_, i) => ({ id: `v${i}`, vector: Float32Array.from({ length: kDims }, (_, d) => Math.sin(i * 7 + d)), metadata: { i } })));
    expect(outcomes.filter((o) => o.state === 'ok')).toHaveLength(20);
    await index.save();
    await index.close();
    writeFileSync(join(root, 'payload.txt'), 'outside\n');
    const version = currentVersion(idx);
    if (version === undefined) throw new Error('no version');
    const manifestPath = join(version.path, 'manifest.json');
    const original = readFileSync(manifestPath, 'utf8');
    const base = JSON.parse(original) as Record<string, unknown>;
    const before = snapshot(root).filter((l) => !l.startsWith(`${manifestPath} `));

    const seen = new Map<string, number>();
    const text = fc.oneof(
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b).toString('latin1')) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
      { weight: 4, arbitrary: mutated(base) },
    );
    await fc.assert(
      fc.asyncProperty(text, async (content) => {
        writeFileSync(manifestPath, content);
        let outcome: string;
        try {
          const opened = await engine.openIndex(idx);
          await opened.close();
          outcome = 'ok';
        } catch (error) {
          if (!(error instanceof VecforgeError)) throw new Error(`not a VecforgeError: ${String(error)}`, { cause: error });
          const clean = error.code === 'ERR_INDEX_CORRUPT' || error.code === 'ERR_INDEX_VERSION' || (error.code === 'ERR_INDEX' && /was built with model/.test(error.message));
          if (!clean) throw new Error(`unexpected code ${error.code}: ${error.message}`, { cause: error });
          outcome = error.code;
        }
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        expect(snapshot(root).filter((l) => !l.startsWith(`${manifestPath} `))).toEqual(before);
      }),
      { seed: kFuzzSeed, numRuns: kRuns },
    );
    writeFileSync(manifestPath, original);
    // The cases reached both sides of the reader.
    expect(seen.get('ok') ?? 0).toBeGreaterThan(0);
    expect(seen.get('ERR_INDEX_CORRUPT') ?? 0).toBeGreaterThan(kRuns / 4);
    const reopened = await engine.openIndex(idx);
    expect(reopened.count).toBe(20);
    await reopened.close();
  });
});
