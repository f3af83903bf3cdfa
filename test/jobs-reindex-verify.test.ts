import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, reindex } from '../src/index.js';
import { currentManifest } from '../src/jobs/workdir.js';
import { corpusRows, vecforge, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

/** Flips one byte in the middle of a file of the current version; its manifest entry (size, SHA-256) is left as it was. */
function flipByte(dir: string, name: string): void {
  const path = join(currentManifest(dir)?.path ?? '', name);
  const bytes = readFileSync(path);
  const at = bytes.length >> 1;
  bytes[at] = (bytes[at] ?? 0) ^ 0x5a;
  writeFileSync(path, bytes);
}

describe('a reindex that changes nothing still checks the version it keeps', () => {
  test('with every line known: the same input again reports nothing changed on a sound index', async () => {
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'in.jsonl'), corpusRows().slice(0, 300));
    const idx = join(dir, 'idx');
    await buildIndex({ source: input, out: idx, engine, embeddingCache: false });
    const s = await reindex({ source: input, dir: idx, engine, embeddingCache: false });
    expect(s).toMatchObject({ state: 'ok', published: false, version: 'v000001', counts: { unchanged: 300, added: 0, updated: 0, deleted: 0 } });
  });

  test.each(['docs.lmdb', 'graph.hnsw'])('a flipped byte in %s (checksum not updated) fails it with ERR_INDEX_CORRUPT, exit 1, naming the file', async (name) => {
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'in.jsonl'), corpusRows().slice(0, 300));
    const idx = join(dir, 'idx');
    await buildIndex({ source: input, out: idx, engine, embeddingCache: false });
    flipByte(idx, name);
    await expect(reindex({ source: input, dir: idx, engine, embeddingCache: false })).rejects.toMatchObject({
      code: 'ERR_INDEX_CORRUPT',
      message: expect.stringContaining(`file ${name} does not match its checksum`) as unknown,
    });
    const cli = vecforge(['reindex', '--input', input, '--index', idx, '--workers', '2', '--progress', 'off', '--no-embedding-cache']);
    expect(cli.status, cli.stdout).toBe(1);
    expect(cli.stderr).toContain('(ERR_INDEX_CORRUPT)');
    expect(cli.stderr).toContain(name);
    expect(cli.stdout).not.toContain('nothing changed');
  });
});
