import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex } from '../src/index.js';
import { readVerifiedVersion } from '../src/index/persist.js';
import { contentDifferences, corpusRows, indexContent, vecforge, vecforgeKilled, writeDoubleCorpus, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

/** Random kill points, spread over a job's run, different on every test run. */
function killPoints(n: number, fromMs: number, toMs: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.round(fromMs + ((toMs - fromMs) * (i + Math.random())) / n)).sort(() => Math.random() - 0.5);
}

// Small chunks and frequent checkpoints, no embedding cache: every run does real work, and a kill lands mid-job.
const kJobFlags = ['--chunk-size', '250', '--checkpoint-items', '500', '--no-embedding-cache', '--progress', 'off', '--workers', '2'];

describe('kill -9 and resume', () => {
  test('a build killed at random points resumes to content identical to an uninterrupted build', async () => {
    const dir = tempDir();
    const input = writeDoubleCorpus(join(dir, 'in.jsonl'));
    const out = join(dir, 'idx');
    const args = ['build', '--input', input, '--out', out, ...kJobFlags];
    const points = killPoints(3, 600, 2600);
    for (const ms of points) {
      const r = await vecforgeKilled(args, ms, 'SIGKILL');
      if (r.signal !== 'SIGKILL') {
        expect(r.status, r.stderr).toBe(0);
        break;
      }
      // Until the job publishes, the directory holds no index, and what it
      // publishes is complete: nobody can see a partial one. (Killed after
      // publishing, while removing its working state, a job leaves both.)
      if (existsSync(join(out, 'current'))) expect(() => readVerifiedVersion(out)).not.toThrow();
    }
    const done = vecforge([...args, '--json']);
    expect(done.status, done.stderr).toBe(0);
    const summary = JSON.parse(done.stdout) as { counts: { added: number }; published: boolean };
    expect(summary.counts.added).toBe(2 * corpusRows().length);
    expect(existsSync(join(out, '.job'))).toBe(false);
    expect(existsSync(join(out, '.lock'))).toBe(false);

    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, out), await indexContent(engine, clean)), `kill points ${points.join(', ')} ms`).toEqual([]);
  });

  test('a reindex killed at random points resumes to the same content as a clean build; the old version stays current until the end', async () => {
    const dir = tempDir();
    const rows = corpusRows();
    const base = writeJsonl(join(dir, 'base.jsonl'), rows);
    const out = join(dir, 'idx');
    await buildIndex({ source: base, out, engine, embeddingCache: false });
    const next = rows.filter((_, i) => i % 7 !== 0).map((r, i) => (i % 3 === 0 ? { ...r, text: `${r.text} or similar` } : r));
    const input = writeJsonl(join(dir, 'next.jsonl'), [...next, ...rows.slice(0, 500).map((r) => ({ ...r, id: `${r.id}@new`, text: `another ${r.text}` }))]);
    const args = ['reindex', '--input', input, '--index', out, ...kJobFlags];
    const points = killPoints(3, 500, 2200);
    for (const ms of points) {
      const r = await vecforgeKilled(args, ms, 'SIGKILL');
      if (r.signal !== 'SIGKILL') break;
      const current = readFileSync(join(out, 'current'), 'utf8').trim();
      if (existsSync(join(out, '.job', 'checkpoint.json'))) expect(current).toBe('v000001');
    }
    const done = vecforge(args);
    expect(done.status, done.stderr).toBe(0);
    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, out), await indexContent(engine, clean)), `kill points ${points.join(', ')} ms`).toEqual([]);
  });

  test('Ctrl-C stops at the next checkpoint, says how to resume, exits 130; the rerun resumes', async () => {
    const dir = tempDir();
    const input = writeDoubleCorpus(join(dir, 'in.jsonl'));
    const out = join(dir, 'idx');
    const args = ['build', '--input', input, '--out', out, ...kJobFlags];
    const r = await vecforgeKilled(args, 1200, 'SIGINT');
    if (r.status === 0) return; // finished before the signal on a fast machine
    expect(r.status).toBe(130);
    expect(r.stderr).toContain('stopping at the next checkpoint');
    expect(r.stdout).toMatch(/^interrupted after \d+ records; progress is checkpointed in .*\.job\.\nTo resume, run the same command again:\n {2}vecforge build --input /m);
    const info = vecforge(['info', out]);
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toContain('version:    none published yet');
    expect(info.stdout).toMatch(/in progress: build job, running, checkpointed at line \d+/);
    const resumed = vecforge(args);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^resumed after line \d+ \(record \d+\)\n/);
  });
});
