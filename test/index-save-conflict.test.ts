/**
 * Lost updates between a library handle and jobs: `save()` publishes under
 * the directory's lock, refuses with ERR_CONFLICT when another version was
 * published since the handle's base (unless `onConflict: 'overwrite'`), and
 * fails with ERR_LOCKED while a job holds the directory.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, reindex, type VectorIndex } from '../src/index.js';
import { currentVersion } from '../src/index/persist.js';
import { acquireLock } from '../src/store/dir-lock.js';
import { corpusRows, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

const kRows = corpusRows().slice(0, 60);

async function built(): Promise<{ root: string; idx: string }> {
  const root = tempDir();
  const idx = join(root, 'idx');
  await buildIndex({ source: writeJsonl(join(root, 'base.jsonl'), kRows), out: idx, engine, embeddingCache: false });
  return { root, idx };
}

/** Reindexes `idx` without the first 10 rows: a new version that deletes them. */
async function reindexWithoutFirst10(root: string, idx: string): Promise<void> {
  const s = await reindex({ source: writeJsonl(join(root, 'next.jsonl'), kRows.slice(10)), dir: idx, engine, embeddingCache: false });
  expect(s).toMatchObject({ state: 'ok', published: true, version: 'v000002' });
}

async function ids(idx: string): Promise<string[]> {
  const index = await engine.openIndex(idx);
  try {
    return index.ids().sort();
  } finally {
    await index.close();
  }
}

describe('save() against jobs', () => {
  test('a handle opened before a reindex published refuses to save with ERR_CONFLICT; the reindex is intact', async () => {
    const { root, idx } = await built();
    const handle = await engine.openIndex(idx);
    try {
      await reindexWithoutFirst10(root, idx);
      const added = await handle.upsert([{ id: 'library-doc', text: 'a document the library added' }]);
      expect(added).toEqual([{ state: 'ok', id: 'library-doc' }]);
      await expect(handle.save()).rejects.toMatchObject({
        code: 'ERR_CONFLICT',
        message: expect.stringMatching(/version v000002 was published there since this index was opened at v000001 .*onConflict: 'overwrite'/),
      });
      expect(currentVersion(idx)?.name).toBe('v000002');
      const after = await ids(idx);
      expect(after).toHaveLength(50);
      expect(after).not.toContain(kRows[0]?.id);
      expect(after).not.toContain('library-doc');
      // The refusal wrote nothing: a later save still conflicts the same way.
      await expect(handle.save({ onConflict: 'error' })).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    } finally {
      await handle.close();
    }
  });

  test("save({ onConflict: 'overwrite' }) replaces the other version with the handle's content, and later saves publish normally", async () => {
    const { root, idx } = await built();
    const handle = await engine.openIndex(idx);
    try {
      await reindexWithoutFirst10(root, idx);
      await handle.upsert([{ id: 'library-doc', text: 'a document the library added' }]);
      expect(await handle.save({ onConflict: 'overwrite' })).toBe('v000003');
      const after = await ids(idx);
      expect(after).toHaveLength(61);
      expect(after).toContain(kRows[0]?.id);
      expect(after).toContain('library-doc');
      // Its base is now v000003: no conflict.
      await handle.delete(['library-doc']);
      expect(await handle.save()).toBe('v000004');
    } finally {
      await handle.close();
    }
  });

  test('a save while a job holds the lock fails with ERR_LOCKED and writes nothing; after the job it saves', async () => {
    const { idx } = await built();
    const handle = await engine.openIndex(idx);
    try {
      await handle.upsert([{ id: 'library-doc', text: 'a document the library added' }]);
      const lock = acquireLock(idx, 'vecforge reindex (test)');
      try {
        await expect(handle.save()).rejects.toMatchObject({ code: 'ERR_LOCKED', message: expect.stringMatching(/^cannot save the index in .* now: .* is locked by this process \(vecforge reindex \(test\)/) });
        expect(currentVersion(idx)?.name).toBe('v000001');
      } finally {
        lock.release();
      }
      expect(await handle.save()).toBe('v000002');
      expect(await ids(idx)).toContain('library-doc');
    } finally {
      await handle.close();
    }
  });

  test('a save from inside a running reindex (its source) fails with ERR_LOCKED; the reindex publishes its own content', async () => {
    const { idx } = await built();
    const handle: VectorIndex = await engine.openIndex(idx);
    let during: unknown = 'not attempted';
    try {
      await handle.upsert([{ id: 'library-doc', text: 'a document the library added' }]);
      async function* source(): AsyncGenerator<unknown> {
        for (const [i, row] of kRows.slice(10).entries()) {
          if (i === 20) during = await handle.save().then((v) => v, (error: unknown) => error);
          yield row;
        }
      }
      const s = await reindex({ source: source(), sourceId: 'gen', dir: idx, engine, embeddingCache: false });
      expect(s).toMatchObject({ state: 'ok', version: 'v000002' });
      expect(during).toMatchObject({ code: 'ERR_LOCKED' });
      const after = await ids(idx);
      expect(after).toHaveLength(50);
      expect(after).not.toContain('library-doc');
      await expect(handle.save()).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    } finally {
      await handle.close();
    }
  });

  test('options.onConflict is checked', async () => {
    const { idx } = await built();
    const handle = await engine.openIndex(idx);
    try {
      await expect(handle.save({ onConflict: 'merge' as 'error' })).rejects.toThrow(new RangeError('options.onConflict must be one of error, overwrite, got merge'));
      await expect(handle.save(null as unknown as undefined)).rejects.toThrow(new TypeError('options must be an object, got null'));
    } finally {
      await handle.close();
    }
  });
});
