/**
 * A real full disk: a small tmpfs mounted for each test (Linux, root; the
 * tests are skipped with the reason printed elsewhere), filled while a job
 * runs, then made bigger for the rerun.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, reindex } from '../src/index.js';
import { readVerifiedVersion } from '../src/index/persist.js';
import { corpusRows, vecforge, vecforgeAtCheckpoint, writeDoubleCorpus, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

/** Mounts a tmpfs of `size` (e.g. `8m`) on `dir`; returns why not, or null. */
function mountTmpfs(dir: string, size: string): string | null {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : `mount -t tmpfs failed: ${r.error?.message ?? r.stderr.trim()}`;
}

function remount(dir: string, size: string): void {
  const r = spawnSync('mount', ['-o', `remount,size=${size}`, dir], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

/** Why these tests cannot run here, or null: tried once with a real mount. */
const kSkipReason = ((): string | null => {
  if (process.platform !== 'linux') return `full-disk tests need Linux (tmpfs), this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'full-disk tests need root to mount a tmpfs';
  const probe = tempDir();
  const why = mountTmpfs(probe, '1m');
  if (why === null) spawnSync('umount', [probe]);
  return why;
})();
if (kSkipReason !== null) console.warn(`skipping the full-disk tests: ${kSkipReason}`);

/**
 * Writes into `dir` until its filesystem has at most `leaveBytes` free;
 * returns the filler file.
 */
function fill(dir: string, leaveBytes = 0): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    const { bavail, bsize } = statfsSync(dir);
    const target = Math.max(0, bavail * bsize - leaveBytes);
    const piece = Buffer.alloc(64 * 1024, 1);
    for (let n = 0; n < target; n += piece.length) writeSync(fd, piece, 0, Math.min(piece.length, target - n));
  } finally {
    closeSync(fd);
  }
  expect(statfsSync(dir).bavail * statfsSync(dir).bsize).toBeLessThanOrEqual(leaveBytes);
  return path;
}

const mounted: string[] = [];
afterEach(() => {
  for (const dir of mounted.splice(0)) spawnSync('umount', ['-l', dir]);
});

function mountFor(size: string): string {
  const mnt = join(tempDir(), 'mnt');
  expect(mountTmpfs(mnt, size)).toBeNull();
  mounted.push(mnt);
  return mnt;
}

describe.skipIf(kSkipReason !== null)('a full disk (tmpfs)', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
  });
  afterAll(async () => {
    await engine.close();
  });

  test('filled during a build: exit 1 naming the file and the directory; on a bigger disk the same command resumes and completes', async () => {
    const mnt = mountFor('16m');
    const input = writeDoubleCorpus(join(tempDir(), 'in.jsonl'));
    const out = join(mnt, 'idx');
    const args = ['build', '--input', input, '--out', out, '--chunk-size', '250', '--checkpoint-items', '500', '--no-embedding-cache', '--progress', 'log', '--workers', '2'];
    let filler = '';
    // Stopped while the disk fills, so that the job's next write is the first to meet it full.
    const r = await vecforgeAtCheckpoint(args, 2, (child) => {
      child.kill('SIGSTOP');
      filler = fill(mnt);
      child.kill('SIGCONT');
    });
    expect(r.acted, r.stderr).toBe(true);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/no space left on the device \(ENOSPC\)/);
    expect(r.stderr).toContain(`(ERR_IO)`);
    // The file it could not write, and the directory to free space in.
    expect(r.stderr).toMatch(new RegExp(`writing ${out.replaceAll('/', '\\/')}\\/\\S+ in ${out.replaceAll('/', '\\/')}`));

    rmSync(filler);
    remount(mnt, '64m');
    const done = vecforge([...args, '--json']);
    expect(done.status, done.stderr).toBe(0);
    const summary = JSON.parse(done.stdout) as { resumedFrom: { line: number } | null; counts: { added: number } };
    expect(summary.resumedFrom?.line).toBeGreaterThanOrEqual(r.checkpoints[1]?.line ?? Infinity);
    expect(summary.counts.added).toBe(2 * corpusRows().length);
    expect(() => readVerifiedVersion(out)).not.toThrow();
  });

  test('filled during a reindex\'s publish: the job fails naming the file and the directory, the previous version stays intact and searchable, and on a bigger disk the rerun resumes and publishes', async () => {
    const mnt = mountFor('16m');
    const rows = corpusRows().slice(0, 1500);
    const out = join(mnt, 'idx');
    await buildIndex({ source: writeJsonl(join(tempDir(), 'v1.jsonl'), rows), out, engine, embeddingCache: false });
    const next = rows.map((r, i) => (i % 2 === 0 ? { ...r, text: `${r.text}, once more` } : r));
    const input = writeJsonl(join(tempDir(), 'v2.jsonl'), next);
    const opts = { source: input, dir: out, engine, embeddingCache: false, chunkSize: 500, checkpointItems: 500 } as const;
    let filled = 0;
    // After the last chunk is read and before anything is published.
    const failed = reindex({
      ...opts,
      onProgress: (p) => {
        // Room for checkpoint.json, not for the work index's save.
        if (p.position.item === next.length && filled++ === 0) fill(mnt, 64 * 1024);
      },
    });
    const error = (await failed.then(
      () => null,
      (e: unknown) => e,
    )) as (Error & { code?: string }) | null;
    expect(filled).toBe(1);
    expect(error).toMatchObject({ code: 'ERR_IO', message: expect.stringMatching(/no space left on the device \(ENOSPC\)/) as unknown });
    // The file (the work index's save, past room for checkpoint.json) and the directory.
    expect(error?.message).toMatch(new RegExp(`writing ${out}/\\.job/\\S+ in ${out}:`));

    // The published version is the first one, whole, and answers searches.
    expect(readFileSync(join(out, 'current'), 'utf8').trim()).toBe('v000001');
    expect(readVerifiedVersion(out).name).toBe('v000001');
    const index = await engine.openIndex(out);
    try {
      expect(index.ids()).toHaveLength(rows.length);
      const hits = await index.search(rows[3]?.text ?? '', { k: 1 });
      expect(hits[0]?.id).toBe(rows[3]?.id);
      expect(index.get(rows[2]?.id ?? '')?.metadata).toMatchObject({ _snippet: rows[2]?.text.slice(0, 200) });
    } finally {
      await index.close();
    }

    rmSync(join(mnt, 'filler'));
    remount(mnt, '64m');
    const s = await reindex(opts);
    expect(s).toMatchObject({ state: 'ok', published: true, version: 'v000002' });
    expect(s.resumedFrom).not.toBeNull();
    const after = await engine.openIndex(out);
    try {
      expect(after.get(rows[2]?.id ?? '')?.metadata).toMatchObject({ _snippet: `${rows[2]?.text}, once more`.slice(0, 200) });
    } finally {
      await after.close();
    }
  });
});
