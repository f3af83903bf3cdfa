/**
 * Sharded builds on BullMQ over a real redis-server (started by the test
 * on a free port): two worker processes build what one machine builds; a
 * worker killed mid-job loses nothing; a coordinator killed and rerun
 * picks up the jobs it queued; a job that keeps failing fails the build
 * with its reason and leaves the published set as it was.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex } from '../src/index.js';
import { contentDifferences, indexContent, kCorpus, vecforge, writeDoubleCorpus } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';
import { startRedis, type TestRedis } from './helpers-redis.js';
import { startCli, startWorker, stopCli, type Watched } from './queue-helpers.js';

let redis: TestRedis;
let engine: Engine;
let root: string;
let single: string;
const running: Watched[] = [];

beforeAll(async () => {
  redis = await startRedis();
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' });
  root = mkdtempSync(join(tmpdir(), 'vecforge-queue-'));
  single = join(root, 'single');
  await buildIndex({ source: kCorpus, out: single, engine, embeddingCache: false });
}, 120_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => stopCli(w, 'SIGKILL')));
});

afterAll(async () => {
  await engine.close();
  await redis.stop();
  rmSync(root, { recursive: true, force: true });
});

async function worker(extra: readonly string[] = []): Promise<Watched> {
  const w = await startWorker(redis.url, extra);
  running.push(w);
  return w;
}

function coordinator(args: readonly string[]): Watched {
  const c = startCli([...args, '--queue', redis.url, '--workers', '1', '--no-embedding-cache']);
  running.push(c);
  return c;
}

function checkpointedItems(path: string): number {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { committed: { position: { item: number } } }).committed.position.item;
  } catch {
    // Caught between the temp file and its rename: not there yet.
    return 0;
  }
}

const jobsDone = (w: Watched): number[] => w.events.filter((e) => e.event === 'job-done').map((e) => e.shard as number);

describe('sharded builds on BullMQ workers', () => {
  test('two worker processes build, document for document, what one machine builds; each shard job runs once', async () => {
    const a = await worker();
    const b = await worker();
    const dir = join(tempDir(), 'idx');
    const c = coordinator(['build', '--input', kCorpus, '--out', dir, '--shards', '4']);
    expect(await c.exited, c.stderr().slice(-1500)).toBe(0);
    expect(c.stdout()).toContain('in 4 shards (4 rebuilt, 0 unchanged); published set v000001');
    const done = [...jobsDone(a), ...jobsDone(b)].sort();
    expect(done).toEqual([0, 1, 2, 3]);
    expect(jobsDone(a).length).toBeGreaterThan(0);
    expect(jobsDone(b).length).toBeGreaterThan(0);
    expect(contentDifferences(await indexContent(engine, single), await indexContent(engine, dir), { lexical: false })).toEqual([]);
    // A rerun of the same command finds the set built: nothing queued again.
    const again = coordinator(['build', '--input', kCorpus, '--out', dir, '--shards', '4']);
    expect(await again.exited).toBe(0);
    expect(again.events.filter((e) => e.event === 'shard-queued')).toEqual([]);
    expect([...jobsDone(a), ...jobsDone(b)].length).toBe(4);
  }, 240_000);

  test('a worker killed (SIGKILL) mid-job loses nothing: the stalled job goes to another worker, which resumes from the checkpoint', async () => {
    const dir = join(tempDir(), 'idx');
    const input = writeDoubleCorpus(join(tempDir(), 'double.jsonl'));
    // A short lock, so that the killed worker's job stalls soon; long enough for a loaded machine to renew it.
    const first = await worker(['--lock-ms', '5000', '--stalled-ms', '1000']);
    const c = coordinator(['build', '--input', input, '--out', dir, '--shards', '2', '--checkpoint-items', '300', '--chunk-size', '100']);
    const started = await first.waitFor((e) => e.event === 'job-start', 'a job starts');
    const checkpoint = join(dir, 'shards', `s00${String(started.shard)}`, '.job', 'checkpoint.json');
    // The job's own first checkpoint past the start is the event: poll the file it writes.
    while (!existsSync(checkpoint) || checkpointedItems(checkpoint) === 0) await new Promise((r) => setTimeout(r, 10));
    expect(await stopCli(first, 'SIGKILL')).toBeNull();
    const second = await worker(['--lock-ms', '5000', '--stalled-ms', '1000']);
    expect(await c.exited, `coordinator: ${c.stderr().slice(-1500)}\nsecond worker: ${second.stderr().slice(-1500)}`).toBe(0);
    const resumed = second.events.find((e) => e.event === 'job-done' && e.shard === started.shard);
    expect(resumed?.resumedFrom).not.toBeNull();
    expect(jobsDone(second).sort()).toEqual([0, 1].filter((s) => !jobsDone(first).includes(s)));
    const whole = await buildIndex({ source: input, out: join(tempDir(), 'whole'), engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, whole.dir), await indexContent(engine, dir), { lexical: false })).toEqual([]);
  }, 300_000);

  test('a coordinator killed after queueing its jobs, rerun, follows the same jobs to the end: none runs twice', async () => {
    const dir = join(tempDir(), 'idx');
    const c = coordinator(['build', '--input', kCorpus, '--out', dir, '--shards', '3']);
    await c.waitFor((e) => e.event === 'shard-queued' && e.shard === 2, 'every job is queued');
    expect(await stopCli(c, 'SIGKILL')).toBeNull();
    const w = await worker();
    const again = coordinator(['build', '--input', kCorpus, '--out', dir, '--shards', '3']);
    expect(await again.exited, again.stderr()).toBe(0);
    expect(again.events.find((e) => e.event === 'split')).toMatchObject({ reused: true });
    expect(jobsDone(w).sort()).toEqual([0, 1, 2]);
    expect(contentDifferences(await indexContent(engine, single), await indexContent(engine, dir), { lexical: false })).toEqual([]);
  }, 240_000);

  test('a shard job that keeps failing fails the reindex after its attempts with its reason; the published set stays current and searchable', async () => {
    const w = await worker();
    const dir = join(tempDir(), 'idx');
    const built = coordinator(['build', '--input', kCorpus, '--out', dir, '--shards', '2']);
    expect(await built.exited).toBe(0);
    // Shard 1's own directory is damaged: its reindex fails on every attempt.
    writeFileSync(join(dir, 'shards', 's001', 'current'), 'garbage\n');
    const changed = join(tempDir(), 'changed.jsonl');
    writeFileSync(changed, vecforge(['search', dir, '--query', 'x', '--k', '1', '--json']).status === 0 ? `${JSON.stringify({ id: 'new-doc', text: 'a brand new document about birds' })}\n` : '');
    const r = coordinator(['reindex', '--input', changed, '--index', dir, '--attempts', '2', '--keep-missing']);
    expect(await r.exited).toBe(1);
    expect(r.stderr()).toMatch(/shard job s00\d \(\S+\) failed after 2 attempts: .*current pointer holds "garbage".*the previous set stays current/);
    expect(w.events.filter((e) => e.event === 'job-failed').length).toBeGreaterThanOrEqual(2);
    const info = vecforge(['info', dir]);
    expect(info.stdout).toContain('version:    v000001');
    const found = vecforge(['search', dir, '--query', 'a small bird', '--k', '2', '--json', '--workers', '1']);
    expect(found.status).toBe(0);
  }, 240_000);
});

describe('Redis at start', () => {
  test('unreachable: a clear error naming the URL with its password hidden, exit 1 (coordinator and worker)', async () => {
    const { freePort } = await import('./helpers-redis.js');
    const port = await freePort();
    const url = `redis://vecforge:s3cret-pw@127.0.0.1:${port}/2`;
    const out = join(tempDir(), 'idx');
    const build = vecforge(['build', '--input', kCorpus, '--out', out, '--shards', '2', '--queue', url]);
    expect(build.status).toBe(1);
    expect(build.stderr).toContain(`cannot reach Redis at redis://vecforge:***@127.0.0.1:${port}/2: ECONNREFUSED`);
    // The input was split while Redis was asked: nothing of it is left.
    expect(existsSync(out)).toBe(false);
    expect(build.stderr + build.stdout).not.toContain('s3cret');
    const w = vecforge(['worker', '--queue', url]);
    expect(w.status).toBe(1);
    expect(w.stderr).toContain(`cannot reach Redis at redis://vecforge:***@127.0.0.1:${port}/2`);
    expect(w.stderr).not.toContain('s3cret');
    const bad = vecforge(['worker', '--queue', 'http://127.0.0.1:1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--queue must be a redis:// or rediss:// URL, got "http://127.0.0.1:1"');
  });
});

describe('Redis lost mid-build', () => {
  test('redis-server killed and restarted empty while a shard job runs: coordinator and worker reconnect, the lost jobs are queued again, the build completes whole', async () => {
    const w = await worker();
    const dir = join(tempDir(), 'idx');
    const input = writeDoubleCorpus(join(tempDir(), 'double.jsonl'));
    const c = coordinator(['build', '--input', input, '--out', dir, '--shards', '2', '--checkpoint-items', '300', '--chunk-size', '100']);
    await w.waitFor((e) => e.event === 'job-start', 'a job starts');
    const port = redis.port;
    await redis.stop();
    // Restarted at once, empty: whatever the clients had in flight failed, whatever they send next waits for the new server.
    redis = await startRedis({ port });
    expect(await c.exited, c.stderr()).toBe(0);
    expect(c.stdout()).toContain('in 2 shards (2 rebuilt, 0 unchanged); published set v000001');
    const whole = await buildIndex({ source: input, out: join(tempDir(), 'whole'), engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, whole.dir), await indexContent(engine, dir), { lexical: false })).toEqual([]);
  }, 300_000);
});
