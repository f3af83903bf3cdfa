import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex } from '../src/index.js';
import { readVerifiedVersion } from '../src/index/persist.js';
import type { Checkpoint } from '../src/jobs/checkpoint.js';
import { contentDifferences, corpusRows, indexContent, vecforge, vecforgeAtCheckpoint, writeDoubleCorpus, writeJsonl, type CheckpointLine } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

// Small chunks and frequent checkpoints, no embedding cache: every run does
// real work; --progress log reports each committed checkpoint on stderr,
// which is where the kills are aimed.
const kJobFlags = ['--chunk-size', '250', '--checkpoint-items', '500', '--no-embedding-cache', '--progress', 'log', '--workers', '2'];

/** The progress checkpoint.json holds. */
function committedLine(dir: string): number {
  const cp = JSON.parse(readFileSync(join(dir, '.job', 'checkpoint.json'), 'utf8')) as Checkpoint;
  return cp.committed.position.line;
}

/**
 * Runs the job, SIGKILLed as soon as it reports checkpoint `k` of each
 * run in turn, then to its end; checks after each kill that the
 * directory holds the checkpoint, and after each rerun that it resumed
 * from there.
 * @returns the lines of the checkpoints killed at, and the final run's summary.
 */
async function killAndResume(args: readonly string[], out: string, killAt: readonly number[], afterKill: () => void): Promise<{ killedAt: number[]; summary: { resumedFrom: { item: number; line: number } | null; counts: Record<string, number> } }> {
  const killedAt: number[] = [];
  for (const k of killAt) {
    const r = await vecforgeAtCheckpoint(args, k, (child) => child.kill('SIGKILL'));
    expect(r.acted, `the job ended before its checkpoint ${k}: ${r.stderr}`).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    const at = (r.checkpoints[k - 1] as CheckpointLine).line;
    // A rerun resumes: its first checkpoint is past the one the last run was killed after.
    const previous = killedAt[killedAt.length - 1];
    if (previous !== undefined) expect(r.checkpoints[0]?.line).toBeGreaterThan(previous);
    killedAt.push(at);
    // The checkpoint reported before the kill is on disk (or a later one the job reached meanwhile).
    expect(committedLine(out)).toBeGreaterThanOrEqual(at);
    afterKill();
  }
  const done = vecforge([...args, '--json']);
  expect(done.status, done.stderr).toBe(0);
  const summary = JSON.parse(done.stdout) as { resumedFrom: { item: number; line: number } | null; counts: Record<string, number> };
  expect(summary.resumedFrom?.line).toBeGreaterThanOrEqual(killedAt[killedAt.length - 1] ?? Infinity);
  return { killedAt, summary };
}

describe('kill -9 at a checkpoint, and resume', () => {
  test('a build killed after its 2nd checkpoint, then after its rerun\'s 3rd, resumes each time and ends identical to an uninterrupted build', async () => {
    const dir = tempDir();
    const input = writeDoubleCorpus(join(dir, 'in.jsonl'));
    const out = join(dir, 'idx');
    const args = ['build', '--input', input, '--out', out, ...kJobFlags];
    const { summary } = await killAndResume(args, out, [2, 3], () => {
      // Until the job publishes, the directory holds no index: nobody can see a partial one.
      expect(existsSync(join(out, 'current'))).toBe(false);
    });
    expect(summary.counts.added).toBe(2 * corpusRows().length);
    expect(existsSync(join(out, '.job'))).toBe(false);
    expect(existsSync(join(out, '.lock'))).toBe(false);
    expect(() => readVerifiedVersion(out)).not.toThrow();

    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, out), await indexContent(engine, clean))).toEqual([]);
  });

  test('a reindex killed after its 1st checkpoint, twice, resumes each time and ends like a clean build; the old version stays current until the end', async () => {
    const dir = tempDir();
    const rows = corpusRows();
    const base = writeJsonl(join(dir, 'base.jsonl'), rows);
    const out = join(dir, 'idx');
    await buildIndex({ source: base, out, engine, embeddingCache: false });
    const next = rows.filter((_, i) => i % 7 !== 0).map((r, i) => (i % 3 === 0 ? { ...r, text: `${r.text} or similar` } : r));
    const input = writeJsonl(join(dir, 'next.jsonl'), [...next, ...rows.slice(0, 500).map((r) => ({ ...r, id: `${r.id}@new`, text: `another ${r.text}` }))]);
    const args = ['reindex', '--input', input, '--index', out, ...kJobFlags];
    const { summary } = await killAndResume(args, out, [1, 1], () => {
      expect(readFileSync(join(out, 'current'), 'utf8').trim()).toBe('v000001');
      expect(() => readVerifiedVersion(out)).not.toThrow();
    });
    expect(summary.counts.deleted).toBe(rows.filter((_, i) => i % 7 === 0).length);
    const clean = join(dir, 'clean');
    await buildIndex({ source: input, out: clean, engine, embeddingCache: false });
    expect(contentDifferences(await indexContent(engine, out), await indexContent(engine, clean))).toEqual([]);
  });
});
