/**
 * A library caller who hands createIndex or buildIndex a directory on a
 * pseudo filesystem gets a clear error at once (Node's recursive mkdir never
 * returns on /proc), as the CLI does.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildIndex, Engine } from '../src/index.js';
import { kTestCacheDir } from './helpers.js';
import { kCorpus } from './jobs-helpers.js';

const kProc = '/proc/self/vecforge-index';
const kMessage = `index directory ${kProc} cannot be used: /proc/self is on a proc filesystem, which holds no files; choose a directory on a disk`;

describe.skipIf(process.platform !== 'linux')('index directories from code', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ workers: 1, cacheDir: kTestCacheDir });
  });
  afterAll(async () => {
    await engine.close();
  });

  test('createIndex refuses a directory under /proc with ERR_IO naming it', async () => {
    await expect(engine.createIndex({ dir: kProc })).rejects.toMatchObject({ code: 'ERR_IO', message: kMessage });
  });

  test('buildIndex refuses an output directory under /proc with ERR_IO naming it', async () => {
    await expect(buildIndex({ source: kCorpus, out: kProc, engine, embeddingCache: false })).rejects.toMatchObject({ code: 'ERR_IO', message: kMessage });
  });
});
