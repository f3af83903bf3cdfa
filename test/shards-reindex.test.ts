/**
 * Sharded reindexes and restarts, in one process and through the CLI: a
 * small change rebuilds only the shards it touches; a stopped coordinator
 * rerun picks up the split and the shards already done; the previous set
 * stays readable; a second coordinator on the same directory is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, reindex } from '../src/index.js';
import { readVersionManifest } from '../src/index/persist.js';
import { shardOf, shardWorkDir } from '../src/index/sharded/layout.js';
import { acquireLock } from '../src/jobs/lock.js';
import { localShardRunner, runShardedJob, type ShardedEvent } from '../src/jobs/shards/run.js';
import { contentDifferences, corpusRows, indexContent, kCorpus, vecforge, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';
import { shardSpec } from './shards-helpers.js';

let engine: Engine;
let root: string;

beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
  root = mkdtempSync(join(tmpdir(), 'vecforge-shards-'));
}, 120_000);

afterAll(async () => {
  await engine.close();
  rmSync(root, { recursive: true, force: true });
});

describe('a sharded reindex', () => {
  test('with 1% of documents changed, all on shards 1 and 3 of 4, rebuilds only those two and equals a single-machine reindex', async () => {
    const dir = tempDir();
    const sharded = join(dir, 'sharded');
    const single = join(dir, 'single');
    await runShardedJob(shardSpec({ kind: 'build', dir: sharded, input: kCorpus, shards: 4 }), localShardRunner(engine));
    await buildIndex({ source: kCorpus, out: single, engine, embeddingCache: false });
    const rows = corpusRows();
    const touched = rows.filter((r) => [1, 3].includes(shardOf(r.id, 4))).slice(0, Math.ceil(rows.length / 100));
    const changed = new Set(touched.map((r) => r.id));
    const next = writeJsonl(join(dir, 'next.jsonl'), rows.map((r) => (changed.has(r.id) ? { ...r, text: `${r.text}, said again` } : r)));
    const before = await engine.openIndex(sharded);
    try {
      const summary = await runShardedJob(shardSpec({ kind: 'reindex', dir: sharded, input: next }), localShardRunner(engine));
      expect(summary.published).toBe(true);
      expect(summary.version).toBe('v000002');
      expect(summary.shards.map((s) => s.state)).toEqual(['skipped', 'ran', 'skipped', 'ran']);
      expect(summary.counts.updated).toBe(changed.size);
      expect(summary.counts.unchanged).toBe(rows.length - changed.size);
      // A reader of the previous set keeps reading it, unchanged.
      expect(before.stats().version).toBe('v000001');
      expect((await before.search('a bird', { k: 3 })).length).toBe(3);
    } finally {
      await before.close();
    }
    await reindex({ source: next, dir: single, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, single), await indexContent(engine, sharded), { lexical: false })).toEqual([]);
    // Nothing changed since: no shard runs, nothing is published.
    const again = await runShardedJob(shardSpec({ kind: 'reindex', dir: sharded, input: next }), localShardRunner(engine));
    expect(again.published).toBe(false);
    expect(again.version).toBe('v000002');
    expect(again.shards.every((s) => s.state === 'skipped')).toBe(true);
  }, 300_000);

  test('a coordinator stopped after its first shard leaves the set as it was; rerun, it reuses the split and the shard already built', async () => {
    const dir = tempDir();
    const sharded = join(dir, 'sharded');
    const stop = new AbortController();
    const events: ShardedEvent[] = [];
    const first = await runShardedJob(
      shardSpec({
        kind: 'build',
        dir: sharded,
        input: kCorpus,
        shards: 3,
        checkpointItems: 200,
        onEvent: (e) => {
          events.push(e);
          // Caused by the job itself: the first shard's completion.
          if (e.event === 'shard-done') stop.abort();
        },
      }),
      localShardRunner(engine, { stopSignal: stop.signal }),
    );
    expect(events.filter((e) => e.event === 'shard-done').length).toBe(2);
    expect(first.state).toBe('interrupted');
    expect(first.published).toBe(false);
    const infoBefore = vecforge(['info', sharded]);
    expect(infoBefore.stdout).toContain('none published yet');
    const again: ShardedEvent[] = [];
    const second = await runShardedJob(shardSpec({ kind: 'build', dir: sharded, input: kCorpus, shards: 3, onEvent: (e) => again.push(e) }), localShardRunner(engine));
    expect(second.state).toBe('ok');
    expect(again.find((e) => e.event === 'split')).toMatchObject({ reused: true });
    // Shard 0 was published before the stop: its job finds it built (a reindex that changes nothing); shard 1 resumes from its checkpoint.
    expect(second.shards[0]?.summary?.counts.unchanged).toBe(second.shards[0]?.records);
    expect(second.shards[1]?.summary?.resumedFrom).not.toBeNull();
    const single = join(dir, 'single');
    await buildIndex({ source: kCorpus, out: single, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, single), await indexContent(engine, sharded), { lexical: false })).toEqual([]);
  }, 300_000);
});

describe('the CLI on sharded indexes', () => {
  test('build --shards, search, info and reindex; a second coordinator on the same directory is refused; bad --shards is a usage error', () => {
    const dir = join(tempDir(), 'idx');
    const built = vecforge(['build', '--input', kCorpus, '--out', dir, '--shards', '2', '--workers', '1', '--no-embedding-cache', '--progress', 'off']);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    expect(built.stdout).toContain(`built ${dir}: ${corpusRows().length} documents in 2 shards (2 rebuilt, 0 unchanged); published set v000001`);
    const found = vecforge(['search', dir, '--query', 'a small bird', '--k', '3', '--json', '--workers', '1']);
    expect(found.status).toBe(0);
    expect((JSON.parse(found.stdout) as { ids: string[] }).ids.length).toBe(3);
    const info = vecforge(['info', dir]);
    expect(info.stdout).toContain('(sharded, 2 shards)');
    expect(info.stdout).toContain(`documents:  ${corpusRows().length}`);
    const lock = acquireLock(dir, 'a test holding the directory');
    try {
      const refused = vecforge(['reindex', '--input', kCorpus, '--index', dir, '--workers', '1', '--progress', 'off']);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/ERR_LOCKED/);
    } finally {
      lock.release();
    }
    const same = vecforge(['reindex', '--input', kCorpus, '--index', dir, '--workers', '1', '--progress', 'off', '--no-embedding-cache']);
    expect(same.status).toBe(0);
    expect(same.stdout).toContain('(0 rebuilt, 2 unchanged); nothing changed; set v000001 stays current');
    const bad = vecforge(['build', '--input', kCorpus, '--out', join(tempDir(), 'x'), '--shards', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--shards must be an integer in [1, 4096], got "0"');
  }, 300_000);

  test('build --shards with lexical flags: every shard gets them; an incremental reindex refuses to change them', () => {
    const dir = join(tempDir(), 'idx');
    const built = vecforge(['build', '--input', kCorpus, '--out', dir, '--shards', '2', '--workers', '1', '--stop-words', 'none', '--bm25-k1', '1.5', '--progress', 'off']);
    expect(built.status, built.stderr).toBe(0);
    for (const shard of [0, 1]) {
      const manifest = readVersionManifest(shardWorkDir(dir, shard)).manifest;
      expect(manifest.extra.lexical).toMatchObject({ k1: 1.5, b: 0.75, tokenizer: 'words-porter2-v1' });
    }
    // "the" is a term of these shards (no stop words): found lexically.
    const the = vecforge(['search', dir, '--query', 'the', '--mode', 'lexical', '--k', '2', '--json', '--workers', '1']);
    expect(the.status, the.stderr).toBe(0);
    expect((JSON.parse(the.stdout) as { ids: string[] }).ids).toHaveLength(2);
    const refused = vecforge(['reindex', '--input', kCorpus, '--index', dir, '--bm25-b', '0.5', '--workers', '1', '--progress', 'off']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--bm25-b: the lexical options apply to a new index: add --full');
  }, 300_000);
});
